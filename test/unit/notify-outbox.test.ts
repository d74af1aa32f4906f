import t from 'tap';
import type { NotificationRow } from '../../src/db/rows.js';
import { createMerchant } from '../../src/services/merchants.js';
import { orderRow } from '../fixtures/orders.js';
import { merchantWriting } from '../fixtures/merchant-keys.js';
import { testStorage } from '../fixtures/backends.js';

// The outbox half of CONTRACT §2.5: the row commits with the state change or not at all, claims
// are leases, and attempts move a row to delivered, due again, or failed.

async function setup(t: { teardown(fn: () => unknown): void }) {
  const { storage, sql, db } = await testStorage(t);
  const w = storage.writer;
  const m = await createMerchant(merchantWriting(w), 'Shop', 'sandbox');
  const order = orderRow(m.mercNo, 1_000);
  await w.run('insertOrder', order);
  const rows = () => sql.all<NotificationRow>('SELECT * FROM notifications ORDER BY id');
  const status = () => sql.value('SELECT pay_status FROM orders WHERE order_id = ?', order.order_id);
  return { sql, db, w, reads: storage.reads, m, order, rows, status };
}


t.test('a change into a notifying state writes its row in the same transaction', async (t) => {
  const { w, order, rows, status } = await setup(t);
  const opened = await w.run('transitionOrder', { orderId: order.order_id, event: 'payer_opened', source: 'test', at: 2_000 });
  t.match(opened, { changed: true, to: 'p0002' });
  t.notOk('notification' in opened && opened.notification, 'p0002 is not announced');
  t.equal((await rows()).length, 0);

  const paid = await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: 3_000, tradeEndTime: '20260101120003', bankType: 'CMB' });
  t.ok(paid.changed && paid.notification, 'p0000 is announced');
  t.equal(await status(), 'p0000');
  const [n] = await rows();
  t.match(n, { order_id: order.order_id, status: 'pending', attempts: 0, due_at: 3_000, url: order.notify_url, sign_type: 'MD5', reason: 'state change to p0000' });
  t.match(n!.webhook_id, /^msg_[A-Za-z0-9_-]{20}$/);
  const fields = JSON.parse(n!.fields_json);
  t.match(fields, { orderId: order.order_id, payStatus: 'p0000', tradeEndTime: '20260101120003', bankType: 'CMB', tradeAmt: '12.34' });
  t.notOk('signature' in fields, 'the signature is made at send time, with the key current then');
  if (paid.changed) t.same(paid.notification, { id: n!.id, webhookId: n!.webhook_id, url: n!.url, dueAt: 3_000, payStatus: 'p0000' });

  const again = await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: 4_000 });
  t.equal(again.changed, false, 'a duplicate changes nothing');
  t.equal((await rows()).length, 1, 'and queues nothing');
});

