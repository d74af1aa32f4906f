import t, { type Test } from 'tap';
import pg from 'pg';
import type { Pool, PoolClient } from '../../src/db/postgres/pool.js';
import { PG_OPS } from '../../src/db/postgres/ops/index.js';
import type { OrderRow } from '../../src/db/rows.js';
import type { InsertRefundResult } from '../../src/db/refund-ops.js';
import type { InsertPayoutResult } from '../../src/db/payout-ops.js';
import { sealMerchantKey } from '../../src/secrets/merchant-keys.js';
import { formatBeijing } from '../../src/domain/time.js';
import { orderRow, refundRow } from '../fixtures/orders.js';
import { TEST_MASTER_KEY } from '../fixtures/merchant-keys.js';
import { fileCluster, pgBackend, pgInstance } from '../fixtures/backends.js';

// What only PostgreSQL can show: several transactions deciding at the same time (READ COMMITTED),
// as several gateway instances do. Each case starts its operations together on as many pooled
// connections, already open, so that their reads overlap; the row each decision is taken on is
// locked (or claimed with SKIP LOCKED), and the totals must come out exact however they interleave.

const cluster = await fileCluster(t);

const pgTest = (name: string, fn: (t: Test) => Promise<void>) =>
  t.test(name, async (t) => {
    if (!cluster) {
      t.comment('no PostgreSQL on this machine');
      return;
    }
    await fn(t);
  });

const M1 = 'M100000000000001';

async function database(t: Test, max: number) {
  const b = (await pgBackend(t, cluster, { max }))!;
  await b.writer.run('insertMerchant', {
    merc_no: M1,
    name: 'Shop',
    mode: 'sandbox',
    key_sealed: sealMerchantKey(TEST_MASTER_KEY, M1, 'k'.repeat(40)).toString('base64'),
    status: 'active',
    created_at: 1,
    updated_at: 1,
  });
  return b;
}

/** Opens `n` connections of the pool at once and gives them back, so that `n` operations can start together. */
async function warm(pool: Pool, n: number) {
  const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
  for (const c of clients) c.release();
}

let seq = 0;
const order = (at: number, over: Partial<OrderRow> = {}) => {
  seq += 1;
  return orderRow(M1, at, { order_id: `${formatBeijing(at)}${String(seq).padStart(8, '0')}`, merc_order_no: `C-${seq}`, ...over });
};

pgTest('20 refunds of one order at once on 20 connections: the cap holds exactly', async (t) => {
  const { pool, writer, rows } = await database(t, 20);
  const paid = order(1_000, { pay_status: 'p0000', amount_fen: 1000n });
  await writer.run('insertOrder', paid);
  await warm(pool, 20);
  const answers: InsertRefundResult[] = await Promise.all(
    Array.from({ length: 20 }, (_, i) => writer.run('insertRefund', refundRow(paid, 70n, 2_000, { refund_id: `R${i}`, merc_refund_no: `RF-${i}` }))),
  );
  t.equal(answers.filter((a) => a.ok).length, 14, '14 × 70 fen fit in 1000');
  const refused = answers.filter((a): a is Extract<InsertRefundResult, { reason: 'exceeds' }> => !a.ok && a.reason === 'exceeds');
  t.equal(refused.length, 6);
  t.same([...new Set(refused.map((a) => a.refundableFen))], [20n], 'each refusal saw every refund reserved before it');
  t.same(await rows(`SELECT count(*) AS n, sum(amount_fen) AS fen FROM refunds WHERE order_id = '${paid.order_id}'`), [{ n: '14', fen: '980' }]);
});

