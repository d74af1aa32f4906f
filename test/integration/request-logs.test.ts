import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config.js';
import { buildGateway } from '../../src/app.js';
import { createMerchant } from '../../src/services/merchants.js';
import { sign } from '../../src/domain/sign.js';
import { payFields } from '../helper.js';
import { ownDatabase } from '../own-database.js';

// Issue 10, a newcomer's first hour: at LOG_LEVEL info, no log line per health check (/healthz,
// /readyz, /metrics) nor per call the gateway makes to itself (the sandbox channel's API and
// callback, in-process); real traffic keeps its request log lines.

t.test('at info: real traffic is logged, probes and the gateway’s calls to itself are not', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // On the pass's backend: /readyz reads the database, on PostgreSQL over the network.
  const storage = await ownDatabase(t, dir);
  const config = parseConfig({ ...storage.env, PUBLIC_BASE_URL: 'http://dtpay.test', LOG_LEVEL: 'info' });
  const gateway = await buildGateway(config, { logger });
  t.teardown(() => gateway.close());
  const url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const m = await createMerchant(gateway.services, 'Logged shop', 'sandbox');
  const post = async (path: string, fields: Record<string, string>) => {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...fields, signature: sign(fields, m.key, 'MD5') }),
    });
    return (await res.json()) as Record<string, string>;
  };
  /** The URLs of the request log lines ("incoming request") written so far. */
  const logged = () => lines.filter((l) => l.msg === 'incoming request').map((l) => (l.req as { url: string }).url);

  for (let i = 0; i < 5; i++) {
    t.equal((await fetch(`${url}/healthz`)).status, 200);
    t.equal((await fetch(`${url}/readyz`)).status, 200);
    t.equal((await fetch(`${url}/metrics`)).status, 200);
    t.equal((await fetch(`${url}/healthz?probe=k8s`)).status, 200);
  }
  const made = await post('/api/pay', payFields(m.mercNo));
  t.equal(made.respCode, '000000');
  // A query of an open order asks the sandbox channel's API (in-process); paying sends its callback (in-process).
  t.equal((await post('/api/query', { mercNo: m.mercNo, orderId: made.orderId! })).respCode, '000000');
  const paid = await fetch(`${url}/sandbox/pay/${made.orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  t.equal(paid.status, 200);
  t.equal((await post('/api/query', { mercNo: m.mercNo, orderId: made.orderId! })).payStatus, 'p0000', 'paid through the in-process callback');
  // A callback from outside is real traffic, even to the sandbox's route.
  await fetch(`${url}/channel/sandbox/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  // The in-process marker cannot be forged from outside.
  await fetch(`${url}/healthz`, { headers: { 'x-dtpay-internal': 'guess' } });
  await fetch(`${url}/channel/sandbox/notify`, { method: 'POST', headers: { 'x-dtpay-internal': '0'.repeat(32) }, body: '{}' });

  const urls = logged();
  t.notOk(urls.some((u) => /^\/(healthz|readyz|metrics)/.test(u)), `no probe is logged: ${JSON.stringify(urls)}`);
  t.notOk(urls.some((u) => u.startsWith('/sandbox/api/')), 'no in-process call to the sandbox API is logged');
  t.equal(urls.filter((u) => u === '/channel/sandbox/notify').length, 2, 'the two callbacks from outside are logged, not the in-process one');
  t.equal(urls.filter((u) => u === '/api/pay').length, 1, 'the order is logged');
  t.equal(urls.filter((u) => u === '/api/query').length, 2, 'the queries are logged');
  t.ok(urls.includes(`/sandbox/pay/${made.orderId}`), 'the payer’s page is logged');
  t.notOk(
    lines.some((l) => l.msg === 'request completed' && /^\/(healthz|readyz|metrics)/.test(String((l.req as { url?: string } | undefined)?.url ?? ''))),
    'nor is their completion',
  );
  const completed = lines.filter((l) => l.msg === 'request completed').length;
  t.equal(completed, urls.length, 'each logged request has its completion line, and only those');
});
