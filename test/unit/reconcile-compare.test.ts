import t from 'tap';
import { randomInt } from 'node:crypto';
import { billWindow, type Bill, type BillLine, type BillSource, type RefundLine, type TradeLine } from '../../src/reconcile/bill.js';
import { billNames, compareDay, OUTCOMES, type CompareResult, type LocalOrder, type LocalRecords, type LocalRefund } from '../../src/reconcile/compare.js';
import { PAY_STATUSES, type PayStatus } from '../../src/domain/order-states.js';
import { parseAlipayTradeBill } from '../../src/channels/alipay/bill.js';
import { billFile, bj, prng } from '../fixtures/bill-files.js';

// CONTRACT §5: the comparison of one bill with dtpay's records, every outcome, refunds, payouts,
// the day boundary, idempotent healing, and (property) that the items account for every line.

const DAY = '2026-11-30';

const trade = (orderId: string, amountFen: bigint, at = '2026-11-30 10:00:00', more: Partial<TradeLine> = {}): TradeLine => ({
  kind: 'trade', orderId, channelTradeNo: `CH${orderId}`, amountFen, settledFen: amountFen, feeFen: (amountFen * 6n + 500n) / 1000n, endedAt: bj(at), status: 'success', lineNo: 0, ...more,
});
const refundLine = (refundId: string, orderId: string, amountFen: bigint, at = '2026-11-30 15:00:00', more: Partial<RefundLine> = {}): RefundLine => ({
  kind: 'refund', refundId, orderId, channelTradeNo: `CH${orderId}`, channelRefundNo: `CR${refundId}`, amountFen, feeFen: -1n, endedAt: bj(at), status: 'success', lineNo: 0, ...more,
});
const bill = (lines: BillLine[], source: BillSource = 'wxpay'): Bill => ({ source, billDate: DAY, window: billWindow(source, DAY), lines });
const order = (orderId: string, amountFen: bigint, payStatus: PayStatus = 'p0000', at: string | undefined = '2026-11-30 10:00:00'): LocalOrder => ({
  orderId, mercOrderNo: `M-${orderId}`, amountFen, payStatus, ...(payStatus === 'p0000' ? { channelTradeNo: `CH${orderId}` } : {}), ...(at ? { endedAt: bj(at) } : {}),
});
const refund = (refundId: string, orderId: string, amountFen: bigint, refundStatus: LocalRefund['refundStatus'] = 'r0000', at: string | undefined = '2026-11-30 15:00:00'): LocalRefund => ({
  refundId, mercRefundNo: `MR-${refundId}`, orderId, amountFen, refundStatus, ...(at ? { endedAt: bj(at) } : {}),
});
const one = (r: CompareResult) => {
  if (r.items.length !== 1) throw new Error(`expected one item, got ${r.items.length}`);
  return r.items[0]!;
};

t.test('matched: paid on both sides, same amount', async (t) => {
  const r = compareDay(bill([trade('A', 1200n)]), { orders: [order('A', 1200n)], refunds: [] });
  t.strictSame(one(r), { kind: 'matched', line: 'trade', channelTradeNo: 'CHA', channelFen: 1200n, feeFen: 7n, orderId: 'A', mercOrderNo: 'M-A', localFen: 1200n });
  t.equal(r.counts.matched, 1);
});

t.test('healed: the channel has a payment dtpay had not recorded, with what to apply', async (t) => {
  const open = one(compareDay(bill([trade('A', 1200n, '2026-11-30 23:59:59')]), { orders: [order('A', 1200n, 'p0002', undefined)], refunds: [] }));
  t.equal(open.kind, 'healed');
  t.strictSame(open.heal, { line: 'trade', orderId: 'A', fromStatus: 'p0002', channelTradeNo: 'CHA', amountFen: 1200n, paidAt: '20261130235959', late: false });
  t.equal(open.localFen, 1200n);
  t.equal(open.channelFen, 1200n, 'healed lines carry both amounts');
  for (const ended of ['p0004', 'p0005', 'p0006'] as const) {
    const it = one(compareDay(bill([trade('B', 500n)]), { orders: [order('B', 500n, ended, '2026-11-30 09:00:00')], refunds: [] }));
    t.equal(it.kind, 'healed', `from ${ended}`);
    t.equal(it.heal?.line === 'trade' && it.heal.late, true, `${ended}: paid after the order had ended, flagged late`);
  }
  const submitted = one(compareDay(bill([trade('C', 1n)]), { orders: [order('C', 1n, 'p0001', undefined)], refunds: [] }));
  t.equal(submitted.heal?.line === 'trade' && submitted.heal.late, false);
});