pgTest('24 payouts of one merchant at once on 24 connections: exactly the daily limit is taken', async (t) => {
  const { pool, writer, rows } = await database(t, 24);
  await writer.run('setPayoutSettings', { mercNo: M1, enabled: true, dailyLimitFen: 1000n, perPayoutLimitFen: null, at: 1 });
  const sealed = Buffer.alloc(40, 1).toString('base64');
  await warm(pool, 24);
  const answers: InsertPayoutResult[] = await Promise.all(
    Array.from({ length: 24 }, () =>
      writer.run('insertPayout', { row: order(1_000, { trade_type: '02', scene: 'transfer', amount_fen: 100n }), payeeSealed: sealed, dayStart: 0, dayEnd: 86_400_000 }),
    ),
  );
  t.equal(answers.filter((a) => a.ok).length, 10, '10 × 100 fen make the limit');
  t.same(
    answers.filter((a) => !a.ok),
    Array.from({ length: 14 }, () => ({ ok: false, reason: 'daily', leftFen: 0n, limitFen: 1000n })),
    'every other one is told nothing is left',
  );
  t.same(await rows(`SELECT count(*) AS n, sum(amount_fen) AS fen FROM orders WHERE trade_type = '02'`), [{ n: '10', fen: '1000' }]);
});

pgTest('two instances claiming the same due notifications: each is claimed once', async (t) => {
  const { url, writer, rows } = await database(t, 4);
  const ids: number[] = [];
  for (let i = 0; i < 40; i++) {
    const o = order(1_000);
    await writer.run('insertOrder', o);
    const r = await writer.run('transitionOrder', { orderId: o.order_id, event: 'channel_paid', source: 'test', at: 2_000 });
    if (r.changed && r.notification) ids.push(r.notification.id);
  }
  t.equal(ids.length, 40);
  const a = pgInstance(t, url, 10);
  const b = pgInstance(t, url, 10);
  await Promise.all([warm(a.pool, 10), warm(b.pool, 10)]);
  const claim = (w: typeof a.writer, owner: string, id: number) => w.run('claimNotification', { id, owner, now: 3_000, leaseUntil: 60_000 });
  // Interleaved, so that both instances ask for each notification at about the same time.
  const claims = await Promise.all(ids.flatMap((id) => [claim(a.writer, 'a', id).then((c) => ({ id, owner: 'a', c })), claim(b.writer, 'b', id).then((c) => ({ id, owner: 'b', c }))]));
  const won = claims.filter((x) => x.c !== undefined);
  t.same(won.map((x) => x.id).sort((p, q) => p - q), ids, 'every notification claimed, none twice');
  const stored = await rows('SELECT id, lease_owner FROM notifications ORDER BY id');
  t.same(
    stored,
    won.sort((p, q) => p.id - q.id).map((x) => ({ id: String(x.id), lease_owner: x.owner })),
    'the lease is held by the instance that was told it won',
  );
  // Once the lease runs out the other instance takes it over.
  const late = await Promise.all(ids.map((id) => claim(b.writer, 'b', id).then((c) => c !== undefined)));
  t.ok(late.every((x) => !x), 'not while the lease runs');
  const after = await Promise.all(ids.map((id) => b.writer.run('claimNotification', { id, owner: 'b', now: 60_000, leaseUntil: 120_000 })));
  t.ok(after.every((c) => c !== undefined), 'an expired lease is claimed again');
});

