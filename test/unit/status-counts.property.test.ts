import t from 'tap';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { batchRunner, type OpCall, type OpOutcome } from '../../src/db/write-ops.js';
import { ORDER_EVENTS, PAY_STATUSES } from '../../src/domain/order-states.js';
import type { OrderRow } from '../../src/db/rows.js';
import { tempDir } from '../helper.js';
import { orderRow, refundRow } from '../fixtures/orders.js';
import { prng } from '../prng.js';
import { sealMerchantKey } from '../../src/secrets/merchant-keys.js';
import { TEST_MASTER_KEY } from '../fixtures/merchant-keys.js';
import { testStorage } from '../fixtures/backends.js';
import { sqliteSql, testBackend, type TestSql } from '../backend.js';
import type { StoragePort } from '../../src/db/port.js';

// status_counts (migrations/0009) must equal a full count of orders by pay_status and of
// notifications by status after anything the gateway writes: creates (new, duplicate, refused),
// every transition an event can make, resends, claims, attempts, releases, refunds and their
// notifications, history retention, batches in which one operation fails and is rolled back alone, and rows written
// or deleted by plain SQL. Random batches of such operations are run through the writer's own
// batch runner and the counts compared after each batch. On PostgreSQL, where every operation is a
// transaction of its own (PgWriter), a batch's operations go through the writer one after another,
// and the counts are compared after each such batch.
//
// Every run prints its seed; DTPAY_PROP_SEED=<seed> replays the same sequence.

const SEED = process.env.DTPAY_PROP_SEED !== undefined ? Number(process.env.DTPAY_PROP_SEED) >>> 0 : randomInt(0, 2 ** 32);
const RERUN = `seed ${SEED} (rerun: DTPAY_PROP_SEED=${SEED})`;
t.comment(`status-counts property test, ${RERUN}`);

const NOTIFY_STATUSES = ['pending', 'delivered', 'failed', 'superseded'];

/** Every entity/status, zero, in one fixed order, so that two sets of counts compare as text. */
function zeros(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of PAY_STATUSES) out[`orders/${s}`] = 0;
  for (const s of NOTIFY_STATUSES) out[`notifications/${s}`] = 0;
  return out;
}

async function fullCounts(sql: TestSql): Promise<Record<string, number>> {
  const out = zeros();
  for (const r of await sql.all<{ s: string; n: number }>('SELECT pay_status AS s, count(*) AS n FROM orders GROUP BY pay_status')) {
    out[`orders/${r.s}`] = r.n;
  }
  for (const r of await sql.all<{ s: string; n: number }>('SELECT status AS s, count(*) AS n FROM notifications GROUP BY status')) {
    out[`notifications/${r.s}`] = r.n;
  }
  return out;
}

async function keptCounts(sql: TestSql): Promise<Record<string, number>> {
  const out = zeros();
  // A count is its status_counts row plus its shards (PostgreSQL spreads the counting over them,
  // migrations/postgres/0018; on SQLite the shards stay empty).
  const kept = `SELECT entity, status, CAST(sum(n) AS bigint) AS n FROM (
      SELECT entity, status, n FROM status_counts UNION ALL SELECT entity, status, n FROM status_count_shards) AS c
    GROUP BY entity, status`;
  for (const r of await sql.all<{ entity: string; status: string; n: number }>(kept)) {
    out[`${r.entity}/${r.status}`] = r.n;
  }
  return out;
}

/** Each operation's own transaction, in order: what a batch is on PostgreSQL. */
const oneByOne = (storage: StoragePort) => async (calls: OpCall[]): Promise<OpOutcome[]> => {
  const out: OpOutcome[] = [];
  for (const c of calls) {
    out.push(
      await storage.writer.run(c.op as never, c.args as never).then(
        (value): OpOutcome => ({ ok: true, value }),
        (e: Error & { code?: string }): OpOutcome => ({ ok: false, message: e.message, code: e.code }),
      ),
    );
  }
  return out;
};

