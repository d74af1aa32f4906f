import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, oneJson, pooled, runNode } from '../cli-runner.js';
import { FakeClock } from '../fake-clock.js';
import { createOrder, sandboxPay, startGateway, tempDir } from '../helper.js';
import { rsaKeyPair } from '../fixtures/channel-credentials.js';
import { createMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';

// `dtpay reconcile`, `reconcile show` and `alerts` as an operator runs them: the compiled CLI in a
// child process, on the database a gateway left, exit codes and documents as CONTRACT §5 gives them.

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1jbGktcmVjb25jaWxl';
const DAY = '2026-01-01';
const SERVER = fileURLToPath(new URL('../../src/server.js', import.meta.url));

t.test('reconcile, reconcile show, alerts list and handle', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const gw = await startGateway(t, { MASTER_KEY }, { clock, dir });
  const sandboxNo = gw.merchant.mercNo;
  const paid = async (amount: string) => {
    const id = await createOrder(gw, { tradeAmt: amount, paywayCode: 'wxpay' });
    await sandboxPay(gw, id);
    return id;
  };
  await paid('1.00');
  const missing = await paid('0.95');
  const silent = await paid('0.97');
  await gw.post('/api/close', { mercNo: sandboxNo, orderId: silent });
  const live = await createMerchant(gw.gateway.services, 'Live shop', 'live');
  await storeLiveCredentials(gw.gateway.services.writer, MASTER_KEY, live.mercNo, 'alipay', {
    appId: '2021000000000003',
    privateKeyPem: rsaKeyPair().privateKeyPem,
    alipayPublicKeyPem: rsaKeyPair().publicKeyPem,
    gatewayUrl: 'http://127.0.0.1:9/gateway.do',
  });
  await gw.close();
  const run = (...args: string[]) => runNode(CLI, args, dir, { ...gw.storageEnv, MASTER_KEY, CHANNEL_TIMEOUT_MS: '2000' });

  const usage = await pooled([
    () => run('reconcile', '--json'),
    () => run('reconcile', '--date', '2026-02-30'),
    () => run('reconcile', '--date', '2099-01-01'),
    () => run('reconcile', 'show', '--date', '20260101'),
    () => run('reconcile', '--date', DAY, '--payway', 'paypal'),
    () => run('reconcile', 'show', '--date', DAY, '--payway', 'alipay'),
  ]);
  usage.forEach((r, i) => t.equal(r.code, 2, `usage error ${i}: exit 2 (${r.stderr.trim()})`));
  for (const r of usage.slice(0, 4)) t.match(r.stderr, /--date/, 'names --date');
  t.match(usage[2]!.stderr, /future/);
  t.equal(usage[0]!.stdout, '', 'nothing on stdout');

  const mine = await run('reconcile', '--date', DAY, '--merchant', sandboxNo, '--json');
  t.equal(mine.code, 0, mine.stderr);
  const doc = oneJson(t, mine);
  t.equal(doc.date, DAY);
  t.equal(doc.runs.length, 1);
  const wx = doc.runs[0];
  t.same(Object.keys(wx), ['mercNo', 'payway', 'status', 'counts', 'totals', 'items']);
  t.match(wx, { mercNo: sandboxNo, payway: 'wxpay', status: 'ok', counts: { matched: 1, healed: 1, missing_at_channel: 1, amount_mismatch: 0, unknown_trade: 0 } });
  t.same(wx.totals, { tradeAmt: '1.97', refundAmt: '0.00', feeAmt: '0.02', netAmt: '1.95' });
  const item = wx.items.find((i: { kind: string }) => i.kind === 'missing_at_channel');
  t.same(Object.keys(item).sort(), ['channelTradeNo', 'kind', 'localAmt', 'mercOrderNo', 'orderId'], 'no channelAmt, no refundId');
  t.equal(item.orderId, missing);
  t.match(wx.items.find((i: { kind: string }) => i.kind === 'healed'), { orderId: silent, localAmt: '0.97', channelAmt: '0.97' });

  const all = await run('reconcile', '--date', DAY, '--json');
  t.equal(all.code, 1, 'a run that could not compare: exit 1');
  const allDoc = oneJson(t, all);
  const failed = allDoc.runs.find((r: { mercNo: string }) => r.mercNo === live.mercNo);
  t.match(failed, { payway: 'alipay', status: 'failed', error: /./, items: [] });
  t.notOk('totals' in failed);
  t.match(allDoc.runs.find((r: { mercNo: string }) => r.mercNo === sandboxNo), { counts: { matched: 2, healed: 0, missing_at_channel: 1 } }, 'healed by the first run, matched in the second');

  const [show, showMine, text, none] = await pooled([
    () => run('reconcile', 'show', '--date', DAY, '--json'),
    () => run('reconcile', 'show', '--date', DAY, '--merchant', sandboxNo, '--json'),
    () => run('reconcile', 'show', '--date', DAY, '--merchant', sandboxNo),
    () => run('reconcile', 'show', '--date', '2025-12-31', '--json'),
  ]);
  t.equal(show!.code, 1);
  t.same(oneJson(t, show!), allDoc, 'show prints what the last runs stored');
  t.equal(showMine!.code, 0);
  t.equal(text!.code, 0);
  t.match(text!.stdout, /merchant\s+payway\s+status\s+matched/);
  t.match(text!.stdout, new RegExp(`missing_at_channel\\s+order ${missing}`));
  t.same(oneJson(t, none!), { date: '2025-12-31', runs: [] });
  t.equal(none!.code, 0);

  const open = await run('alerts', 'list', '--open', '--json');
  t.equal(open.code, 0, open.stderr);
  const alerts = oneJson(t, open);
  t.equal(alerts.length, 1, 'one alert, raised once over two runs');
  t.match(alerts[0], { kind: 'missing_at_channel', channel: 'wxpay', mercNo: sandboxNo, orderId: missing, status: 'open', count: 1 });
  const handled = await run('alerts', 'handle', String(alerts[0].id), '--json');
  t.equal(handled.code, 0, handled.stderr);
  t.match(oneJson(t, handled), { id: alerts[0].id, status: 'handled', handledBy: 'cli' });
  const [after, again, missingAlert, listed] = await pooled([
    () => run('alerts', 'list', '--open', '--json'),
    () => run('alerts', 'handle', String(alerts[0].id)),
    () => run('alerts', 'handle', '99999'),
    () => run('alerts', 'list'),
  ]);
  t.same(oneJson(t, after!), []);
  t.equal(again!.code, 0);
  t.match(again!.stdout, /already handled/);
  t.equal(missingAlert!.code, 1);
  t.match(missingAlert!.stderr, /no alert 99999/);
  t.match(listed!.stdout, /handled\s+missing_at_channel/);
});

t.test('the gateway refuses to start with a bad RECONCILE_AT, naming it', async (t) => {
  const dir = tempDir(t);
  const r = await runNode(SERVER, [], dir, { DATABASE_PATH: join(dir, 'x.sqlite'), RECONCILE_AT: '25:00', PORT: '0' });
  t.equal(r.code, 1);
  t.match(r.stderr, /RECONCILE_AT="25:00": must be a Beijing time of day as HH:MM/);
});
