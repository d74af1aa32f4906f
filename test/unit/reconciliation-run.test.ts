import t from 'tap';
import { ChannelRegistry } from '../../src/channels/registry.js';
import { supportedCells } from '../../src/channels/matrix.js';
import type { BillDownloadResult, ChannelDriver } from '../../src/channels/types.js';
import { BillError, beijingDay, type Bill, type BillLine } from '../../src/reconcile/bill.js';
import { createMerchant } from '../../src/services/merchants.js';
import type { Services } from '../../src/services/context.js';
import { reconcileDay } from '../../src/services/reconciliation.js';
import { dayReport, reportExitCode } from '../../src/services/reconciliation-report.js';
import { listAlerts } from '../../src/services/alerts.js';
import { parseBeijing } from '../../src/domain/time.js';
import { FakeClock } from '../fake-clock.js';
import { startGateway } from '../helper.js';
import { orderRow, refundRow } from '../fixtures/orders.js';

// The run against channel states the sandbox cannot produce: a bill not ready, a channel that
// refuses or cannot be reached, a file broken on the way, a driver without bills, trades and
// refunds no dtpay record accounts for. The drivers here are made by hand; the database, the
// writer and the state changes are the gateway's own.

const DAY = '2026-01-01';
const NOON = parseBeijing('20260101120000')!;

type Answer = BillDownloadResult | Error;

