import t from 'tap';
import { reconcileDay } from '../../src/services/reconciliation.js';
import { dayReport } from '../../src/services/reconciliation-report.js';
import { listAlerts } from '../../src/services/alerts.js';
import { FakeClock } from '../fake-clock.js';
import { createOrder, sandboxPay, startGateway, until, type TestGateway } from '../helper.js';

// Reconciliation end to end on the sandbox channel (CONTRACT §5): a real gateway, orders paid and
// refunded through the API, the three magic amounts, the sandbox's day bill downloaded through its
// driver, healing through the normal state changes (notified, latePayment where the order had
// ended), fees stored, alerts raised once, and a second run that finds the healed lines matched.

const DAY = '2026-01-01'; // the fake clock starts at 12:00 Beijing that day

async function paid(gw: TestGateway, amount: string, payway = 'wxpay'): Promise<string> {
  const orderId = await createOrder(gw, { tradeAmt: amount, paywayCode: payway });
  await sandboxPay(gw, orderId);
  return orderId;
}

const refund = (gw: TestGateway, orderId: string, mercRefundNo: string, refundAmt: string) =>
  gw.post('/api/refund', { mercNo: gw.merchant.mercNo, orderId, mercRefundNo, refundAmt, notifyUrl: 'http://127.0.0.1:9/refund-notify' });