pgTest('a payment and an expiry of the same orders at once: the payment always wins, as one after the other would', async (t) => {
  const { pool, writer, rows } = await database(t, 20);
  const orders = Array.from({ length: 20 }, () => order(1_000));
  for (const o of orders) await writer.run('insertOrder', o);
  await warm(pool, 20);
  await Promise.all(
    orders.flatMap((o) => [
      writer.run('transitionOrder', { orderId: o.order_id, event: 'expired', source: 'expiry', at: 5_000 }),
      writer.run('transitionOrder', { orderId: o.order_id, event: 'channel_paid', source: 'query', at: 5_000 }),
    ]),
  );
  t.same(await rows(`SELECT DISTINCT pay_status FROM orders`), [{ pay_status: 'p0000' }], 'paid after expiry is still paid (late)');
  const events = await rows('SELECT order_id, count(*) AS n FROM order_events GROUP BY order_id HAVING count(*) > 2');
  t.same(events, [], 'at most two changes per order');
  const pending = await rows(`SELECT order_id, count(*) AS n FROM notifications WHERE status = 'pending' GROUP BY order_id HAVING count(*) <> 1`);
  t.same(pending, [], 'one pending notification per order: the latest state');
  t.same(await rows(`SELECT (n + (SELECT coalesce(sum(n), 0) FROM status_count_shards WHERE entity = 'orders' AND status = 'p0000'))::int8 AS n
    FROM status_counts WHERE entity = 'orders' AND status = 'p0000'`), [{ n: '20' }]);

  // Resends of one order at once: each supersedes the one before, and one stays pending.
  const resent = await Promise.all(Array.from({ length: 20 }, (_, i) => writer.run('queueNotification', { orderId: orders[0]!.order_id, at: 6_000 + i, reason: 'resend' })));
  t.equal(resent.filter((x) => x !== undefined).length, 20);
  t.same(await rows(`SELECT count(*) AS n FROM notifications WHERE order_id = '${orders[0]!.order_id}' AND status = 'pending'`), [{ n: '1' }], 'one pending after 20 resends');
});

pgTest('alerts of one source, failed logins of one key, one day reconciled: counted at once, each counted once', async (t) => {
  const { pool, writer, rows } = await database(t, 20);
  await warm(pool, 20);
  const alerts = await Promise.all(
    Array.from({ length: 20 }, (_, i) => writer.run('recordAlert', { kind: 'callback_rejected', channel: 'alipay', mercNo: M1, detail: `forgery ${i}`, at: 1_000 + i, since: 0 })),
  );
  t.equal(alerts.filter((x) => x).length, 1, 'one row opened');
  t.same(await rows('SELECT count(*) AS rows, sum(count) AS n FROM alerts'), [{ rows: '1', n: '20' }]);

  const fails = await Promise.all(
    Array.from({ length: 20 }, (_, i) => writer.run('recordLoginFailure', { key: 'email:a@b.c', at: 1_000 + i, limit: 100, windowMs: 900_000, lockMs: 900_000 })),
  );
  t.same(fails.map((f) => f.failures).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1), 'each failure counted');

  const counts = { matched: 1, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 0 };
  const runs = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) =>
      writer.run('storeReconciliationRun', { billDate: '2026-01-01', mercNo: M1, payway: 'alipay', status: 'ok', counts, items: [], alerts: [], startedAt: i, at: 10 + i }),
    ),
  );
  t.same(runs.map((r) => r.status), Array(8).fill('fulfilled'), 'no run fails on the unique day');
  t.same(await rows('SELECT count(*) AS n FROM reconciliation_runs'), [{ n: '1' }]);
});

