import type { AsyncReads } from '../port.js';
import type { MetricReads } from '../metric-reads.js';
import { plainRow } from './pool.js';
import { first, rows, statement, type Queryable } from './statements.js';

// What a /metrics scrape reads (src/db/metric-reads.ts) on PostgreSQL: the same few counter rows.
// SQLite gives them in primary-key order (it walks that index); here that order is asked for.
// A status's count is its status_counts row plus its shards (migrations/postgres/0018): at most
// 64 small rows each, found by the primary keys' leading columns.

const S = {
  pending: statement('metrics_pending', `SELECT ((SELECT n FROM status_counts WHERE entity = 'notifications' AND status = 'pending')
      + (SELECT coalesce(sum(n), 0) FROM status_count_shards WHERE entity = 'notifications' AND status = 'pending'))::int8 AS n`),
  byStatus: statement('metrics_orders_by_status',
    `SELECT c.status AS "payStatus", (c.n + coalesce((SELECT sum(s.n) FROM status_count_shards s
        WHERE s.entity = 'orders' AND s.status = c.status), 0))::int8 AS n
      FROM status_counts c WHERE c.entity = 'orders' ORDER BY c.status`),
  reconciliation: statement('metrics_reconciliation', `SELECT payway, sum(matched)::int8 AS matched, sum(healed)::int8 AS healed,
      sum(missing_at_channel)::int8 AS missing_at_channel, sum(amount_mismatch)::int8 AS amount_mismatch,
      sum(unknown_trade)::int8 AS unknown_trade, max(finished_at) AS "lastOkAt"
    FROM reconciliation_latest GROUP BY payway ORDER BY payway`),
  openAlerts: statement('metrics_open_alerts', `SELECT n FROM alert_counts WHERE state = 'open'`),
};

export function postgresMetricReads(pool: Queryable): AsyncReads<MetricReads> {
  const count = async (st: (typeof S)['pending']) => Number((await first<{ n: bigint }>(pool, st, []))?.n ?? 0);
  return {
    reconciliationByPayway: async () =>
      (await rows(pool, S.reconciliation, [])).map((r) =>
        plainRow<{ payway: string; matched: number; healed: number; missing_at_channel: number; amount_mismatch: number; unknown_trade: number; lastOkAt: number }>(r),
      ),
    openAlerts: () => count(S.openAlerts),
    pendingNotifications: () => count(S.pending),
    ordersByStatus: async () => (await rows(pool, S.byStatus, [])).map((r) => plainRow<{ payStatus: string; n: number }>(r)),
  };
}