t.test('no change without its row: if the outbox write fails, the state change is undone', async (t) => {
  const { sql, w, order, rows, status } = await setup(t);
  // A trigger that refuses every outbox row, in each backend's own dialect.
  if (sql.backend === 'sqlite') await sql.run(`CREATE TRIGGER refuse BEFORE INSERT ON notifications BEGIN SELECT RAISE(ABORT, 'outbox refused'); END`);
  else {
    await sql.run(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$`);
    await sql.run('CREATE TRIGGER refuse BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION refuse()');
  }
  await t.rejects(w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: 3_000 }), /outbox refused/);
  t.equal(await status(), 'p0001', 'the order did not move');
  t.equal(await sql.value('SELECT count(*) FROM order_events'), 0, 'no event either');
  await sql.run(sql.backend === 'sqlite' ? 'DROP TRIGGER refuse' : 'DROP TRIGGER refuse ON notifications');
  const ok = await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: 3_000 });
  t.ok(ok.changed);
  t.equal((await rows()).length, 1);
});

t.test('a newer notification supersedes the pending one; the latest speaks for the order', async (t) => {
  const { w, reads, order, rows } = await setup(t);
  await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_failed', source: 'test', at: 2_000 });
  await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: 3_000 });
  t.same((await rows()).map((r) => [r.status, JSON.parse(r.fields_json).payStatus]), [['superseded', 'p0004'], ['pending', 'p0000']]);
  t.same(await reads.latestNotification(order.order_id), { status: 'pending', attempts: 0 });
  const resent = await w.run('queueNotification', { orderId: order.order_id, at: 5_000, reason: 'resend' });
  t.match(resent, { payStatus: 'p0000', dueAt: 5_000 });
  t.same((await rows()).map((r) => r.status), ['superseded', 'superseded', 'pending']);
  t.equal(await w.run('queueNotification', { orderId: '2099010100000000000001', at: 5_000, reason: 'resend' }), undefined, 'unknown order');
});

t.test('claims are leases; attempts settle the row', async (t) => {
  const { w, reads, order, rows } = await setup(t);
  const paid = await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: 10_000 });
  const id = paid.changed ? paid.notification!.id : -1;
  t.equal(await w.run('claimNotification', { id, owner: 'a', now: 9_999, leaseUntil: 20_000 }), undefined, 'not before it is due');
  const c = await w.run('claimNotification', { id, owner: 'a', now: 10_000, leaseUntil: 20_000 });
  t.match(c, { id, orderId: order.order_id, attempts: 0, dueAt: 10_000, signType: 'MD5' });
  t.equal(await w.run('claimNotification', { id, owner: 'b', now: 15_000, leaseUntil: 25_000 }), undefined, 'held by another while the lease runs');
  t.same(await reads.dueNotifications(60_000, 10), [{ id, url: order.notify_url, readyAt: 20_000 }], 'the loader sees it ready when the lease runs out');
  t.same(await reads.dueNotifications(19_999, 10), [], 'and not before');

  // The holder records a failed attempt: due again later, lease gone.
  t.equal(await w.run('recordAttempt', { id, owner: 'a', attempt: 1, dueAt: 10_000, at: 10_000, httpStatus: 500, latencyMs: 3, outcome: 'retry', error: 'status', answer: 'oops', nextDueAt: 20_000 }), true);
  t.match((await rows())[0], { status: 'pending', attempts: 1, due_at: 20_000, lease_owner: null, lease_until: null });

  // A dead holder's lease runs out, and another dispatcher takes over.
  t.ok(await w.run('claimNotification', { id, owner: 'a', now: 20_000, leaseUntil: 30_000 }));
  t.ok(await w.run('claimNotification', { id, owner: 'b', now: 30_000, leaseUntil: 40_000 }), 'an expired lease can be claimed');
  t.equal(await w.run('recordAttempt', { id, owner: 'a', attempt: 2, dueAt: 20_000, at: 20_000, latencyMs: 5000, outcome: 'retry', error: 'timeout', nextDueAt: 30_000 }), false, 'the old holder no longer moves the row');
  t.equal(await w.run('recordAttempt', { id, owner: 'b', attempt: 2, dueAt: 20_000, at: 30_000, httpStatus: 200, latencyMs: 2, outcome: 'delivered', answer: 'success' }), true);
  t.match((await rows())[0], { status: 'delivered', attempts: 2, due_at: null });
  t.equal(await w.run('claimNotification', { id, owner: 'b', now: 99_000, leaseUntil: 100_000 }), undefined, 'delivered is final');
  t.same((await reads.attempts(id)).map((a) => [a.attempt, a.outcome, a.error]), [[1, 'retry', 'status'], [2, 'retry', 'timeout'], [2, 'delivered', null]], 'every attempt is logged');
});

t.test('release hands a claimed row back for the next start', async (t) => {
  const { w, reads, order } = await setup(t);
  const paid = await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: 10_000 });
  const id = paid.changed ? paid.notification!.id : -1;
  await w.run('claimNotification', { id, owner: 'a', now: 10_000, leaseUntil: 20_000 });
  t.equal(await w.run('releaseNotification', { id, owner: 'x' }), false, 'only by its holder');
  t.equal(await w.run('releaseNotification', { id, owner: 'a' }), true);
  t.same(await reads.dueNotifications(10_000, 10), [{ id, url: order.notify_url, readyAt: 10_000 }], 'ready at once');
});

t.test('the loader query is a range scan on the partial index', async (t) => {
  const { db } = await setup(t);
  // SQLite's query plan; PostgreSQL's plan of the loader's read is pinned, over a history large
  // enough for the planner to care, in test/integration/pg-read-plans.test.ts.
  if (!db) return t.pass('SQLite only: EXPLAIN QUERY PLAN');
  const plan = db
    .prepare(`EXPLAIN QUERY PLAN SELECT id, url, max(due_at, coalesce(lease_until, 0)) AS readyAt FROM notifications INDEXED BY notifications_pending_due
      WHERE status = 'pending' AND due_at <= 1 AND coalesce(lease_until, 0) <= 1 ORDER BY due_at LIMIT 10`)
    .all() as { detail: string }[];
  t.match(plan.map((p) => p.detail).join('\n'), /USING INDEX notifications_pending_due \(due_at<\?\)/);
});
