import t from 'tap';
import { join } from 'node:path';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { preparePruneOps } from '../../src/db/prune-ops.js';
import { pruneCutoff, REFUND_WINDOW_DAYS } from '../../src/domain/retention.js';
import { PruneRefused, pruneHistory } from '../../src/services/prune.js';
import { tempDir } from '../helper.js';
import { buildHistory } from '../fixtures/history.js';
import { testStorage } from '../fixtures/backends.js';
import { testBackend, type TestSql } from '../backend.js';

// History retention (`dtpay prune`): what goes, what stays, in batches, and that nothing left
// behind points at a row that went.

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1, 4); // 2026-12-01 12:00 Beijing
const BEFORE = '2025-06-01'; // 548 days before NOW: the orders built 730 days ago ended before it

async function setup(t: Parameters<typeof tempDir>[0]) {
  const { storage, sql, db } = await testStorage(t);
  const h = await buildHistory({ writer: storage.writer, sql }, NOW);
  return { sql, db, h, w: storage.writer };
}

const count = async (sql: TestSql, query: string, ...args: unknown[]) => (await sql.value(query, ...args)) as number;
const exists = async (sql: TestSql, orderId: string) => (await count(sql, 'SELECT count(*) FROM orders WHERE order_id = ?', orderId)) === 1;

t.test('the cut-off: a real date, Beijing midnight, never within the refund window', async (t) => {
  const c = pruneCutoff('2025-06-01', NOW);
  t.ok(c.ok);
  if (c.ok) {
    t.equal(c.endedBeforeMs, Date.UTC(2025, 4, 31, 16), 'midnight at the start of the day in Beijing');
    t.equal(c.orderIdBelow, '2025060100000000000000', 'every order created before then sorts below');
  }
  t.equal(REFUND_WINDOW_DAYS, 365);
  const latest = pruneCutoff('2025-12-01', NOW);
  t.ok(latest.ok, 'exactly 365 days before is allowed');
  const recent = pruneCutoff('2025-12-02', NOW);
  t.notOk(recent.ok, 'a day later is within the window');
  if (!recent.ok) t.match(recent.reason, /within the last 365 days \(the refund window\); the latest allowed today is 2025-12-01/);
  for (const bad of ['2025-02-30', '2025-6-1', 'yesterday', '2025-13-01', '1999-12-31']) {
    const r = pruneCutoff(bad, NOW);
    t.notOk(r.ok, `${bad} is refused`);
  }
});

t.test('ended, settled orders go with every row that depends on them; the rest stays', async (t) => {
  const { sql, db, h, w } = await setup(t);
  const before = { orders: await count(sql, 'SELECT count(*) FROM orders'), alerts: await count(sql, 'SELECT count(*) FROM alerts') };
  const totals = await pruneHistory(w, { before: BEFORE, now: NOW });
  t.match(totals, { orders: 5, refunds: 1, kept: 6, dryRun: false, endedBefore: '2025-05-31T16:00:00.000Z' });
  // paid, expired, failed (each one notification and attempt), refunded (its own and its refund's), closed (none)
  t.equal(totals.notifications, 5);
  t.equal(totals.attempts, 5);
  t.ok(totals.events >= 5);
  for (const [why, id] of Object.entries(h.gone)) t.notOk(await exists(sql, id), `gone: ${why}`);
  for (const [why, id] of Object.entries(h.kept)) t.ok(await exists(sql, id), `kept: ${why}`);
  t.ok(await exists(sql, h.recent), 'kept: recent');
  t.equal(await count(sql, 'SELECT count(*) FROM orders'), before.orders - 5);
  const goneIds = Object.values(h.gone);
  const inGone = `(${goneIds.map(() => '?').join(', ')})`;
  for (const table of ['order_events', 'notifications', 'refunds', 'sandbox_trades', 'sandbox_refunds', 'sandbox_payouts']) {
    t.equal(await count(sql, `SELECT count(*) FROM ${table} WHERE order_id IN ${inGone}`, ...goneIds), 0, `no ${table} row of a removed order`);
  }
  t.equal(await count(sql, 'SELECT count(*) FROM notification_attempts WHERE notification_id NOT IN (SELECT id FROM notifications)'), 0, 'no orphan attempt');
  // SQLite checks its foreign keys on request; PostgreSQL's constraints cannot be left broken by a
  // committed delete, so there the deletes above having committed is the check.
  if (db) t.same(db.pragma('foreign_key_check'), [], 'every foreign key still holds');
  t.equal(await count(sql, 'SELECT count(*) FROM alerts'), before.alerts, 'alerts stay');
  // The counts behind /metrics followed the deletes.
  const counted = await sql.all<{ s: string; n: number }>('SELECT pay_status AS s, count(*) AS n FROM orders GROUP BY pay_status');
  for (const { s, n } of counted) t.equal(await count(sql, "SELECT CAST(sum(n) AS bigint) FROM (SELECT n FROM status_counts WHERE entity = 'orders' AND status = ? UNION ALL SELECT n FROM status_count_shards WHERE entity = 'orders' AND status = ?) AS c", s, s), n, `status_counts ${s}`);

  const again = await pruneHistory(w, { before: BEFORE, now: NOW });
  t.match(again, { orders: 0, kept: 6 }, 'a second run finds nothing more');
});

