import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// A merchant's notification endpoint on 127.0.0.1, scriptable per request, recording everything.

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** parsed JSON body, {} when it is not JSON */
  json: Record<string, string>;
  /** real time of arrival, ms */
  at: number;
}

export interface Answer {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** wait this long (real ms) before answering */
  delayMs?: number;
  /** never answer (the connection stays open until the receiver closes) */
  hang?: boolean;
}

export type Behaviour = (req: Received, seen: Received[]) => Answer;

export interface Receiver {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  received: Received[];
  behave(fn: Behaviour): void;
  /** Resolves once `pred` holds for what was received; rejects after `timeoutMs` real ms. */
  waitFor(pred: (r: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const answerSuccess: Behaviour = () => ({ status: 200, body: 'success' });

export async function startReceiver(t: { teardown(fn: () => unknown): void }, behaviour: Behaviour = answerSuccess): Promise<Receiver> {
  let behave = behaviour;
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, string> = {};
      try {
        json = JSON.parse(body);
      } catch {
        // left empty
      }
      const r: Received = { path: req.url ?? '', headers: req.headers, body, json, at: Date.now() };
      received.push(r);
      for (const w of waiters) w();
      const a = behave(r, received);
      if (a.hang) return;
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': 'text/plain', ...a.headers });
        res.end(a.body ?? '');
      };
      if (a.delayMs) setTimeout(send, a.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    behave: (fn) => {
      behave = fn;
    },
    waitFor: (pred, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        if (pred(received)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: condition not met within ${timeoutMs} ms (${received.length} received)`));
        }, timeoutMs);
        const check = () => {
          if (!pred(received)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      }),
    close,
  };
}