t.test('missing_at_channel: dtpay has it paid, the bill has nothing', async (t) => {
  const it = one(compareDay(bill([]), { orders: [order('A', 1200n)], refunds: [] }));
  t.strictSame(it, { kind: 'missing_at_channel', line: 'trade', orderId: 'A', mercOrderNo: 'M-A', channelTradeNo: 'CHA', localFen: 1200n });
  t.equal(it.channelFen, undefined, 'no channel amount');
  t.same(compareDay(bill([]), { orders: [order('B', 1n, 'p0006'), order('C', 1n, 'p0004'), order('D', 1n, 'p0002', undefined)], refunds: [] }).items, [], 'orders not paid are not expected in the bill');
});

t.test('amount_mismatch: the order amount against the bill\'s order amount, never healed', async (t) => {
  const it = one(compareDay(bill([trade('A', 1201n, undefined, { settledFen: 1100n })]), { orders: [order('A', 1200n)], refunds: [] }));
  t.equal(it.kind, 'amount_mismatch');
  t.equal(it.localFen, 1200n);
  t.equal(it.channelFen, 1201n, 'the order amount, not the settled 11.00');
  const discounted = one(compareDay(bill([trade('A', 1200n, undefined, { settledFen: 1100n })]), { orders: [order('A', 1200n)], refunds: [] }));
  t.equal(discounted.kind, 'matched', 'a coupon the channel funded is no mismatch');
  const open = one(compareDay(bill([trade('A', 1201n)]), { orders: [order('A', 1200n, 'p0002', undefined)], refunds: [] }));
  t.equal(open.kind, 'amount_mismatch', 'an open order paid with another amount is not healed');
  t.equal(open.heal, undefined);
});

t.test('unknown_trade: a trade no dtpay order matches', async (t) => {
  const it = one(compareDay(bill([trade('FOREIGN-1', 990n)]), { orders: [], refunds: [] }));
  t.strictSame(it, { kind: 'unknown_trade', line: 'trade', channelTradeNo: 'CHFOREIGN-1', channelFen: 990n, feeFen: 6n, billOrderId: 'FOREIGN-1' });
  t.equal(it.orderId, undefined, 'no dtpay orderId');
  t.equal(it.localFen, undefined);
});

t.test('refunds: a line of their own, every outcome', async (t) => {
  const paid = order('A', 1200n, 'p0000', '2026-11-29 10:00:00');
  const cases: [string, RefundLine[], LocalRefund[], string][] = [
    ['matched', [refundLine('R', 'A', 500n)], [refund('R', 'A', 500n)], 'matched'],
    ['dtpay still processing, the bill has it done', [refundLine('R', 'A', 500n)], [refund('R', 'A', 500n, 'r0001', undefined)], 'healed'],
    ['both still processing', [refundLine('R', 'A', 500n, undefined, { status: 'processing' })], [refund('R', 'A', 500n, 'r0001', undefined)], 'matched'],
    ['billed processing, done in dtpay', [refundLine('R', 'A', 500n, undefined, { status: 'processing' })], [refund('R', 'A', 500n)], 'matched'],
    ['another amount', [refundLine('R', 'A', 501n)], [refund('R', 'A', 500n)], 'amount_mismatch'],
    ['dtpay recorded it failed', [refundLine('R', 'A', 500n)], [refund('R', 'A', 500n, 'r0004')], 'unknown_trade'],
    ['no dtpay refund', [refundLine('X', 'A', 500n)], [], 'unknown_trade'],
    ['missing at the channel', [], [refund('R', 'A', 500n)], 'missing_at_channel'],
  ];
  for (const [name, lines, refunds, kind] of cases) {
    const it = one(compareDay(bill(lines), { orders: [paid], refunds }));
    t.equal(it.kind, kind, name);
    t.equal(it.line, 'refund', `${name}: a refund line`);
    t.ok(it.refundId, `${name}: names the refund`);
  }
  const healed = one(compareDay(bill([refundLine('R', 'A', 500n, '2026-11-30 15:00:01')]), { orders: [paid], refunds: [refund('R', 'A', 500n, 'r0001', undefined)] }));
  t.strictSame(healed.heal, { line: 'refund', refundId: 'R', orderId: 'A', channelRefundNo: 'CRR', refundedAt: '20261130150001' });
  t.equal(healed.mercOrderNo, 'M-A');
  t.equal(healed.mercRefundNo, 'MR-R');
  const missing = one(compareDay(bill([]), { orders: [], refunds: [refund('R', 'A', 500n)] }));
  t.strictSame(missing, { kind: 'missing_at_channel', line: 'refund', orderId: 'A', refundId: 'R', mercRefundNo: 'MR-R', localFen: 500n });
  t.same(compareDay(bill([]), { orders: [], refunds: [refund('R', 'A', 1n, 'r0001', undefined), refund('S', 'A', 1n, 'r0004')] }).items, [], 'refunds not done are not expected in the bill');
});

