import t, { type Test } from 'tap';
import pg from 'pg';
import { payFields, startGateway, tempDir, type TestGateway } from '../helper.js';
import { FakeClock } from '../fake-clock.js';
import { pgCluster } from '../pg-cluster.js';
import { orderRow, refundRow } from '../fixtures/orders.js';
import { pgInstance } from '../fixtures/backends.js';
import { ChannelRegistry } from '../../src/channels/registry.js';
import { supportedCells } from '../../src/channels/matrix.js';
import { sandboxDriver } from '../../src/channels/sandbox/driver.js';
import type { ChannelDriver } from '../../src/channels/types.js';
import type { Services } from '../../src/services/context.js';
import { OrderWatcher } from '../../src/services/order-watcher.js';
import { CHECK_LEASE_MS } from '../../src/db/check-claim-ops.js';

// Not repeated on PostgreSQL: it is about PostgreSQL alone, two gateways on one database, in every pass.
//
// CONTRACT §7: each look at an open order (its expiry, a check of it, a check of a refund) is
// claimed by one instance. Two gateways share one PostgreSQL database, each with its own pool and
// its own watcher, on one fake clock; the sandbox channel they ask counts every question by order.

const cluster = await pgCluster(t);
const T0 = Date.UTC(2026, 0, 1, 4);
/** the watchers' time: an hour after the orders were made */
const W = T0 + 3_600_000;
const N = 20;

type Asked = Map<string, number>;

/** The gateway's services with a sandbox channel that counts, in `asked`, each question about an order or refund. */
function counting(base: Services, asked: Record<'close' | 'query' | 'refundQuery', Asked>): Services {
  const count = (m: Asked, id: string) => m.set(id, (m.get(id) ?? 0) + 1);
  const driver: ChannelDriver<any> = {
    ...sandboxDriver,
    closePayment: (ref, ...rest) => (count(asked.close, ref.orderId), sandboxDriver.closePayment(ref, ...rest)),
    queryPayment: (ref, ...rest) => (count(asked.query, ref.orderId), sandboxDriver.queryPayment(ref, ...rest)),
    queryRefund: (ref, ...rest) => (count(asked.refundQuery, ref.refundId), sandboxDriver.queryRefund(ref, ...rest)),
  };
  const registry = new ChannelRegistry(supportedCells().map((cell) => ({ mode: 'sandbox' as const, cell, driver })));
  return { ...base, registry };
}

const newAsked = () => ({ close: new Map<string, number>(), query: new Map<string, number>(), refundQuery: new Map<string, number>() });

/** Two gateways on one database (the same `dir`), each a pool and a watcher of its own. */
async function twoInstances(t: Test) {
  const clock = new FakeClock(T0);
  const dir = tempDir(t);
  const a = await startGateway(t, {}, { clock, dir, backend: 'postgres' });
  const b = await startGateway(t, {}, { clock, dir, backend: 'postgres' });
  t.equal(a.storageEnv.DATABASE_URL, b.storageEnv.DATABASE_URL, 'one database');
  return { a, b };
}

/**
 * N open orders past their expiry, N open orders due a check, N refunds due a check: rows as the
 * gateway stores them, made an hour before the watchers look.
 */
async function seed(gw: TestGateway) {
  const w = gw.gateway.services.writer;
  const mercNo = gw.merchant.mercNo;
  const overdue: string[] = [];
  const due: string[] = [];
  const refunds: string[] = [];
  for (let i = 0; i < N; i++) {
    const o = orderRow(mercNo, T0 + i);
    await w.run('insertOrder', o);
    overdue.push(o.order_id);
  }
  for (let i = 0; i < N; i++) {
    const o = orderRow(mercNo, T0 + i, { expire_at: T0 + 7_200_000, order_period: 120, next_check_at: T0 + 5_000 + i });
    await w.run('insertOrder', o);
    due.push(o.order_id);
  }
  const paid = orderRow(mercNo, T0, { pay_status: 'p0000', channel_trade_no: 'S-PAID', trade_end_time: '20260101120000', expire_at: T0 + 1_800_000 });
  await w.run('insertOrder', paid);
  for (let i = 0; i < N; i++) {
    const r = refundRow(paid, 10n, T0 + i, { next_check_at: T0 + 5_000 + i });
    const ok = await w.run('insertRefund', r);
    if (!ok.ok) throw new Error(`refund not stored: ${JSON.stringify(ok)}`);
    refunds.push(r.refund_id);
  }
  return { overdue, due, refunds };
}

