import type { FastifyInstance } from 'fastify';
import { invalid } from '../errors.js';

/** application/x-www-form-urlencoded → a plain object of strings; a field given twice is an error. */
export function installFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) {
      if (Object.prototype.hasOwnProperty.call(out, k)) return done(invalid(`${k}: is given more than once`), undefined);
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    done(null, out);
  });
}
