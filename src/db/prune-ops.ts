import type { Db } from './open.js';
import { ENDED_STATES } from '../domain/retention.js';

// The history retention write (`dtpay prune`, src/services/prune.ts): one batch of orders, taken
// in order number order, checked under the write lock and removed with every row that depends on
// them, in the writer's transaction like every other write. Whatever is still open, unreconciled,
// to be notified or within the refund window is left alone (src/domain/retention.ts).

export interface PruneBatchArgs {
  /** the last order number of the previous batch ('' for the first) */
  after: string;
  /** orders created from here on are too recent to have ended before the cut-off */
  below: string;
  endedBefore: number;
  limit: number;
  /** count what would go, remove nothing */
  dryRun: boolean;
}

export interface PruneBatchResult {
  scanned: number;
  /** the last order number looked at, where the next batch starts */
  last: string | undefined;
  orders: number;
  /** dependent rows removed with them */
  events: number;
  notifications: number;
  attempts: number;
  refunds: number;
}

export function preparePruneOps(db: Db) {
  const ended = ENDED_STATES.map((s) => `'${s}'`).join(', ');
  // A range of the primary key, and for each order the whole rule: ended long enough ago, its
  // outcome known at the channel, no pending notification (its own or a refund's), no refund in
  // progress or ended after the cut-off, and not the owner of the newest notification: SQLite
  // gives a new row the largest id plus one, so removing the newest would hand its id out again
  // (a console link or a log line naming it would then name another). It goes in a later prune.
  const batch = db.prepare(`SELECT o.order_id AS orderId,
      (o.pay_status IN (${ended}) AND o.updated_at < @endedBefore AND o.channel_state <> 'unknown'
        AND NOT EXISTS (SELECT 1 FROM notifications n INDEXED BY notifications_order WHERE n.order_id = o.order_id AND n.status = 'pending')
        AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.order_id AND (r.refund_status = 'r0001' OR r.updated_at >= @endedBefore))
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = (SELECT max(id) FROM notifications) AND n.order_id = o.order_id)
      ) AS prunable
    FROM orders o WHERE o.order_id > @after AND o.order_id < @below ORDER BY o.order_id LIMIT @limit`);
  const inList = 'IN (SELECT value FROM json_each(@ids))';
  const deletes = {
    attempts: db.prepare(`DELETE FROM notification_attempts WHERE notification_id IN (SELECT id FROM notifications WHERE order_id ${inList})`),
    notifications: db.prepare(`DELETE FROM notifications WHERE order_id ${inList}`),
    sandboxRefunds: db.prepare(`DELETE FROM sandbox_refunds WHERE order_id ${inList}`),
    refunds: db.prepare(`DELETE FROM refunds WHERE order_id ${inList}`),
    sandboxTrades: db.prepare(`DELETE FROM sandbox_trades WHERE order_id ${inList}`),
    sandboxPayouts: db.prepare(`DELETE FROM sandbox_payouts WHERE order_id ${inList}`),
    events: db.prepare(`DELETE FROM order_events WHERE order_id ${inList}`),
    orders: db.prepare(`DELETE FROM orders WHERE order_id ${inList}`),
  };
  const counts = {
    attempts: db.prepare(`SELECT count(*) FROM notification_attempts WHERE notification_id IN (SELECT id FROM notifications WHERE order_id ${inList})`).pluck(),
    notifications: db.prepare(`SELECT count(*) FROM notifications WHERE order_id ${inList}`).pluck(),
    refunds: db.prepare(`SELECT count(*) FROM refunds WHERE order_id ${inList}`).pluck(),
    events: db.prepare(`SELECT count(*) FROM order_events WHERE order_id ${inList}`).pluck(),
  };

  return {
    /** One batch of history retention: what it looked at, and what it removed (or would). */
    pruneOrders(a: PruneBatchArgs): PruneBatchResult {
      const rows = batch.all({ after: a.after, below: a.below, endedBefore: a.endedBefore, limit: a.limit }) as { orderId: string; prunable: number }[];
      const ids = JSON.stringify(rows.filter((r) => r.prunable === 1).map((r) => r.orderId));
      const result: PruneBatchResult = { scanned: rows.length, last: rows.at(-1)?.orderId, orders: 0, events: 0, notifications: 0, attempts: 0, refunds: 0 };
      if (ids === '[]') return result;
      if (a.dryRun) {
        for (const k of ['attempts', 'notifications', 'refunds', 'events'] as const) result[k] = counts[k].get({ ids }) as number;
        result.orders = (JSON.parse(ids) as string[]).length;
        return result;
      }
      // Children before parents: the foreign keys are enforced.
      result.attempts = deletes.attempts.run({ ids }).changes;
      result.notifications = deletes.notifications.run({ ids }).changes;
      deletes.sandboxRefunds.run({ ids });
      result.refunds = deletes.refunds.run({ ids }).changes;
      deletes.sandboxTrades.run({ ids });
      deletes.sandboxPayouts.run({ ids });
      result.events = deletes.events.run({ ids }).changes;
      result.orders = deletes.orders.run({ ids }).changes;
      return result;
    },
    /** The statements of a batch, for their query plans. */
    pruneStatements: [batch.source, ...Object.values(deletes).map((d) => d.source)],
  };
}
