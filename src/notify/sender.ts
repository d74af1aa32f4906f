// The HTTP side of one delivery attempt, on undici. The connection goes to the address the
// address policy checked (never a fresh DNS answer), redirects are not followed, the whole
// exchange is bounded by one deadline, and only the first few bytes of the answer are read.

import type { LookupAddress, LookupOptions } from 'node:dns';
import { Pool } from 'undici';

/** Enough to see `success` (and what a broken endpoint says instead) without reading a whole page. */
const ANSWER_CAP = 1024;
/** What the attempt log keeps of the answer. */
export const LOGGED_ANSWER_BYTES = 256;
const MAX_POOLS = 256;

export interface Target {
  url: string;
  /** The checked address to connect to. */
  address: string;
  family: 4 | 6;
}

export interface Exchange {
  httpStatus?: number;
  /** The first bytes of the answer (up to ANSWER_CAP), decoded as UTF-8. */
  answer: string;
  /** Set when no complete answer arrived: timeout, connect, reset, answer-too-large… */
  error?: string;
  latencyMs: number;
}

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

// Answers every lookup the socket makes with the address that was checked.
function pinnedLookup(address: string, family: 4 | 6) {
  return (_host: string, opts: LookupOptions, cb: LookupCallback) => {
    if (opts.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  };
}

export class Sender {
  // One keep-alive pool per origin and checked address, least recently used dropped first.
  private readonly pools = new Map<string, Pool>();
  private readonly active = new Set<AbortController>();
  private cancelled = false;

  constructor(private readonly connectionsPerPool: number) {}

  /** Ends every exchange in flight at once (shutdown); they report the error `cancelled`. */
  cancelAll(): void {
    this.cancelled = true;
    for (const c of this.active) c.abort();
  }

  async post(target: Target, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Exchange> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const url = new URL(target.url);
    const pool = this.poolFor(url, target);
    // One controller and one timer per exchange: cheaper than composing AbortSignal.timeout/any.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    this.active.add(controller);
    const signal = controller.signal;
    try {
      const res = await pool.request({
        method: 'POST',
        path: url.pathname + url.search,
        headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'dtpay-notify/1', ...headers },
        body,
        signal,
        // The deadline above covers everything; these only stop undici's longer defaults.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      for await (const chunk of res.body) {
        const b = chunk as Buffer;
        chunks.push(b);
        size += b.length;
        if (size > ANSWER_CAP) {
          truncated = true;
          break; // leaving the loop destroys the body and its connection
        }
      }
      const answer = Buffer.concat(chunks).subarray(0, ANSWER_CAP).toString('utf8');
      return { httpStatus: res.statusCode, answer, latencyMs: elapsed(), ...(truncated ? { error: 'answer-too-large' } : {}) };
    } catch (err) {
      if (this.cancelled && !timedOut) return { answer: '', error: 'cancelled', latencyMs: elapsed() };
      return { answer: '', error: timedOut ? 'timeout' : errorClass(err), latencyMs: elapsed() };
    } finally {
      clearTimeout(timer);
      this.active.delete(controller);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  }

  private poolFor(url: URL, target: Target): Pool {
    const key = `${url.origin}|${target.address}`;
    let pool = this.pools.get(key);
    if (pool) {
      this.pools.delete(key); // re-inserted below: most recently used last
    } else {
      pool = new Pool(url.origin, {
        connections: this.connectionsPerPool,
        pipelining: 1,
        keepAliveTimeout: 4_000,
        connect: { lookup: pinnedLookup(target.address, target.family) } as object,
      });
      if (this.pools.size >= MAX_POOLS) {
        const [oldKey, old] = this.pools.entries().next().value as [string, Pool];
        this.pools.delete(oldKey);
        void old.close().catch(() => {});
      }
    }
    this.pools.set(key, pool);
    return pool;
  }
}

function errorClass(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection-refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection-reset';
  if (code.startsWith('ERR_TLS') || code.includes('CERT')) return 'tls';
  return code ? `network:${code}` : 'network';
}