t.test('payouts in the bill are not compared and not in the totals', async (t) => {
  const payout: BillLine = { kind: 'payout', orderId: 'P', channelTradeNo: 'CHP', amountFen: 10000n, feeFen: 200n, endedAt: bj('2026-11-30 16:00:00'), status: 'success', lineNo: 0 };
  const r = compareDay(bill([payout], 'unionpay'), { orders: [], refunds: [] });
  t.same(r.items, [], 'no item names a payout');
  t.same(r.totals, { tradeFen: 0n, refundFen: 0n, feeFen: 0n, netFen: 0n });
});

t.test('totals are the bill\'s: trades, refunds, net fee, net', async (t) => {
  const r = compareDay(
    bill([
      trade('A', 1200n, undefined, { feeFen: 7n }),
      trade('B', 5000n, undefined, { feeFen: 30n }),
      trade('V', 300n, undefined, { status: 'revoked', feeFen: 2n }),
      refundLine('R', 'A', 500n, undefined, { feeFen: -3n }),
      refundLine('S', 'B', 1000n, undefined, { feeFen: 0n, status: 'processing' }),
    ]),
    { orders: [order('A', 1200n)], refunds: [] },
  );
  t.same(r.totals, { tradeFen: 6200n, refundFen: 1500n, feeFen: 36n, netFen: 6200n - 1500n - 36n });
  t.same(r.counts, { matched: 1, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 4 });
  t.equal(r.items.find((i) => i.billOrderId === 'V')?.channelFen, 0n, 'a revoked payment left nothing');
});

t.test('the Beijing day boundary: 23:59:59 is this day, 00:00:00 the next', async (t) => {
  const local: LocalRecords = {
    orders: [order('LAST', 100n, 'p0000', '2026-11-30 23:59:59'), order('NEXT', 100n, 'p0000', '2026-12-01 00:00:00'), order('FIRST', 100n, 'p0000', '2026-11-30 00:00:00'), order('BEFORE', 100n, 'p0000', '2026-11-29 23:59:59')],
    refunds: [],
  };
  const r = compareDay(bill([trade('LAST', 100n, '2026-11-30 23:59:59')]), local);
  t.same(
    r.items.map((i) => [i.orderId, i.kind]),
    [['LAST', 'matched'], ['FIRST', 'missing_at_channel']],
    'records ended 00:00:00 the next day or 23:59:59 the day before are another day\'s',
  );
  const next = compareDay({ ...bill([trade('NEXT', 100n, '2026-12-01 00:00:00')]), billDate: '2026-12-01', window: billWindow('wxpay', '2026-12-01') }, local);
  t.same(next.items.map((i) => [i.orderId, i.kind]), [['NEXT', 'matched']], 'and the next day\'s bill takes it');

  const late = compareDay(bill([trade('EARLY', 100n, '2026-11-30 23:59:59')]), { orders: [order('EARLY', 100n, 'p0000', '2026-11-28 12:00:00')], refunds: [] });
  t.equal(one(late).kind, 'matched', 'a line naming an order dtpay ended on another day still matches it');

  const acp = bill([], 'unionpay');
  const up = compareDay(acp, { orders: [order('U1', 1n, 'p0000', '2026-11-29 23:00:00'), order('U2', 1n, 'p0000', '2026-11-30 22:59:59'), order('U3', 1n, 'p0000', '2026-11-30 23:00:00'), order('U4', 1n, 'p0000', '2026-11-29 22:59:59')], refunds: [] });
  t.same(up.items.map((i) => i.orderId), ['U1', 'U2'], 'UnionPay\'s clearing day runs 23:00 to 23:00');
});