const counts = (m: Asked, ids: string[]) => ids.map((id) => m.get(id) ?? 0);

if (!cluster) {
  t.comment('no PostgreSQL on this machine');
} else {
  t.test('two watchers on one database, rounds at once: every order is expired or checked once, the channel asked once', async (t) => {
    const { a, b } = await twoInstances(t);
    const { overdue, due, refunds } = await seed(a);
    const byA = newAsked();
    const byB = newAsked();
    const clock = new FakeClock(W);
    const wa = new OrderWatcher(counting(a.gateway.services, byA), clock);
    const wb = new OrderWatcher(counting(b.gateway.services, byB), clock);
    // Two rounds of each at once: the instances race each other, and each races itself.
    await Promise.all([wa.runOnce(), wb.runOnce(), wa.runOnce(), wb.runOnce()]);

    const sum = (k: keyof ReturnType<typeof newAsked>, ids: string[]) => ids.map((id) => (byA[k].get(id) ?? 0) + (byB[k].get(id) ?? 0));
    t.same(sum('close', overdue), overdue.map(() => 1), 'each overdue order: the channel was asked to close it once');
    t.same(sum('query', overdue), overdue.map(() => 0), 'and never asked about it as a check besides');
    t.same(sum('query', due), due.map(() => 1), 'each order due a check: asked once');
    t.same(sum('close', due), due.map(() => 0), 'and not closed');
    t.same(sum('refundQuery', refunds), refunds.map(() => 1), 'each refund due a check: asked once');

    const sql = a.sql;
    const statuses = await sql.values(`SELECT pay_status FROM orders WHERE order_id IN (${overdue.map(() => '?').join(',')}) ORDER BY order_id`, ...overdue);
    t.same(statuses, overdue.map(() => 'p0006'), 'every overdue order expired');
    const notices = await sql.all<{ order_id: string; n: number }>(
      `SELECT order_id, count(*) AS n FROM notifications WHERE refund_id IS NULL AND order_id IN (${overdue.map(() => '?').join(',')}) GROUP BY order_id ORDER BY order_id`,
      ...overdue,
    );
    t.same(notices.map((r) => r.n), overdue.map(() => 1), 'one expiry notification per order');
    const checked = await sql.all<{ checks: number; next_check_at: number }>(
      `SELECT checks, next_check_at FROM orders WHERE order_id IN (${due.map(() => '?').join(',')}) ORDER BY order_id`,
      ...due,
    );
    t.ok(checked.every((r) => r.checks === 1 && r.next_check_at === W + 10_000), 'each check recorded once, the next one on the schedule (the claim ended)');
    const refundChecks = await sql.values(`SELECT checks FROM refunds WHERE refund_id IN (${refunds.map(() => '?').join(',')})`, ...refunds);
    t.same(refundChecks, refunds.map(() => 1), 'each refund check recorded once');
    const share = (x: ReturnType<typeof newAsked>) => x.close.size + x.query.size + x.refundQuery.size;
    t.comment(`instance A took ${share(byA)} of the ${3 * N} looks, instance B ${share(byB)}`);
  });

  t.test('a claim held by an instance that died is taken over by another once the claim runs out', async (t) => {
    const { a, b } = await twoInstances(t);
    const { overdue, due, refunds } = await seed(a);
    // A claims everything due, as its watcher's round starts, and dies before asking anything.
    const claim = { now: W, until: W + CHECK_LEASE_MS, limit: 200 };
    const claimed = await a.gateway.services.writer.run('claimOrderChecks', claim);
    const claimedRefunds = await a.gateway.services.writer.run('claimRefundChecks', claim);
    t.same(claimed, { overdue, due }, 'A holds the overdue orders and those due a check, in their order');
    t.same(claimedRefunds, refunds, 'and the refunds due a check');
    await a.close();

    const asked = newAsked();
    const clock = new FakeClock(W);
    const wb = new OrderWatcher(counting(b.gateway.services, asked), clock);
    await wb.runOnce();
    clock.advance(CHECK_LEASE_MS - 1);
    await wb.runOnce();
    t.equal(asked.close.size + asked.query.size + asked.refundQuery.size, 0, 'B asks nothing while the claim of the dead instance runs');
    clock.advance(1);
    await wb.runOnce();
    t.same(counts(asked.close, overdue), overdue.map(() => 1), 'once it has run out, B closes each overdue order, once');
    t.same(counts(asked.query, due), due.map(() => 1), 'checks each order due, once');
    t.same(counts(asked.refundQuery, refunds), refunds.map(() => 1), 'and each refund, once');
    t.same(await b.sql.values(`SELECT DISTINCT pay_status FROM orders WHERE order_id IN (${overdue.map(() => '?').join(',')})`, ...overdue), ['p0006']);
  });

  t.test('a claim passes over rows another transaction holds, without waiting, and never takes a row twice', async (t) => {
    const url = await cluster.createDatabase();
    const one = pgInstance(t, url, 2);
    const { migratePostgres } = await import('../../src/db/postgres/migrate.js');
    await migratePostgres(one.pool);
    const two = pgInstance(t, url, 2);
    const mercNo = 'M100000000000001';
    await one.writer.run('insertMerchant', {
      merc_no: mercNo, name: 'Shop', mode: 'sandbox', key_sealed: Buffer.alloc(60, 1).toString('base64'), status: 'active', created_at: T0, updated_at: T0,
    });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const o = orderRow(mercNo, T0 + i, { next_check_at: T0 + 5_000 + i, expire_at: T0 + 7_200_000 });
      await one.writer.run('insertOrder', o);
      ids.push(o.order_id);
    }
    // Another writer holds the first order's row (a callback changing it, say) for as long as this test says.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    t.teardown(() => holder.end());
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM orders WHERE order_id = $1 FOR UPDATE', [ids[0]]);

    const claim = { now: W, until: W + CHECK_LEASE_MS, limit: 200 };
    // A bound for a claim that waits on the held row, not a speed requirement.
    const bounded = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 10_000).unref())]);
    const [x, y] = await Promise.all([bounded(one.writer.run('claimOrderChecks', claim)), bounded(two.writer.run('claimOrderChecks', claim))]);
    t.not(x, 'waited', 'the first instance did not wait for the held row');
    t.not(y, 'waited', 'nor did the second');
    const got = [...(x as { due: string[] }).due, ...(y as { due: string[] }).due];
    t.same([...got].sort(), ids.slice(1), 'between them they claimed every row not held, each once');
    t.notOk(got.includes(ids[0]!), 'and passed over the held one');
    await holder.query('COMMIT');
    const [p, q] = await Promise.all([one.writer.run('claimOrderChecks', claim), two.writer.run('claimOrderChecks', claim)]);
    t.same([...p.due, ...q.due], [ids[0]], 'once it is let go, one of them claims it');
  });
}

