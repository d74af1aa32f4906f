import type { FastifyInstance } from 'fastify';
import { invalid } from '../errors.js';
import { callerText } from '../domain/caller-text.js';

/** No interface takes more fields than this (the unified order, the longest, has 32). */
export const MAX_FIELDS = 64;

const TOO_MANY = `body: has more than ${MAX_FIELDS} fields; no interface takes more than ${MAX_FIELDS}`;

/** How many times `ch` occurs in `s`, counting no further than `limit`. */
function countUpTo(s: string, ch: string, limit: number): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1 && n < limit; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

// Refused before anything is built from them, because building them is what costs: tens of
// milliseconds of the event loop for a 60 KB body of thousands of fields (bench/field-flood.ts).

/** A form of more than MAX_FIELDS fields: it has at least MAX_FIELDS '&' separators. */
export const formHasTooManyFields = (body: string) => countUpTo(body, '&', MAX_FIELDS) >= MAX_FIELDS;

/**
 * A JSON text with more than MAX_FIELDS fields, counting those of nested objects and the elements
 * of arrays: more than MAX_FIELDS colons, or at least MAX_FIELDS commas, outside strings (a flat
 * object of n fields has n colons and n - 1 commas). Counting every colon and comma is a native
 * scan that settles nearly every real request; only a body with that many anywhere is looked at
 * again, jumping from quote to quote with indexOf to leave out those inside strings. Both are
 * native scans, cheaper than parsing the text (let alone a walk character by character in
 * JavaScript): bench/field-flood.ts measures them.
 */
export function jsonHasTooManyFields(body: string): boolean {
  if (countUpTo(body, ',', MAX_FIELDS) < MAX_FIELDS && countUpTo(body, ':', MAX_FIELDS + 1) <= MAX_FIELDS) return false;
  let commas = 0;
  let colons = 0;
  // Each separator's next occurrence is found once and kept until passed, so that no stretch of
  // the text is searched twice.
  let comma = body.indexOf(',');
  let colon = body.indexOf(':');
  for (let i = 0; ; ) {
    const open = body.indexOf('"', i);
    const end = open === -1 ? body.length : open;
    if (comma !== -1 && comma < i) comma = body.indexOf(',', i);
    while (comma !== -1 && comma < end) {
      if (++commas >= MAX_FIELDS) return true;
      comma = body.indexOf(',', comma + 1);
    }
    if (colon !== -1 && colon < i) colon = body.indexOf(':', i);
    while (colon !== -1 && colon < end) {
      if (++colons > MAX_FIELDS) return true;
      colon = body.indexOf(':', colon + 1);
    }
    if (open === -1) return false;
    // The string's end: the next quote not escaped, i.e. after an even run of backslashes.
    let close = open;
    for (;;) {
      close = body.indexOf('"', close + 1);
      if (close === -1) return false; // not JSON: the parser says so
      let b = close - 1;
      while (body.charCodeAt(b) === 0x5c) b--;
      if ((close - 1 - b) % 2 === 0) break;
    }
    i = close + 1;
  }
}

/**
 * The merchant API's bodies: JSON (Fastify's own parser, with its prototype-poisoning checks) and
 * application/x-www-form-urlencoded (a plain object of strings; a field given twice is an
 * error), both refused with 100001 beyond MAX_FIELDS fields before they are parsed.
 */
export function installBodyParsers(app: FastifyInstance): void {
  // Fastify parses text/plain by default; the merchant API takes JSON or a form only (→ 415).
  app.removeContentTypeParser('text/plain');

  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonHasTooManyFields(body as string)) return done(invalid(TOO_MANY), undefined);
    json(req, body as string, done);
  });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    // `curl -d '{…}'` without -H sends JSON as a form; say so instead of "mercNo: is required".
    if (/^\s*[{[]/.test(body as string)) {
      return done(invalid('body: is JSON but Content-Type is application/x-www-form-urlencoded (what curl -d sends); send Content-Type: application/json'), undefined);
    }
    if (formHasTooManyFields(body as string)) return done(invalid(TOO_MANY), undefined);
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) {
      if (Object.prototype.hasOwnProperty.call(out, k)) return done(invalid(`${callerText(k)}: is given more than once`), undefined);
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    done(null, out);
  });
}