t.test('healing is idempotent: once applied, the next run matches', async (t) => {
  const b = bill([trade('A', 1200n, '2026-11-30 11:00:00'), refundLine('R', 'Z', 300n)]);
  const local: LocalRecords = { orders: [order('A', 1200n, 'p0006', '2026-11-30 10:30:00'), order('Z', 900n, 'p0000', '2026-11-29 10:00:00')], refunds: [refund('R', 'Z', 300n, 'r0001', undefined)] };
  const first = compareDay(b, local);
  t.same(first.counts, { matched: 0, healed: 2, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 0 });
  // what the caller does with the heal instructions, through the conditional state change
  const orders = local.orders.map((o) => {
    const h = first.items.find((i) => i.heal?.line === 'trade' && i.heal.orderId === o.orderId)?.heal;
    return h?.line === 'trade' ? { ...o, payStatus: 'p0000' as const, channelTradeNo: h.channelTradeNo, endedAt: bj('2026-11-30 11:00:00') } : o;
  });
  const refunds = local.refunds.map((r) => (first.items.some((i) => i.heal?.line === 'refund' && i.heal.refundId === r.refundId) ? { ...r, refundStatus: 'r0000' as const, endedAt: bj('2026-11-30 15:00:00') } : r));
  const second = compareDay(b, { orders, refunds });
  t.same(second.counts, { matched: 2, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 0 });
  t.ok(second.items.every((i) => i.heal === undefined), 'nothing left to apply');
  t.same(compareDay(b, { orders, refunds }), second, 'and again');
});

t.test('billNames: what the caller reads before comparing', async (t) => {
  const parsed = parseAlipayTradeBill(billFile('alipay-20261130.zip'), { billDate: DAY });
  t.same(billNames(parsed), {
    orderIds: ['2026112923581000000001', '2026113010150000000002', '2026113023595000000003'],
    refundIds: ['2026113014000000000001'],
  });
  const r = compareDay(parsed, {
    orders: [order('2026112923581000000001', 1200n, 'p0000', '2026-11-30 00:00:00'), order('2026113010150000000002', 5000n, 'p0002', undefined), order('2026113023595000000003', 2n, 'p0000', '2026-11-30 23:59:59'), order('2026113012000000000099', 800n, 'p0000', '2026-11-30 12:00:00')],
    refunds: [refund('2026113014000000000001', '2026112923581000000001', 500n)],
  });
  t.same(r.counts, { matched: 2, healed: 1, missing_at_channel: 1, amount_mismatch: 1, unknown_trade: 0 }, 'the Alipay fixture against a dtpay day with one of each');
  t.same(r.totals, { tradeFen: 6201n, refundFen: 500n, feeFen: 31n, netFen: 5670n });
});

// ---------------------------------------------------------------- property
const SEED = process.env.DTPAY_PROP_SEED !== undefined ? Number(process.env.DTPAY_PROP_SEED) >>> 0 : randomInt(0, 2 ** 32);
t.comment(`compare property test, seed ${SEED} (rerun: DTPAY_PROP_SEED=${SEED})`);

