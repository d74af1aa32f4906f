import type { Db } from './open.js';

/** What GET /metrics reads from the database, on scrape only (never on the request path). */
export function prepareMetricReads(db: Db) {
  // Only pending rows are in the partial index, so this counts the backlog, not the history.
  const pending = db
    .prepare(`SELECT count(*) FROM notifications INDEXED BY notifications_pending_due WHERE status = 'pending'`)
    .pluck();
  // A scan of the (pay_status, expire_at) index: proportional to the table, acceptable per scrape.
  const byStatus = db.prepare('SELECT pay_status AS payStatus, count(*) AS n FROM orders GROUP BY pay_status');
  return {
    pendingNotifications: () => pending.get() as number,
    ordersByStatus: () => byStatus.all() as { payStatus: string; n: number }[],
  };
}

export type MetricReads = ReturnType<typeof prepareMetricReads>;
