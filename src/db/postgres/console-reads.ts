import type { AsyncReads } from '../port.js';
import type { AttemptRow, NotificationRow } from '../rows.js';
import type { AlertRow, RunRow } from '../reconcile-reads.js';
import {
  ORDER_FILTER_KEYS,
  type AuditRow,
  type ConsoleOrderRow,
  type ConsoleReads,
  type OperatorRecord,
  type OrderFilter,
  type OrderFilterKey,
  type PaywayDay,
} from '../../console/console-reads.js';
import { PAYWAYS } from '../../channels/types.js';
import { moneyRow, plainRow } from './pool.js';
import { first, limitOf, rows, statement, type Queryable, type Statement } from './statements.js';
import { ALERT, ATTEMPT, AUDIT, NOTIFICATION, OPERATOR, RUN } from './columns.js';
import { runRow } from './reconcile-reads.js';

// What the console reads (src/console/console-reads.ts) on PostgreSQL. Every list is newest first
// and paged by keyset, so a page costs the same at any depth of history. SQLite is told which
// index each list walks (INDEXED BY), PostgreSQL has no form of that: the planner chooses, with
// the values of a filtered list in hand (statements.ts), and test/integration/pg-read-plans checks
// that a page walks an index and reads few rows, for rare values as for common ones.

const ORDER_COLUMNS = 'order_id, merc_no, merc_order_no, payway, scene, trade_type, amount_fen, pay_status, channel_trade_no, created_at, late_payment';