t.test('a dry run counts the same and removes nothing; small batches give the same result', async (t) => {
  const { sql, w } = await setup(t);
  const snapshot = () => Promise.all(['orders', 'order_events', 'notifications', 'notification_attempts', 'refunds', 'sandbox_trades'].map((x) => count(sql, `SELECT count(*) FROM ${x}`)));
  const before = await snapshot();
  const dry = await pruneHistory(w, { before: BEFORE, now: NOW, dryRun: true, batch: 3 });
  t.same(await snapshot(), before, 'nothing removed');
  t.match(dry, { dryRun: true, orders: 5, notifications: 5, attempts: 5, refunds: 1, kept: 6 });
  t.ok(dry.batches >= 4, `in ${dry.batches} batches of 3`);
  const real = await pruneHistory(w, { before: BEFORE, now: NOW, batch: 2 });
  t.match(real, { orders: dry.orders, notifications: dry.notifications, attempts: dry.attempts, refunds: dry.refunds, events: dry.events, kept: dry.kept });
});

t.test('an id is never given out twice: the order owning the newest notification waits for a later prune', async (t) => {
  const { sql, h, w } = await setup(t);
  // A merchant asks for an old paid order's notification again, and it is delivered: that order
  // now owns the newest notification of all.
  const resent = await w.run('queueNotification', { orderId: h.gone.paid, at: NOW, reason: 'resend' });
  if (!resent) return t.fail('the resend was queued');
  await w.run('claimNotification', { id: resent.id, owner: 'test', now: NOW, leaseUntil: NOW + 10_000 });
  await w.run('recordAttempt', { id: resent.id, owner: 'test', attempt: 1, dueAt: NOW, at: NOW, httpStatus: 200, latencyMs: 5, outcome: 'delivered', answer: 'success' });
  t.equal(await count(sql, 'SELECT max(id) FROM notifications'), resent.id, 'the newest notification');

  const first = await pruneHistory(w, { before: BEFORE, now: NOW });
  t.match(first, { orders: 4, kept: 7 }, 'the other four go');
  t.ok(await exists(sql, h.gone.paid), 'the newest notification and its order stay');

  const later = await w.run('queueNotification', { orderId: h.recent, at: NOW + 1, reason: 'resend' });
  t.ok(later && later.id > resent.id, `a new notification takes a new id (${later?.id} after ${resent.id})`);
  await w.run('claimNotification', { id: later!.id, owner: 'test', now: NOW + 1, leaseUntil: NOW + 10_000 });
  await w.run('recordAttempt', { id: later!.id, owner: 'test', attempt: 1, dueAt: NOW + 1, at: NOW + 1, httpStatus: 200, latencyMs: 5, outcome: 'delivered', answer: 'success' });
  const second = await pruneHistory(w, { before: BEFORE, now: NOW });
  t.match(second, { orders: 1, notifications: 2 }, 'and then the old order goes, both its notifications with it');
  t.notOk(await exists(sql, h.gone.paid));
  const after = await w.run('queueNotification', { orderId: h.recent, at: NOW + 2, reason: 'resend' });
  t.ok(after && after.id > later!.id, 'ids still only grow');
});

t.test('a cut-off within the refund window is refused before anything is read', async (t) => {
  const { sql, w } = await setup(t);
  const orders = await count(sql, 'SELECT count(*) FROM orders');
  await t.rejects(pruneHistory(w, { before: '2026-11-01', now: NOW }), { name: 'PruneRefused', message: /refund window/ });
  t.ok(new PruneRefused('x') instanceof Error);
  await t.rejects(pruneHistory(w, { before: 'soon', now: NOW }), /YYYY-MM-DD/);
  t.equal(await count(sql, 'SELECT count(*) FROM orders'), orders);
});

t.test('a batch reads a range of the primary key and deletes by index', async (t) => {
  // The plans of the SQLite adapter's own statements (EXPLAIN QUERY PLAN). PostgreSQL's prune
  // statements are its own (src/db/postgres/ops) and are not planned here.
  if (testBackend() !== 'sqlite') return t.pass('SQLite only: the plans of the SQLite statements');
  const db = openDb(join(tempDir(t), 'q.sqlite'));
  t.teardown(() => db.close());
  migrate(db);
  const [select, ...deletes] = preparePruneOps(db).pruneStatements;
  const plan = (sql: string) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ after: '', below: 'x', endedBefore: 1, limit: 10, ids: '[]' }) as { detail: string }[]).map((r) => r.detail);
  const sel = plan(select!);
  t.match(sel[0], /^SEARCH o USING INDEX sqlite_autoindex_orders_1 \(order_id>\? AND order_id<\?\)$/, sel.join('; '));
  t.notOk(sel.some((l) => /TEMP B-TREE|^SCAN/.test(l)), `no sort, no scan: ${sel.join('; ')}`);
  t.ok(sel.some((l) => /SEARCH n USING INDEX notifications_order \(order_id=\?\)/.test(l)) && sel.some((l) => /SEARCH r USING INDEX refunds_order/.test(l)), 'the checks are index searches');
  for (const sql of deletes) {
    const p = plan(sql);
    t.notOk(p.some((l) => /^SCAN (notifications|notification_attempts|refunds|sandbox_refunds|sandbox_trades|sandbox_payouts|order_events|orders)\b/.test(l)), `${sql.slice(0, 60)}…: ${p.join('; ')}`);
  }
  t.ok(DAY > 0);
});
