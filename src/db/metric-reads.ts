import type { Db } from './open.js';

/**
 * What GET /metrics reads from the database, on scrape only (never on the request path): a few
 * rows of status_counts, which triggers keep in step with the tables (migrations/0009), so a
 * scrape costs the same whatever the size of the history or of the backlog.
 */
export function prepareMetricReads(db: Db) {
  const pending = db.prepare(`SELECT n FROM status_counts WHERE entity = 'notifications' AND status = 'pending'`).pluck();
  const byStatus = db.prepare(`SELECT status AS payStatus, n FROM status_counts WHERE entity = 'orders'`);
  return {
    pendingNotifications: () => (pending.get() as number | undefined) ?? 0,
    ordersByStatus: () => byStatus.all() as { payStatus: string; n: number }[],
    /** The statements a scrape runs, for their query plans. */
    statements: [pending.source, byStatus.source],
  };
}

export type MetricReads = ReturnType<typeof prepareMetricReads>;