// On the suite's default backend: an overdue order is claimed for its expiry only once its next
// check is due, so a payout waiting for its payee never has a check scheduled after its expiry.
t.test('a payout waiting for its payee is cancelled as its orderPeriod runs out, whatever its check schedule', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  await gw.gateway.writer.run('setPayoutSettings', { mercNo: gw.merchant.mercNo, enabled: true, dailyLimitFen: 100_000n, perPayoutLimitFen: null, at: clock.now() });
  const fields = payFields(gw.merchant.mercNo, {
    tradeType: '03', paywayCode: 'wxpay', sceneCode: 'transfer', tradeAmt: '1.00', orderPeriod: '1',
    payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '', signType: 'HMAC-SHA256',
  });
  const made = await gw.post('/api/pay', fields);
  t.equal(made.body.payStatus, 'p0002', made.text);
  const id = made.body.orderId!;
  const status = () => gw.sql.value<string>('SELECT pay_status FROM orders WHERE order_id = ?', id);
  // Checked at 5, 15 and 35 s; the next would be at 65 s, after the expiry at 60 s.
  for (let s = 1; s < 60; s++) {
    clock.advance(1_000);
    await gw.gateway.watcher.runOnce();
  }
  t.equal(await status(), 'p0002', 'still waiting for its payee at 59 s');
  t.equal(await gw.sql.value('SELECT next_check_at FROM orders WHERE order_id = ?', id), (await gw.sql.value<number>('SELECT expire_at FROM orders WHERE order_id = ?', id)), 'its next check is its expiry');
  clock.advance(1_000);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(), 'p0006', 'cancelled at 60 s, when its orderPeriod ran out');
});