pgTest('a deadlock cancels the writer\'s transaction, and PgWriter runs the operation again', async (t) => {
  const { url, writer, rows, exec } = await database(t, 2);
  const o = order(1_000);
  await writer.run('insertOrder', o);
  await writer.run('transitionOrder', { orderId: o.order_id, event: 'channel_failed', source: 'test', at: 2_000 });
  const session = async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    t.teardown(() => c.end());
    return c;
  };
  const gate = await session();
  const other = await session();
  const otherPid = (await other.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  const until = async (sql: string) => {
    while ((await rows(sql))[0]!.n === '0') await new Promise((resolve) => setImmediate(resolve));
  };
  // The writer's transition holds the order, then stops at its event's insert until the gate opens.
  await exec(`CREATE FUNCTION hold_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(42); RETURN NEW; END $$;
    CREATE TRIGGER hold_events BEFORE INSERT ON order_events FOR EACH ROW EXECUTE FUNCTION hold_events()`);
  await gate.query('BEGIN');
  await gate.query('SELECT pg_advisory_xact_lock(42)');
  // Another session holds the pending notification the transition will supersede, and never
  // looks for deadlocks itself, so that the writer's transaction is the one cancelled.
  await other.query('BEGIN');
  await other.query("SET LOCAL deadlock_timeout = '1h'");
  await other.query('UPDATE notifications SET updated_at = updated_at WHERE order_id = $1', [o.order_id]);
  const paid = writer.run('transitionOrder', { orderId: o.order_id, event: 'channel_paid', source: 'test', at: 3_000 });
  await until(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'`);
  // The other session asks for the order the writer holds, then the gate opens: the writer goes
  // on to the notification the other session holds, and the cycle is closed.
  const otherWaits = other.query('SELECT 1 FROM orders WHERE order_id = $1 FOR UPDATE', [o.order_id]);
  await until(`SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ${otherPid} AND wait_event_type = 'Lock'`);
  await gate.query('COMMIT');
  await otherWaits;
  await other.query('COMMIT');
  const r = await paid;
  t.match(r, { changed: true, from: 'p0004', to: 'p0000' }, 'the operation succeeded on its second run');
  t.equal(writer.stats.retries, 1, 'after one deadlock');
  t.same(await rows(`SELECT status FROM notifications WHERE order_id = '${o.order_id}' ORDER BY id`), [{ status: 'superseded' }, { status: 'pending' }]);
  t.same(await rows(`SELECT count(*) AS n FROM order_events WHERE order_id = '${o.order_id}'`), [{ n: '2' }], 'the cancelled run left nothing behind');
});

pgTest('close() waits for operations in flight and refuses new ones', async (t) => {
  const { pool, writer, rows } = await database(t, 4);
  const inFlight = Array.from({ length: 10 }, () => writer.run('insertOrder', order(1_000)));
  await writer.close();
  t.equal((await Promise.allSettled(inFlight)).filter((r) => r.status === 'fulfilled').length, 10, 'every operation started before close() committed');
  t.same(await rows('SELECT count(*) AS n FROM orders'), [{ n: '10' }]);
  await t.rejects(writer.run('insertOrder', order(1_000)), /closed/);
  t.equal(pool.waitingCount, 0);
});

pgTest('an order not yet committed on one connection holds up no order on another (no one counter row)', async (t) => {
  const { pool, writer, rows } = await database(t, 10);
  // Two connections that count into different shards (their backends' pids modulo 64).
  const open: PoolClient[] = [];
  t.teardown(() => open.forEach((c) => c.release()));
  const pidOf = async (c: PoolClient) => Number((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p);
  let a: PoolClient | undefined;
  let b: PoolClient | undefined;
  let pidB = 0;
  for (let i = 0; i < 8 && !b; i++) {
    const c = await pool.connect();
    open.push(c);
    const pid = await pidOf(c);
    if (!a) a = c;
    else if (pid % 64 !== (await pidOf(a)) % 64) [b, pidB] = [c, pid];
  }
  if (!a || !b) {
    t.fail('no two connections in different shards among 8');
    return;
  }
  await a.query('BEGIN');
  t.ok(await PG_OPS.insertOrder(a, order(1_000, { pay_status: 'p0001' })), 'stored, not committed');
  // The same status on the other connection, in its own transaction: it must not wait for the first.
  let settled = false;
  const second = PG_OPS.insertOrder(b, order(1_000, { pay_status: 'p0001' })).finally(() => (settled = true));
  let waited = false;
  while (!settled && !waited) {
    const r = await pool.query('SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1', [pidB]);
    waited = r.rows[0]?.w === 'Lock';
  }
  await a.query('COMMIT');
  t.notOk(waited, 'the second insert never waited for a lock');
  t.ok(await second, 'the second order stored');
  await writer.run('insertOrder', order(1_000, { pay_status: 'p0001' }));
  t.same(
    await rows(`SELECT (n + (SELECT coalesce(sum(n), 0) FROM status_count_shards WHERE entity = 'orders' AND status = 'p0001'))::int8 AS n
      FROM status_counts WHERE entity = 'orders' AND status = 'p0001'`),
    [{ n: '3' }],
    'all three counted',
  );
});
