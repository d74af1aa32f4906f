import type { Db } from './open.js';

// Reconciliation's write operations, run in the writer's transaction like the others
// (write-ops.ts). A run, its items and the alerts its items raise commit together, so a crash
// leaves either the old report or the new one, never half of each.

export type ItemKind = 'healed' | 'missing_at_channel' | 'amount_mismatch' | 'unknown_trade';
export const ALERTING_KINDS: readonly ItemKind[] = ['missing_at_channel', 'amount_mismatch', 'unknown_trade'];

export interface StoredItem {
  kind: ItemKind;
  line: 'trade' | 'refund';
  orderId?: string;
  mercOrderNo?: string;
  refundId?: string;
  mercRefundNo?: string;
  channelTradeNo?: string;
  billOrderId?: string;
  localFen?: bigint;
  channelFen?: bigint;
  feeFen?: bigint;
}

export interface RunCounts {
  matched: number;
  healed: number;
  missing_at_channel: number;
  amount_mismatch: number;
  unknown_trade: number;
}

export interface StoreRunArgs {
  billDate: string;
  mercNo: string;
  payway: string;
  status: 'ok' | 'not_ready' | 'failed';
  error?: string;
  counts: RunCounts;
  totals?: { tradeFen: bigint; refundFen: bigint; feeFen: bigint; netFen: bigint };
  items: StoredItem[];
  /** one per item that is neither matched nor healed, keyed so that a re-run raises none twice */
  alerts: { kind: string; channel: string; mercNo: string; orderId?: string; detail: string; dedupeKey: string }[];
  startedAt: number;
  at: number;
}

const ZERO: RunCounts = { matched: 0, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 0 };