async function setup(t: Parameters<typeof tempDir>[0]) {
  const { storage, sql, db } = await testStorage(t);
  // SQLite: the writer thread's own batch runner, one transaction per batch with a savepoint per
  // operation when one fails.
  const sqliteRun = db && batchRunner(db);
  const run = sqliteRun ? async (calls: OpCall[]) => sqliteRun(calls) : oneByOne(storage);
  const merchant = { merc_no: 'M100000000000001', name: 'Shop', mode: 'sandbox' as const, key_sealed: sealMerchantKey(TEST_MASTER_KEY, 'M100000000000001', 'k'.repeat(43)).toString('base64'), status: 'active' as const, created_at: 1, updated_at: 1 };
  const [made] = await run([{ op: 'insertMerchant', args: merchant }]);
  if (!made?.ok) throw new Error(`the merchant was not stored: ${JSON.stringify(made)}`);
  return { sql, storage, run, mercNo: merchant.merc_no };
}

t.test('the migration counts the rows already there, once', async (t) => {
  // SQLite's migration 0009 added the counts to a schema that had rows; PostgreSQL's schema has had
  // them from its first migration (migrations/postgres), on an empty database.
  if (testBackend() !== 'sqlite') return t.pass('SQLite only: PostgreSQL has no migration that adds status_counts');
  const db = openDb(join(tempDir(t), 'm.sqlite'));
  t.teardown(() => db.close());
  // The schema as it was before 0009, with history in it.
  const dir = join(tempDir(t), 'migrations');
  const { cpSync, readdirSync, rmSync } = await import('node:fs');
  const { MIGRATIONS_DIR } = await import('../../src/db/migrate.js');
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  const later = readdirSync(dir).filter((f) => f.endsWith('.sql') && f >= '0009');
  for (const f of later) rmSync(join(dir, f));
  migrate(db, dir);
  // Rows written as that schema had them (today's write operations know later columns).
  db.prepare(`INSERT INTO merchants (merc_no, name, mode, key_sealed, status, created_at, updated_at)
    VALUES ('M100000000000001', 'Shop', 'sandbox', ?, 'active', 1, 1)`).run(sealMerchantKey(TEST_MASTER_KEY, 'M100000000000001', 'k'.repeat(43)));
  const orders: OrderRow[] = [];
  for (let i = 0; i < 30; i++) orders.push(orderRow('M100000000000001', 1000 + i, { pay_status: i < 10 ? 'p0000' : i % 3 === 0 ? 'p0004' : 'p0001' }));
  const cols = Object.keys(orders[0]!).filter((c) => c !== 'fee_fen' && c !== 'ended_at');
  const insertOrder = db.prepare(`INSERT INTO orders (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`);
  const insertNotification = db.prepare(`INSERT INTO notifications
      (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
    VALUES (?, ?, 'M100000000000001', 'http://127.0.0.1:9/n', '{}', 'MD5', 'state change to p0000', 'pending', 0, 5000, 5000, 5000)`);
  for (const o of orders) insertOrder.run(o);
  for (const o of orders.slice(0, 10)) insertNotification.run(`msg_${o.order_id}`, o.order_id);
  t.notOk(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'status_counts'").get(), 'no counts before 0009');

  migrate(db); // the shipped migrations: 0009 onwards
  const sql = sqliteSql(db);
  t.same(await keptCounts(sql), await fullCounts(sql));
  t.equal((await keptCounts(sql))['orders/p0000'], 10);
  t.equal((await keptCounts(sql))['notifications/pending'], 10);
});

t.test('random batches of every write keep the counts equal to a full count', async (t) => {
  const { sql, storage, run, mercNo } = await setup(t);
  const rng = prng(SEED);
  // In a fixed order, so that a seed replays the same choices on either backend.
  const ids = {
    orders: () => sql.values<string>('SELECT order_id FROM orders ORDER BY order_id'),
    paid: () => sql.values<string>("SELECT order_id FROM orders WHERE pay_status = 'p0000' ORDER BY order_id"),
    pending: () => sql.values<number>("SELECT id FROM notifications WHERE status = 'pending' ORDER BY id"),
    leased: () => sql.all<{ id: number; owner: string; attempts: number }>("SELECT id, lease_owner AS owner, attempts FROM notifications WHERE status = 'pending' AND lease_owner IS NOT NULL ORDER BY id"),
    openRefunds: () => sql.values<string>("SELECT refund_id FROM refunds WHERE refund_status = 'r0001' ORDER BY refund_id"),
    refunds: () => sql.values<string>('SELECT refund_id FROM refunds ORDER BY refund_id'),
  };
  let clock = 10_000;
  const mercOrderNos: string[] = [];

  // One operation, chosen among those that apply to what is in the database now.
  const nextCall = async (): Promise<OpCall | undefined> => {
    clock += 1 + rng.int(1000);
    const at = clock;
    const kind = rng.weighted([
      ['create', 4], ['duplicate', 1], ['event', 8], ['resend', 1], ['claim', 3], ['attempt', 3], ['release', 1],
      ['refund', 2], ['settleRefund', 2], ['refundResend', 1], ['fails', 1], ['prune', 1],
    ] as const);
    switch (kind) {
      case 'create': {
        const refused = rng.chance(0.2);
        const row = orderRow(mercNo, at, refused ? { pay_status: 'p0004', channel_state: 'refused' } : {});
        mercOrderNos.push(row.merc_order_no);
        return { op: 'insertOrder', args: row };
      }
      case 'duplicate': {
        if (!mercOrderNos.length) return undefined;
        return { op: 'insertOrder', args: orderRow(mercNo, at, { merc_order_no: rng.pick(mercOrderNos), pay_status: 'p0004', channel_state: 'refused' }) };
      }
      case 'event': {
        const orders = await ids.orders();
        if (!orders.length) return undefined;
        return { op: 'transitionOrder', args: { orderId: rng.pick(orders), event: rng.pick(ORDER_EVENTS), source: 'test', at } };
      }
      case 'resend': {
        const orders = await ids.orders();
        return orders.length ? { op: 'queueNotification', args: { orderId: rng.pick(orders), at, reason: 'resend' } } : undefined;
      }
      case 'claim': {
        const pending = await ids.pending();
        return pending.length ? { op: 'claimNotification', args: { id: rng.pick(pending), owner: rng.pick(['a', 'b']), now: at, leaseUntil: at + 5000 } } : undefined;
      }
      case 'attempt': {
        const leased = await ids.leased();
        if (!leased.length) return undefined;
        const n = rng.pick(leased);
        const outcome = rng.pick(['delivered', 'retry', 'failed'] as const);
        return {
          op: 'recordAttempt',
          args: { id: n.id, owner: n.owner, attempt: n.attempts + 1, dueAt: at, at, latencyMs: 3, outcome, httpStatus: 200, ...(outcome === 'retry' ? { nextDueAt: at + 10_000 } : {}) },
        };
      }
      case 'release': {
        const leased = await ids.leased();
        if (!leased.length) return undefined;
        const n = rng.pick(leased);
        return { op: 'releaseNotification', args: { id: n.id, owner: n.owner } };
      }
      case 'refund': {
        const paid = await ids.paid();
        if (!paid.length) return undefined;
        return { op: 'insertRefund', args: refundRow({ order_id: rng.pick(paid), merc_no: mercNo }, BigInt(1 + rng.int(800)), at) };
      }
      case 'settleRefund': {
        const open = await ids.openRefunds();
        if (!open.length) return undefined;
        return { op: 'settleRefund', args: { refundId: rng.pick(open), status: rng.pick(['r0000', 'r0004'] as const), at, refundEndTime: '20260101120000' } };
      }
      case 'refundResend': {
        const refunds = await ids.refunds();
        return refunds.length ? { op: 'queueRefundNotification', args: { refundId: rng.pick(refunds), at, reason: 'resend' } } : undefined;
      }
      case 'prune':
        // History retention deletes orders with their notifications (and refunds, and theirs).
        return { op: 'pruneOrders', args: { after: '', below: '9'.repeat(22), endedBefore: at - rng.int(20_000), limit: 1 + rng.int(5), dryRun: false } };
      case 'fails':
        // Throws inside the batch (a sandbox merchant holds no live credentials): the batch is
        // run again with a savepoint around each operation, and this one alone rolls back.
        return { op: 'putChannelCredentials', args: { mercNo, payway: 'alipay', keyId: 'x'.repeat(16), iv: '', tag: '', ciphertext: '', at } };
    }
  };

  const problems: string[] = [];
  let batches = 0;
  let failedOps = 0;
  let pruned = 0;
  for (let b = 0; b < 400 && problems.length === 0; b++) {
    const calls: OpCall[] = [];
    const size = 1 + rng.int(8);
    for (let i = 0; i < size; i++) {
      const c = await nextCall();
      if (c) calls.push(c);
    }
    if (rng.chance(0.05)) {
      // A row written by plain SQL (a script, a restore) is counted too, and so is one deleted.
      const o = orderRow(mercNo, clock, { pay_status: rng.pick(PAY_STATUSES) });
      await sql.run(`INSERT INTO orders (${Object.keys(o).join(', ')}) VALUES (${Object.keys(o).map(() => '?').join(', ')})`, ...Object.values(o));
      const lonely = await sql.value('SELECT order_id FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_events) AND order_id NOT IN (SELECT order_id FROM notifications) AND order_id NOT IN (SELECT order_id FROM refunds) ORDER BY order_id LIMIT 1');
      if (lonely) await sql.run('DELETE FROM orders WHERE order_id = ?', lonely);
    }
    if (!calls.length) continue;
    const outcomes = await run(calls);
    batches++;
    failedOps += outcomes.filter((o) => !o.ok).length;
    outcomes.forEach((o, i) => {
      if (o.ok && calls[i]!.op === 'pruneOrders') pruned += (o.value as { orders: number }).orders;
    });
    const kept = await keptCounts(sql);
    const full = await fullCounts(sql);
    if (JSON.stringify(kept) !== JSON.stringify(full)) {
      problems.push(`${RERUN}: after batch #${b} (${calls.map((c) => c.op).join(', ')}): kept ${JSON.stringify(kept)}, counted ${JSON.stringify(full)}`);
    }
  }
  const reached = await fullCounts(sql);
  const refundsMade = (await sql.value('SELECT count(*) FROM refunds')) as number;
  // Whatever the random sequence pruned, retention of everything that may go is counted too.
  const last = await run([{ op: 'pruneOrders', args: { after: '', below: '9'.repeat(22), endedBefore: clock + 86_400_000, limit: 100_000, dryRun: false } }]);
  if (last[0]!.ok) pruned += (last[0]!.value as { orders: number }).orders;
  const keptAtEnd = await keptCounts(sql);
  const fullAtEnd = await fullCounts(sql);
  if (JSON.stringify(keptAtEnd) !== JSON.stringify(fullAtEnd)) {
    problems.push(`${RERUN}: after the final prune: kept ${JSON.stringify(keptAtEnd)}, counted ${JSON.stringify(fullAtEnd)}`);
  }
  t.same(problems, [], `${batches} random batches, ${RERUN}`);
  t.ok(failedOps > 0, `batches with a failing operation were among them (${failedOps} failed operations)`);
  t.ok(pruned > 0, `and history retention removed orders (${pruned})`);
  const full = fullAtEnd;
  t.ok(reached['orders/p0000']! > 0 && reached['notifications/delivered']! > 0 && reached['notifications/superseded']! > 0, `the sequence reached the states that matter: ${JSON.stringify(reached)}`);
  t.ok(refundsMade > 0, 'and refunds');

  // What /metrics reads is these counts.
  const metrics = storage.metrics;
  t.equal(await metrics.pendingNotifications(), full['notifications/pending']);
  t.same(
    Object.fromEntries((await metrics.ordersByStatus()).map((r) => [r.payStatus, r.n])),
    Object.fromEntries(PAY_STATUSES.map((s) => [s, full[`orders/${s}`]])),
  );
});

t.test('a batch that fails as a whole leaves the counts as they were', async (t) => {
  const { sql, run, mercNo } = await setup(t);
  await run([{ op: 'insertOrder', args: orderRow(mercNo, 1000) }]);
  const before = await keptCounts(sql);
  // A trigger that refuses every event row, in each backend's own dialect.
  if (sql.backend === 'sqlite') await sql.run(`CREATE TRIGGER refuse BEFORE INSERT ON order_events BEGIN SELECT RAISE(ABORT, 'no events today'); END`);
  else {
    await sql.run(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no events today'; END $$`);
    await sql.run('CREATE TRIGGER refuse BEFORE INSERT ON order_events FOR EACH ROW EXECUTE FUNCTION refuse()');
  }
  const order = (await sql.value('SELECT order_id FROM orders')) as string;
  const [outcome] = await run([{ op: 'transitionOrder', args: { orderId: order, event: 'channel_paid', source: 'test', at: 2000 } }]);
  t.match(outcome, { ok: false, message: /no events today/ });
  t.same(await keptCounts(sql), before, 'the status change and its count rolled back together');
  t.same(await keptCounts(sql), await fullCounts(sql));
});