function handDriver(name: string, answers: Answer[]): ChannelDriver & { calls: number } {
  const refuse = async () => {
    throw new Error('not used here');
  };
  const d = {
    name,
    calls: 0,
    createPayment: refuse,
    queryPayment: refuse,
    closePayment: refuse,
    refund: refuse,
    queryRefund: refuse,
    parseCallback: () => {
      throw new Error('not used here');
    },
    acknowledge: () => ({ status: 200, contentType: 'text/plain', body: 'success' }),
    async downloadTradeBill(): Promise<BillDownloadResult> {
      const a = answers[Math.min(d.calls, answers.length - 1)]!;
      d.calls++;
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return d;
}

const billOf = (lines: BillLine[]): BillDownloadResult => ({ outcome: 'bill', bill: { source: 'alipay', billDate: DAY, window: beijingDay(DAY), lines } satisfies Bill });

async function setup(t: { teardown(fn: () => unknown): void }, alipay: ChannelDriver, opts: { credentials?: boolean; unionpay?: ChannelDriver } = {}) {
  const clock = new FakeClock(NOON + 3600_000);
  const gw = await startGateway(t, {}, { clock });
  const base = gw.gateway.services;
  const live = await createMerchant(base, 'Live shop', 'live');
  const wxpay: ChannelDriver = { ...handDriver('wxpay', []), downloadTradeBill: undefined };
  const registry = new ChannelRegistry(
    supportedCells()
      .filter((c) => c.startsWith('alipay.') || c.startsWith('wxpay.') || (opts.unionpay !== undefined && c.startsWith('unionpay.')))
      .map((cell) => ({ mode: 'live' as const, cell, driver: cell.startsWith('alipay.') ? alipay : cell.startsWith('wxpay.') ? wxpay : opts.unionpay! })),
  );
  const s: Services = {
    ...base,
    registry,
    configuredPayways: async (m) => (m.mode === 'live' ? new Set(['alipay', 'wxpay']) : base.configuredPayways(m)),
    credentialsFor: async (m, name) => {
      if (m.mode === 'live' && opts.credentials === false) throw new Error('no credentials');
      return m.mode === 'live' ? {} : base.credentialsFor(m, name);
    },
  };
  return { s, mercNo: live.mercNo, gw };
}

async function paidOrder(s: Services, mercNo: string, amountFen: bigint, over: Record<string, unknown> = {}) {
  const row = orderRow(mercNo, NOON - 60_000, {
    amount_fen: amountFen,
    pay_status: 'p0000',
    trade_end_time: '20260101120000',
    ended_at: NOON,
    channel_trade_no: 'T' + Math.random().toString(36).slice(2),
    ...over,
  });
  await s.writer.run('insertOrder', row);
  return row;
}

const runOf = async (s: Services, mercNo: string, payway: string) => (await dayReport(s.reads, DAY, { mercNo })).runs.find((r) => r.payway === payway);

t.test('not ready: a run that says so (exit 1), no error, nothing compared', async (t) => {
  const alipay = handDriver('alipay', [{ outcome: 'not_ready', reason: 'isp.bill_not_exist' }]);
  const { s, mercNo } = await setup(t, alipay);
  const results = await reconcileDay(s, { date: DAY, mercNo, payway: 'alipay' });
  t.match(results, [{ status: 'not_ready', retryable: true, stored: true }]);
  const run = (await runOf(s, mercNo, 'alipay'))!;
  t.equal(run.status, 'not_ready');
  t.notOk('error' in run, 'error only for failed runs');
  t.notOk('totals' in run, 'no bill, no totals');
  t.same(run.items, []);
  t.equal(reportExitCode((await dayReport(s.reads, DAY))), 1);
  t.equal(alipay.calls, 1, 'not ready is an answer: not asked again within the run');
});

t.test('a driver without downloadTradeBill, or without credentials: failed, saying why', async (t) => {
  const { s, mercNo } = await setup(t, handDriver('alipay', [billOf([])]));
  await reconcileDay(s, { date: DAY, mercNo, payway: 'wxpay' });
  const run = (await runOf(s, mercNo, 'wxpay'))!;
  t.equal(run.status, 'failed');
  t.match(run.error, /wxpay driver does not support downloading the trade bill/);

  const none = await setup(t, handDriver('alipay', [billOf([])]), { credentials: false });
  await reconcileDay(none.s, { date: DAY, mercNo: none.mercNo, payway: 'alipay' });
  t.match((await runOf(none.s, none.mercNo, 'alipay')), { status: 'failed', error: /no alipay credentials/ });
});

t.test('the channel refuses: failed with its message, asked once', async (t) => {
  const alipay = handDriver('alipay', [{ outcome: 'failed', error: 'isv.invalid-app-id' }]);
  const { s, mercNo } = await setup(t, alipay);
  const [r] = await reconcileDay(s, { date: DAY, mercNo, payway: 'alipay' });
  t.match(r, { status: 'failed', retryable: false });
  t.match((await runOf(s, mercNo, 'alipay')), { status: 'failed', error: 'isv.invalid-app-id' });
  t.equal(alipay.calls, 1);
});

t.test('not reached, or a file broken on the way: asked again, up to three times', async (t) => {
  const flaky = handDriver('alipay', [{ outcome: 'unreached', reason: 'ECONNRESET' }, new BillError('hash', 'digest differs'), billOf([])]);
  const a = await setup(t, flaky);
  const o = await paidOrder(a.s, a.mercNo, 100n);
  const [r] = await reconcileDay(a.s, { date: DAY, mercNo: a.mercNo, payway: 'alipay' });
  t.equal(flaky.calls, 3);
  t.match(r, { status: 'ok' });
  t.match((await runOf(a.s, a.mercNo, 'alipay'))!.items, [{ kind: 'missing_at_channel', orderId: o.order_id, localAmt: '1.00' }]);

  const down = handDriver('alipay', [{ outcome: 'unreached', reason: 'ECONNREFUSED' }]);
  const b = await setup(t, down);
  const [rb] = await reconcileDay(b.s, { date: DAY, mercNo: b.mercNo, payway: 'alipay' });
  t.equal(down.calls, 3);
  t.match(rb, { status: 'failed', retryable: true, error: /could not be reached: ECONNREFUSED/ });

  const bad = handDriver('alipay', [new BillError('layout', 'alipay trade bill: unknown column layout')]);
  const c = await setup(t, bad);
  await reconcileDay(c.s, { date: DAY, mercNo: c.mercNo, payway: 'alipay' });
  t.equal(bad.calls, 1, 'a layout error is the same every time: not asked again');
  t.match((await runOf(c.s, c.mercNo, 'alipay')), { status: 'failed', error: /unknown column layout/ });
});

t.test('unknown trades, a payout, another merchant\'s order, a refund dtpay failed; a refund healed', async (t) => {
  const lines: BillLine[] = [];
  const alipay = handDriver('alipay', [{ outcome: 'bill', bill: { source: 'alipay', billDate: DAY, window: beijingDay(DAY), lines } }]);
  const { s, mercNo, gw } = await setup(t, alipay);
  const mine = await paidOrder(s, mercNo, 500n);
  const payout = await paidOrder(s, mercNo, 300n, { trade_type: '02', scene: 'transfer' });
  const theirs = await paidOrder(s, gw.merchant.mercNo, 200n);
  const refunded = await paidOrder(s, mercNo, 900n, { ended_at: NOON - 86_400_000, trade_end_time: '20251231120000' });
  const processing = refundRow(refunded, 100n, NOON);
  const failed = refundRow(refunded, 200n, NOON);
  await s.writer.run('insertRefund', processing);
  await s.writer.run('insertRefund', failed);
  await s.writer.run('settleRefund', { refundId: failed.refund_id, status: 'r0004', at: NOON, refundEndTime: '20260101120000', code: 'X', message: 'refused' });
  const at = NOON + 1000;
  lines.push(
    { kind: 'trade', orderId: mine.order_id, channelTradeNo: mine.channel_trade_no!, amountFen: 500n, feeFen: 3n, endedAt: at, status: 'success', lineNo: 2 },
    { kind: 'trade', orderId: 'SOMEONE-ELSES-1', channelTradeNo: '2026X1', amountFen: 700n, feeFen: 4n, endedAt: at, status: 'success', lineNo: 3 },
    { kind: 'trade', orderId: payout.order_id, channelTradeNo: 'P1', amountFen: 300n, feeFen: 0n, endedAt: at, status: 'success', lineNo: 4 },
    { kind: 'trade', orderId: theirs.order_id, channelTradeNo: 'O1', amountFen: 200n, feeFen: 1n, endedAt: at, status: 'success', lineNo: 5 },
    { kind: 'refund', refundId: processing.refund_id, orderId: refunded.order_id, amountFen: 100n, feeFen: -1n, endedAt: at, status: 'success', lineNo: 6, channelRefundNo: 'CR1' },
    { kind: 'refund', refundId: failed.refund_id, orderId: refunded.order_id, amountFen: 200n, feeFen: 0n, endedAt: at, status: 'success', lineNo: 7 },
  );
  await reconcileDay(s, { date: DAY, mercNo, payway: 'alipay' });
  const run = (await runOf(s, mercNo, 'alipay'))!;
  t.same(run.counts, { matched: 1, healed: 1, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 4 });
  const unknown = run.items.filter((i) => i.kind === 'unknown_trade');
  t.same(
    unknown.map((i) => i.channelTradeNo ?? i.refundId).sort(),
    ['2026X1', 'O1', 'P1', failed.refund_id].sort(),
    'an id dtpay never issued, a payout (never compared), another merchant\'s order, a refund dtpay had failed',
  );
  for (const i of unknown) {
    t.notOk('orderId' in i || 'localAmt' in i, `${i.channelTradeNo ?? i.refundId}: no dtpay order, no local amount`);
    t.ok('channelAmt' in i);
  }
  t.equal(unknown.find((i) => i.refundId)?.refundId, failed.refund_id, 'a refund line keeps its refundId');
  const healed = run.items.find((i) => i.kind === 'healed')!;
  t.match(healed, { refundId: processing.refund_id, orderId: refunded.order_id, localAmt: '1.00', channelAmt: '1.00' });
  const after = (await s.reads.refund(processing.refund_id))!;
  t.equal(after.refund_status, 'r0000', 'the refund is ended by the bill');
  t.equal(after.channel_refund_no, 'CR1');
  t.equal(after.fee_fen, -1n, 'the fee given back is stored on the refund');
  t.equal((await s.reads.order(mine.order_id))!.fee_fen, 3n);
  t.equal((await s.reads.order(theirs.order_id))!.fee_fen, null, 'nothing is written to another merchant\'s order');
  t.same(run.totals, { tradeAmt: '17.00', refundAmt: '3.00', feeAmt: '0.07', netAmt: '13.93' });
  const alerts = (await listAlerts(s.reads, { open: true, limit: 10 }));
  t.equal(alerts.filter((a) => a.kind === 'unknown_trade').length, 4);
  t.ok(alerts.some((a) => a.detail.includes('SOMEONE-ELSES-1')), 'the bill\'s own order number is in the alert');

  await reconcileDay(s, { date: DAY, mercNo, payway: 'alipay' });
  t.equal((await listAlerts(s.reads, { open: false, limit: 10 })).length, 4, 'not raised again');
  t.same((await runOf(s, mercNo, 'alipay'))!.counts, { matched: 2, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 4 });
});

t.test('a live merchant whose configured payway has nothing that day on either side keeps no run', async (t) => {
  const { s, mercNo } = await setup(t, handDriver('alipay', [billOf([])]));
  const results = await reconcileDay(s, { date: DAY, mercNo, payway: 'alipay' });
  t.match(results, [{ status: 'ok', stored: false }]);
  t.same((await dayReport(s.reads, DAY, { mercNo })).runs, []);
});

t.test('a large day is read a page at a time, ties on the same millisecond included, each order once', async (t) => {
  const lines: BillLine[] = [];
  const alipay = handDriver('alipay', [{ outcome: 'bill', bill: { source: 'alipay', billDate: DAY, window: beijingDay(DAY), lines } }]);
  const { s, mercNo } = await setup(t, alipay);
  const rows = [];
  for (let i = 0; i < 1203; i++) {
    // Pages of 500: many orders share an ended_at, so a page boundary falls inside a tie.
    const endedAt = NOON + Math.floor(i / 300) * 1000;
    rows.push(
      s.writer.run('insertOrder', orderRow(mercNo, NOON - 60_000, { amount_fen: 100n, pay_status: 'p0000', trade_end_time: '20260101120000', ended_at: endedAt, channel_trade_no: `T${i}` })),
    );
  }
  await Promise.all(rows);
  const orders = await s.reads.endedOrdersPage(mercNo, NOON - 1, '', NOON + 86_400_000, 10_000);
  t.equal(orders.length, 1203);
  for (const o of orders) {
    lines.push({ kind: 'trade', orderId: o.order_id as string, channelTradeNo: o.channel_trade_no as string, amountFen: 100n, feeFen: 1n, endedAt: Number(o.ended_at), status: 'success', lineNo: lines.length + 2 });
  }
  await reconcileDay(s, { date: DAY, mercNo, payway: 'alipay' });
  t.same((await runOf(s, mercNo, 'alipay'))!.counts, { matched: 1203, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 0 });
});

t.test('the day is the bill\'s window: Beijing midnight to midnight, UnionPay\'s clearing day 23:00 to 23:00', async (t) => {
  const empty = (source: 'alipay' | 'unionpay', window: { fromMs: number; toMs: number }): BillDownloadResult => ({ outcome: 'bill', bill: { source, billDate: DAY, window, lines: [] } });
  const day = beijingDay(DAY);
  const clearing = { fromMs: day.fromMs - 3600_000, toMs: day.toMs - 3600_000 };
  const { s, mercNo } = await setup(t, handDriver('alipay', [empty('alipay', day)]), { unionpay: handDriver('unionpay', [empty('unionpay', clearing)]) });
  const at = async (payway: string, endedAt: number) => (await paidOrder(s, mercNo, 100n, { payway, ended_at: endedAt })).order_id;
  const ali = { first: await at('alipay', day.fromMs), last: await at('alipay', day.toMs - 1), before: await at('alipay', day.fromMs - 1), after: await at('alipay', day.toMs) };
  const up = { lateBefore: await at('unionpay', day.fromMs - 1800_000), lateToday: await at('unionpay', day.toMs - 1800_000), early: await at('unionpay', day.fromMs + 1000) };
  await reconcileDay(s, { date: DAY, mercNo });
  const missing = async (payway: string) => (await runOf(s, mercNo, payway))!.items.filter((i) => i.kind === 'missing_at_channel').map((i) => i.orderId).sort();
  t.same(await missing('alipay'), [ali.first, ali.last].sort(), '00:00:00.000 to 23:59:59.999 Beijing');
  t.same(await missing('unionpay'), [up.lateBefore, up.early].sort(), '23:30 the day before belongs to this clearing day, 23:30 today to the next');
});