export function prepareReconcileOps(db: Db) {
  const findRun = db.prepare('SELECT id FROM reconciliation_runs WHERE bill_date = ? AND merc_no = ? AND payway = ?').pluck();
  const deleteItems = db.prepare('DELETE FROM reconciliation_items WHERE run_id = ?');
  const deleteRun = db.prepare('DELETE FROM reconciliation_runs WHERE id = ?');
  const insertRun = db.prepare(`INSERT INTO reconciliation_runs (bill_date, merc_no, payway, status, error,
      matched, healed, missing_at_channel, amount_mismatch, unknown_trade, trade_fen, refund_fen, fee_fen, net_fen, started_at, finished_at)
    VALUES (@billDate, @mercNo, @payway, @status, @error, @matched, @healed, @missing_at_channel, @amount_mismatch, @unknown_trade,
      @tradeFen, @refundFen, @feeFen, @netFen, @startedAt, @at)`);
  const insertItem = db.prepare(`INSERT INTO reconciliation_items (run_id, kind, line, order_id, merc_order_no, refund_id, merc_refund_no,
      channel_trade_no, bill_order_id, local_fen, channel_fen, fee_fen)
    VALUES (@runId, @kind, @line, @orderId, @mercOrderNo, @refundId, @mercRefundNo, @channelTradeNo, @billOrderId, @localFen, @channelFen, @feeFen)`);
  // A newer day's figures are never replaced by an older day run again by hand.
  const putLatest = db.prepare(`INSERT INTO reconciliation_latest (payway, merc_no, bill_date, matched, healed, missing_at_channel,
      amount_mismatch, unknown_trade, finished_at)
    VALUES (@payway, @mercNo, @billDate, @matched, @healed, @missing_at_channel, @amount_mismatch, @unknown_trade, @at)
    ON CONFLICT (payway, merc_no) DO UPDATE SET bill_date = excluded.bill_date, matched = excluded.matched, healed = excluded.healed,
      missing_at_channel = excluded.missing_at_channel, amount_mismatch = excluded.amount_mismatch,
      unknown_trade = excluded.unknown_trade, finished_at = excluded.finished_at
    WHERE excluded.bill_date >= reconciliation_latest.bill_date`);
  const insertAlert = db.prepare(`INSERT INTO alerts (kind, channel, order_id, merc_no, detail, at, count, last_at, dedupe_key)
    VALUES (@kind, @channel, @orderId, @mercNo, @detail, @at, 1, @at, @dedupeKey)
    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`);
  const orderFee = db.prepare('UPDATE orders SET fee_fen = @fee WHERE order_id = @id AND fee_fen IS NOT @fee');
  const refundFee = db.prepare('UPDATE refunds SET fee_fen = @fee WHERE refund_id = @id AND fee_fen IS NOT @fee');
  const handle = db.prepare('UPDATE alerts SET handled_at = @at, handled_by = @by WHERE id = @id AND handled_at IS NULL');
  const alertExists = db.prepare('SELECT 1 FROM alerts WHERE id = ?').pluck();

  const remove = (billDate: string, mercNo: string, payway: string) => {
    const old = findRun.get(billDate, mercNo, payway) as number | undefined;
    if (old === undefined) return false;
    deleteItems.run(old);
    deleteRun.run(old);
    return true;
  };
  const latest = (a: { billDate: string; mercNo: string; payway: string; at: number }, counts: RunCounts) =>
    putLatest.run({ payway: a.payway, mercNo: a.mercNo, billDate: a.billDate, at: a.at, ...counts });

  return {
    /** Stores a run in place of the one of the same merchant, payway and day; returns its id and the alerts newly raised. */
    storeReconciliationRun(a: StoreRunArgs): { runId: number; alertsRaised: number } {
      remove(a.billDate, a.mercNo, a.payway);
      const runId = Number(
        insertRun.run({
          billDate: a.billDate,
          mercNo: a.mercNo,
          payway: a.payway,
          status: a.status,
          error: a.error ?? null,
          ...a.counts,
          tradeFen: a.totals?.tradeFen ?? null,
          refundFen: a.totals?.refundFen ?? null,
          feeFen: a.totals?.feeFen ?? null,
          netFen: a.totals?.netFen ?? null,
          startedAt: a.startedAt,
          at: a.at,
        }).lastInsertRowid,
      );
      for (const it of a.items) {
        insertItem.run({
          runId,
          kind: it.kind,
          line: it.line,
          orderId: it.orderId ?? null,
          mercOrderNo: it.mercOrderNo ?? null,
          refundId: it.refundId ?? null,
          mercRefundNo: it.mercRefundNo ?? null,
          channelTradeNo: it.channelTradeNo ?? null,
          billOrderId: it.billOrderId ?? null,
          localFen: it.localFen ?? null,
          channelFen: it.channelFen ?? null,
          feeFen: it.feeFen ?? null,
        });
      }
      if (a.status === 'ok') latest(a, a.counts);
      let alertsRaised = 0;
      for (const al of a.alerts) {
        alertsRaised += insertAlert.run({ ...al, orderId: al.orderId ?? null, detail: al.detail.slice(0, 1000), at: a.at }).changes;
      }
      return { runId, alertsRaised };
    },

    /**
     * A merchant and payway with no lines that day on either side has no run: an earlier one is
     * removed. `compared`: the bill was read (and empty), so the latest figures are zero.
     */
    dropReconciliationRun(a: { billDate: string; mercNo: string; payway: string; compared: boolean; at: number }): boolean {
      if (a.compared) latest(a, ZERO);
      return remove(a.billDate, a.mercNo, a.payway);
    },

    /** The fees a bill states, on the orders and refunds it matched or healed; returns how many changed. */
    setReconciledFees(a: { orders: [string, bigint][]; refunds: [string, bigint][] }): number {
      let n = 0;
      for (const [id, fee] of a.orders) n += orderFee.run({ id, fee }).changes;
      for (const [id, fee] of a.refunds) n += refundFee.run({ id, fee }).changes;
      return n;
    },

    /** Marks an alert handled: `handled` now, `already` handled before, `none` when there is no such alert. */
    handleAlert(a: { id: number; at: number; by: string }): 'handled' | 'already' | 'none' {
      if (handle.run(a).changes === 1) return 'handled';
      return alertExists.get(a.id) === 1 ? 'already' : 'none';
    },
  };
}
