import t from 'tap';
import { join } from 'node:path';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareReads } from '../../src/db/reads.js';
import { parseBeijing } from '../../src/domain/time.js';
import { tempDir } from '../helper.js';
import { orderRow, refundRow } from '../fixtures/orders.js';
import { testStorage } from '../fixtures/backends.js';
import { testBackend } from '../backend.js';
import { sealMerchantKey } from '../../src/secrets/merchant-keys.js';
import { TEST_MASTER_KEY } from '../fixtures/merchant-keys.js';

// ended_at: when an order or refund reached its final state, the channel's own time for a payment,
// so that a merchant's Beijing day (the merchant bill, reconciliation) is one index range.

const T0 = Date.UTC(2026, 10, 30, 15, 50); // 2026-11-30 23:50 Beijing
const M = 'M100000000000001';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const { storage } = await testStorage(t);
  // The merchant the orders belong to (PostgreSQL keeps its foreign keys whatever a session asks).
  await storage.writer.run('insertMerchant', {
    merc_no: M,
    name: 'Shop',
    mode: 'sandbox',
    key_sealed: sealMerchantKey(TEST_MASTER_KEY, M, 'k'.repeat(43)).toString('base64'),
    status: 'active',
    created_at: 1,
    updated_at: 1,
  });
  return { w: storage.writer, reads: storage.reads };
}

t.test('parseBeijing reads yyyyMMddHHmmss as Beijing time and refuses what is not one', async (t) => {
  t.equal(parseBeijing('20261201000000'), Date.UTC(2026, 10, 30, 16));
  t.equal(parseBeijing('20261130235959'), Date.UTC(2026, 10, 30, 15, 59, 59));
  for (const bad of ['', '2026113023595', '20261131000000', '20261130240000', 'x0261130235959']) t.equal(parseBeijing(bad), undefined, bad);
});

t.test("open orders have none; a payment ends at the channel's time, the rest at the gateway's", async (t) => {
  const { w, reads } = await setup(t);
  const open = orderRow(M, T0);
  const paidLate = orderRow(M, T0);
  const closed = orderRow(M, T0);
  const refused = orderRow(M, T0, { pay_status: 'p0004', channel_state: 'refused' });
  for (const o of [open, paidLate, closed, refused]) t.ok(await w.run('insertOrder', o));
  t.equal((await reads.order(open.order_id))?.ended_at, null, 'open: no end');
  t.equal((await reads.order(refused.order_id))?.ended_at, T0, 'refused at creation: ended when stored');

  // Paid at 23:59:30 Beijing on the 30th, told to the gateway after midnight: the 30th's bill has it.
  await w.run('transitionOrder', { orderId: paidLate.order_id, event: 'channel_paid', source: 't', at: T0 + 20 * 60_000, tradeEndTime: '20261130235930' });
  t.equal((await reads.order(paidLate.order_id))?.ended_at, Date.UTC(2026, 10, 30, 15, 59, 30));
  await w.run('transitionOrder', { orderId: closed.order_id, event: 'merchant_closed', source: 't', at: T0 + 60_000 });
  t.equal((await reads.order(closed.order_id))?.ended_at, T0 + 60_000);
  await w.run('transitionOrder', { orderId: open.order_id, event: 'payer_opened', source: 't', at: T0 + 1000 });
  t.equal((await reads.order(open.order_id))?.ended_at, null, 'still open after the payer opened it');

  // A payment found after expiry moves the order to the day it was paid.
  await w.run('transitionOrder', { orderId: open.order_id, event: 'expired', source: 't', at: T0 + 40 * 60_000 });
  t.equal((await reads.order(open.order_id))?.ended_at, T0 + 40 * 60_000);
  await w.run('transitionOrder', { orderId: open.order_id, event: 'channel_paid', source: 't', at: T0 + 50 * 60_000 });
  t.equal((await reads.order(open.order_id))?.ended_at, T0 + 50 * 60_000, "no channel time: the gateway's clock");

  const day = (d: number) => [Date.UTC(2026, 10, d - 1, 16), Date.UTC(2026, 10, d, 16)] as const;
  t.same((await reads.endedOrders(M, ...day(30))).map((o) => o.order_id), [refused.order_id, closed.order_id, paidLate.order_id], 'the 30th, oldest first');
  t.same((await reads.endedOrders(M, day(30)[1], day(30)[1] + 86_400_000)).map((o) => o.order_id), [open.order_id], 'paid on the 1st');
  t.same(await reads.endedOrders('M100000000000002', ...day(30)), [], 'another merchant has none');
});

t.test('a refund ends when it succeeds or fails, at the time the channel gives', async (t) => {
  const { w, reads } = await setup(t);
  const order = orderRow(M, T0, { pay_status: 'p0000' });
  await w.run('insertOrder', order);
  const a = refundRow(order, 100n, T0);
  const b = refundRow(order, 100n, T0);
  await w.run('insertRefund', a);
  await w.run('insertRefund', b);
  t.equal((await reads.refund(a.refund_id))?.ended_at, null);
  await w.run('settleRefund', { refundId: a.refund_id, status: 'r0000', at: T0 + 900_000, refundEndTime: '20261201000100' });
  await w.run('settleRefund', { refundId: b.refund_id, status: 'r0004', at: T0 + 60_000, refundEndTime: '' });
  t.equal((await reads.refund(a.refund_id))?.ended_at, Date.UTC(2026, 10, 30, 16, 1));
  t.equal((await reads.refund(b.refund_id))?.ended_at, T0 + 60_000);
  t.same((await reads.endedRefunds(M, Date.UTC(2026, 10, 29, 16), Date.UTC(2026, 10, 30, 16))).map((r) => r.refund_id), [b.refund_id]);
});

t.test('the migration gives orders and refunds that had already ended their end', async (t) => {
  // SQLite's migration 0012 added ended_at to a schema that had rows; PostgreSQL's schema starts
  // with the column (migrations/postgres), so there is no such migration to test there.
  if (testBackend() !== 'sqlite') return t.pass('SQLite only: PostgreSQL has had ended_at from its first migration');
  const db = openDb(join(tempDir(t), 'm.sqlite'));
  t.teardown(() => db.close());
  db.pragma('foreign_keys = OFF');
  const dir = join(tempDir(t), 'migrations');
  const { cpSync, readdirSync, rmSync } = await import('node:fs');
  const { MIGRATIONS_DIR } = await import('../../src/db/migrate.js');
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.sql') && f >= '0012') rmSync(join(dir, f));
  migrate(db, dir);
  const paid = orderRow(M, T0, { pay_status: 'p0000', trade_end_time: '20261130235930', updated_at: T0 + 600_000 });
  const expired = orderRow(M, T0, { pay_status: 'p0006', updated_at: T0 + 1_800_000 });
  const open = orderRow(M, T0);
  const cols = Object.keys(paid).filter((k) => k !== 'fee_fen' && k !== 'ended_at');
  const ins = db.prepare(`INSERT INTO orders (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`);
  for (const o of [paid, expired, open]) ins.run(o);
  migrate(db);
  const reads = prepareReads(db);
  t.equal(reads.order(paid.order_id)?.ended_at, Date.UTC(2026, 10, 30, 15, 59, 30), "the channel's time");
  t.equal(reads.order(expired.order_id)?.ended_at, T0 + 1_800_000, 'when it last changed');
  t.equal(reads.order(open.order_id)?.ended_at, null);
});
