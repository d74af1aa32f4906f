import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../src/config.js';
import { buildGateway } from '../src/app.js';
import { createMerchant } from '../src/services/merchants.js';
import { sign, type SignType } from '../src/domain/sign.js';
import { tempDir, type ApiAnswer, type TestGateway } from './helper.js';
import { freePort } from './processes.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * startGateway's twin for tests a real browser drives: the gateway listens on a 127.0.0.1 port
 * chosen beforehand and PUBLIC_BASE_URL is that address, so every link it hands out (cashierUrl,
 * imgUrl, codeUrl) is one the browser can follow.
 */
export async function startReachableGateway(t: Teardown, env: Record<string, string> = {}): Promise<TestGateway> {
  const dir = tempDir(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = parseConfig({
    DATABASE_PATH: join(dir, 'dtpay.sqlite'),
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: url,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const gateway = await buildGateway(config, { logger: pino({ level: 'silent' }) });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await gateway.close();
  };
  t.teardown(close);
  const merchant = await createMerchant(gateway.services.writer, '测试商户 Test shop', 'sandbox');
  await gateway.app.listen({ port, host: '127.0.0.1' });

  const raw = async (path: string, body: string | Buffer, contentType = 'application/json'): Promise<ApiAnswer> => {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(10_000) });
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
    url,
    dir,
    merchant,
    raw,
    post: (path, fields, o = {}) => {
      const signType = o.signType ?? (fields.signType as SignType | undefined) ?? 'MD5';
      return raw(path, JSON.stringify({ ...fields, signature: sign(fields, o.key ?? merchant.key, signType) }));
    },
    close,
  };
}
