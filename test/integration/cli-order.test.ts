import t from 'tap';
import { join } from 'node:path';
import { createMerchant } from '../../src/services/merchants.js';
import { formatBeijing } from '../../src/domain/time.js';
import { orderRow } from '../fixtures/orders.js';
import { CLI, oneJson, pooled, runNode, type CliResult } from '../cli-runner.js';
import { tempDir } from '../helper.js';
import { merchantWriting } from '../fixtures/merchant-keys.js';
import { testBackendDatabase, type BackendDatabase } from '../backend-database.js';

// `dtpay order show|list`, run as the compiled CLI in a child process over a database built
// here through the real write operations.


const T0 = Date.UTC(2026, 0, 1, 4, 0, 0); // 2026-01-01 12:00 in Beijing
const iso = (ms: number) => new Date(ms).toISOString();

/** Every row the order commands read, as text (each table in its key's order: there is no rowid on PostgreSQL). */
async function dump(d: BackendDatabase): Promise<string> {
  const tables = { orders: 'order_id', order_events: 'id', notifications: 'id', notification_attempts: 'id', merchants: 'merc_no', refunds: 'refund_id' };
  const rows = [];
  for (const [table, key] of Object.entries(tables)) rows.push(await d.sql.all(`SELECT * FROM ${table} ORDER BY ${key}`));
  return JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The CLI in `cwd` on `d`. */
const cliOn = (cwd: string, d: BackendDatabase) => (args: string[]) => runNode(CLI, args, cwd, d.env);

/** Two merchants and five orders in different states, built through the write operations, on the test backend. */
async function buildDb(t: { teardown(fn: () => unknown): void }, dbPath: string) {
  const d = await testBackendDatabase(t, dbPath);
  const w = d.writer();
  const a = await createMerchant(merchantWriting(w), 'Shop A', 'sandbox', T0);
  const b = await createMerchant(merchantWriting(w), 'Shop B', 'sandbox', T0);
  const move = (orderId: string, event: 'payer_opened' | 'channel_paid' | 'channel_failed' | 'merchant_closed' | 'expired', at: number, extra = {}) =>
    w.run('transitionOrder', { orderId, event, source: 'test', at, ...extra });

  // Oldest first: paid late, after a failure, with two notifications and two attempts.
  const late = orderRow(a.mercNo, T0, { amount_fen: 1234n });
  await w.run('insertOrder', late);
  await move(late.order_id, 'payer_opened', T0 + 1_000, { detail: 'page opened' });
  await move(late.order_id, 'channel_failed', T0 + 2_000);
  const paid = await move(late.order_id, 'channel_paid', T0 + 3_000, {
    tradeEndTime: '20260101120003',
    bankType: 'CMB',
    channelTradeNo: 'T2026-1',
  });
  const nid = paid.changed ? paid.notification!.id : -1;
  await w.run('claimNotification', { id: nid, owner: 'test', now: T0 + 3_000, leaseUntil: T0 + 13_000 });
  await w.run('recordAttempt', { id: nid, owner: 'test', attempt: 1, dueAt: T0 + 3_000, at: T0 + 3_000, httpStatus: 500, latencyMs: 12, outcome: 'retry', error: 'status', answer: 'oops', nextDueAt: T0 + 13_000 });
  await w.run('claimNotification', { id: nid, owner: 'test', now: T0 + 13_000, leaseUntil: T0 + 23_000 });
  await w.run('recordAttempt', { id: nid, owner: 'test', attempt: 2, dueAt: T0 + 13_000, at: T0 + 13_001, httpStatus: 200, latencyMs: 3, outcome: 'delivered', answer: 'success' });
  // Two refunds of it: one ended and announced (with a delivered attempt), one still processing.
  const refund = (refundId: string, mercRefundNo: string, amountFen: bigint, at: number, notifyUrl: string | null, reason: string | null) => ({
    refund_id: refundId,
    order_id: late.order_id,
    merc_no: a.mercNo,
    merc_refund_no: mercRefundNo,
    request_hash: `hash-${refundId}`,
    request_json: JSON.stringify({ mercRefundNo, ...(notifyUrl ? { notifyUrl } : {}) }),
    amount_fen: amountFen,
    reason,
    notify_url: notifyUrl,
    refund_status: 'r0001' as const,
    channel_state: 'pending' as const,
    channel_refund_no: null,
    channel_code: null,
    channel_msg: null,
    refund_end_time: null,
    created_at: at,
    updated_at: at,
    next_check_at: null,
    checks: 0,
  });
  const r1 = refund('2026010112002000000001', 'RF-1', 234n, T0 + 20_000, 'https://shop.example.com/refund', '破损');
  const r2 = refund('2026010112003000000002', 'RF-2', 100n, T0 + 30_000, null, null);
  await w.run('insertRefund', r1);
  await w.run('insertRefund', r2);
  await w.run('refundChannelAnswer', { refundId: r1.refund_id, state: 'accepted', channelRefundNo: 'RN-1', at: T0 + 20_100 });
  const settled = await w.run('settleRefund', { refundId: r1.refund_id, status: 'r0000', at: T0 + 25_000, refundEndTime: '20260101120025', channelRefundNo: 'RN-1' });
  const rnid = settled.notification!.id;
  await w.run('claimNotification', { id: rnid, owner: 'test', now: T0 + 25_000, leaseUntil: T0 + 35_000 });
  await w.run('recordAttempt', { id: rnid, owner: 'test', attempt: 1, dueAt: T0 + 25_000, at: T0 + 25_002, httpStatus: 200, latencyMs: 4, outcome: 'delivered', answer: 'success' });

  // Still submitted, the largest amount the API takes.
  const big = orderRow(a.mercNo, T0 + 60_000, { amount_fen: 999999999999999999n, payway: 'wxpay', scene: 'h5' });
  await w.run('insertOrder', big);
  // Merchant B's, closed: not announced.
  const closed = orderRow(b.mercNo, T0 + 120_000, { amount_fen: 5n });
  await w.run('insertOrder', closed);
  await move(closed.order_id, 'merchant_closed', T0 + 121_000);
  // Expired: announced, nothing attempted yet.
  const expired = orderRow(a.mercNo, T0 + 180_000, { amount_fen: 100n });
  await w.run('insertOrder', expired);
  await move(expired.order_id, 'expired', T0 + 181_000);
  // Merchant B's, paid on time.
  const ontime = orderRow(b.mercNo, T0 + 240_000, { amount_fen: 2000n, payway: 'unionpay', scene: 'gateway' });
  await w.run('insertOrder', ontime);
  await move(ontime.order_id, 'channel_paid', T0 + 241_000, { bankType: 'ICBC' });

  const before = await dump(d);
  await d.close();
  /** True when the database holds exactly what it held when it was built. */
  const unchanged = async () => (await dump(d)) === before;
  return { d, a, b, late, big, closed, expired, ontime, r1, r2, unchanged };
}

t.test('order show', async (t) => {
  const cwd = tempDir(t);
  const dbPath = join(cwd, 'data', 'dtpay.sqlite');
  const { d: db, a, late, big, closed, r1, r2, unchanged } = await buildDb(t, dbPath);
  const cli = cliOn(cwd, db);

  const [json, text, bigJson, closedJson, unknown, malformed, noId, twoIds] = await Promise.all([
    cli(['order', 'show', late.order_id, '--json']),
    cli(['order', 'show', late.order_id]),
    cli(['order', 'show', big.order_id, '--json']),
    cli(['order', 'show', closed.order_id, '--json']),
    cli(['order', 'show', '2099010100000000000001', '--json']),
    cli(['order', 'show', 'not-an-order']),
    cli(['order', 'show']),
    cli(['order', 'show', late.order_id, big.order_id]),
  ]);

  t.equal(json.code, 0, `show --json exits 0 ${json.stderr}`);
  const d = oneJson(t, json);
  const { events, notifications, refunds, ...fields } = d;
  t.same(fields, {
    orderId: late.order_id,
    mercNo: a.mercNo,
    mercOrderNo: late.merc_order_no,
    payway: 'alipay',
    scene: 'scan',
    tradeAmt: '12.34',
    payStatus: 'p0000',
    channelState: 'accepted',
    channelTradeNo: 'T2026-1',
    createdAt: iso(T0),
    expireAt: iso(T0 + 30 * 60_000),
    tradeEndTime: '20260101120003',
    bankType: 'CMB',
    latePayment: true,
    notifyUrl: late.notify_url,
  });
  t.same(
    events.map((e: any) => [e.from, e.to, e.source, e.detail, e.at]),
    [
      ['p0001', 'p0002', 'test', 'page opened', iso(T0 + 1_000)],
      ['p0002', 'p0004', 'test', null, iso(T0 + 2_000)],
      ['p0004', 'p0000', 'test', null, iso(T0 + 3_000)],
    ],
    'the state changes, oldest first',
  );
  t.equal(notifications.length, 2, 'one notification per announced change');
  t.match(notifications[0], { payStatus: 'p0004', status: 'superseded', attempts: 0, nextAttemptAt: null, createdAt: iso(T0 + 2_000), reason: 'state change to p0004', url: late.notify_url, attemptLog: [] });
  t.match(notifications[0].webhookId, /^msg_/);
  t.same(notifications[1].attemptLog, [
    { attempt: 1, dueAt: iso(T0 + 3_000), at: iso(T0 + 3_000), httpStatus: 500, latencyMs: 12, outcome: 'retry', error: 'status', answer: 'oops' },
    { attempt: 2, dueAt: iso(T0 + 13_000), at: iso(T0 + 13_001), httpStatus: 200, latencyMs: 3, outcome: 'delivered', error: null, answer: 'success' },
  ]);
  t.match(notifications[1], { payStatus: 'p0000', status: 'delivered', attempts: 2, nextAttemptAt: null, reason: 'state change to p0000' });
  t.same(
    refunds.map(({ notifications: n, ...r }: any) => r),
    [
      {
        refundId: r1.refund_id,
        mercRefundNo: 'RF-1',
        refundAmt: '2.34',
        refundStatus: 'r0000',
        channelState: 'accepted',
        channelRefundNo: 'RN-1',
        channelCode: null,
        channelMsg: null,
        refundReason: '破损',
        refundEndTime: '20260101120025',
        notifyUrl: 'https://shop.example.com/refund',
        createdAt: iso(T0 + 20_000),
      },
      {
        refundId: r2.refund_id,
        mercRefundNo: 'RF-2',
        refundAmt: '1.00',
        refundStatus: 'r0001',
        channelState: 'pending',
        channelRefundNo: null,
        channelCode: null,
        channelMsg: null,
        refundReason: null,
        refundEndTime: null,
        notifyUrl: null,
        createdAt: iso(T0 + 30_000),
      },
    ],
    'the order\'s refunds, oldest first',
  );
  t.equal(refunds[0].notifications.length, 1, 'the refund\'s notification sits with the refund, not with the order\'s');
  t.match(refunds[0].notifications[0], { refundStatus: 'r0000', status: 'delivered', attempts: 1, url: 'https://shop.example.com/refund', reason: 'refund ended r0000' });
  t.same(refunds[0].notifications[0].attemptLog.map((x: any) => [x.attempt, x.at, x.httpStatus, x.outcome]), [[1, iso(T0 + 25_002), 200, 'delivered']]);
  t.same(refunds[1].notifications, []);

  t.equal(text.code, 0, `show exits 0 ${text.stderr}`);
  for (const re of [
    new RegExp(`^order\\s+${late.order_id}$`, 'm'),
    new RegExp(`^merchant\\s+${a.mercNo}\\s+order no ${late.merc_order_no}$`, 'm'),
    /^amount\s+12\.34$/m,
    /^status\s+p0000 \(paid, late payment\)$/m,
    /^channel\s+accepted\s+trade no T2026-1$/m,
    /^bank\s+CMB$/m,
    /^events \(3\)$/m,
    /p0002 -> p0004\s+test/,
    /^notifications \(2\)$/m,
    /p0000\s+delivered\s+attempts 2/,
    /attempt 1\s+\S+\s+retry\s+500\s+12 ms\s+status\s+"oops"/,
    /attempt 2\s+\S+\s+delivered\s+200\s+3 ms\s+"success"/,
    // Every time in Beijing time, as the API prints it (T0 is 12:00 in Beijing).
    /^created\s+20260101120000$/m,
    /^expires\s+20260101123000$/m,
    /^  20260101120001  p0001 -> p0002  test  page opened$/m,
    /attempt 2  20260101120013  delivered/,
    /^refunds \(2\)$/m,
    new RegExp(`^  ${r1.refund_id}  RF-1  2\\.34  r0000 \\(success\\)  channel accepted refund no RN-1  created 20260101120020  ended 20260101120025  reason "破损"$`, 'm'),
    /^    \d+  msg_\S+  r0000  delivered  attempts 1  refund ended r0000  https:\/\/shop\.example\.com\/refund$/m,
    /^      attempt 1  20260101120025  delivered  200  4 ms  "success"$/m,
    new RegExp(`^  ${r2.refund_id}  RF-2  1\\.00  r0001 \\(processing\\)  channel pending  created 20260101120030$`, 'm'),
  ])
    t.match(text.stdout, re, `text shows ${re}`);
  t.notMatch(text.stdout, /\d{4}-\d\d-\d\dT/, 'no ISO time in the text');

  t.equal(bigJson.code, 0);
  t.match(oneJson(t, bigJson), { tradeAmt: '9999999999999999.99', payStatus: 'p0001', payway: 'wxpay', scene: 'h5', latePayment: false, tradeEndTime: null, bankType: null, channelTradeNo: null, events: [], notifications: [], refunds: [] }, 'amounts beyond 2^53 fen are exact');
  const c = oneJson(t, closedJson);
  t.match(c, { payStatus: 'p0005', notifications: [] }, 'a merchant close is not announced');
  t.equal(c.events.length, 1);

  t.equal(unknown.code, 1, 'unknown order: exit 1');
  t.match(unknown.stderr, /no order 2099010100000000000001/);
  t.equal(unknown.stdout, '', 'nothing on stdout');
  t.equal(malformed.code, 1, 'malformed id: exit 1');
  t.match(malformed.stderr, /no order not-an-order/);
  t.equal(noId.code, 2, 'no id: usage error');
  t.match(noId.stderr, /usage: dtpay order show ORDERID/);
  t.equal(twoIds.code, 2);
  t.ok(await unchanged(), 'show writes nothing');
});

t.test('order list', async (t) => {
  const cwd = tempDir(t);
  const dbPath = join(cwd, 'data', 'dtpay.sqlite');
  const { d: db, a, b, late, big, closed, expired, ontime, unchanged } = await buildDb(t, dbPath);
  const cli = cliOn(cwd, db);
  const newestFirst = [ontime, expired, closed, big, late].map((o) => o.order_id);

  const runs = {
    all: ['order', 'list', '--json'],
    text: ['order', 'list'],
    limit: ['order', 'list', '--limit', '2', '--json'],
    paid: ['order', 'list', '--status', 'p0000', '--json'],
    merchantB: ['order', 'list', '--merchant', b.mercNo, '--json'],
    both: ['order', 'list', '--merchant', a.mercNo, '--status', 'p0006', '--json'],
    none: ['order', 'list', '--status', 'p0002', '--json'],
    noneText: ['order', 'list', '--status', 'p0002'],
    badStatus: ['order', 'list', '--status', 'p0003'],
    badLimit: ['order', 'list', '--limit', '0'],
    badLimit2: ['order', 'list', '--limit', 'lots'],
    noMerchant: ['order', 'list', '--merchant', 'M999999999999999'],
    unknownOption: ['order', 'list', '--frobnicate'],
    noSub: ['order'],
    badSub: ['order', 'delete', late.order_id],
  };
  const names = Object.keys(runs) as (keyof typeof runs)[];
  // A few at a time: fifteen node processes at once outlast the runner's bound on a busy two-core machine.
  const results = await pooled(names.map((n) => () => cli(runs[n])), 4);
  const r = Object.fromEntries(names.map((n, i) => [n, results[i]!])) as Record<keyof typeof runs, CliResult>;

  t.equal(r.all.code, 0, `list --json exits 0 ${r.all.stderr}`);
  const all = oneJson(t, r.all) as any[];
  t.same(all.map((o) => o.orderId), newestFirst, 'every order, newest first');
  t.same(all.map((o) => [o.payStatus, o.tradeAmt, o.latePayment]), [
    ['p0000', '20.00', false],
    ['p0006', '1.00', false],
    ['p0005', '0.05', false],
    ['p0001', '9999999999999999.99', false],
    ['p0000', '12.34', true],
  ]);
  t.same(Object.keys(all[4]).sort(), [
    'bankType', 'channelState', 'channelTradeNo', 'createdAt', 'expireAt', 'latePayment', 'mercNo', 'mercOrderNo',
    'notifyUrl', 'orderId', 'payStatus', 'payway', 'scene', 'tradeAmt', 'tradeEndTime',
  ]);
  t.match(all[0], { mercNo: b.mercNo, payway: 'unionpay', scene: 'gateway', bankType: 'ICBC', createdAt: iso(T0 + 240_000) });

  t.equal(r.text.code, 0);
  const lines = r.text.stdout.trimEnd().split('\n');
  t.equal(lines.length, 5, 'one line per order');
  // The creation time in Beijing time, as the API prints times (T0 + 4 min is 12:04 in Beijing).
  t.match(lines[0], new RegExp(`^${ontime.order_id}\\s+${b.mercNo}\\s+p0000\\s+20\\.00\\s+unionpay\\.gateway\\s+${formatBeijing(T0 + 240_000)}\\s+${ontime.merc_order_no}$`));
  t.equal(formatBeijing(T0 + 240_000), '20260101120400');
  t.match(lines[4], new RegExp(`^${late.order_id}\\s+${a.mercNo}\\s+p0000 late\\s+12\\.34\\s+alipay\\.scan`));

  t.same(oneJson(t, r.limit).map((o: any) => o.orderId), newestFirst.slice(0, 2), '--limit 2: the two newest');
  t.same(oneJson(t, r.paid).map((o: any) => o.orderId), [ontime.order_id, late.order_id], '--status p0000');
  t.same(oneJson(t, r.merchantB).map((o: any) => o.orderId), [ontime.order_id, closed.order_id], '--merchant');
  t.same(oneJson(t, r.both).map((o: any) => o.orderId), [expired.order_id], '--merchant and --status together');
  t.same(oneJson(t, r.none), [], 'nothing matches: an empty array');
  t.equal(r.noneText.stdout, 'no orders\n');

  t.equal(r.badStatus.code, 2);
  t.match(r.badStatus.stderr, /--status must be one of p0001, p0002, p0000, p0004, p0005, p0006/);
  t.equal(r.badLimit.code, 2);
  t.match(r.badLimit.stderr, /--limit/);
  t.equal(r.badLimit2.code, 2);
  t.equal(r.noMerchant.code, 1);
  t.match(r.noMerchant.stderr, /no merchant M999999999999999/);
  t.equal(r.unknownOption.code, 2);
  t.notMatch(r.unknownOption.stderr, /\n\s+at /, 'a message, not a stack trace');
  t.equal(r.noSub.code, 2);
  t.match(r.noSub.stderr, /order: expected show or list/);
  t.equal(r.badSub.code, 2);
  for (const n of ['badStatus', 'badLimit', 'noMerchant', 'noSub'] as const) t.equal(r[n].stdout, '', `${n}: nothing on stdout`);
  t.ok(await unchanged(), 'list writes nothing');
});

t.test('the default limit is 50', async (t) => {
  const cwd = tempDir(t);
  const dbPath = join(cwd, 'data', 'dtpay.sqlite');
  const db = await testBackendDatabase(t, dbPath);
  const cli = cliOn(cwd, db);
  const w = db.writer();
  const m = await createMerchant(merchantWriting(w), 'Busy shop', 'sandbox', T0);
  const ids: string[] = [];
  for (let i = 0; i < 60; i++) {
    const o = orderRow(m.mercNo, T0 + i * 1_000);
    ids.push(o.order_id);
    await w.run('insertOrder', o);
  }
  await db.close();
  const [dflt, more] = await Promise.all([
    cli(['order', 'list', '--json']),
    cli(['order', 'list', '--limit', '100', '--json']),
  ]);
  t.same(oneJson(t, dflt).map((o: any) => o.orderId), ids.slice(10).reverse(), 'the 50 newest');
  t.equal(oneJson(t, more).length, 60);
});
