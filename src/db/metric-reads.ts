import type { Db } from './open.js';

/**
 * What GET /metrics reads from the database, on scrape only (never on the request path): a few
 * rows of status_counts, which triggers keep in step with the tables (migrations/0009), so a
 * scrape costs the same whatever the size of the history or of the backlog.
 */
export function prepareMetricReads(db: Db) {
  const pending = db.prepare(`SELECT n FROM status_counts WHERE entity = 'notifications' AND status = 'pending'`).pluck();
  const byStatus = db.prepare(`SELECT status AS payStatus, n FROM status_counts WHERE entity = 'orders'`);
  // One row per merchant and payway (the latest compared run of each), one row of alert_counts.
  const reconciliation = db.prepare(`SELECT payway, sum(matched) AS matched, sum(healed) AS healed,
      sum(missing_at_channel) AS missing_at_channel, sum(amount_mismatch) AS amount_mismatch, sum(unknown_trade) AS unknown_trade,
      max(finished_at) AS lastOkAt
    FROM reconciliation_latest GROUP BY payway`);
  const openAlerts = db.prepare(`SELECT n FROM alert_counts WHERE state = 'open'`).pluck();
  return {
    reconciliationByPayway: () =>
      reconciliation.all() as { payway: string; matched: number; healed: number; missing_at_channel: number; amount_mismatch: number; unknown_trade: number; lastOkAt: number }[],
    openAlerts: () => (openAlerts.get() as number | undefined) ?? 0,
    /** Reconciliation's and the alerts' statements, for their query plans. */
    reconciliationStatements: { byPayway: reconciliation.source, openAlerts: openAlerts.source },
    pendingNotifications: () => (pending.get() as number | undefined) ?? 0,
    ordersByStatus: () => byStatus.all() as { payStatus: string; n: number }[],
    /** The statements a scrape runs, for their query plans. */
    statements: [pending.source, byStatus.source],
  };
}

export type MetricReads = ReturnType<typeof prepareMetricReads>;