t.test('a day on the sandbox: matched, healed, missing_at_channel, amount_mismatch; then the same day again', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  const s = gw.gateway.services;
  const mercNo = gw.merchant.mercNo;

  const a = await paid(gw, '12.34');
  const rf1 = await refund(gw, a, 'RF-1', '2.00');
  t.equal(rf1.body.respCode, '000000', rf1.text);
  // The sandbox ends it after 2 s; the gateway asks after 3 s. Each step lets a watcher round run.
  for (let i = 0; i < 400 && (await s.reads.refund(rf1.body.refundId!))?.refund_status !== 'r0000'; i++) {
    clock.advance(500);
    await new Promise((r) => setTimeout(r, 25));
  }
  await until(async () => (await s.reads.refund(rf1.body.refundId!))?.refund_status === 'r0000', 'RF-1 ends through the gateway\'s own check');

  const b = await paid(gw, '5.00');
  const rf2 = await refund(gw, b, 'RF-2', '1.00');
  const missing = await paid(gw, '0.95');
  const mismatch = await paid(gw, '0.96');
  const lateOne = await paid(gw, '0.97');
  const closed = await gw.post('/api/close', { mercNo, orderId: lateOne });
  t.equal(closed.body.payStatus, 'p0005', 'the sandbox says 0.97 was never paid, so the close goes through');
  const openOne = await paid(gw, '0.97');
  const ali = await paid(gw, '1.00', 'alipay');
  clock.advance(2_500); // RF-2 has ended at the sandbox; the gateway has not asked yet
  t.equal((await s.reads.refund(rf2.body.refundId!))!.refund_status, 'r0001', 'RF-2 still processing in dtpay');
  t.equal((await s.reads.order(openOne))!.pay_status, 'p0001', 'the second 0.97 still open in dtpay');
  const notificationsBefore = (await s.reads.notificationsOfOrder(lateOne)).length;

  const first = await reconcileDay(s, { date: DAY });
  t.same(
    first.filter((r) => r.stored).map((r) => `${r.payway}:${r.status}`).sort(),
    ['alipay:ok', 'wxpay:ok'],
    'one run for each payway with lines; unionpay had none and keeps no run',
  );
  t.equal(first.find((r) => r.payway === 'unionpay')?.stored, false);

  const report = (await dayReport(s.reads, DAY));
  t.equal(report.date, DAY);
  const wx = report.runs.find((r) => r.payway === 'wxpay')!;
  t.same(wx.counts, { matched: 3, healed: 3, missing_at_channel: 1, amount_mismatch: 1, unknown_trade: 0 }, 'A and B paid, RF-1; RF-2 and both 0.97; 0.95; 0.96');
  t.same(wx.totals, { tradeAmt: '20.25', refundAmt: '3.00', feeAmt: '0.13', netAmt: '17.12' }, 'the bill\'s own figures');
  t.equal(wx.status, 'ok');
  t.notOk('error' in wx);
  const byKind = (kind: string) => wx.items.filter((i) => i.kind === kind);
  t.same(byKind('missing_at_channel'), [{ kind: 'missing_at_channel', orderId: missing, mercOrderNo: (await s.reads.order(missing))!.merc_order_no, channelTradeNo: `S${missing}`, localAmt: '0.95' }], 'no channelAmt, no refundId');
  t.same(byKind('amount_mismatch'), [{ kind: 'amount_mismatch', orderId: mismatch, mercOrderNo: (await s.reads.order(mismatch))!.merc_order_no, channelTradeNo: `S${mismatch}`, localAmt: '0.96', channelAmt: '0.97' }]);
  const healed = byKind('healed');
  t.equal(healed.length, 3);
  t.match(healed.find((i) => i.refundId === rf2.body.refundId), { orderId: b, localAmt: '1.00', channelAmt: '1.00' }, 'a healed refund names its order and both amounts');
  for (const id of [lateOne, openOne]) t.match(healed.find((i) => i.orderId === id && !i.refundId), { localAmt: '0.97', channelAmt: '0.97' });
  t.equal(wx.items.length, 5, 'every line but the matched ones');

  const late = (await s.reads.order(lateOne))!;
  t.equal(late.pay_status, 'p0000', 'the closed 0.97 is paid');
  t.equal(late.late_payment, 1, 'and flagged a late payment');
  t.ok(late.trade_end_time, 'with the channel\'s payment time');
  const lateNotes = (await s.reads.notificationsOfOrder(lateOne));
  t.equal(lateNotes.length, notificationsBefore + 1, 'the heal is notified');
  t.equal(JSON.parse(lateNotes.at(-1)!.fields_json).payStatus, 'p0000');
  const open = (await s.reads.order(openOne))!;
  t.equal(open.pay_status, 'p0000');
  t.equal(open.late_payment, 0, 'an order still open is not a late payment');
  t.equal((await s.reads.refund(rf2.body.refundId!))!.refund_status, 'r0000', 'RF-2 ended by the bill');
  t.ok((await s.reads.notificationsOfOrder(b)).some((n) => n.refund_id === rf2.body.refundId && JSON.parse(n.fields_json).refundStatus === 'r0000'), 'and notified');

  t.equal((await s.reads.order(a))!.fee_fen, 7n, 'fee on a matched order: 12.34 × 0.6 %');
  t.equal((await s.reads.order(b))!.fee_fen, 3n);
  t.equal((await s.reads.order(lateOne))!.fee_fen, 1n, 'fee on a healed order');
  t.equal((await s.reads.refund(rf1.body.refundId!))!.fee_fen, 0n, 'a refund gives no fee back in the sandbox');
  t.equal((await s.reads.order(missing))!.fee_fen, null, 'no fee where the bill has no line');
  t.equal((await s.reads.order(mismatch))!.fee_fen, null, 'nor where the amounts differ');

  const alerts = (await listAlerts(s.reads, { open: true, limit: 100 }));
  t.same(alerts.map((x) => `${x.kind}:${x.orderId}`).sort(), [`amount_mismatch:${mismatch}`, `missing_at_channel:${missing}`].sort(), 'one alert per discrepancy, none for matched or healed');
  t.ok(alerts.every((x) => x.channel === 'wxpay' && x.mercNo === mercNo && x.detail.includes(DAY)));

  const aliRun = report.runs.find((r) => r.payway === 'alipay')!;
  t.same(aliRun.counts, { matched: 1, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 0 });
  t.same(aliRun.items, []);
  t.equal((await s.reads.order(ali))!.fee_fen, 1n);

  // The same day again: what was healed is matched now, and nothing is raised or notified twice.
  const runIdsBefore = new Map((await s.reads.runsOfDay(DAY)).map((r) => [r.payway, r.id]));
  const second = await reconcileDay(s, { date: DAY });
  t.same(second.map((r) => r.alertsRaised), [0, 0, 0], 'no alert raised again');
  const again = (await dayReport(s.reads, DAY)).runs.find((r) => r.payway === 'wxpay')!;
  t.same(again.counts, { matched: 6, healed: 0, missing_at_channel: 1, amount_mismatch: 1, unknown_trade: 0 });
  t.same(again.items.map((i) => i.kind).sort(), ['amount_mismatch', 'missing_at_channel']);
  t.equal((await s.reads.notificationsOfOrder(lateOne)).length, notificationsBefore + 1, 'no second notification');
  t.equal((await listAlerts(s.reads, { open: false, limit: 100 })).length, 2);
  t.equal((await s.reads.runsOfDay(DAY)).length, 2, 'the runs were replaced, not added');

  // --payway narrows what is replaced.
  const wxId = (await s.reads.runsOfDay(DAY)).find((r) => r.payway === 'wxpay')!.id;
  await reconcileDay(s, { date: DAY, mercNo, payway: 'alipay' });
  const after = (await s.reads.runsOfDay(DAY));
  t.equal(after.find((r) => r.payway === 'wxpay')!.id, wxId, 'the wxpay run is left as it was');
  t.not(after.find((r) => r.payway === 'alipay')!.id, runIdsBefore.get('alipay'), 'the alipay run is replaced');
});

