import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { verify } from '../src/domain/sign.js';
import { verifyWebhook } from '../src/notify/webhook-signature.js';

// The merchant endpoint of `npm run bench:notify`: plain node:http on 127.0.0.1, in its own
// process, so that its CPU is not counted against the bench process (it is measured separately).
//
//   POST /ok    answers `success`
//   POST /half  answers `fail` to the first attempt of every notification whose webhook-id hashes
//               odd (failsFirst below), `success` to everything else and to every later attempt
//   POST /base  answers `success`: the bare undici baseline's requests, counted apart
//   POST /slow  answers `success` after RECEIVER_SLOW_MS (10): a merchant host that takes its time
//   GET  /stats counters per path, as JSON
//
// With RECEIVER_KEY set, every request's body signature (MD5, CONTRACT §2.1) and webhook-signature
// are checked against that key; failures are counted, and the request is still answered, so that
// the bench reports them instead of the gateway retrying them. Prints one line {"port":N} once it
// listens; exits on SIGTERM/SIGINT.

/** Which notifications /half fails once: FNV-1a of the webhook-id, odd. Shared with the bench. */
export function failsFirst(webhookId: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < webhookId.length; i++) {
    h ^= webhookId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h & 1) === 1;
}

export interface PathStats {
  requests: number;
  /** answered `success` */
  success: number;
  /** answered `fail` */
  fail: number;
  /** a `success` answered for a webhook-id that had already had one: a duplicate delivery */
  duplicates: number;
  badBodySignature: number;
  badWebhookSignature: number;
  /** missing webhook-id or a body that is not a JSON object */
  malformed: number;
  bytesIn: number;
}

export type ReceiverStats = Record<string, PathStats>;

function run(): void {
  const key = process.env.RECEIVER_KEY ?? '';
  const slowMs = Number(process.env.RECEIVER_SLOW_MS ?? 10);
  const stats: ReceiverStats = {};
  const succeeded = new Set<string>();
  const failedOnce = new Set<string>();
  const statsOf = (path: string): PathStats =>
    (stats[path] ??= { requests: 0, success: 0, fail: 0, duplicates: 0, badBodySignature: 0, badWebhookSignature: 0, malformed: 0, bytesIn: 0 });

  const answer = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (req.method === 'GET' && path === '/stats') return answer(res, 200, JSON.stringify(stats));
    if (req.method !== 'POST' || !['/ok', '/half', '/base', '/slow'].includes(path)) {
      req.resume();
      return answer(res, 404, 'not found');
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = statsOf(path);
      s.requests++;
      const body = Buffer.concat(chunks).toString('utf8');
      s.bytesIn += Buffer.byteLength(body);
      const id = req.headers['webhook-id'];
      let fields: Record<string, string> | undefined;
      try {
        const parsed = JSON.parse(body) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fields = parsed as Record<string, string>;
      } catch {
        // counted below
      }
      if (typeof id !== 'string' || !fields) {
        s.malformed++;
        return answer(res, 400, 'malformed');
      }
      if (key) {
        const signType = fields.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
        if (typeof fields.signature !== 'string' || !verify(fields, key, signType, fields.signature)) s.badBodySignature++;
        if (!verifyWebhook(req.headers, body, key, { now: Date.now() })) s.badWebhookSignature++;
      }
      if (path === '/half' && failsFirst(id) && !failedOnce.has(id)) {
        failedOnce.add(id);
        s.fail++;
        return answer(res, 200, 'fail');
      }
      if (succeeded.has(id)) s.duplicates++;
      else succeeded.add(id);
      s.success++;
      if (path === '/slow') setTimeout(() => answer(res, 200, 'success'), slowMs);
      else answer(res, 200, 'success');
    });
  };

  const server = createServer({ keepAliveTimeout: 10_000 }, onRequest);
  server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// Run when executed directly; the bench imports failsFirst without starting a server.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) run();
