import type { FastifyInstance } from 'fastify';
import { invalid } from '../errors.js';

/** application/x-www-form-urlencoded → a plain object of strings; a field given twice is an error. */
export function installFormParser(app: FastifyInstance): void {
  // Fastify parses text/plain by default; the merchant API takes JSON or a form only (→ 415).
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    // `curl -d '{…}'` without -H sends JSON as a form; say so instead of "mercNo: is required".
    if (/^\s*[{[]/.test(body as string)) {
      return done(invalid('body: is JSON but Content-Type is application/x-www-form-urlencoded (what curl -d sends); send Content-Type: application/json'), undefined);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) {
      if (Object.prototype.hasOwnProperty.call(out, k)) return done(invalid(`${k}: is given more than once`), undefined);
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    done(null, out);
  });
}
