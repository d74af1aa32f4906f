import { hash } from 'node:crypto';
import { YUAN_PATTERN, yuanToFen } from '../domain/money.js';

// Idempotency (CONTRACT §2.3): a mercOrderNo (or mercRefundNo) sent again with the same parameters
// is the same request. "The same" is decided on what the fields mean, not how they are spelt:
// each field that has a canonical form is compared in it (amounts as fen, so 12.5 is 12.50), an
// empty field is one left out, and the fields that only say how the request travels (its
// signature, signType, version, charset) are not part of it.

type Fields = Record<string, string | undefined>;

const NOT_PART_OF_THE_REQUEST = new Set(['signature', 'signType', 'version', 'charset']);

const amount = (v: string) => (YUAN_PATTERN.test(v) ? `${yuanToFen(v)} fen` : v);
const CANONICAL: Record<string, (v: string) => string> = {
  tradeAmt: amount,
  refundAmt: amount,
};

/** The request's fields that say what is asked, each in its canonical form, as [name, value] sorted by name. */
function canonicalEntries(req: Fields): [string, string][] {
  const out: [string, string][] = [];
  for (const name of Object.keys(req).sort()) {
    const v = req[name];
    if (v === undefined || v === '' || NOT_PART_OF_THE_REQUEST.has(name)) continue;
    out.push([name, CANONICAL[name]?.(v) ?? v]);
  }
  return out;
}

/** The request's fields that say what is asked, each in its canonical form, by name. */
export function canonicalFields(req: Fields): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, v] of canonicalEntries(req)) out[name] = v;
  return out;
}

/**
 * A digest of what the request asks for (stored with the order, for the record): SHA-256 of the
 * JSON of the canonical [name, value] pairs. Every order computes it, so straight from the pairs,
 * without the object canonicalFields builds.
 */
export function requestDigest(req: Fields): string {
  return hash('sha256', JSON.stringify(canonicalEntries(req)), 'hex');
}

/** The names of the fields in which two requests ask for different things, sorted; none if they are the same. */
export function differingFields(first: Fields, again: Fields): string[] {
  const a = canonicalFields(first);
  const b = canonicalFields(again);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((n) => a[n] !== b[n]).sort();
}
