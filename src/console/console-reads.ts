import type { Db } from '../db/open.js';
import type { AttemptRow, NotificationRow } from '../db/rows.js';
import type { PayStatus } from '../domain/order-states.js';
import type { OperatorRole } from './console-ops.js';
import { PAYWAYS } from '../channels/types.js';

// What the console reads, prepared once on the reading connection. Every list is newest first and
// paged by keyset (the last id of a page), so a page costs the same at any depth of history.

export interface OperatorRecord {
  id: number;
  email: string;
  role: OperatorRole;
  password_hash: string;
  totp_sealed: Buffer | null;
  totp_last_step: number | null;
  status: 'active' | 'disabled';
  session_epoch: number;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

export interface AuditRow {
  id: number;
  at: number;
  operator: string;
  action: string;
  target: string | null;
  amount_fen: number | null;
  address: string;
  outcome: string;
  detail: string | null;
}

export type { AlertRow } from '../db/reconcile-reads.js';
import type { AlertRow, RunRow } from '../db/reconcile-reads.js';

export interface ConsoleOrderRow {
  order_id: string;
  merc_no: string;
  merc_order_no: string;
  payway: string;
  scene: string;
  trade_type: string;
  amount_fen: bigint;
  pay_status: PayStatus;
  channel_trade_no: string | null;
  created_at: number;
  late_payment: number;
}

export interface OrderFilter {
  mercNo?: string;
  status?: PayStatus;
  payway?: string;
  tradeType?: string;
  /** order ids from here (a Beijing date as yyyyMMdd, inclusive) … */
  fromId?: string;
  /** … up to here (exclusive) */
  toId?: string;
  /** keyset: ids below this one */
  before?: string;
  limit: number;
}

export interface PaywayDay {
  payway: string;
  orders: number;
  paid: number;
  paid_fen: bigint;
}

const ORDER_COLUMNS = 'order_id, merc_no, merc_order_no, payway, scene, trade_type, amount_fen, pay_status, channel_trade_no, created_at, late_payment';

/**
 * The index a filtered list walks: the most selective filter present decides. Every other filter
 * is checked on the rows the walk meets; the walk is in order_id order and stops at the page size.
 */
function indexFor(f: { mercNo: boolean; status: boolean; payway: boolean }): string {
  if (f.mercNo && f.status) return 'orders_merchant_status';
  if (f.mercNo && f.payway) return 'orders_merchant_payway';
  if (f.mercNo) return 'orders_merchant';
  if (f.payway && f.status) return 'orders_payway_status';
  if (f.payway) return 'orders_payway';
  if (f.status) return 'orders_status';
  return 'sqlite_autoindex_orders_1';
}

export type OrderFilterKey = 'mercNo' | 'status' | 'payway' | 'tradeType' | 'fromId' | 'toId' | 'before';
export const ORDER_FILTER_KEYS: readonly OrderFilterKey[] = ['mercNo', 'status', 'payway', 'tradeType', 'fromId', 'toId', 'before'];

export function orderListSql(present: ReadonlySet<OrderFilterKey>): string {
  const where: string[] = [];
  if (present.has('mercNo')) where.push('merc_no = @mercNo');
  if (present.has('status')) where.push('pay_status = @status');
  if (present.has('payway')) where.push('payway = @payway');
  if (present.has('tradeType')) where.push('trade_type = @tradeType');
  if (present.has('fromId')) where.push('order_id >= @fromId');
  if (present.has('toId')) where.push('order_id < @toId');
  if (present.has('before')) where.push('order_id < @before');
  const index = indexFor({ mercNo: present.has('mercNo'), status: present.has('status'), payway: present.has('payway') });
  return `SELECT ${ORDER_COLUMNS} FROM orders INDEXED BY ${index} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY order_id DESC LIMIT @limit`;
}

export function prepareConsoleReads(db: Db) {
  const operatorByEmail = db.prepare('SELECT * FROM console_operators WHERE email = ?');
  const operatorById = db.prepare('SELECT * FROM console_operators WHERE id = ?');
  const operators = db.prepare('SELECT * FROM console_operators ORDER BY email');
  const operatorCount = db.prepare('SELECT count(*) FROM console_operators').pluck();
  const session = db.prepare('SELECT data, expires_at FROM console_sessions WHERE sid = ?');
  const limit = db.prepare('SELECT failures, locked_until FROM console_login_limits WHERE key = ?');
  const auditPage = db.prepare('SELECT * FROM console_audit WHERE id < @before ORDER BY id DESC LIMIT @limit');
  const auditOf = db.prepare('SELECT * FROM console_audit WHERE target = ? ORDER BY id DESC LIMIT 200');
  const openAlerts = db.prepare('SELECT * FROM alerts INDEXED BY alerts_open WHERE handled_at IS NULL AND id < @before ORDER BY id DESC LIMIT @limit');
  const allAlerts = db.prepare('SELECT * FROM alerts WHERE id < @before ORDER BY id DESC LIMIT @limit');
  const openAlertCount = db.prepare('SELECT count(*) FROM alerts INDEXED BY alerts_open WHERE handled_at IS NULL').pluck();
  const alertsOfOrder = db.prepare('SELECT * FROM alerts WHERE order_id = ? ORDER BY id');
  const alert = db.prepare('SELECT * FROM alerts WHERE id = ?');
  const notificationsByStatus = db.prepare('SELECT * FROM notifications WHERE status = @status AND id < @before ORDER BY id DESC LIMIT @limit');
  const pendingCount = db.prepare("SELECT count(*) FROM notifications INDEXED BY notifications_pending_due WHERE status = 'pending' AND due_at IS NOT NULL").pluck();
  const refundsPage = db
    .prepare(`SELECT refund_id, order_id, merc_no, merc_refund_no, amount_fen, reason, refund_status, channel_code, channel_msg, refund_end_time, created_at
      FROM refunds INDEXED BY refunds_created WHERE created_at < @beforeAt OR (created_at = @beforeAt AND refund_id < @beforeId)
      ORDER BY created_at DESC, refund_id DESC LIMIT @limit`)
    .safeIntegers(true);
  const byOrderId = db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = ?`).safeIntegers(true);
  const byMercOrderNo = db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders INDEXED BY orders_merc_order_no WHERE merc_order_no = ? ORDER BY order_id DESC LIMIT 50`).safeIntegers(true);
  const byChannelTradeNo = db
    .prepare(`SELECT ${ORDER_COLUMNS} FROM orders INDEXED BY orders_channel_trade_no WHERE channel_trade_no = ? ORDER BY order_id DESC LIMIT 50`)
    .safeIntegers(true);
  // The dashboard, per payway: the period's orders are one range of a covering index (an order id
  // begins with its Beijing creation time), its paid ones one range of another.
  const periodOrders = db
    .prepare('SELECT count(*) FROM orders INDEXED BY orders_payway WHERE payway = @payway AND order_id >= @fromId AND order_id < @toId')
    .pluck();
  const periodPaid = db
    .prepare(`SELECT count(*) AS paid, coalesce(sum(amount_fen), 0) AS paid_fen FROM orders INDEXED BY orders_payway_status
      WHERE payway = @payway AND pay_status = 'p0000' AND order_id >= @fromId AND order_id < @toId`)
    .safeIntegers(true);
  const notification = db.prepare('SELECT * FROM notifications WHERE id = ?');
  const attemptsOf = db.prepare('SELECT * FROM notification_attempts WHERE notification_id = ? ORDER BY attempt, id');
  // Days with runs, newest first: one walk of the (bill_date, merc_no, payway) unique index.
  const reconDays = db.prepare(`SELECT bill_date, count(*) AS runs, sum(status <> 'ok') AS not_ok,
      sum(healed + missing_at_channel + amount_mismatch + unknown_trade) AS items, max(finished_at) AS finished_at
    FROM reconciliation_runs WHERE bill_date < @before GROUP BY bill_date ORDER BY bill_date DESC LIMIT @limit`);
  const reconRun = db.prepare('SELECT * FROM reconciliation_runs WHERE id = ?').safeIntegers(true);
  const listStatements = new Map<string, ReturnType<Db['prepare']>>();