t.test('metrics after a run: items of the latest run by payway and kind, last success, open alerts', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  await paid(gw, '1.00');
  await paid(gw, '0.95');
  await reconcileDay(gw.gateway.services, { date: DAY });
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(text, /^dtpay_reconciliation_items\{payway="wxpay",kind="matched"\} 1$/m);
  t.match(text, /^dtpay_reconciliation_items\{payway="wxpay",kind="missing_at_channel"\} 1$/m);
  t.match(text, /^dtpay_reconciliation_items\{payway="wxpay",kind="healed"\} 0$/m);
  t.match(text, new RegExp(`^dtpay_reconciliation_last_success_timestamp_seconds\\{payway="wxpay"\\} ${Math.floor(clock.now() / 1000)}$`, 'm'));
  t.match(text, /^dtpay_alerts_open 1$/m);
  const [alert] = (await listAlerts(gw.gateway.services.reads, { open: true, limit: 1 }));
  await gw.gateway.services.writer.run('handleAlert', { id: alert!.id, at: clock.now(), by: 'test' });
  t.match(await (await fetch(`${gw.url}/metrics`)).text(), /^dtpay_alerts_open 0$/m, 'a handled alert is no longer open');
});

t.test('the gateway runs the day before at RECONCILE_AT, Beijing time, and stops cleanly', async (t) => {
  const clock = new FakeClock(); // 12:00 Beijing, 2026-01-01
  const gw = await startGateway(t, { RECONCILE_AT: '10:30' }, { clock });
  const s = gw.gateway.services;
  await paid(gw, '3.00');
  clock.advance(22 * 3600_000 + 29 * 60_000); // 10:29 on the 2nd
  await new Promise((r) => setTimeout(r, 50));
  t.same((await s.reads.runsOfDay(DAY)), [], 'nothing before RECONCILE_AT');
  clock.advance(60_000);
  await until(async () => (await s.reads.runsOfDay(DAY)).length === 1, 'the daily run of the day before');
  t.match((await dayReport(s.reads, DAY)).runs, [{ mercNo: gw.merchant.mercNo, payway: 'wxpay', status: 'ok', counts: { matched: 1 } }]);
  await gw.close();
  t.pass('closed with the scheduler armed for the next day');
});
