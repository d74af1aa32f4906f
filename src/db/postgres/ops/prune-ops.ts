import type { PoolClient } from '../pool.js';
import type { PruneBatchArgs, PruneBatchResult } from '../../prune-ops.js';
import { ENDED_STATES } from '../../../domain/retention.js';
// Every statement here planned with its values: a batch's range and ids decide what is cheap, and a
// batch runs seldom enough on any one connection that a kept plan would save nothing.
import { num, qEach as q } from './sql.js';

// The history retention batch of src/db/prune-ops.ts on PostgreSQL (see write-ops.ts here for how
// the operations stay safe with several instances writing at once).

const ended = ENDED_STATES.map((s) => `'${s}'`).join(', ');

const RANGE = `SELECT order_id FROM orders WHERE order_id > @after AND order_id < @below ORDER BY order_id LIMIT @limit`;

// The whole rule for each order of the batch: ended long enough ago, its outcome known at the
// channel, no pending notification (its own or a refund's), no refund in progress or ended after
// the cut-off, and not the owner of the newest notification. A sequence never gives an id twice;
// the last rule is SQLite's (see src/db/prune-ops.ts), kept here so that both prune alike.
const PRUNABLE = `SELECT o.order_id AS "orderId",
    (o.pay_status IN (${ended}) AND o.updated_at < @endedBefore AND o.channel_state <> 'unknown'
      AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.order_id = o.order_id AND n.status = 'pending')
      AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.order_id AND (r.refund_status = 'r0001' OR r.updated_at >= @endedBefore))
      AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = (SELECT max(id) FROM notifications) AND n.order_id = o.order_id)
    ) AS prunable
  FROM orders o WHERE o.order_id = ANY(@ids::text[]) ORDER BY o.order_id`;

const inList = '= ANY(@ids::text[])';
const DELETES = {
  attempts: `DELETE FROM notification_attempts WHERE notification_id IN (SELECT id FROM notifications WHERE order_id ${inList})`,
  notifications: `DELETE FROM notifications WHERE order_id ${inList}`,
  sandboxRefunds: `DELETE FROM sandbox_refunds WHERE order_id ${inList}`,
  refunds: `DELETE FROM refunds WHERE order_id ${inList}`,
  sandboxTrades: `DELETE FROM sandbox_trades WHERE order_id ${inList}`,
  sandboxPayouts: `DELETE FROM sandbox_payouts WHERE order_id ${inList}`,
  events: `DELETE FROM order_events WHERE order_id ${inList}`,
  orders: `DELETE FROM orders WHERE order_id ${inList}`,
};
const COUNTS = {
  attempts: `SELECT count(*) AS n FROM notification_attempts WHERE notification_id IN (SELECT id FROM notifications WHERE order_id ${inList})`,
  notifications: `SELECT count(*) AS n FROM notifications WHERE order_id ${inList}`,
  refunds: `SELECT count(*) AS n FROM refunds WHERE order_id ${inList}`,
  events: `SELECT count(*) AS n FROM order_events WHERE order_id ${inList}`,
};

export const pruneOps = {
  /**
   * Safe: a real batch first locks its range of orders (FOR UPDATE, which also keeps out any
   * new notification, refund or event: their foreign keys need a share lock on the order), and
   * only then, in a statement that sees everything committed before the locks, decides which may
   * go. An order that gains a pending notification or a refund meanwhile is therefore kept.
   */
  async pruneOrders(c: PoolClient, a: PruneBatchArgs): Promise<PruneBatchResult> {
    const range = await q<{ order_id: string }>(c, a.dryRun ? RANGE : `${RANGE} FOR UPDATE`, a);
    const scanned = range.rows.map((r) => r.order_id);
    const result: PruneBatchResult = { scanned: scanned.length, last: scanned.at(-1), orders: 0, events: 0, notifications: 0, attempts: 0, refunds: 0 };
    if (scanned.length === 0) return result;
    const rows = (await q<{ orderId: string; prunable: boolean }>(c, PRUNABLE, { ids: scanned, endedBefore: a.endedBefore })).rows;
    const ids = rows.filter((r) => r.prunable).map((r) => r.orderId);
    if (ids.length === 0) return result;
    if (a.dryRun) {
      for (const k of ['attempts', 'notifications', 'refunds', 'events'] as const) {
        result[k] = num((await q<{ n: unknown }>(c, COUNTS[k], { ids })).rows[0]!.n)!;
      }
      result.orders = ids.length;
      return result;
    }
    // Children before parents: the foreign keys are enforced.
    result.attempts = (await q(c, DELETES.attempts, { ids })).count;
    result.notifications = (await q(c, DELETES.notifications, { ids })).count;
    await q(c, DELETES.sandboxRefunds, { ids });
    result.refunds = (await q(c, DELETES.refunds, { ids })).count;
    await q(c, DELETES.sandboxTrades, { ids });
    await q(c, DELETES.sandboxPayouts, { ids });
    result.events = (await q(c, DELETES.events, { ids })).count;
    result.orders = (await q(c, DELETES.orders, { ids })).count;
    return result;
  },
};
