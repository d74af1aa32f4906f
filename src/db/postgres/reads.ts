import type { AsyncReads } from '../port.js';
import type { PayoutSettings, Reads } from '../reads.js';
import type { AttemptRow, MerchantRecord, MerchantRow, NotificationRow, NotifyStatus, OrderRow, RefundRow } from '../rows.js';
import type { SandboxPayoutRow } from '../payout-ops.js';
import { lockedMerchantKeys, type MerchantKeys } from '../../secrets/merchant-keys.js';
import { Merchant } from '../merchant-row.js';
import { moneyRow, plainRow } from './pool.js';
import { first, limitOf, rows, statement, type Queryable } from './statements.js';
import { ATTEMPT, MERCHANT, NOTIFICATION, ORDER, REFUND, SANDBOX_PAYOUT, SANDBOX_TRADE } from './columns.js';
import { postgresReconcileReads } from './reconcile-reads.js';

// The request path's reads (src/db/reads.ts) on PostgreSQL, with the answers the SQLite adapter
// gives. Text sorts and compares alike on both: the schema gives every text column the "C"
// collation, byte order, as SQLite compares. Where SQLite breaks a tie of the ORDER BY by walking
// its index (an index entry ends with the rowid), the statement here names that tie-break, so
// both give the rows in one order.

const S = {
  merchant: statement('merchant', `SELECT ${MERCHANT} FROM merchants WHERE merc_no = $1`),
  merchants: statement('merchants', `SELECT ${MERCHANT} FROM merchants ORDER BY created_at, merc_no`),
  merchantCount: statement('merchant_count', 'SELECT count(*) AS n FROM merchants'),
  order: statement('order', `SELECT ${ORDER} FROM orders WHERE order_id = $1`),
  orderByMercNo: statement('order_by_merc_no', `SELECT ${ORDER} FROM orders WHERE merc_no = $1 AND merc_order_no = $2`),
  maxOrderId: statement('max_order_id', 'SELECT max(order_id) AS id FROM orders'),
  setting: statement('setting', 'SELECT value FROM settings WHERE name = $1'),
  schemaVersion: statement('schema_version', 'SELECT max(version) AS v FROM schema_migrations'),
  // Ties of due_at come in id order, as on SQLite's (due_at, rowid) index entries. This and the
  // watchers' reads below are planned with their values (statements.ts): how much of the index
  // "due by now" covers is known from the bound only, and a generic plan that guesses a third of
  // it reads and sorts every pending row (or open order) on each tick.
  dueNotifications: statement('due_notifications', `SELECT id, url, greatest(due_at, coalesce(lease_until, 0)) AS "readyAt"
    FROM notifications WHERE status = 'pending' AND due_at <= $1 AND coalesce(lease_until, 0) <= $1
    ORDER BY due_at, id LIMIT $2`, { each: true }),
  latestNotification: statement('latest_notification',
    'SELECT status, attempts FROM notifications WHERE order_id = $1 AND refund_id IS NULL ORDER BY id DESC LIMIT 1'),
  notificationsAll: statement('notifications_all', `SELECT ${NOTIFICATION} FROM notifications ORDER BY id DESC LIMIT $1`),
  notificationsByStatus: statement('notifications_by_status',
    `SELECT ${NOTIFICATION} FROM notifications WHERE status = $1 ORDER BY id DESC LIMIT $2`, { each: true }),
  notificationsOfOrder: statement('notifications_of_order', `SELECT ${NOTIFICATION} FROM notifications WHERE order_id = $1 ORDER BY id`),
  sandboxTrade: statement('sandbox_trade', `SELECT ${SANDBOX_TRADE} FROM sandbox_trades WHERE order_id = $1`),
  refund: statement('refund', `SELECT ${REFUND} FROM refunds WHERE refund_id = $1`),
  sandboxRefund: statement('sandbox_refund', 'SELECT order_id, outcome, created_at, ends_at FROM sandbox_refunds WHERE refund_id = $1'),
  refundByMercNo: statement('refund_by_merc_no', `SELECT ${REFUND} FROM refunds WHERE merc_no = $1 AND merc_refund_no = $2`),
  // sum() of int8 is numeric on PostgreSQL; back to int8 (an overflow is an error on both backends).
  refundedFen: statement('refunded_fen',
    `SELECT coalesce(sum(amount_fen), 0)::int8 AS fen FROM refunds WHERE order_id = $1 AND refund_status = 'r0000'`),
  latestRefundNotification: statement('latest_refund_notification',
    'SELECT status, attempts FROM notifications WHERE refund_id = $1 ORDER BY id DESC LIMIT 1'),
  attempts: statement('attempts', `SELECT ${ATTEMPT} FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt, id`),
  endedOrders: statement('ended_orders', `SELECT ${ORDER} FROM orders
    WHERE merc_no = $1 AND ended_at >= $2 AND ended_at < $3 ORDER BY ended_at, order_id`),
  endedRefunds: statement('ended_refunds', `SELECT ${REFUND} FROM refunds
    WHERE merc_no = $1 AND ended_at >= $2 AND ended_at < $3 ORDER BY ended_at, refund_id`),
  payoutSettings: statement('payout_settings', `SELECT payouts_enabled AS enabled, payout_daily_limit_fen AS daily,
    payout_per_limit_fen AS per FROM merchants WHERE merc_no = $1`),
  sandboxPayout: statement('sandbox_payout', `SELECT ${SANDBOX_PAYOUT} FROM sandbox_payouts WHERE order_id = $1`),
};

