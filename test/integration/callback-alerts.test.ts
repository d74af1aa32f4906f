import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Agent, fetch } from 'undici';
import { startGateway, tempDir, until } from '../helper.js';
import { FakeClock } from '../fake-clock.js';
import { rsaKeyPair } from '../fixtures/channel-credentials.js';
import { createMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';
import { ALERT_FLUSH_MS, ALERT_QUIET_MS } from '../../src/services/alert-recorder.js';
import { SANDBOX_SIGNATURE_HEADER } from '../../src/channels/sandbox/driver.js';

// Anyone can post to the channel callback URLs. Each refused callback is flagged for the operator,
// but a stream of forgeries must not become a stream of durable writes: alike refusals from one
// source are counted on one row, written at once the first time and then at most once a minute.
// Each step sends from an address of its own (all of 127.0.0.0/8 is this machine), so that a
// per-address rate limit in front of the callbacks leaves the later steps alone; answers it
// refuses (429) never reach the handler and are not expected to be counted.

let nextAddress = 2;
/** Requests from a fresh loopback address. */
function fromNewAddress(t: { teardown(fn: () => unknown): void }): Agent {
  const agent = new Agent({ localAddress: `127.0.0.${nextAddress++}` });
  t.teardown(() => agent.close());
  return agent;
}

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1jYWxsYmFjay1hbGVydHM=';

interface AlertRow {
  kind: string;
  channel: string;
  merc_no: string | null;
  order_id: string | null;
  detail: string;
  at: number;
  last_at: number;
  count: number;
}

t.test('2,000 forged callbacks: one row per source, every one counted, a bounded number of writes', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const gw = await startGateway(t, { MASTER_KEY }, { clock, dir });
  const live = await createMerchant(gw.gateway.services, 'Live shop', 'live');
  const app = rsaKeyPair();
  await storeLiveCredentials(gw.gateway.services.writer, MASTER_KEY, live.mercNo, 'alipay', {
    appId: '2021000000000003',
    privateKeyPem: app.privateKeyPem,
    alipayPublicKeyPem: rsaKeyPair().publicKeyPem,
    gatewayUrl: 'http://127.0.0.1:9/gateway.do',
  });

  // Every durable write of an alert, counted where it leaves for the database.
  const writer = gw.gateway.services.writer;
  const run = writer.run.bind(writer);
  let alertWrites = 0;
  writer.run = ((op, args) => {
    if (op === 'recordAlert') alertWrites += 1;
    return run(op, args);
  }) as typeof writer.run;

  const rows = () => gw.sql.all<AlertRow>('SELECT * FROM alerts ORDER BY id');
  const total = async () => (await rows()).reduce((n, r) => n + r.count, 0);

  // Forgeries, each a little different, as a stranger would send them.
  const forgeLive = (from: Agent) =>
    fetch(`${gw.url}/channel/alipay/notify/${live.mercNo}`, {
      dispatcher: from,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        notify_id: randomBytes(8).toString('hex'),
        out_trade_no: '2026010100000000000001',
        trade_status: 'TRADE_SUCCESS',
        total_amount: '0.01',
        sign_type: 'RSA2',
        sign: randomBytes(64).toString('base64'),
      }).toString(),
    });
  const forgeSandbox = (from: Agent) =>
    fetch(`${gw.url}/channel/sandbox/notify`, {
      dispatcher: from,
      method: 'POST',
      headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: randomBytes(32).toString('hex') },
      body: JSON.stringify({ orderId: '2026010100000000000001', result: 'paid', amount: String(Math.random()) }),
    });
  const reached = { alipay: 0, sandbox: 0 };
  const otherAnswers: string[] = [];
  const send = async (n: number, channel: 'alipay' | 'sandbox') => {
    const from = fromNewAddress(t);
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next += 1;
        const res = await (channel === 'alipay' ? forgeLive(from) : forgeSandbox(from));
        const body = await res.text();
        if (res.status === 429) continue;
        if (body === 'fail') reached[channel] += 1;
        else otherAnswers.push(`${res.status} ${body}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  };
  await Promise.all([send(1_000, 'alipay'), send(1_000, 'sandbox')]);
  t.same(otherAnswers, [], 'every forgery that reached the handler was refused with the channel\'s "fail"');
  t.ok(reached.alipay > 0 && reached.sandbox > 0, `forgeries reached the handler (${reached.alipay} + ${reached.sandbox})`);

  t.equal((await rows()).length, 2, 'one row per source at once');
  t.match(await rows(), [
    { kind: 'callback_rejected', channel: 'alipay', merc_no: live.mercNo, order_id: null, count: 1 },
    { kind: 'callback_rejected', channel: 'sandbox', merc_no: null, order_id: null, count: 1 },
  ]);
  t.equal(alertWrites, 2, 'the first of each source was written before it was answered; the rest are being counted');

  clock.advance(ALERT_FLUSH_MS);
  await until(async () => (await total()) === reached.alipay + reached.sandbox, 'the counts written');
  t.equal((await rows()).length, 2, 'still two rows');
  t.same(
    (await rows()).map((r) => [r.channel, r.count]),
    [
      ['alipay', reached.alipay],
      ['sandbox', reached.sandbox],
    ],
    'every forgery counted, on its source',
  );
  t.equal(alertWrites, 4, 'one more write per source for the minute');
  const first = (await rows())[0]!;
  t.ok(first.last_at >= first.at, 'first and last seen');

  // Another minute of it: the same rows grow their counts.
  const before = { ...reached };
  await send(200, 'alipay');
  clock.advance(ALERT_FLUSH_MS);
  await until(async () => (await rows())[0]!.count === reached.alipay, 'the second minute written');
  t.equal((await rows()).length, 2);
  t.ok(reached.alipay > before.alipay);
  t.equal(alertWrites, 5, 'a write per minute per active source, however many requests');

  // Quiet for longer than an episode: the next refusal opens a row of its own.
  clock.advance(ALERT_QUIET_MS + 2 * ALERT_FLUSH_MS);
  t.equal(await (await forgeLive(fromNewAddress(t))).text(), 'fail');
  t.equal((await rows()).length, 3, 'a new row after an hour of quiet');
  t.match((await rows())[2], { channel: 'alipay', count: 1 });

  // Counted but not yet written when the gateway stops: written on the way out.
  const pending = 7;
  const last = fromNewAddress(t);
  for (let i = 0; i < pending; i++) t.equal(await (await forgeLive(last)).text(), 'fail');
  await gw.close();
  // What the stopped gateway left in its database, read by the next one started on it.
  const again = await startGateway(t, { MASTER_KEY }, { clock, dir });
  t.equal((await again.sql.all<AlertRow>('SELECT * FROM alerts ORDER BY id'))[2]!.count, 1 + pending, 'nothing lost at shutdown');
});
