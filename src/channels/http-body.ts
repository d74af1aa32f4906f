import type { HttpRequest, HttpResponse } from './types.js';

// Reading an answer's body the way the request asked (text, or the bytes of a file), never past
// its maxBytes: a bill is the one answer whose size the channel decides, and a body that keeps
// coming is refused, not held.

/** Thrown by a transport when an answer is longer than the request's maxBytes. */
export class HttpBodyTooLarge extends Error {
  override name = 'HttpBodyTooLarge';
  constructor(readonly maxBytes: number) {
    super(`the answer is longer than ${maxBytes} bytes`);
  }
}

/** An undici body (or any stream of chunks that can be destroyed). */
interface BodyStream extends AsyncIterable<Uint8Array> {
  destroy(err?: Error): unknown;
}

export async function readBody(body: BodyStream, req: Pick<HttpRequest, 'responseType' | 'maxBytes'>): Promise<Pick<HttpResponse, 'body' | 'bytes'>> {
  const limit = req.maxBytes ?? Infinity;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) {
      const err = new HttpBodyTooLarge(limit);
      body.destroy(err);
      throw err;
    }
    chunks.push(chunk);
  }
  const all = Buffer.concat(chunks, size);
  return req.responseType === 'bytes' ? { body: '', bytes: new Uint8Array(all.buffer, all.byteOffset, all.byteLength) } : { body: all.toString('utf8') };
}