// Only the amounts (amount_fen, fee_fen) stay BigInt, as the SQLite adapter gives them.
const ORDER_NUMBERS = ['order_period', 'created_at', 'expire_at', 'late_payment', 'updated_at', 'checks', 'next_check_at', 'ended_at'];
const REFUND_NUMBERS = ['created_at', 'updated_at', 'checks', 'next_check_at', 'ended_at'];
const orderRow = (r: Record<string, unknown>) => moneyRow<OrderRow>(r, ORDER_NUMBERS);
const refundRow = (r: Record<string, unknown>) => moneyRow<RefundRow>(r, REFUND_NUMBERS);
/** SQLite stores a switch as the integer 1; a boolean column says true. */
const on = (v: unknown) => v === true || v === 1n || v === 1;

type Status = { status: NotifyStatus; attempts: number };

export function postgresReads(pool: Queryable, merchantKeys: MerchantKeys = lockedMerchantKeys): AsyncReads<Reads> {
  return {
    ...postgresReconcileReads(pool),
    merchant: async (mercNo: string): Promise<MerchantRow | undefined> => {
      const r = await first(pool, S.merchant, [mercNo]);
      return r && new Merchant(plainRow<MerchantRecord>(r), merchantKeys);
    },
    merchants: async (): Promise<MerchantRow[]> =>
      (await rows(pool, S.merchants, [])).map((r) => new Merchant(plainRow<MerchantRecord>(r), merchantKeys)),
    merchantCount: async () => Number((await first<{ n: bigint }>(pool, S.merchantCount, []))!.n),
    order: async (orderId: string) => {
      const r = await first(pool, S.order, [orderId]);
      return r && orderRow(r);
    },
    orderByMercNo: async (mercNo: string, mercOrderNo: string) => {
      const r = await first(pool, S.orderByMercNo, [mercNo, mercOrderNo]);
      return r && orderRow(r);
    },
    maxOrderId: async () => (await first<{ id: string | null }>(pool, S.maxOrderId, []))!.id ?? undefined,
    schemaVersion: async () => Number((await first<{ v: string | null }>(pool, S.schemaVersion, []))!.v ?? 0),
    setting: async (name: string) => (await first<{ value: string }>(pool, S.setting, [name]))?.value,
    dueNotifications: async (until: number, limit: number) =>
      (await rows(pool, S.dueNotifications, [until, limitOf(limit)])).map((r) => plainRow<{ id: number; url: string; readyAt: number }>(r)),
    latestNotification: async (orderId: string) => {
      const r = await first(pool, S.latestNotification, [orderId]);
      return r && plainRow<Status>(r);
    },
    notifications: async (opts: { status?: NotifyStatus; limit: number }) =>
      (opts.status
        ? await rows(pool, S.notificationsByStatus, [opts.status, limitOf(opts.limit)])
        : await rows(pool, S.notificationsAll, [limitOf(opts.limit)])
      ).map((r) => plainRow<NotificationRow>(r)),
    notificationsOfOrder: async (orderId: string) =>
      (await rows(pool, S.notificationsOfOrder, [orderId])).map((r) => plainRow<NotificationRow>(r)),
    refund: async (refundId: string) => {
      const r = await first(pool, S.refund, [refundId]);
      return r && refundRow(r);
    },
    sandboxRefund: async (refundId: string) => {
      const r = await first(pool, S.sandboxRefund, [refundId]);
      return r && plainRow<{ order_id: string; outcome: 'succeeded' | 'failed'; created_at: number; ends_at: number }>(r);
    },
    refundByMercNo: async (mercNo: string, mercRefundNo: string) => {
      const r = await first(pool, S.refundByMercNo, [mercNo, mercRefundNo]);
      return r && refundRow(r);
    },
    refundedFen: async (orderId: string) => (await first<{ fen: bigint }>(pool, S.refundedFen, [orderId]))?.fen ?? 0n,
    latestRefundNotification: async (refundId: string) => {
      const r = await first(pool, S.latestRefundNotification, [refundId]);
      return r && plainRow<Status>(r);
    },
    sandboxTrade: async (orderId: string) =>
      (await first(pool, S.sandboxTrade, [orderId])) as
        | { order_id: string; trade_no: string; amount_fen: bigint; status: 'paid' | 'failed' | 'closed'; paid_at: string | null; bank_type: string | null }
        | undefined,
    payoutSettings: async (mercNo: string): Promise<PayoutSettings | undefined> => {
      const r = await first<{ enabled: unknown; daily: bigint | null; per: bigint | null }>(pool, S.payoutSettings, [mercNo]);
      return r && { enabled: on(r.enabled), dailyLimitFen: r.daily ?? undefined, perPayoutLimitFen: r.per ?? undefined };
    },
    sandboxPayout: async (orderId: string) => {
      const r = await first(pool, S.sandboxPayout, [orderId]);
      return r && moneyRow<SandboxPayoutRow>(r, ['confirm', 'cancelled', 'created_at', 'updated_at', 'ends_at']);
    },
    attempts: async (notificationId: number) =>
      (await rows(pool, S.attempts, [notificationId])).map((r) => plainRow<AttemptRow>(r)),
    endedOrders: async (mercNo: string, fromMs: number, toMs: number) =>
      (await rows(pool, S.endedOrders, [mercNo, fromMs, toMs])).map(orderRow),
    endedRefunds: async (mercNo: string, fromMs: number, toMs: number) =>
      (await rows(pool, S.endedRefunds, [mercNo, fromMs, toMs])).map(refundRow),
  };
}
