import type { PoolClient } from '../pool.js';
import type { RunCounts, StoreRunArgs } from '../../reconcile-ops.js';
import { LockSpace, lockKey, num, one, q } from './sql.js';

// Reconciliation's operations of src/db/reconcile-ops.ts on PostgreSQL (see write-ops.ts here for
// how the operations stay safe with several instances writing at once).

const ZERO: RunCounts = { matched: 0, healed: 0, missing_at_channel: 0, amount_mismatch: 0, unknown_trade: 0 };

/**
 * The day of one merchant and payway is locked for the transaction (an advisory lock: there may be
 * no run yet), so two instances storing or dropping it take turns and the later one replaces the
 * earlier, as on SQLite, instead of failing on the unique (bill_date, merc_no, payway).
 */
async function remove(c: PoolClient, billDate: string, mercNo: string, payway: string): Promise<boolean> {
  await lockKey(c, LockSpace.reconciliationDay, JSON.stringify([billDate, mercNo, payway]));
  const old = await one<{ id: unknown }>(c, 'SELECT id FROM reconciliation_runs WHERE bill_date = @billDate AND merc_no = @mercNo AND payway = @payway', {
    billDate,
    mercNo,
    payway,
  });
  if (!old) return false;
  await q(c, 'DELETE FROM reconciliation_items WHERE run_id = @id', old);
  await q(c, 'DELETE FROM reconciliation_runs WHERE id = @id', old);
  return true;
}

/** Safe: one upsert, and a newer day is never replaced by an older one (the condition is rechecked on the locked row). */
const latest = (c: PoolClient, a: { billDate: string; mercNo: string; payway: string; at: number }, counts: RunCounts) =>
  q(
    c,
    `INSERT INTO reconciliation_latest (payway, merc_no, bill_date, matched, healed, missing_at_channel, amount_mismatch, unknown_trade, finished_at)
    VALUES (@payway, @mercNo, @billDate, @matched, @healed, @missing_at_channel, @amount_mismatch, @unknown_trade, @at)
    ON CONFLICT (payway, merc_no) DO UPDATE SET bill_date = excluded.bill_date, matched = excluded.matched, healed = excluded.healed,
      missing_at_channel = excluded.missing_at_channel, amount_mismatch = excluded.amount_mismatch,
      unknown_trade = excluded.unknown_trade, finished_at = excluded.finished_at
    WHERE excluded.bill_date >= reconciliation_latest.bill_date`,
    { payway: a.payway, mercNo: a.mercNo, billDate: a.billDate, at: a.at, ...counts },
  );

const col = <T>(items: StoreRunArgs['items'], f: (it: StoreRunArgs['items'][number]) => T | undefined) => items.map((it) => f(it) ?? null);

