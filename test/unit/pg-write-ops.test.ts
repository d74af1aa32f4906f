import t, { type Test } from 'tap';
import type { OpArgs, OpName, OpResult } from '../../src/db/write-ops.js';
import type { NewMerchantRecord, OrderRow } from '../../src/db/rows.js';
import { WriteError } from '../../src/db/writer.js';
import { sealMerchantKey } from '../../src/secrets/merchant-keys.js';
import { formatBeijing } from '../../src/domain/time.js';
import { pruneHistory } from '../../src/services/prune.js';
import { orderRow, refundRow } from '../fixtures/orders.js';
import { TEST_MASTER_KEY } from '../fixtures/merchant-keys.js';
import { fileCluster, pgBackend, sqliteBackend, type Backend } from '../fixtures/backends.js';

/** Each status's count: its status_counts row plus its shards (always none on SQLite: migrations/0018). */
const STATUS_COUNTS =
  'SELECT entity, status, CAST(sum(n) AS BIGINT) AS n FROM (SELECT entity, status, n FROM status_counts UNION ALL SELECT entity, status, n FROM status_count_shards) AS c GROUP BY entity, status ORDER BY entity, status';

// Every named write operation, run through the same scenarios on both backends — SQLite through
// the InlineWriter, PostgreSQL through PgWriter — with the same rows in: the answers (their values
// and types: amounts as BigInt, other integers as numbers, the same WriteError codes) and the rows
// they leave behind must be the same. The scenarios are those of the SQLite tests that exercise
// the operations directly (db, notify-outbox, ended-at, prune, reconciliation, alert-recorder,
// console-auth), with the edges each operation decides on.

const cluster = await fileCluster(t);

type Entry = [string, unknown];

/** Runs operations on one backend and logs each answer (or the failure's code) for the comparison. */
function recorder(b: Backend) {
  const log: Entry[] = [];
  return {
    log,
    async run<N extends OpName>(op: N, args: OpArgs<N>): Promise<OpResult<N>> {
      try {
        const v = await b.writer.run(op, args);
        log.push([op, v]);
        return v;
      } catch (err) {
        if (!(err instanceof WriteError)) throw err;
        log.push([op, { failed: err.code ?? err.message }]);
        return undefined as OpResult<N>;
      }
    },
    async rows(label: string, sql: string) {
      log.push([label, await b.rows(sql)]);
    },
  };
}

type Scenario = (r: ReturnType<typeof recorder>, b: Backend) => Promise<void>;

/**
 * Values with their types kept (a BigInt is not a number), the random webhook ids masked, and a
 * reconciliation run's id only typed: the database chooses it (SQLite may give a replaced run's
 * id again, PostgreSQL's identity never does).
 */
function comparable(v: unknown, key?: string): unknown {
  if (key === 'runId') return typeof v;
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (typeof v === 'string') return v.replace(/msg_[A-Za-z0-9_-]{20}/g, 'msg_*');
  if (Array.isArray(v)) return v.map((x) => comparable(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, comparable(x, k)]));
  return v;
}

async function onBoth(t: Test, scenario: Scenario): Promise<Entry[] | undefined> {
  const sqlite = sqliteBackend(t);
  const a = recorder(sqlite);
  await scenario(a, sqlite);
  const pg = await pgBackend(t, cluster);
  if (!pg) {
    t.comment('no PostgreSQL on this machine: SQLite only');
    return a.log;
  }
  const b = recorder(pg);
  await scenario(b, pg);
  t.equal(b.log.length, a.log.length, 'as many steps on each');
  a.log.forEach((entry, i) => t.same(comparable(b.log[i]), comparable(entry), `step ${i + 1}: ${entry[0]}`));
  return a.log;
}

const answer = (log: Entry[], op: string, nth = 0) => log.filter(([o]) => o === op)[nth]?.[1];

const M1 = 'M100000000000001';
const M2 = 'M100000000000002';
const merchant = (mercNo: string, over: Partial<NewMerchantRecord> = {}): NewMerchantRecord => ({
  merc_no: mercNo,
  name: `Shop ${mercNo}`,
  mode: 'sandbox',
  key_sealed: sealMerchantKey(TEST_MASTER_KEY, mercNo, `key-${mercNo}-`.padEnd(40, 'x')).toString('base64'),
  status: 'active',
  created_at: 1_000,
  updated_at: 1_000,
  ...over,
});

/** Orders with the same numbers on both backends: the n-th order of a scenario, created at `at`. */
function orders() {
  let n = 0;
  return (mercNo: string, at: number, over: Partial<OrderRow> = {}): OrderRow => {
    n += 1;
    const mercOrderNo = `ORD-${n}`;
    return orderRow(mercNo, at, {
      order_id: `${formatBeijing(at)}${String(n).padStart(8, '0')}`,
      merc_order_no: mercOrderNo,
      request_json: JSON.stringify({ mercNo, mercOrderNo, tradeAmt: '12.34', notifyUrl: 'http://127.0.0.1:9/notify' }),
      ...over,
    });
  };
}

function refunds() {
  let n = 0;
  return (order: OrderRow, amountFen: bigint, at: number, over: Parameters<typeof refundRow>[3] = {}) => {
    n += 1;
    return refundRow(order, amountFen, at, { refund_id: `3${order.order_id.slice(1, 14)}${String(n).padStart(8, '0')}`, merc_refund_no: `RF-${n}`, ...over });
  };
}

const b64 = (n: number, fill: number) => Buffer.alloc(n, fill).toString('base64');

