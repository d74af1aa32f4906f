import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig, type Config } from '../src/config.js';
import { buildGateway, type Gateway } from '../src/app.js';
import { createMerchant, type NewMerchant } from '../src/services/merchants.js';
import { sign, type SignType } from '../src/domain/sign.js';
import { orderFields } from './fixtures/orders.js';
import type { Clock } from '../src/notify/clock.js';
import { freePort } from './processes.js';
import { gatewayDatabase, postgresSql, sqliteSql, testBackend, type TestBackend, type TestSql } from './backend.js';

// Tests never ask the real DNS: notification targets named in fixtures (shop.example.com) fail
// at once, as an unknown name does, unless a test maps them.
const noDns = async (host: string): Promise<string[]> => {
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

/** The public base URL tests give the gateway; pages and links are built from it. */
export const TEST_PUBLIC_BASE_URL = 'http://dtpay.test';

export interface TestGateway {
  gateway: Gateway;
  config: Config;
  /** http://127.0.0.1:PORT, where the real server listens */
  url: string;
  dir: string;
  merchant: NewMerchant;
  /** the backend this gateway runs on (DTPAY_TEST_BACKEND unless the test chose one) */
  backend: TestBackend;
  /** reads (and, for a scenario's setup, writes) rows of this gateway's database on either backend */
  sql: TestSql;
  /**
   * The variables that name this gateway's database (DATABASE_PATH with any MASTER_KEY the test gave, or DATABASE_URL and
   * MASTER_KEY): for a CLI command or another process that must work on the same data.
   */
  storageEnv: Record<string, string>;
  /** Signs `fields` with the merchant's key (or `key`) and POSTs them as JSON. */
  post(path: string, fields: Record<string, string>, opts?: { key?: string; signType?: SignType }): Promise<ApiAnswer>;
  /** POSTs a raw body with a content type, no signing. */
  raw(path: string, body: string | Buffer, contentType?: string): Promise<ApiAnswer>;
  close(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  body: Record<string, string>;
  text: string;
  headers: Headers;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// On PostgreSQL a gateway started again on the same `dir` finds the same database, as a restarted
// SQLite gateway finds its file.
const pgByDir = new Map<string, Record<string, string>>();

async function postgresEnv(dir: string, env: Record<string, string>): Promise<Record<string, string>> {
  if (env.DATABASE_URL) return { DATABASE_URL: env.DATABASE_URL, MASTER_KEY: env.MASTER_KEY ?? '' };
  let known = pgByDir.get(dir);
  if (!known) {
    known = { DATABASE_URL: await gatewayDatabase(), MASTER_KEY: env.MASTER_KEY ?? randomBytes(32).toString('hex') };
    pgByDir.set(dir, known);
  }
  return known;
}

/**
 * A real gateway on an ephemeral 127.0.0.1 port over a fresh database, closed in teardown: a SQLite
 * file in `dir`, or with DTPAY_TEST_BACKEND=postgres (or `backend: 'postgres'`) a PostgreSQL
 * database of its own.
 */
export async function startGateway(
  t: Teardown,
  env: Record<string, string> = {},
  opts: {
    now?: () => number;
    dir?: string;
    clock?: Clock;
    resolve?: (host: string) => Promise<string[]>;
    /**
     * Listen on a port chosen beforehand and make PUBLIC_BASE_URL that address, so every link the
     * gateway hands out (cashierUrl, imgUrl, codeUrl) can be followed, e.g. by a real browser.
     */
    reachable?: boolean;
    merchantName?: string;
    /** the backend, when the test is about one: otherwise DTPAY_TEST_BACKEND's */
    backend?: TestBackend;
  } = {},
): Promise<TestGateway> {
  const dir = opts.dir ?? tempDir(t);
  const port = opts.reachable ? await freePort() : 0;
  // A test that names its own PostgreSQL database (DATABASE_URL) runs on it whatever the pass.
  const backend = opts.backend ?? (env.DATABASE_URL ? 'postgres' : testBackend());
  const storageEnv =
    backend === 'postgres'
      ? await postgresEnv(dir, env)
      : { DATABASE_PATH: env.DATABASE_PATH ?? join(dir, 'dtpay.sqlite'), ...(env.MASTER_KEY ? { MASTER_KEY: env.MASTER_KEY } : {}) };
  const config = parseConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: opts.reachable ? `http://127.0.0.1:${port}` : TEST_PUBLIC_BASE_URL,
    LOG_LEVEL: 'silent',
    ...env,
    ...storageEnv,
  });
  const gateway = await buildGateway(config, {
    logger: pino({ level: 'silent' }),
    now: opts.now,
    clock: opts.clock,
    resolve: opts.resolve ?? noDns,
  });
  if (gateway.storage.dialect !== backend) throw new Error(`startGateway: asked for ${backend}, the gateway runs on ${gateway.storage.dialect}`);
  const merchant = await createMerchant(gateway.services, opts.merchantName ?? 'Test shop', 'sandbox');
  const address = await gateway.app.listen({ port, host: '127.0.0.1' });
  const sql = backend === 'postgres' ? postgresSql(storageEnv.DATABASE_URL!) : sqliteSql(gateway);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await sql.close();
    await gateway.close();
  };
  t.teardown(close);

  const raw = async (path: string, body: string | Buffer, contentType = 'application/json'): Promise<ApiAnswer> => {
    const res = await fetch(address + path, { method: 'POST', headers: { 'content-type': contentType }, body });
    const text = await res.text();
    let parsed: Record<string, string> = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: callers look at text
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };

  return {
    gateway,
    config,
    url: address,
    dir,
    merchant,
    backend,
    sql,
    storageEnv,
    raw,
    post: (path, fields, o = {}) => {
      const signType = o.signType ?? (fields.signType as SignType | undefined) ?? 'MD5';
      const body = { ...fields, signature: sign(fields, o.key ?? merchant.key, signType) };
      return raw(path, JSON.stringify(body));
    },
    close,
  };
}

let seq = 0;
/** A valid unified-order request for `mercNo`; override any field. */
export function payFields(mercNo: string, over: Record<string, string> = {}): Record<string, string> {
  seq += 1;
  return orderFields(mercNo, `T${process.pid}${Date.now()}${seq}`, over);
}

/** Checks a response signature the way a merchant would. */
export function responseVerifies(body: Record<string, string>, key: string): boolean {
  const signType = (body.signType ?? 'MD5') as SignType;
  return typeof body.signature === 'string' && sign(body, key, signType) === body.signature;
}

/** Creates a sandbox order through POST /api/pay and returns its orderId. */
export async function createOrder(gw: TestGateway, over: Record<string, string> = {}, opts: { key?: string } = {}): Promise<string> {
  const fields = payFields(over.mercNo ?? gw.merchant.mercNo, over);
  const a = await gw.post('/api/pay', fields, opts);
  if (a.body.respCode !== '000000') throw new Error(`order not created: ${a.text}`);
  return a.body.orderId!;
}

/** The payer presses Pay (or Fail) on the sandbox page; resolves once the gateway has committed it. */
export async function sandboxPay(gw: TestGateway, orderId: string, result: 'success' | 'fail' = 'success'): Promise<void> {
  const res = await fetch(`${gw.url}/sandbox/pay/${orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ result }).toString(),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`sandbox payment failed: ${res.status} ${text}`);
}

/** Polls `pred` every few ms of real time until it holds; fails after `timeoutMs`. */
export async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