export const reconcileOps = {
  /**
   * Safe: the day is locked (see remove); the items go in as one statement; alerts are raised
   * under their unique dedupe_key (ON CONFLICT DO NOTHING), so a re-run on any instance raises none twice.
   */
  async storeReconciliationRun(c: PoolClient, a: StoreRunArgs): Promise<{ runId: number; alertsRaised: number }> {
    await remove(c, a.billDate, a.mercNo, a.payway);
    const run = await one<{ id: unknown }>(
      c,
      `INSERT INTO reconciliation_runs (bill_date, merc_no, payway, status, error,
        matched, healed, missing_at_channel, amount_mismatch, unknown_trade, trade_fen, refund_fen, fee_fen, net_fen, started_at, finished_at)
      VALUES (@billDate, @mercNo, @payway, @status, @error, @matched, @healed, @missing_at_channel, @amount_mismatch, @unknown_trade,
        @tradeFen, @refundFen, @feeFen, @netFen, @startedAt, @at) RETURNING id`,
      {
        billDate: a.billDate,
        mercNo: a.mercNo,
        payway: a.payway,
        status: a.status,
        error: a.error,
        ...a.counts,
        tradeFen: a.totals?.tradeFen,
        refundFen: a.totals?.refundFen,
        feeFen: a.totals?.feeFen,
        netFen: a.totals?.netFen,
        startedAt: a.startedAt,
        at: a.at,
      },
    );
    const runId = num(run!.id)!;
    if (a.items.length > 0) {
      // In the items' order, so that their ids keep it as the SQLite loop's do.
      await q(
        c,
        `INSERT INTO reconciliation_items (run_id, kind, line, order_id, merc_order_no, refund_id, merc_refund_no,
          channel_trade_no, bill_order_id, local_fen, channel_fen, fee_fen)
        SELECT @runId::int8, kind, line, order_id, merc_order_no, refund_id, merc_refund_no, channel_trade_no, bill_order_id, local_fen, channel_fen, fee_fen
        FROM unnest(@kind::text[], @line::text[], @orderId::text[], @mercOrderNo::text[], @refundId::text[], @mercRefundNo::text[],
          @channelTradeNo::text[], @billOrderId::text[], @localFen::int8[], @channelFen::int8[], @feeFen::int8[])
          WITH ORDINALITY AS i (kind, line, order_id, merc_order_no, refund_id, merc_refund_no, channel_trade_no, bill_order_id, local_fen, channel_fen, fee_fen, n)
        ORDER BY n`,
        {
          runId,
          kind: col(a.items, (i) => i.kind),
          line: col(a.items, (i) => i.line),
          orderId: col(a.items, (i) => i.orderId),
          mercOrderNo: col(a.items, (i) => i.mercOrderNo),
          refundId: col(a.items, (i) => i.refundId),
          mercRefundNo: col(a.items, (i) => i.mercRefundNo),
          channelTradeNo: col(a.items, (i) => i.channelTradeNo),
          billOrderId: col(a.items, (i) => i.billOrderId),
          localFen: col(a.items, (i) => i.localFen),
          channelFen: col(a.items, (i) => i.channelFen),
          feeFen: col(a.items, (i) => i.feeFen),
        },
      );
    }
    if (a.status === 'ok') await latest(c, a, a.counts);
    let alertsRaised = 0;
    for (const al of a.alerts) {
      const r = await q(
        c,
        `INSERT INTO alerts (kind, channel, order_id, merc_no, detail, at, count, last_at, dedupe_key)
        VALUES (@kind, @channel, @orderId, @mercNo, @detail, @at, 1, @at, @dedupeKey)
        ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`,
        { ...al, orderId: al.orderId, detail: al.detail.slice(0, 1000), at: a.at },
      );
      alertsRaised += r.count;
    }
    return { runId, alertsRaised };
  },

  /** Safe: the day is locked (see remove); the latest figures are one conditional upsert. */
  async dropReconciliationRun(c: PoolClient, a: { billDate: string; mercNo: string; payway: string; compared: boolean; at: number }): Promise<boolean> {
    if (a.compared) await latest(c, a, ZERO);
    return remove(c, a.billDate, a.mercNo, a.payway);
  },

  /** Safe: each row's update is conditional on its fee differing; the count is of rows that changed. */
  async setReconciledFees(c: PoolClient, a: { orders: [string, bigint][]; refunds: [string, bigint][] }): Promise<number> {
    return (await setFees(c, 'orders', 'order_id', a.orders)) + (await setFees(c, 'refunds', 'refund_id', a.refunds));
  },

  /** Safe: conditional on handled_at IS NULL, rechecked on the locked row: of two handlers one is told `already`. */
  async handleAlert(c: PoolClient, a: { id: number; at: number; by: string }): Promise<'handled' | 'already' | 'none'> {
    if ((await q(c, 'UPDATE alerts SET handled_at = @at, handled_by = @by WHERE id = @id AND handled_at IS NULL', a)).count === 1) return 'handled';
    return (await one(c, 'SELECT 1 FROM alerts WHERE id = @id', a)) ? 'already' : 'none';
  },
};

/** The fees of one table's rows, from the bill: one statement for the lot, the rows whose fee changed counted. */
async function setFees(c: PoolClient, table: 'orders' | 'refunds', key: 'order_id' | 'refund_id', fees: [string, bigint][]): Promise<number> {
  if (fees.length === 0) return 0;
  const sql = `UPDATE ${table} t SET fee_fen = v.fee FROM unnest(@ids::text[], @fees::int8[]) AS v (id, fee)
    WHERE t.${key} = v.id AND t.fee_fen IS DISTINCT FROM v.fee`;
  return (await q(c, sql, { ids: fees.map(([id]) => id), fees: fees.map(([, f]) => f) })).count;
}
