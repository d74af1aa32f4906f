import type { Db } from './open.js';
import type { AttemptRow, MerchantRecord, MerchantRow, NotificationRow, NotifyStatus, OrderRow, RefundRow } from './rows.js';
import type { SandboxPayoutRow } from './payout-ops.js';
import { lockedMerchantKeys, type MerchantKeys } from '../secrets/merchant-keys.js';
import { Merchant } from './merchant-row.js';
import { prepareReconcileReads } from './reconcile-reads.js';

/**
 * The queries the request path makes, prepared once on the reading connection. Merchant rows come
 * with their key opened by `merchantKeys` when first used; without it, using one is refused.
 */
export function prepareReads(db: Db, merchantKeys: MerchantKeys = lockedMerchantKeys) {
  const merchant = db.prepare('SELECT * FROM merchants WHERE merc_no = ?');
  const merchants = db.prepare('SELECT * FROM merchants ORDER BY created_at, merc_no');
  const merchantCount = db.prepare('SELECT count(*) FROM merchants').pluck();
  // Amounts can exceed 2^53 fen, so order rows come back with BigInt integers.
  const order = db.prepare('SELECT * FROM orders WHERE order_id = ?').safeIntegers(true);
  const orderByMercNo = db.prepare('SELECT * FROM orders WHERE merc_no = ? AND merc_order_no = ?').safeIntegers(true);
  const maxOrderId = db.prepare('SELECT max(order_id) FROM orders').pluck();
  const setting = db.prepare('SELECT value FROM settings WHERE name = ?').pluck();
  const schemaVersion = db.prepare('SELECT max(version) FROM schema_migrations').pluck();
  // A row still leased by an attempt in flight (or by a process that died) is ready when the lease
  // runs out; the range scan stays on the partial index whatever else is pending.
  const dueNotifications = db.prepare(`SELECT id, url, max(due_at, coalesce(lease_until, 0)) AS readyAt FROM notifications INDEXED BY notifications_pending_due
    WHERE status = 'pending' AND due_at <= @until AND coalesce(lease_until, 0) <= @until
    ORDER BY due_at LIMIT @limit`);
  const latestNotification = db.prepare(
    'SELECT status, attempts FROM notifications WHERE order_id = ? AND refund_id IS NULL ORDER BY id DESC LIMIT 1',
  );
  const notificationsAll = db.prepare('SELECT * FROM notifications ORDER BY id DESC LIMIT ?');
  const notificationsByStatus = db.prepare('SELECT * FROM notifications WHERE status = ? ORDER BY id DESC LIMIT ?');
  const notificationsOfOrder = db.prepare('SELECT * FROM notifications WHERE order_id = ? ORDER BY id');
  const sandboxTrade = db.prepare('SELECT * FROM sandbox_trades WHERE order_id = ?').safeIntegers(true);
  const refund = db.prepare('SELECT * FROM refunds WHERE refund_id = ?').safeIntegers(true);
  const sandboxRefund = db.prepare('SELECT order_id, outcome, created_at, ends_at FROM sandbox_refunds WHERE refund_id = ?');
  const refundByMercNo = db.prepare('SELECT * FROM refunds WHERE merc_no = ? AND merc_refund_no = ?').safeIntegers(true);
  const refundedFen = db.prepare(`SELECT coalesce(sum(amount_fen), 0) FROM refunds WHERE order_id = ? AND refund_status = 'r0000'`)
    .pluck()
    .safeIntegers(true);
  const latestRefundNotification = db.prepare(
    'SELECT status, attempts FROM notifications WHERE refund_id = ? ORDER BY id DESC LIMIT 1',
  );
  const attempts = db.prepare('SELECT * FROM notification_attempts WHERE notification_id = ? ORDER BY attempt, id');
  // A merchant's day (the merchant bill, reconciliation): one range of a partial index on
  // (merc_no, ended_at) each (migrations/0012), whatever the size of the history.
  const endedOrders = db.prepare(`SELECT * FROM orders INDEXED BY orders_merchant_ended
    WHERE merc_no = ? AND ended_at >= ? AND ended_at < ? ORDER BY ended_at, order_id`).safeIntegers(true);
  const endedRefunds = db.prepare(`SELECT * FROM refunds INDEXED BY refunds_merchant_ended
    WHERE merc_no = ? AND ended_at >= ? AND ended_at < ? ORDER BY ended_at, refund_id`).safeIntegers(true);

  const payoutSettings = db
    .prepare('SELECT payouts_enabled AS enabled, payout_daily_limit_fen AS daily, payout_per_limit_fen AS per FROM merchants WHERE merc_no = ?')
    .safeIntegers(true);
  const sandboxPayout = db.prepare('SELECT * FROM sandbox_payouts WHERE order_id = ?').safeIntegers(true);

  const orderRow = (r: unknown): OrderRow | undefined => {
    if (!r) return undefined;
    const row = r as Record<string, unknown>;
    // Only the amount needs 64 bits; the other integers are small and read as numbers.
    for (const k of ['order_period', 'created_at', 'expire_at', 'late_payment', 'updated_at', 'checks']) row[k] = Number(row[k]);
    for (const k of ['next_check_at', 'ended_at']) if (row[k] !== null) row[k] = Number(row[k]);
    return row as unknown as OrderRow;
  };

  const refundRow = (r: unknown): RefundRow | undefined => {
    if (!r) return undefined;
    const row = r as Record<string, unknown>;
    for (const k of ['created_at', 'updated_at', 'checks']) row[k] = Number(row[k]);
    for (const k of ['next_check_at', 'ended_at']) if (row[k] !== null) row[k] = Number(row[k]);
    return row as unknown as RefundRow;
  };

  return {
    ...prepareReconcileReads(db),
    merchant: (mercNo: string): MerchantRow | undefined => {
      const row = merchant.get(mercNo) as MerchantRecord | undefined;
      return row && new Merchant(row, merchantKeys);
    },
    merchants: (): MerchantRow[] => (merchants.all() as MerchantRecord[]).map((row) => new Merchant(row, merchantKeys)),
    merchantCount: () => merchantCount.get() as number,
    order: (orderId: string) => orderRow(order.get(orderId)),
    orderByMercNo: (mercNo: string, mercOrderNo: string) => orderRow(orderByMercNo.get(mercNo, mercOrderNo)),
    maxOrderId: () => (maxOrderId.get() as string | null) ?? undefined,
    /** the last migration applied, as a number (0 before any) */
    schemaVersion: () => Number((schemaVersion.get() as string | null) ?? 0),
    setting: (name: string) => (setting.get(name) as string | null | undefined) ?? undefined,
    /** Pending notifications ready by `until`, earliest due first, at most `limit`. */
    dueNotificationsSql: dueNotifications.source,
    dueNotifications: (until: number, limit: number) =>
      dueNotifications.all({ until, limit }) as { id: number; url: string; readyAt: number }[],
    latestNotification: (orderId: string) =>
      latestNotification.get(orderId) as { status: NotifyStatus; attempts: number } | undefined,
    notifications: (opts: { status?: NotifyStatus; limit: number }) =>
      (opts.status ? notificationsByStatus.all(opts.status, opts.limit) : notificationsAll.all(opts.limit)) as NotificationRow[],
    notificationsOfOrder: (orderId: string) => notificationsOfOrder.all(orderId) as NotificationRow[],
    refund: (refundId: string) => refundRow(refund.get(refundId)),
    sandboxRefund: (refundId: string) =>
      sandboxRefund.get(refundId) as { order_id: string; outcome: 'succeeded' | 'failed'; created_at: number; ends_at: number } | undefined,
    refundByMercNo: (mercNo: string, mercRefundNo: string) => refundRow(refundByMercNo.get(mercNo, mercRefundNo)),
    /** the sum of the order's successful refunds */
    refundedFen: (orderId: string) => refundedFen.get(orderId) as bigint,
    latestRefundNotification: (refundId: string) =>
      latestRefundNotification.get(refundId) as { status: NotifyStatus; attempts: number } | undefined,
    sandboxTrade: (orderId: string) =>
      sandboxTrade.get(orderId) as { order_id: string; trade_no: string; amount_fen: bigint; status: 'paid' | 'failed' | 'closed'; paid_at: string | null; bank_type: string | null } | undefined,
    /** A merchant's payout switch and limits (fen; undefined: not set); undefined for an unknown merchant. */
    payoutSettings: (mercNo: string): PayoutSettings | undefined => {
      const r = payoutSettings.get(mercNo) as { enabled: bigint; daily: bigint | null; per: bigint | null } | undefined;
      return r && { enabled: r.enabled === 1n, dailyLimitFen: r.daily ?? undefined, perPayoutLimitFen: r.per ?? undefined };
    },
    sandboxPayout: (orderId: string): SandboxPayoutRow | undefined => {
      const r = sandboxPayout.get(orderId) as Record<string, unknown> | undefined;
      if (!r) return undefined;
      for (const k of ['confirm', 'cancelled', 'created_at', 'updated_at']) r[k] = Number(r[k]);
      if (r.ends_at !== null) r.ends_at = Number(r.ends_at);
      return r as unknown as SandboxPayoutRow;
    },
    attempts: (notificationId: number) => attempts.all(notificationId) as AttemptRow[],
    /** The merchant's orders that ended within [fromMs, toMs), oldest first. */
    endedOrders: (mercNo: string, fromMs: number, toMs: number) =>
      endedOrders.all(mercNo, fromMs, toMs).map((r) => orderRow(r)!),
    /** The merchant's refunds that succeeded or failed within [fromMs, toMs), oldest first. */
    endedRefunds: (mercNo: string, fromMs: number, toMs: number) =>
      endedRefunds.all(mercNo, fromMs, toMs).map((r) => refundRow(r)!),
    /** What POST /api/query reads, for the query plans. */
    queryStatements: { order: order.source, orderByMercNo: orderByMercNo.source, latestNotification: latestNotification.source, refundedFen: refundedFen.source },
    endedStatements: { orders: endedOrders.source, refunds: endedRefunds.source },
  };
}

export type Reads = ReturnType<typeof prepareReads>;

export interface PayoutSettings {
  enabled: boolean;
  dailyLimitFen?: bigint;
  perPayoutLimitFen?: bigint;
}