const S = {
  operatorByEmail: statement('operator_by_email', `SELECT ${OPERATOR} FROM console_operators WHERE email = $1`),
  operatorById: statement('operator_by_id', `SELECT ${OPERATOR} FROM console_operators WHERE id = $1`),
  operators: statement('operators', `SELECT ${OPERATOR} FROM console_operators ORDER BY email`),
  operatorCount: statement('operator_count', 'SELECT count(*) AS n FROM console_operators'),
  session: statement('session', 'SELECT data, expires_at FROM console_sessions WHERE sid = $1'),
  limit: statement('login_limit', 'SELECT failures, locked_until FROM console_login_limits WHERE key = $1'),
  audit: statement('audit_page', `SELECT ${AUDIT} FROM console_audit WHERE id < $1 ORDER BY id DESC LIMIT $2`),
  auditOf: statement('audit_of', `SELECT ${AUDIT} FROM console_audit WHERE target = $1 ORDER BY id DESC LIMIT 200`, { each: true }),
  openAlerts: statement('console_open_alerts', `SELECT ${ALERT} FROM alerts WHERE handled_at IS NULL AND id < $1 ORDER BY id DESC LIMIT $2`),
  allAlerts: statement('console_all_alerts', `SELECT ${ALERT} FROM alerts WHERE id < $1 ORDER BY id DESC LIMIT $2`),
  openAlertCount: statement('open_alert_count', 'SELECT count(*) AS n FROM alerts WHERE handled_at IS NULL'),
  alertsOfOrder: statement('alerts_of_order', `SELECT ${ALERT} FROM alerts WHERE order_id = $1 ORDER BY id`),
  alert: statement('console_alert', `SELECT ${ALERT} FROM alerts WHERE id = $1`),
  notifications: statement('console_notifications',
    `SELECT ${NOTIFICATION} FROM notifications WHERE status = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, { each: true }),
  notification: statement('notification', `SELECT ${NOTIFICATION} FROM notifications WHERE id = $1`),
  pendingCount: statement('pending_count', `SELECT count(*) AS n FROM notifications WHERE status = 'pending' AND due_at IS NOT NULL`),
  attempts: statement('console_attempts', `SELECT ${ATTEMPT} FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt, id`),
  // The row comparison is SQLite's "created_at < a OR (created_at = a AND refund_id < b)" (both
  // columns are NOT NULL), in the form PostgreSQL reads as one range of refunds_created.
  refunds: statement('console_refunds', `SELECT refund_id, order_id, merc_no, merc_refund_no, amount_fen, reason, refund_status,
    channel_code, channel_msg, refund_end_time, created_at FROM refunds
    WHERE (created_at, refund_id) < ($1, $2) ORDER BY created_at DESC, refund_id DESC LIMIT $3`, { ranges: true }),
  // The three lookups of the search box in one round trip; merged and sorted as on SQLite.
  search: statement('console_search', `(SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1)
    UNION ALL (SELECT ${ORDER_COLUMNS} FROM orders WHERE merc_order_no = $1 ORDER BY order_id DESC LIMIT 50)
    UNION ALL (SELECT ${ORDER_COLUMNS} FROM orders WHERE channel_trade_no = $1 ORDER BY order_id DESC LIMIT 50)`),
  // The dashboard: per payway (in PAYWAYS order), the period's orders and its paid ones, each one
  // range of an index (an order id begins with its Beijing creation time), in one round trip.
  paywayDays: statement('payway_days', `SELECT p.payway, c.orders, s.paid, s.paid_fen
    FROM unnest($1::text[]) WITH ORDINALITY AS p (payway, rank)
    CROSS JOIN LATERAL (SELECT count(*) AS orders FROM orders o
      WHERE o.payway = p.payway AND o.order_id >= $2 AND o.order_id < $3) c
    CROSS JOIN LATERAL (SELECT count(*) AS paid, coalesce(sum(o.amount_fen), 0)::int8 AS paid_fen FROM orders o
      WHERE o.payway = p.payway AND o.pay_status = 'p0000' AND o.order_id >= $2 AND o.order_id < $3) s
    WHERE c.orders > 0 ORDER BY p.rank`, { ranges: true }),
  reconciliationDays: statement('reconciliation_days', `SELECT bill_date, count(*) AS runs, count(*) FILTER (WHERE status <> 'ok') AS not_ok,
      sum(healed + missing_at_channel + amount_mismatch + unknown_trade)::int8 AS items, max(finished_at) AS finished_at
    FROM reconciliation_runs WHERE bill_date < $1 GROUP BY bill_date ORDER BY bill_date DESC LIMIT $2`, { ranges: true }),
  reconciliationRun: statement('reconciliation_run', `SELECT ${RUN} FROM reconciliation_runs WHERE id = $1`),
};

/**
 * The order list's statement for the filters present (7 filters: 128 statements): the filters as
 * parameters in ORDER_FILTER_KEYS order, then the limit.
 */
function orderListStatement(present: ReadonlySet<OrderFilterKey>): Statement {
  const where: string[] = [];
  let bits = 0;
  const param = (k: OrderFilterKey) => `$${ORDER_FILTER_KEYS.filter((key) => present.has(key)).indexOf(k) + 1}`;
  const cond: Record<OrderFilterKey, string> = {
    mercNo: 'merc_no = ',
    status: 'pay_status = ',
    payway: 'payway = ',
    tradeType: 'trade_type = ',
    fromId: 'order_id >= ',
    toId: 'order_id < ',
    before: 'order_id < ',
  };
  ORDER_FILTER_KEYS.forEach((k, i) => {
    if (!present.has(k)) return;
    where.push(cond[k] + param(k));
    bits |= 1 << i;
  });
  return statement(
    `console_orders_${bits.toString(2).padStart(ORDER_FILTER_KEYS.length, '0')}`,
    `SELECT ${ORDER_COLUMNS} FROM orders ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY order_id DESC LIMIT $${where.length + 1}`,
    // planned with its values (statements.ts), as a filter's values are far from equally common
    { ranges: true, each: bits !== 0 },
  );
}

const orderRow = (r: Record<string, unknown>) => moneyRow<ConsoleOrderRow>(r, ['created_at', 'late_payment']);

export function postgresConsoleReads(pool: Queryable): AsyncReads<ConsoleReads> {
  const listStatements = new Map<string, Statement>();
  const one = async <T>(st: Statement, values: unknown[]) => {
    const r = await first(pool, st, values);
    return r && plainRow<T>(r);
  };
  const all = async <T>(st: Statement, values: unknown[]) => (await rows(pool, st, values)).map((r) => plainRow<T>(r));
  const count = async (st: Statement) => Number((await first<{ n: bigint }>(pool, st, []))!.n);

  return {
    operatorByEmail: (email: string) => one<OperatorRecord>(S.operatorByEmail, [email]),
    operatorById: (id: number) => one<OperatorRecord>(S.operatorById, [id]),
    operators: () => all<OperatorRecord>(S.operators, []),
    operatorCount: () => count(S.operatorCount),
    session: (sid: string) => one<{ data: string; expires_at: number }>(S.session, [sid]),
    loginLimit: (key: string) => one<{ failures: number; locked_until: number | null }>(S.limit, [key]),
    audit: (before: number, limit: number) => all<AuditRow>(S.audit, [before, limitOf(limit)]),
    auditOf: (target: string) => all<AuditRow>(S.auditOf, [target]),
    alerts: (open: boolean, before: number, limit: number) => all<AlertRow>(open ? S.openAlerts : S.allAlerts, [before, limitOf(limit)]),
    openAlertCount: () => count(S.openAlertCount),
    alertsOfOrder: (orderId: string) => all<AlertRow>(S.alertsOfOrder, [orderId]),
    alert: (id: number) => one<AlertRow>(S.alert, [id]),
    notifications: (status: string, before: number, limit: number) => all<NotificationRow>(S.notifications, [status, before, limitOf(limit)]),
    notification: (id: number) => one<NotificationRow>(S.notification, [id]),
    pendingNotifications: () => count(S.pendingCount),
    attempts: (notificationId: number) => all<AttemptRow>(S.attempts, [notificationId]),
    refunds: async (beforeAt: number, beforeId: string, limit: number) =>
      (await rows(pool, S.refunds, [beforeAt, beforeId, limitOf(limit)])).map((r) => moneyRow<Record<string, unknown>>(r, ['created_at'])),
    search: async (q: string) => {
      const seen = new Map<string, ConsoleOrderRow>();
      for (const r of await rows(pool, S.search, [q])) {
        const o = orderRow(r);
        seen.set(o.order_id, o);
      }
      return [...seen.values()].sort((a, b) => (a.order_id < b.order_id ? 1 : -1));
    },
    orders: async (f: OrderFilter) => {
      const present = new Set(ORDER_FILTER_KEYS.filter((k) => f[k] !== undefined));
      const key = [...present].sort().join(',');
      let st = listStatements.get(key);
      if (!st) listStatements.set(key, (st = orderListStatement(present)));
      const values: unknown[] = ORDER_FILTER_KEYS.filter((k) => present.has(k)).map((k) => f[k]);
      values.push(limitOf(f.limit));
      return (await rows(pool, st, values)).map(orderRow);
    },
    paywayDays: async (fromId: string, toId: string) =>
      (await rows(pool, S.paywayDays, [[...PAYWAYS], fromId, toId])).map((r) => moneyRow<PaywayDay>(r, ['orders', 'paid'])),
    reconciliationDays: (before: string, limit: number) =>
      all<{ bill_date: string; runs: number; not_ok: number; items: number; finished_at: number }>(S.reconciliationDays, [before, limitOf(limit)]),
    reconciliationRun: async (id: number): Promise<RunRow | undefined> => {
      const r = await first(pool, S.reconciliationRun, [id]);
      return r && runRow(r);
    },
  };
}
