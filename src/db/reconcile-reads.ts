import type { Db } from './open.js';

// What reconciliation reads (CONTRACT §5): a merchant's day a page at a time (so a large day never
// holds the event loop for long), the sandbox channel's own book of a day, the stored runs and
// their items, and the alerts. Every statement is one range of an index (test/unit/query-plans).

export interface RunRow {
  id: number;
  bill_date: string;
  merc_no: string;
  payway: string;
  status: 'ok' | 'not_ready' | 'failed';
  error: string | null;
  matched: number;
  healed: number;
  missing_at_channel: number;
  amount_mismatch: number;
  unknown_trade: number;
  trade_fen: bigint | null;
  refund_fen: bigint | null;
  fee_fen: bigint | null;
  net_fen: bigint | null;
  started_at: number;
  finished_at: number;
}

export interface ItemRow {
  id: number;
  run_id: number;
  kind: 'healed' | 'missing_at_channel' | 'amount_mismatch' | 'unknown_trade';
  line: 'trade' | 'refund';
  order_id: string | null;
  merc_order_no: string | null;
  refund_id: string | null;
  merc_refund_no: string | null;
  channel_trade_no: string | null;
  bill_order_id: string | null;
  local_fen: bigint | null;
  channel_fen: bigint | null;
  fee_fen: bigint | null;
}

export interface AlertRow {
  id: number;
  kind: string;
  channel: string;
  order_id: string | null;
  merc_no: string | null;
  detail: string;
  at: number;
  count: number;
  last_at: number;
  handled_at: number | null;
  handled_by: string | null;
  dedupe_key: string | null;
}

/** A sandbox trade paid within a day, with what the bill needs of its order. */
export interface SandboxBilledTrade {
  order_id: string;
  trade_no: string;
  amount_fen: bigint;
  paid_at: string;
}

export interface SandboxBilledRefund {
  refund_id: string;
  order_id: string;
  amount_fen: bigint;
  ends_at: number;
  trade_no: string | null;
}

const small = (r: Record<string, unknown>, keys: string[]) => {
  for (const k of keys) if (typeof r[k] === 'bigint') r[k] = Number(r[k]);
  return r;
};

