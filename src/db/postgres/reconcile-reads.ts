import type { AsyncReads } from '../port.js';
import type { AlertRow, ItemRow, ReconcileReads, RunRow, SandboxBilledRefund, SandboxBilledTrade } from '../reconcile-reads.js';
import { moneyRow, plainRow } from './pool.js';
import { first, limitOf, rows, statement, type Queryable } from './statements.js';
import { ALERT, ITEM, ORDER, REFUND, RUN } from './columns.js';

// What reconciliation reads (src/db/reconcile-reads.ts) on PostgreSQL. The pages of a merchant's
// day give every integer as a BigInt, as SQLite's safe-integer statements do.

const S = {
  // (ended_at, id) after the last row of the previous page: one range of orders_merchant_ended.
  endedOrdersPage: statement('ended_orders_page', `SELECT ${ORDER} FROM orders
    WHERE merc_no = $1 AND ended_at < $4 AND (ended_at, order_id) > ($2, $3)
    ORDER BY ended_at, order_id LIMIT $5`, { ranges: true }),
  endedRefundsPage: statement('ended_refunds_page', `SELECT ${REFUND} FROM refunds
    WHERE merc_no = $1 AND ended_at < $4 AND (ended_at, refund_id) > ($2, $3)
    ORDER BY ended_at, refund_id LIMIT $5`, { ranges: true }),
  sandboxTrades: statement('sandbox_billed_trades', `SELECT t.order_id, t.trade_no, t.amount_fen, t.paid_at
    FROM sandbox_trades t JOIN orders o ON o.order_id = t.order_id
    WHERE t.status = 'paid' AND t.paid_at >= $3 AND t.paid_at < $4
      AND o.merc_no = $1 AND o.payway = $2 AND o.trade_type = '01'
    ORDER BY t.paid_at, t.order_id`, { ranges: true }),
  sandboxRefunds: statement('sandbox_billed_refunds', `SELECT r.refund_id, r.order_id, r.amount_fen, r.ends_at, t.trade_no
    FROM sandbox_refunds r JOIN orders o ON o.order_id = r.order_id
    LEFT JOIN sandbox_trades t ON t.order_id = r.order_id
    WHERE r.outcome = 'succeeded' AND r.ends_at >= $3 AND r.ends_at < $4
      AND o.merc_no = $1 AND o.payway = $2 AND o.trade_type = '01'
    ORDER BY r.ends_at, r.refund_id`),
  runsOfDay: statement('runs_of_day', `SELECT ${RUN} FROM reconciliation_runs WHERE bill_date = $1
    ORDER BY merc_no, payway`),
  runsOfMerchantDay: statement('runs_of_merchant_day', `SELECT ${RUN} FROM reconciliation_runs WHERE bill_date = $1 AND merc_no = $2
    ORDER BY payway`),
  itemsOfRun: statement('items_of_run', `SELECT ${ITEM} FROM reconciliation_items WHERE run_id = $1 ORDER BY id`),
  alertsAll: statement('alerts_all', `SELECT ${ALERT} FROM alerts ORDER BY id DESC LIMIT $1`),
  alertsOpen: statement('alerts_open', `SELECT ${ALERT} FROM alerts WHERE handled_at IS NULL ORDER BY id DESC LIMIT $1`),
  alert: statement('alert', `SELECT ${ALERT} FROM alerts WHERE id = $1`),
};

const RUN_NUMBERS = ['id', 'matched', 'healed', 'missing_at_channel', 'amount_mismatch', 'unknown_trade', 'started_at', 'finished_at'];
/** One stored run, its counts and times as numbers and its fen as BigInt (also the console's). */
export const runRow = (r: Record<string, unknown>) => moneyRow<RunRow>(r, RUN_NUMBERS);

export function postgresReconcileReads(pool: Queryable): AsyncReads<ReconcileReads> {
  return {
    endedOrdersPage: (mercNo: string, afterMs: number, afterId: string, toMs: number, limit: number) =>
      rows(pool, S.endedOrdersPage, [mercNo, afterMs, afterId, toMs, limitOf(limit)]),
    endedRefundsPage: (mercNo: string, afterMs: number, afterId: string, toMs: number, limit: number) =>
      rows(pool, S.endedRefundsPage, [mercNo, afterMs, afterId, toMs, limitOf(limit)]),
    sandboxBilledTrades: (mercNo: string, payway: string, from: string, to: string) =>
      rows<SandboxBilledTrade>(pool, S.sandboxTrades, [mercNo, payway, from, to]),
    sandboxBilledRefunds: async (mercNo: string, payway: string, fromMs: number, toMs: number) =>
      (await rows(pool, S.sandboxRefunds, [mercNo, payway, fromMs, toMs])).map((r) => moneyRow<SandboxBilledRefund>(r, ['ends_at'])),
    runsOfDay: async (billDate: string, mercNo?: string) =>
      (mercNo === undefined ? await rows(pool, S.runsOfDay, [billDate]) : await rows(pool, S.runsOfMerchantDay, [billDate, mercNo])).map(runRow),
    itemsOfRun: async (runId: number) => (await rows(pool, S.itemsOfRun, [runId])).map((r) => moneyRow<ItemRow>(r, ['id', 'run_id'])),
    alerts: async (opts: { open: boolean; limit: number }) =>
      (await rows(pool, opts.open ? S.alertsOpen : S.alertsAll, [limitOf(opts.limit)])).map((r) => plainRow<AlertRow>(r)),
    alert: async (id: number) => {
      const r = await first(pool, S.alert, [id]);
      return r && plainRow<AlertRow>(r);
    },
  };
}