  const orderRow = (r: unknown) => {
    const o = r as Record<string, unknown>;
    o.created_at = Number(o.created_at);
    o.late_payment = Number(o.late_payment);
    return o as unknown as ConsoleOrderRow;
  };
  const num = (r: Record<string, unknown>, ...keys: string[]) => {
    for (const k of keys) if (typeof r[k] === 'bigint') r[k] = Number(r[k]);
    return r;
  };

  return {
    operatorByEmail: (email: string) => operatorByEmail.get(email) as OperatorRecord | undefined,
    operatorById: (id: number) => operatorById.get(id) as OperatorRecord | undefined,
    operators: () => operators.all() as OperatorRecord[],
    operatorCount: () => operatorCount.get() as number,
    session: (sid: string) => session.get(sid) as { data: string; expires_at: number } | undefined,
    loginLimit: (key: string) => limit.get(key) as { failures: number; locked_until: number | null } | undefined,
    audit: (before: number, limit: number) => auditPage.all({ before, limit }) as AuditRow[],
    auditOf: (target: string) => auditOf.all(target) as AuditRow[],
    alerts: (open: boolean, before: number, limit: number) => (open ? openAlerts : allAlerts).all({ before, limit }) as AlertRow[],
    openAlertCount: () => openAlertCount.get() as number,
    alertsOfOrder: (orderId: string) => alertsOfOrder.all(orderId) as AlertRow[],
    alert: (id: number) => alert.get(id) as AlertRow | undefined,
    notifications: (status: string, before: number, limit: number) => notificationsByStatus.all({ status, before, limit }) as NotificationRow[],
    notification: (id: number) => notification.get(id) as NotificationRow | undefined,
    pendingNotifications: () => pendingCount.get() as number,
    attempts: (notificationId: number) => attemptsOf.all(notificationId) as AttemptRow[],
    refunds: (beforeAt: number, beforeId: string, limit: number) =>
      (refundsPage.all({ beforeAt, beforeId, limit }) as Record<string, unknown>[]).map((r) => num(r, 'created_at')),
    /** Orders whose orderId, mercOrderNo or channel trade number is `q`. */
    search: (q: string): ConsoleOrderRow[] => {
      const seen = new Map<string, ConsoleOrderRow>();
      const one = byOrderId.get(q);
      if (one) seen.set(q, orderRow(one));
      for (const r of [...byMercOrderNo.all(q), ...byChannelTradeNo.all(q)]) {
        const o = orderRow(r);
        seen.set(o.order_id, o);
      }
      return [...seen.values()].sort((a, b) => (a.order_id < b.order_id ? 1 : -1));
    },
    orders: (f: OrderFilter): ConsoleOrderRow[] => {
      const present = new Set(ORDER_FILTER_KEYS.filter((k) => f[k] !== undefined));
      const key = [...present].sort().join(',');
      let st = listStatements.get(key);
      if (!st) listStatements.set(key, (st = db.prepare(orderListSql(present)).safeIntegers(true)));
      const params: Record<string, unknown> = { limit: f.limit };
      for (const k of present) params[k] = f[k];
      return st.all(params).map(orderRow);
    },
    /** Payways with orders created in [fromId, toId). */
    paywayDays: (fromId: string, toId: string): PaywayDay[] =>
      PAYWAYS.flatMap((payway) => {
        const orders = periodOrders.get({ payway, fromId, toId }) as number;
        if (orders === 0) return [];
        const p = periodPaid.get({ payway, fromId, toId }) as { paid: bigint; paid_fen: bigint };
        return [{ payway, orders, paid: Number(p.paid), paid_fen: p.paid_fen }];
      }),
    /** Days with stored reconciliation runs before `before` (YYYY-MM-DD), newest first. */
    reconciliationDays: (before: string, limit: number) =>
      reconDays.all({ before, limit }) as { bill_date: string; runs: number; not_ok: number; items: number; finished_at: number }[],
    /** One stored run (its integers as the reconciliation reads give them). */
    reconciliationRun: (id: number): RunRow | undefined => {
      const r = reconRun.get(id) as Record<string, unknown> | undefined;
      return r ? (num(r, 'id', 'matched', 'healed', 'missing_at_channel', 'amount_mismatch', 'unknown_trade', 'started_at', 'finished_at') as unknown as RunRow) : undefined;
    },
    statements: {
      reconciliationDays: reconDays.source,
      search: [byOrderId.source, byMercOrderNo.source, byChannelTradeNo.source],
      audit: auditPage.source,
      auditOf: auditOf.source,
      openAlerts: openAlerts.source,
      notifications: notificationsByStatus.source,
      refunds: refundsPage.source,
      dashboard: [periodOrders.source, periodPaid.source],
      operatorByEmail: operatorByEmail.source,
      session: session.source,
    },
  };
}

export type ConsoleReads = ReturnType<typeof prepareConsoleReads>;