t.test('merchants, settings and channel credentials', async (t) => {
  const log = await onBoth(t, async (r) => {
    await r.run('insertMerchant', merchant(M1));
    await r.run('insertMerchant', merchant(M2, { mode: 'live' }));
    await r.run('insertMerchant', merchant(M1, { name: 'duplicate' }));
    await r.run('insertMerchant', merchant('M100000000000003', { key_sealed: 'dG9vLXNob3J0' }));
    await r.run('setMerchantStatus', { mercNo: M1, status: 'disabled', at: 2_000 });
    await r.run('setMerchantStatus', { mercNo: 'M000000000000000', status: 'disabled', at: 2_000 });
    await r.run('setMerchantKey', { mercNo: M1, keySealed: merchant(M1).key_sealed, at: 3_000 });
    await r.run('setMerchantKey', { mercNo: 'M000000000000000', keySealed: merchant(M1).key_sealed, at: 3_000 });
    await r.run('ensureSetting', { name: 's', value: 'first' });
    await r.run('ensureSetting', { name: 's', value: 'second' });
    const cred = { payway: 'alipay' as const, keyId: 'k'.repeat(16), iv: b64(12, 1), tag: b64(16, 2), ciphertext: b64(40, 3), at: 5_000 };
    await r.run('putChannelCredentials', { ...cred, mercNo: M2 });
    await r.run('putChannelCredentials', { ...cred, mercNo: M2, ciphertext: b64(41, 4) });
    await r.run('putChannelCredentials', { ...cred, mercNo: M2, at: 4_000 });
    await r.run('putChannelCredentials', { ...cred, mercNo: M1 });
    await r.run('putChannelCredentials', { ...cred, mercNo: M2, iv: b64(11, 1) });
    await r.rows('credentials', 'SELECT merc_no, payway, key_id, iv, tag, ciphertext, created_at, updated_at FROM channel_credentials ORDER BY merc_no, payway');
    await r.run('removeChannelCredentials', { mercNo: M2, payway: 'alipay' });
    await r.run('removeChannelCredentials', { mercNo: M2, payway: 'alipay' });
    await r.rows('merchants', 'SELECT merc_no, name, mode, status, created_at, updated_at, length(key_sealed) AS sealed FROM merchants ORDER BY merc_no');
    await r.rows('settings', 'SELECT name, value FROM settings ORDER BY name');
  });
  t.same(answer(log!, 'insertMerchant', 2), { failed: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, 'a taken merchant number');
  t.same(answer(log!, 'insertMerchant', 3), { failed: 'SQLITE_CONSTRAINT_CHECK' }, 'a sealed key too short');
  t.same(answer(log!, 'ensureSetting', 1), 'first');
  t.same(log!.filter(([o]) => o === 'putChannelCredentials').map(([, v]) => v), [
    'created',
    'updated',
    'updated',
    { failed: `merchant ${M1} does not exist or is not a live merchant` },
    { failed: 'SQLITE_CONSTRAINT_CHECK' },
  ]);
});

t.test('orders, transitions and the outbox: notifications, supersedes, leases, attempts', async (t) => {
  const log = await onBoth(t, async (r, b) => {
    const order = orders();
    await r.run('insertMerchant', merchant(M1));
    const o1 = order(M1, 1_000);
    const refused = order(M1, 1_000, { pay_status: 'p0004', channel_state: 'refused' });
    const failing = order(M1, 1_000);
    const expiring = order(M1, 1_000);
    const closing = order(M1, 1_000);
    const unknown = order(M1, 1_000, { channel_state: 'unknown' });
    for (const o of [o1, refused, failing, expiring, closing, unknown]) await r.run('insertOrder', o);
    await r.run('insertOrder', { ...order(M1, 1_000), merc_order_no: o1.merc_order_no });
    await r.run('insertOrder', { ...order(M1, 1_000), order_id: o1.order_id });
    await r.run('insertOrder', order('M000000000000000', 1_000));

    await r.run('transitionOrder', { orderId: o1.order_id, event: 'payer_opened', source: 'test', at: 2_000 });
    await r.run('recordCheck', { orderId: o1.order_id, next: 7_000 });
    await r.run('transitionOrder', { orderId: o1.order_id, event: 'channel_paid', source: 'test', at: 3_000, tradeEndTime: '20260101120003', bankType: 'CMB', channelTradeNo: 'T1' });
    await r.run('transitionOrder', { orderId: o1.order_id, event: 'channel_paid', source: 'test', at: 4_000 });
    await r.run('transitionOrder', { orderId: '2099010100000000000001', event: 'channel_paid', source: 'test', at: 4_000 });
    await r.run('recordCheck', { orderId: o1.order_id, next: 9_000 });

    await r.run('transitionOrder', { orderId: failing.order_id, event: 'channel_failed', source: 'test', at: 2_000, failCode: 'NOPE', failReason: 'declined' });
    await r.run('transitionOrder', { orderId: failing.order_id, event: 'channel_paid', source: 'test', at: 3_000 });
    await r.run('queueNotification', { orderId: failing.order_id, at: 5_000, reason: 'resend' });
    await r.run('queueNotification', { orderId: '2099010100000000000001', at: 5_000, reason: 'resend' });
    await r.run('transitionOrder', { orderId: expiring.order_id, event: 'expired', source: 'test', at: 40 * 60_000 });
    await r.run('transitionOrder', { orderId: expiring.order_id, event: 'channel_paid', source: 'test', at: 50 * 60_000, tradeEndTime: '20260101000100' });
    await r.run('transitionOrder', { orderId: closing.order_id, event: 'merchant_closed', source: 'test', at: 60_000 });
    await r.run('transitionOrder', { orderId: closing.order_id, event: 'expired', source: 'test', at: 61_000 });
    await r.run('markChannelAccepted', { orderId: unknown.order_id, at: 2_000 });
    await r.run('markChannelAccepted', { orderId: unknown.order_id, at: 2_000 });

    // The lease of o1's notification (id 1), as notify-outbox.test.ts plays it.
    const id = 1;
    await r.run('claimNotification', { id, owner: 'a', now: 2_999, leaseUntil: 20_000 });
    await r.run('claimNotification', { id, owner: 'a', now: 10_000, leaseUntil: 20_000 });
    await r.run('claimNotification', { id, owner: 'b', now: 15_000, leaseUntil: 25_000 });
    await r.run('recordAttempt', { id, owner: 'a', attempt: 1, dueAt: 3_000, at: 10_000, httpStatus: 500, latencyMs: 3, outcome: 'retry', error: 'status', answer: 'oops', nextDueAt: 20_000 });
    await r.run('claimNotification', { id, owner: 'a', now: 20_000, leaseUntil: 30_000 });
    await r.run('claimNotification', { id, owner: 'b', now: 30_000, leaseUntil: 40_000 });
    await r.run('recordAttempt', { id, owner: 'a', attempt: 2, dueAt: 20_000, at: 20_000, latencyMs: 5000, outcome: 'retry', error: 'timeout', nextDueAt: 30_000 });
    await r.run('recordAttempt', { id, owner: 'b', attempt: 2, dueAt: 20_000, at: 30_000, httpStatus: 200, latencyMs: 2, outcome: 'delivered', answer: 'success' });
    await r.run('claimNotification', { id, owner: 'b', now: 99_000, leaseUntil: 100_000 });
    // The expiring order's latest notification: claimed, given back, failed for good.
    const last = Number((await b.rows(`SELECT max(id) AS id FROM notifications WHERE order_id = '${expiring.order_id}'`))[0]!.id);
    await r.run('claimNotification', { id: last, owner: 'a', now: 50 * 60_000, leaseUntil: 51 * 60_000 });
    await r.run('releaseNotification', { id: last, owner: 'x' });
    await r.run('releaseNotification', { id: last, owner: 'a' });
    await r.run('claimNotification', { id: last, owner: 'c', now: 50 * 60_000, leaseUntil: 51 * 60_000 });
    await r.run('recordAttempt', { id: last, owner: 'c', attempt: 1, dueAt: 50 * 60_000, at: 50 * 60_000, latencyMs: 1, outcome: 'failed', error: 'address' });

    // The sandbox channel's side of a trade.
    const trade = { tradeNo: 'S1', amountFen: 1234n, paidAt: '20260101120000', bankType: 'CMB', at: 5_000 };
    await r.run('sandboxSettle', { ...trade, orderId: o1.order_id, status: 'failed', paidAt: null, bankType: null });
    await r.run('sandboxSettle', { ...trade, orderId: o1.order_id, status: 'paid' });
    await r.run('sandboxClose', { orderId: o1.order_id, tradeNo: 'S1', amountFen: 1234n, at: 6_000 });
    await r.run('sandboxSettle', { ...trade, orderId: o1.order_id, status: 'failed', paidAt: null, bankType: null });
    await r.run('sandboxClose', { orderId: closing.order_id, tradeNo: 'S2', amountFen: 1234n, at: 6_000 });
    await r.run('sandboxSettle', { ...trade, orderId: closing.order_id, status: 'paid' });

    await r.rows(
      'orders',
      `SELECT order_id, pay_status, channel_state, channel_trade_no, channel_code, channel_msg, trade_end_time, bank_type, late_payment,
        ended_at, updated_at, next_check_at, checks FROM orders ORDER BY order_id`,
    );
    await r.rows('events', 'SELECT order_id, from_status, to_status, source, detail, at FROM order_events ORDER BY id');
    await r.rows(
      'notifications',
      `SELECT id, webhook_id, order_id, refund_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, lease_owner, lease_until,
        created_at, updated_at FROM notifications ORDER BY id`,
    );
    await r.rows('attempts', 'SELECT notification_id, attempt, due_at, at, http_status, latency_ms, outcome, error, answer FROM notification_attempts ORDER BY id');
    await r.rows('sandbox trades', 'SELECT * FROM sandbox_trades ORDER BY order_id');
    await r.rows('status counts', STATUS_COUNTS);
  });
  t.match(answer(log!, 'transitionOrder', 1), { changed: true, from: 'p0002', to: 'p0000', notification: { id: 1, dueAt: 3_000, payStatus: 'p0000' } });
  t.same(answer(log!, 'insertOrder', 6), false, 'a replayed merchant order number');
  t.same(answer(log!, 'insertOrder', 7), { failed: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, 'a taken order number');
  t.same(answer(log!, 'insertOrder', 8), { failed: 'SQLITE_CONSTRAINT_FOREIGNKEY' }, 'an unknown merchant');
  t.same(answer(log!, 'claimNotification', 0), undefined, 'not before it is due');
  t.match(answer(log!, 'claimNotification', 1), { id: 1, attempts: 0, dueAt: 3_000, signType: 'MD5' });
  t.same(answer(log!, 'claimNotification', 2), undefined, 'held by another while the lease runs');
});

t.test('refunds: the cap, a replay, one end, their notifications; the sandbox refund book', async (t) => {
  const log = await onBoth(t, async (r) => {
    const order = orders();
    const refund = refunds();
    await r.run('insertMerchant', merchant(M1));
    const paid = order(M1, 1_000, { pay_status: 'p0000', amount_fen: 1000n, trade_end_time: '20260101120000' });
    const open = order(M1, 1_000);
    await r.run('insertOrder', paid);
    await r.run('insertOrder', open);
    await r.run('insertRefund', refund(open, 100n, 2_000));
    await r.run('insertRefund', refund({ ...open, order_id: '2099010100000000000001' }, 100n, 2_000));
    const a = refund(paid, 600n, 2_000);
    const b = refund(paid, 400n, 2_000, { notify_url: null });
    await r.run('insertRefund', a);
    await r.run('insertRefund', refund(paid, 500n, 2_000));
    await r.run('insertRefund', b);
    await r.run('insertRefund', refund(paid, 1n, 2_000));
    await r.run('refundChannelAnswer', { refundId: a.refund_id, state: 'accepted', channelRefundNo: 'CR1', at: 3_000 });
    await r.run('refundChannelAnswer', { refundId: b.refund_id, state: 'unknown', at: 3_000 });
    await r.run('recordRefundCheck', { refundId: a.refund_id, next: 8_000 });
    await r.run('settleRefund', { refundId: a.refund_id, status: 'r0004', at: 4_000, refundEndTime: '', code: 'X', message: 'refused' });
    await r.run('settleRefund', { refundId: a.refund_id, status: 'r0000', at: 5_000, refundEndTime: '20260101120500' });
    await r.run('settleRefund', { refundId: b.refund_id, status: 'r0000', at: 5_000, refundEndTime: '20260101120500', channelRefundNo: 'CR2' });
    await r.run('recordRefundCheck', { refundId: a.refund_id, next: 9_000 });
    await r.run('refundChannelAnswer', { refundId: a.refund_id, state: 'accepted', at: 6_000 });
    await r.run('insertRefund', { ...refund(paid, 100n, 6_000), merc_refund_no: a.merc_refund_no });
    await r.run('insertRefund', refund(paid, 600n, 6_000));
    await r.run('queueRefundNotification', { refundId: a.refund_id, at: 7_000, reason: 'resend' });
    await r.run('queueRefundNotification', { refundId: b.refund_id, at: 7_000, reason: 'resend' });
    await r.run('queueRefundNotification', { refundId: '3099010100000000000001', at: 7_000, reason: 'resend' });

    const sr = (refundId: string, amountFen: bigint, at: number, outcome: 'succeeded' | 'failed' = 'succeeded') =>
      r.run('sandboxRefund', { refundId, orderId: paid.order_id, amountFen, outcome, at, endsAt: at + 1000 });
    await sr('SR0', 100n, 1_000);
    await r.run('sandboxSettle', { orderId: paid.order_id, tradeNo: 'S1', amountFen: 1000n, status: 'paid', paidAt: '20260101120000', bankType: null, at: 1_000 });
    await sr('SR1', 700n, 2_000);
    await sr('SR1', 700n, 2_500);
    await sr('SR1', 700n, 3_000);
    await sr('SR2', 400n, 3_000);
    await sr('SR3', 300n, 3_000, 'failed');
    await sr('SR4', 1n, 3_500);
    await sr('SR4', 1n, 4_000);
    await sr('SR5', 300n, 4_000);
    await r.rows(
      'refunds',
      `SELECT refund_id, order_id, merc_refund_no, amount_fen, refund_status, channel_state, channel_refund_no, channel_code, channel_msg,
        refund_end_time, updated_at, next_check_at, checks, ended_at FROM refunds ORDER BY refund_id`,
    );
    await r.rows('notifications', 'SELECT id, order_id, refund_id, url, fields_json, reason, status, due_at FROM notifications ORDER BY id');
    await r.rows('sandbox refunds', 'SELECT * FROM sandbox_refunds ORDER BY refund_id');
  });
  t.same(log!.filter(([o]) => o === 'insertRefund').map(([, v]) => v), [
    { ok: false, reason: 'state', payStatus: 'p0001' },
    { ok: false, reason: 'state', payStatus: 'none' },
    { ok: true },
    { ok: false, reason: 'exceeds', refundableFen: 400n },
    { ok: true },
    { ok: false, reason: 'exceeds', refundableFen: 0n },
    { ok: false, reason: 'duplicate' },
    { ok: true },
  ]);
  t.same(log!.filter(([o]) => o === 'sandboxRefund').map(([, v]) => (v as { result: string }).result), [
    'refused', // no trade yet
    'processing',
    'processing',
    'succeeded',
    'refused', // 300 left
    'processing', // a failing one of 300, counted until it ends
    'refused', // nothing left while it runs
    'processing', // it ended: 300 left
    'refused', // 299 left
  ]);
});

t.test("the watcher's claims: overdue orders, then those due a check, then refunds; held until the claim runs out", async (t) => {
  const log = await onBoth(t, async (r) => {
    const order = orders();
    const refund = refunds();
    await r.run('insertMerchant', merchant(M1));
    // The fixture's orders expire 30 minutes after they are made.
    const overdue1 = order(M1, 1_000);
    const overdue2 = order(M1, 2_000, { next_check_at: 1_500_000 });
    const claimedElsewhere = order(M1, 3_000, { next_check_at: 5_000_000 });
    const due1 = order(M1, 4_000, { expire_at: 99_000_000, next_check_at: 1_000_000 });
    const due2 = order(M1, 5_000, { expire_at: 99_000_000, next_check_at: 1_000_000 });
    const later = order(M1, 6_000, { expire_at: 99_000_000, next_check_at: 3_000_000 });
    const paid = order(M1, 7_000, { pay_status: 'p0000', amount_fen: 1000n, trade_end_time: '20260101120000', next_check_at: 1_000_000 });
    for (const o of [overdue1, overdue2, claimedElsewhere, due1, due2, later, paid]) await r.run('insertOrder', o);
    const r1 = refund(paid, 100n, 8_000, { next_check_at: 1_000_000 });
    const r2 = refund(paid, 100n, 8_000, { next_check_at: 1_000_000 });
    const r3 = refund(paid, 100n, 8_000, { next_check_at: 9_000_000 });
    for (const x of [r1, r2, r3]) await r.run('insertRefund', x);

    const claim = (now: number, limit = 10) => r.run('claimOrderChecks', { now, until: now + 30_000, limit });
    await claim(2_000_000);
    await claim(2_000_000);
    await claim(2_029_999);
    await claim(2_030_000, 1);
    await r.run('recordCheck', { orderId: due1.order_id, next: 2_040_000 });
    await claim(5_000_000);
    await claim(5_000_000, 0);
    await r.run('claimRefundChecks', { now: 2_000_000, until: 2_030_000, limit: 10 });
    await r.run('claimRefundChecks', { now: 2_000_000, until: 2_030_000, limit: 10 });
    await r.run('recordRefundCheck', { refundId: r1.refund_id, next: 2_010_000 });
    await r.run('claimRefundChecks', { now: 2_010_000, until: 2_040_000, limit: 1 });
    await r.rows('orders', 'SELECT order_id, pay_status, expire_at, next_check_at, checks FROM orders ORDER BY order_id');
    await r.rows('refunds', 'SELECT refund_id, refund_status, next_check_at, checks FROM refunds ORDER BY refund_id');
  });
  const ids = (x: unknown) => x as { overdue: string[]; due: string[] };
  const claims = log!.filter(([o]) => o === 'claimOrderChecks').map(([, v]) => ids(v));
  t.same(claims.map((c) => [c.overdue.length, c.due.length]), [[2, 2], [0, 0], [0, 0], [1, 1], [3, 3], [0, 0]], 'what each claim took');
  t.same(log!.filter(([o]) => o === 'claimRefundChecks').map(([, v]) => (v as string[]).length), [2, 0, 1]);
});

t.test('payouts: the switch, both limits, a replay, the answer, the cancel reason; the sandbox transfers', async (t) => {
  const DAY = 86_400_000;
  const day = { dayStart: 0, dayEnd: DAY };
  const log = await onBoth(t, async (r) => {
    const order = orders();
    await r.run('insertMerchant', merchant(M1));
    const payout = (amountFen: bigint, at = 1_000) => order(M1, at, { trade_type: '02', scene: 'transfer', amount_fen: amountFen, response_json: '{"first":1}' });
    const sealed = Buffer.from('sealed payee data, forty bytes of it....').toString('base64');
    await r.run('insertPayout', { row: payout(100n), payeeSealed: sealed, ...day });
    await r.run('setPayoutSettings', { mercNo: M1, enabled: true, dailyLimitFen: 1000n, perPayoutLimitFen: 600n, at: 500 });
    await r.run('setPayoutSettings', { mercNo: 'M000000000000000', enabled: true, dailyLimitFen: null, perPayoutLimitFen: null, at: 500 });
    await r.run('insertPayout', { row: payout(700n), payeeSealed: sealed, ...day });
    const first = payout(500n);
    const second = payout(400n);
    await r.run('insertPayout', { row: first, payeeSealed: sealed, ...day });
    await r.run('insertPayout', { row: second, payeeSealed: sealed, ...day });
    await r.run('insertPayout', { row: payout(200n), payeeSealed: sealed, ...day });
    await r.run('insertPayout', { row: { ...payout(100n), merc_order_no: first.merc_order_no }, payeeSealed: sealed, ...day });
    await r.run('insertPayout', { row: payout(500n, DAY + 1), payeeSealed: sealed, dayStart: DAY, dayEnd: 2 * DAY });
    await r.run('recordPayoutAnswer', {
      orderId: first.order_id,
      channelState: 'accepted',
      channelTradeNo: 'PT1',
      responseJson: '{"answer":1}',
      at: 2_000,
      transition: { orderId: first.order_id, event: 'channel_accepted', source: 'test', at: 2_000 },
    });
    await r.run('markCancelAsked', { orderId: first.order_id, reason: 'merchant', at: 2_500 });
    await r.run('markCancelAsked', { orderId: first.order_id, reason: 'expiry', at: 2_600 });
    await r.run('recordPayoutAnswer', {
      orderId: first.order_id,
      channelState: 'accepted',
      responseJson: '{"answer":2}',
      at: 3_000,
      transition: { orderId: first.order_id, event: 'channel_paid', source: 'test', at: 3_000, tradeEndTime: '20260101120000' },
    });
    await r.run('recordPayoutAnswer', { orderId: second.order_id, channelState: 'unknown', code: 'SYSTEM_ERROR', message: 'busy', responseJson: '{"answer":3}', at: 3_000 });
    await r.run('markCancelAsked', { orderId: first.order_id, reason: 'expiry', at: 3_500 });
    await r.run('markCancelAsked', { orderId: '2099010100000000000001', reason: 'expiry', at: 3_500 });
    // A payout that failed no longer counts against the day.
    await r.run('transitionOrder', { orderId: second.order_id, event: 'channel_failed', source: 'test', at: 4_000 });
    await r.run('insertPayout', { row: payout(400n), payeeSealed: sealed, ...day });
    await r.run('setPayoutSettings', { mercNo: M1, enabled: false, dailyLimitFen: null, perPayoutLimitFen: null, at: 5_000 });
    await r.run('insertPayout', { row: payout(1n), payeeSealed: sealed, ...day });

    const transfer = { tradeNo: 'ST', amountFen: 500n, outcome: 'succeeded' as const, at: 1_000 };
    await r.run('sandboxTransfer', { ...transfer, orderId: 'P1', confirm: true, endsAt: null });
    await r.run('sandboxTransfer', { ...transfer, orderId: 'P1', confirm: false, endsAt: 9_000, at: 2_000 });
    await r.run('sandboxConfirmTransfer', { orderId: 'P1', at: 3_000 });
    await r.run('sandboxCancelTransfer', { orderId: 'P1', at: 4_000 });
    await r.run('sandboxTransfer', { ...transfer, orderId: 'P2', confirm: true, endsAt: null, outcome: 'failed' });
    await r.run('sandboxCancelTransfer', { orderId: 'P2', at: 4_000 });
    await r.run('sandboxConfirmTransfer', { orderId: 'P2', at: 5_000 });
    await r.run('sandboxTransfer', { ...transfer, orderId: 'P3', confirm: false, endsAt: 2_000 });
    await r.run('sandboxConfirmTransfer', { orderId: 'P3', at: 5_000 });
    await r.run('sandboxConfirmTransfer', { orderId: 'P4', at: 5_000 });
    await r.rows(
      'payouts',
      `SELECT order_id, trade_type, amount_fen, pay_status, channel_state, channel_trade_no, channel_code, channel_msg, response_json,
        cancel_reason, payee_sealed, ended_at, updated_at FROM orders ORDER BY order_id`,
    );
    await r.rows('merchant', 'SELECT payouts_enabled, payout_daily_limit_fen, payout_per_limit_fen, updated_at FROM merchants');
    await r.rows('notifications', 'SELECT order_id, fields_json, status FROM notifications ORDER BY id');
  });
  t.same(log!.filter(([o]) => o === 'insertPayout').map(([, v]) => v), [
    { ok: false, reason: 'off' },
    { ok: false, reason: 'per_payout', limitFen: 600n },
    { ok: true },
    { ok: true },
    { ok: false, reason: 'daily', leftFen: 100n, limitFen: 1000n },
    { ok: false, reason: 'duplicate' },
    { ok: true },
    { ok: true },
    { ok: false, reason: 'off' },
  ]);
  t.match(answer(log!, 'sandboxTransfer'), { order_id: 'P1', amount_fen: 500n, confirm: 1, cancelled: 0, ends_at: null, created_at: 1_000 });
});

t.test('reconciliation: runs replaced, alerts raised once, the latest figures, fees, handled alerts', async (t) => {
  const counts = (matched: number, unknown = 0) => ({ matched, healed: 1, missing_at_channel: 1, amount_mismatch: 0, unknown_trade: unknown });
  const log = await onBoth(t, async (r) => {
    const order = orders();
    const refund = refunds();
    await r.run('insertMerchant', merchant(M1));
    const paid = order(M1, 1_000, { pay_status: 'p0000' });
    await r.run('insertOrder', paid);
    const rf = refund(paid, 100n, 2_000);
    await r.run('insertRefund', rf);
    const items = [
      { kind: 'healed' as const, line: 'refund' as const, orderId: paid.order_id, refundId: rf.refund_id, localFen: 100n, channelFen: 100n, feeFen: -1n },
      { kind: 'missing_at_channel' as const, line: 'trade' as const, orderId: paid.order_id, mercOrderNo: paid.merc_order_no, localFen: 1234n },
      { kind: 'unknown_trade' as const, line: 'trade' as const, channelTradeNo: 'X1', billOrderId: 'THEIRS-1', channelFen: 700n, feeFen: 4n },
    ];
    const alert = (key: string) => ({ kind: 'unknown_trade', channel: 'alipay', mercNo: M1, detail: `trade ${key}`, dedupeKey: key });
    const run = { mercNo: M1, payway: 'alipay', status: 'ok' as const, startedAt: 9_000, at: 10_000 };
    const totals = { tradeFen: 1934n, refundFen: 100n, feeFen: 3n, netFen: 1831n };
    await r.run('storeReconciliationRun', { ...run, billDate: '2026-01-02', counts: counts(5, 1), totals, items, alerts: [alert('a'), alert('b')] });
    await r.run('storeReconciliationRun', { ...run, billDate: '2026-01-02', counts: counts(6), totals, items: items.slice(0, 1), alerts: [alert('a'), alert('c')], at: 11_000 });
    await r.run('storeReconciliationRun', { ...run, billDate: '2026-01-01', counts: counts(7), items: [], alerts: [], at: 12_000 });
    await r.run('storeReconciliationRun', { ...run, payway: 'wxpay', status: 'not_ready', error: 'bill not ready', billDate: '2026-01-02', counts: counts(0), items: [], alerts: [] });
    await r.run('dropReconciliationRun', { billDate: '2026-01-02', mercNo: M1, payway: 'wxpay', compared: false, at: 13_000 });
    await r.run('dropReconciliationRun', { billDate: '2026-01-02', mercNo: M1, payway: 'wxpay', compared: false, at: 13_000 });
    await r.run('dropReconciliationRun', { billDate: '2026-01-03', mercNo: M1, payway: 'unionpay', compared: true, at: 13_000 });
    await r.run('setReconciledFees', { orders: [[paid.order_id, 3n]], refunds: [[rf.refund_id, -1n]] });
    await r.run('setReconciledFees', { orders: [[paid.order_id, 3n]], refunds: [[rf.refund_id, -1n]] });
    await r.run('setReconciledFees', { orders: [[paid.order_id, 0n], ['2099010100000000000001', 1n]], refunds: [] });
    await r.run('handleAlert', { id: 1, at: 14_000, by: 'ops@shop.cn' });
    await r.run('handleAlert', { id: 1, at: 15_000, by: 'other@shop.cn' });
    await r.run('handleAlert', { id: 99, at: 15_000, by: 'ops@shop.cn' });
    await r.rows(
      'runs',
      `SELECT bill_date, merc_no, payway, status, error, matched, healed, missing_at_channel, amount_mismatch, unknown_trade,
        trade_fen, refund_fen, fee_fen, net_fen, started_at, finished_at FROM reconciliation_runs ORDER BY bill_date, payway`,
    );
    await r.rows(
      'items',
      `SELECT r.bill_date, r.payway, i.kind, i.line, i.order_id, i.merc_order_no, i.refund_id, i.merc_refund_no, i.channel_trade_no,
        i.bill_order_id, i.local_fen, i.channel_fen, i.fee_fen FROM reconciliation_items i JOIN reconciliation_runs r ON r.id = i.run_id ORDER BY i.id`,
    );
    await r.rows('latest', 'SELECT * FROM reconciliation_latest ORDER BY payway, merc_no');
    // Without their ids: an insert that ON CONFLICT skips still draws a number on PostgreSQL.
    await r.rows('alerts', 'SELECT kind, channel, order_id, merc_no, detail, at, count, last_at, handled_at, handled_by, dedupe_key FROM alerts ORDER BY id');
    await r.rows('open alerts', 'SELECT * FROM alert_counts');
    await r.rows('fees', 'SELECT o.fee_fen AS order_fee, r.fee_fen AS refund_fee FROM orders o JOIN refunds r ON r.order_id = o.order_id');
  });
  // A run's id is the database's to choose (SQLite may give a replaced run's id again, PostgreSQL does not).
  t.same(log!.filter(([o]) => o === 'storeReconciliationRun').map(([, v]) => (v as { alertsRaised: number }).alertsRaised), [2, 1, 0, 0]);
  t.same(log!.filter(([o]) => o === 'dropReconciliationRun').map(([, v]) => v), [true, false, false]);
  t.same(log!.filter(([o]) => o === 'setReconciledFees').map(([, v]) => v), [2, 0, 1]);
  t.same(log!.filter(([o]) => o === 'handleAlert').map(([, v]) => v), ['handled', 'already', 'none']);
});

t.test('alerts: counted on the source row seen since `since`, a new row once handled', async (t) => {
  const log = await onBoth(t, async (r) => {
    const base = { kind: 'callback_rejected', channel: 'alipay', mercNo: 'M1', detail: 'bad signature', at: 1_000 };
    await r.run('recordAlert', { ...base, since: 0 });
    await r.run('recordAlert', { ...base, at: 2_000, count: 5, lastAt: 3_000, detail: 'other', since: 500 });
    await r.run('recordAlert', { ...base, mercNo: undefined, at: 2_000, since: 0 });
    await r.run('recordAlert', { ...base, mercNo: undefined, at: 2_500, since: 0 });
    await r.run('recordAlert', { ...base, orderId: '2026010100000000000001', at: 2_000, since: 0 });
    await r.run('recordAlert', { ...base, at: 2_000, lastAt: 2_000, since: 0 });
    await r.run('recordAlert', { ...base, at: 9_000, since: 3_001 });
    await r.run('recordAlert', { ...base, at: 9_500 });
    await r.run('recordAlert', { ...base, detail: 'x'.repeat(1200), at: 9_600, since: 9_600 });
    await r.run('handleAlert', { id: 6, at: 9_700, by: 'ops' });
    await r.run('recordAlert', { ...base, at: 9_800, since: 9_550 });
    await r.rows('alerts', 'SELECT id, kind, channel, merc_no, order_id, length(detail) AS len, substr(detail, 1, 20) AS detail, at, last_at, count, handled_at FROM alerts ORDER BY id');
  });
  t.same(log!.filter(([o]) => o === 'recordAlert').map(([, v]) => v), [true, false, true, false, true, false, true, true, true, true]);
});

t.test('history retention: the same orders go, in batches, dry or not', async (t) => {
  const DAY = 86_400_000;
  const NOW = Date.UTC(2026, 11, 1, 4);
  await onBoth(t, async (r, b) => {
    const order = orders();
    await r.run('insertMerchant', merchant(M1));
    const old = NOW - 730 * DAY;
    const refund = refunds();
    const make = async (at: number) => {
      const o = order(M1, at);
      await r.run('insertOrder', o);
      return o;
    };
    const move = (o: OrderRow, event: Parameters<typeof r.run<'transitionOrder'>>[1]['event'], at: number) =>
      r.run('transitionOrder', { orderId: o.order_id, event, source: 'test', at });
    const deliver = async (id: number | undefined, at: number) => {
      if (id === undefined) return;
      await r.run('claimNotification', { id, owner: 'test', now: at, leaseUntil: at + 10_000 });
      await r.run('recordAttempt', { id, owner: 'test', attempt: 1, dueAt: at, at, httpStatus: 200, latencyMs: 5, outcome: 'delivered', answer: 'success' });
    };
    const idOf = (x: Awaited<ReturnType<typeof move>>) => (x.changed ? x.notification?.id : undefined);
    const paid = async (at: number, notified = true) => {
      const o = await make(at);
      const x = await move(o, 'channel_paid', at + 10_000);
      if (notified) await deliver(idOf(x), at + 11_000);
      await r.run('sandboxSettle', { orderId: o.order_id, tradeNo: `S${o.order_id}`, amountFen: 1234n, status: 'paid', paidAt: '20240101000000', bankType: 'CMB', at });
      return o;
    };
    const refundOf = async (o: OrderRow, at: number, end?: number) => {
      const row = refund(o, 100n, at);
      await r.run('insertRefund', row);
      await r.run('sandboxRefund', { refundId: row.refund_id, orderId: o.order_id, amountFen: 100n, outcome: 'succeeded', at, endsAt: at + 1000 });
      if (end !== undefined) {
        const s = await r.run('settleRefund', { refundId: row.refund_id, status: 'r0000', at: end, refundEndTime: '20240101000000' });
        await deliver(s.notification?.id, end + 1000);
      }
    };
    await paid(old);
    const expired = await make(old + 60_000);
    await deliver(idOf(await move(expired, 'expired', old + 1_900_000)), old + 1_900_000);
    const failed = await make(old + 120_000);
    await deliver(idOf(await move(failed, 'channel_failed', old + 130_000)), old + 130_000);
    await move(await make(old + 180_000), 'merchant_closed', old + 190_000);
    await refundOf(await paid(old + 240_000), old + 300_000, old + 400_000);
    await make(old + 500_000);
    const unreconciled = await make(old + 600_000);
    await b.exec(`UPDATE orders SET channel_state = 'unknown' WHERE order_id = '${unreconciled.order_id}'`);
    await deliver(idOf(await move(unreconciled, 'expired', old + 2_400_000)), old + 2_400_000);
    await paid(old + 700_000, false);
    await refundOf(await paid(old + 800_000), old + 820_000);
    await refundOf(await paid(old + 900_000), NOW - 100 * DAY, NOW - 99 * DAY);
    await paid(NOW - 10 * DAY);

    r.log.push(['dry run', await pruneHistory(b.writer, { before: '2025-06-01', now: NOW, dryRun: true, batch: 3 })]);
    await r.run('pruneOrders', { after: '', below: '2025060100000000000000', endedBefore: Date.UTC(2025, 4, 31, 16), limit: 4, dryRun: true });
    r.log.push(['prune', await pruneHistory(b.writer, { before: '2025-06-01', now: NOW, batch: 2 })]);
    r.log.push(['again', await pruneHistory(b.writer, { before: '2025-06-01', now: NOW })]);
    await r.rows('orders left', 'SELECT order_id, pay_status FROM orders ORDER BY order_id');
    for (const table of ['order_events', 'notifications', 'notification_attempts', 'refunds', 'sandbox_trades', 'sandbox_refunds']) {
      await r.rows(table, `SELECT count(*) AS n FROM ${table}`);
    }
    await r.rows('status counts', STATUS_COUNTS);
  }).then((log) => {
    t.match(log!.find(([l]) => l === 'prune')?.[1], { orders: 5, refunds: 1, notifications: 5, attempts: 5, kept: 5, dryRun: false });
  });
});

t.test('console: operators, one use of a TOTP step, sessions, login limits, the audit log', async (t) => {
  const log = await onBoth(t, async (r) => {
    const op = { role: 'admin' as const, passwordHash: 'scrypt$hash', at: 1_000 };
    await r.run('insertOperator', { ...op, email: 'a@shop.cn' });
    await r.run('insertOperator', { ...op, email: 'a@shop.cn', role: 'viewer' });
    await r.run('insertOperator', { ...op, email: 'b@shop.cn', role: 'support' });
    await r.run('setOperatorPassword', { email: 'a@shop.cn', passwordHash: 'scrypt$new', at: 2_000 });
    await r.run('setOperatorPassword', { email: 'nobody@shop.cn', passwordHash: 'scrypt$new', at: 2_000 });
    await r.run('setOperatorTotp', { email: 'a@shop.cn', sealed: b64(40, 7), at: 3_000 });
    await r.run('setOperatorStatus', { email: 'b@shop.cn', status: 'disabled', at: 4_000 });
    await r.run('setOperatorStatus', { email: 'b@shop.cn', status: 'disabled', at: 4_000 });
    await r.run('recordOperatorLogin', { id: 1, at: 5_000 });
    await r.run('recordOperatorLogin', { id: 1, step: 5, at: 5_000 });
    await r.run('recordOperatorLogin', { id: 1, step: 5, at: 5_001 });
    await r.run('recordOperatorLogin', { id: 1, step: 4, at: 5_002 });
    await r.run('recordOperatorLogin', { id: 1, step: 6, at: 5_003 });
    await r.run('recordOperatorLogin', { id: 99, at: 5_003 });

    await r.run('putConsoleSession', { sid: 's1', data: '{"a":1}', expiresAt: 10_000 });
    await r.run('putConsoleSession', { sid: 's1', data: '{"a":2}', expiresAt: 20_000 });
    await r.run('putConsoleSession', { sid: 's2', data: '{}', expiresAt: 5_000 });
    await r.run('putConsoleSession', { sid: 's3', data: '{}', expiresAt: 6_000 });
    await r.run('dropConsoleSession', { sid: 's3' });
    await r.run('dropConsoleSession', { sid: 's3' });
    await r.run('dropExpiredConsoleSessions', { now: 15_000 });

    const fail = (key: string, at: number) => r.run('recordLoginFailure', { key, at, limit: 3, windowMs: 900_000, lockMs: 600_000 });
    const t0 = 1_000_000;
    for (let i = 0; i < 4; i++) await fail('email:a@shop.cn', t0 + i);
    await fail('email:a@shop.cn', t0 + 2 + 600_000);
    await fail('email:a@shop.cn', t0 + 700_000);
    await r.run('clearLoginFailures', { key: 'email:a@shop.cn' });
    await r.run('clearLoginFailures', { key: 'email:a@shop.cn' });
    await fail('email:a@shop.cn', t0 + 800_000);
    for (let i = 0; i < 4; i++) await fail('addr:x', i * 900_000);

    await r.run('audit', { at: 1, operator: 'a@shop.cn', action: 'refund', target: 'O1', amountFen: 100n, address: '127.0.0.1', outcome: 'ok' });
    await r.run('audit', { at: 2, operator: 'x'.repeat(400), action: 'login', address: '127.0.0.1', outcome: 'refused', detail: 'd'.repeat(1100) });
    await r.run('audit', { at: 3, operator: 'a@shop.cn', action: 'payout', amountFen: 5, address: '::1', outcome: 'ok' });
    await r.rows(
      'operators',
      // Without their ids: an insert that ON CONFLICT skips still draws a number on PostgreSQL.
      'SELECT email, role, password_hash, totp_sealed, totp_last_step, status, session_epoch, created_at, updated_at, last_login_at FROM console_operators ORDER BY id',
    );
    await r.rows('sessions', 'SELECT * FROM console_sessions ORDER BY sid');
    await r.rows('limits', 'SELECT * FROM console_login_limits ORDER BY key');
    await r.rows('audit', 'SELECT id, at, length(operator) AS op, action, target, amount_fen, address, outcome, length(detail) AS detail FROM console_audit ORDER BY id');
  });
  t.same(log!.filter(([o]) => o === 'recordOperatorLogin').map(([, v]) => v), [true, true, false, false, true, false]);
  t.same(log!.filter(([o]) => o === 'recordLoginFailure').map(([, v]) => v).slice(0, 6), [
    { failures: 1, lockedUntil: null },
    { failures: 2, lockedUntil: null },
    { failures: 3, lockedUntil: 1_000_002 + 600_000 },
    { failures: 3, lockedUntil: 1_000_002 + 600_000 },
    { failures: 1, lockedUntil: null },
    { failures: 2, lockedUntil: null },
  ]);
});