t.test('property: one item per distinct line on either side, counts add up, heals apply once', async (t) => {
  const r = prng(SEED);
  for (let run = 0; run < 300; run++) {
    const source = r.pick(['alipay', 'wxpay', 'unionpay', 'sandbox'] as const);
    const w = billWindow(source, DAY);
    const time = () => w.fromMs - 3 * 3600_000 + r.int(30 * 3600) * 1000; // some outside the window
    const ids = Array.from({ length: 1 + r.int(12) }, (_, k) => `O${k}`);
    const rids = Array.from({ length: r.int(6) }, (_, k) => `R${k}`);
    const lines: BillLine[] = [];
    const orders: LocalOrder[] = [];
    const refunds: LocalRefund[] = [];
    for (const id of ids) {
      const amount = BigInt(1 + r.int(5000));
      if (r.chance(0.7)) lines.push(trade(id, r.chance(0.15) ? amount + 1n : amount, undefined, { endedAt: time(), ...(r.chance(0.05) ? { status: 'revoked' as const } : {}) }));
      if (r.chance(0.8)) {
        const status = r.pick(PAY_STATUSES);
        orders.push({ orderId: id, mercOrderNo: `M${id}`, amountFen: amount, payStatus: status, ...(status !== 'p0001' && status !== 'p0002' ? { endedAt: time() } : {}) });
      }
    }
    for (const id of rids) {
      const amount = BigInt(1 + r.int(500));
      const of = r.pick(ids);
      if (r.chance(0.7)) lines.push(refundLine(id, of, r.chance(0.15) ? amount + 1n : amount, undefined, { endedAt: time(), status: r.chance(0.3) ? 'processing' : 'success' }));
      if (r.chance(0.8)) {
        const status = r.pick(['r0000', 'r0001', 'r0004'] as const);
        refunds.push({ refundId: id, mercRefundNo: `M${id}`, orderId: of, amountFen: amount, refundStatus: status, ...(status !== 'r0001' ? { endedAt: time() } : {}) });
      }
    }
    if (r.chance(0.3)) lines.push({ kind: 'payout', orderId: 'PAYOUT', channelTradeNo: 'P', amountFen: 100n, feeFen: 2n, endedAt: time(), status: 'success', lineNo: 0 });
    const b: Bill = { source, billDate: DAY, window: w, lines };
    const res = compareDay(b, { orders, refunds });

    const keys = new Set<string>();
    for (const l of lines) if (l.kind !== 'payout') keys.add(l.kind === 'trade' ? `t:${l.orderId}` : `r:${l.refundId}`);
    for (const o of orders) if (o.payStatus === 'p0000' && o.endedAt !== undefined && o.endedAt >= w.fromMs && o.endedAt < w.toMs) keys.add(`t:${o.orderId}`);
    for (const f of refunds) if (f.refundStatus === 'r0000' && f.endedAt !== undefined && f.endedAt >= w.fromMs && f.endedAt < w.toMs) keys.add(`r:${f.refundId}`);
    const itemKeys = res.items.map((i) => (i.line === 'trade' ? `t:${i.orderId ?? i.billOrderId}` : `r:${i.refundId}`));
    const fail = (what: string) => t.fail(`run ${run}: ${what}`, { lines, orders, refunds, items: res.items });
    if (new Set(itemKeys).size !== itemKeys.length) fail('a line was reported twice');
    if (itemKeys.length !== keys.size || !itemKeys.every((k) => keys.has(k))) fail('items are not the distinct lines of both sides');
    if (OUTCOMES.reduce((s, o) => s + res.counts[o], 0) !== keys.size) fail('counts do not add up to the distinct lines');
    if (res.items.some((i) => (i.kind === 'healed') !== (i.heal !== undefined))) fail('a heal outside a healed item, or a healed item without one');
    if (res.totals.netFen !== res.totals.tradeFen - res.totals.refundFen - res.totals.feeFen) fail('net is not trade − refund − fee');

    // apply the heals as the state change would, then compare again: nothing heals twice
    const healedOrders = orders.map((o) => {
      const h = res.items.find((i) => i.heal?.line === 'trade' && i.heal.orderId === o.orderId)?.heal;
      return h ? { ...o, payStatus: 'p0000' as const } : o;
    });
    const healedRefunds = refunds.map((f) => (res.items.some((i) => i.heal?.line === 'refund' && i.heal.refundId === f.refundId) ? { ...f, refundStatus: 'r0000' as const } : f));
    const again = compareDay(b, { orders: healedOrders, refunds: healedRefunds });
    if (again.counts.healed !== 0) fail('healed twice');
    if (again.counts.matched !== res.counts.matched + res.counts.healed) fail('a healed line is not matched the next time');
  }
  t.pass('300 random days');
});