export function prepareReconcileReads(db: Db) {
  // (ended_at, id) after the last row of the previous page: a range of the same index each time.
  const endedOrdersPage = db.prepare(`SELECT * FROM orders INDEXED BY orders_merchant_ended
    WHERE merc_no = @mercNo AND ended_at < @toMs AND (ended_at, order_id) > (@afterMs, @afterId)
    ORDER BY ended_at, order_id LIMIT @limit`).safeIntegers(true);
  const endedRefundsPage = db.prepare(`SELECT * FROM refunds INDEXED BY refunds_merchant_ended
    WHERE merc_no = @mercNo AND ended_at < @toMs AND (ended_at, refund_id) > (@afterMs, @afterId)
    ORDER BY ended_at, refund_id LIMIT @limit`).safeIntegers(true);
  const sandboxTrades = db.prepare(`SELECT t.order_id, t.trade_no, t.amount_fen, t.paid_at
    FROM sandbox_trades t INDEXED BY sandbox_trades_paid JOIN orders o ON o.order_id = t.order_id
    WHERE t.status = 'paid' AND t.paid_at >= @from AND t.paid_at < @to
      AND o.merc_no = @mercNo AND o.payway = @payway AND o.trade_type = '01'
    ORDER BY t.paid_at, t.order_id`).safeIntegers(true);
  const sandboxRefunds = db.prepare(`SELECT r.refund_id, r.order_id, r.amount_fen, r.ends_at, t.trade_no
    FROM sandbox_refunds r INDEXED BY sandbox_refunds_ends JOIN orders o ON o.order_id = r.order_id
    LEFT JOIN sandbox_trades t ON t.order_id = r.order_id
    WHERE r.outcome = 'succeeded' AND r.ends_at >= @fromMs AND r.ends_at < @toMs
      AND o.merc_no = @mercNo AND o.payway = @payway AND o.trade_type = '01'
    ORDER BY r.ends_at, r.refund_id`).safeIntegers(true);
  const runsOfDay = db.prepare('SELECT * FROM reconciliation_runs WHERE bill_date = ? ORDER BY merc_no, payway').safeIntegers(true);
  const runsOfMerchantDay = db.prepare('SELECT * FROM reconciliation_runs WHERE bill_date = ? AND merc_no = ? ORDER BY payway').safeIntegers(true);
  const itemsOfRun = db.prepare('SELECT * FROM reconciliation_items WHERE run_id = ? ORDER BY id').safeIntegers(true);
  const alertsAll = db.prepare('SELECT * FROM alerts ORDER BY id DESC LIMIT ?');
  const alertsOpen = db.prepare('SELECT * FROM alerts INDEXED BY alerts_open WHERE handled_at IS NULL ORDER BY id DESC LIMIT ?');
  const alert = db.prepare('SELECT * FROM alerts WHERE id = ?');

  const runRow = (r: unknown) => small(r as Record<string, unknown>, ['id', 'matched', 'healed', 'missing_at_channel', 'amount_mismatch', 'unknown_trade', 'started_at', 'finished_at']) as unknown as RunRow;

  return {
    /** One page of the merchant's orders that ended before `toMs`, after (afterMs, afterId), oldest first. */
    endedOrdersPage: (mercNo: string, afterMs: number, afterId: string, toMs: number, limit: number) =>
      endedOrdersPage.all({ mercNo, afterMs, afterId, toMs, limit }) as Record<string, unknown>[],
    endedRefundsPage: (mercNo: string, afterMs: number, afterId: string, toMs: number, limit: number) =>
      endedRefundsPage.all({ mercNo, afterMs, afterId, toMs, limit }) as Record<string, unknown>[],
    /** The sandbox channel's paid trades of a merchant and payway, paid in [from, to) (yyyyMMddHHmmss Beijing). */
    sandboxBilledTrades: (mercNo: string, payway: string, from: string, to: string) =>
      sandboxTrades.all({ mercNo, payway, from, to }) as SandboxBilledTrade[],
    sandboxBilledRefunds: (mercNo: string, payway: string, fromMs: number, toMs: number) =>
      (sandboxRefunds.all({ mercNo, payway, fromMs, toMs }) as Record<string, unknown>[]).map((r) => small(r, ['ends_at']) as unknown as SandboxBilledRefund),
    runsOfDay: (billDate: string, mercNo?: string): RunRow[] =>
      (mercNo === undefined ? runsOfDay.all(billDate) : runsOfMerchantDay.all(billDate, mercNo)).map(runRow),
    itemsOfRun: (runId: number) =>
      (itemsOfRun.all(runId) as Record<string, unknown>[]).map((r) => small(r, ['id', 'run_id']) as unknown as ItemRow),
    alerts: (opts: { open: boolean; limit: number }) => (opts.open ? alertsOpen.all(opts.limit) : alertsAll.all(opts.limit)) as AlertRow[],
    alert: (id: number) => alert.get(id) as AlertRow | undefined,
    /** The statements, for their query plans. */
    reconcileStatements: {
      endedOrdersPage: endedOrdersPage.source,
      endedRefundsPage: endedRefundsPage.source,
      sandboxTrades: sandboxTrades.source,
      sandboxRefunds: sandboxRefunds.source,
      runsOfDay: runsOfDay.source,
      runsOfMerchantDay: runsOfMerchantDay.source,
      itemsOfRun: itemsOfRun.source,
      alertsAll: alertsAll.source,
      alertsOpen: alertsOpen.source,
    },
  };
}

export type ReconcileReads = ReturnType<typeof prepareReconcileReads>;
