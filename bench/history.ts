import Database from 'better-sqlite3';
import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';
import type { OrderRow } from '../src/db/rows.js';
import { formatBeijing } from '../src/domain/time.js';
import { notificationFields } from '../src/notify/notification-body.js';
import type { Merchant } from './harness.js';
import { endedOrder, type EndedOrder } from './orders.js';

// A long history for the bench to run on: `count` orders that ended between 400 and 2 days ago,
// as the gateway leaves them (ended_at set, as the merchant bill and reconciliation read it) —
// mostly paid, some expired, failed or closed; each with the event
// that ended it and, where the end was announced, a delivered notification and its attempt.
// Made by SQL inside SQLite (INSERT … SELECT over a counter, the rows' text from templates of
// rows bench/orders.ts makes as the gateway does), never through the API, without a journal and
// with the secondary indexes and triggers dropped meanwhile and made again at the end (a sort
// instead of millions of B-tree inserts): a million orders take seconds. The file is synced
// before the gateway opens it, so that none of the build's writing is still going to disk while
// the gateway is measured.

export const DAY = 86_400_000;
export const CHUNK = 200_000;
export const TABLES = ['orders', 'order_events', 'notifications', 'notification_attempts'];
export const NOTIFY_URL = 'https://shop.example.com/dtpay/notify';

// Markers in the templates, replaced row by row. Times are those of an order created at 0 and
// ended at 0: formatBeijing of 30 minutes (its expiry) and of 0 (its end).
export const OID = '@@ORDERID@@';
export const MON = '@@MERCORDERNO@@';
export const EXPIRES = formatBeijing(30 * 60_000);
export const ENDED = formatBeijing(0);

// Out of every 50 orders: 40 paid, 5 expired, 3 failed, 2 closed.
export const STATUS_SQL = `CASE WHEN i % 50 < 40 THEN 'p0000' WHEN i % 50 < 45 THEN 'p0006' WHEN i % 50 < 48 THEN 'p0004' ELSE 'p0005' END`;
// Paid within a minute; expired after orderPeriod's 30 minutes; failed or closed soon.
export const ENDED_SQL = `created + CASE status WHEN 'p0006' THEN 1800000 WHEN 'p0000' THEN 40000 ELSE 90000 END`;
const beijing = (ms: string) => `strftime('%Y%m%d%H%M%S', ${ms} / 1000, 'unixepoch', '+8 hours')`;

export interface History {
  orders: number;
  notifications: number;
  ms: number;
  /** size of the database file afterwards */
  mb: number;
}

export function templates(m: Merchant) {
  const sample = (status: EndedOrder['status']) => endedOrder(m, { orderId: OID, mercOrderNo: MON, notifyUrl: NOTIFY_URL, createdAt: 0, endedAt: 0, status });
  const paid = sample('p0000');
  const notice = (status: EndedOrder['status']) => JSON.stringify(notificationFields(sample(status) as OrderRow, 0).fields);
  return {
    request: paid.request_json,
    response: paid.response_json,
    tradeTime: paid.trade_time,
    noticePaid: notice('p0000'),
    noticeFailed: notice('p0004'),
    noticeExpired: notice('p0006'),
  };
}

export function buildHistory(dbPath: string, merchant: Merchant, count: number, progress: (line: string) => void): History {
  const started = performance.now();
  const t = templates(merchant);
  const db = new Database(dbPath);
  try {
    // No journal while building (a crash here only spoils the bench's own file): each page is
    // written once, to the file, instead of to the WAL and again by the checkpoint.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    db.pragma('temp_store = MEMORY');
    // Indexes first, then triggers, when they are made again.
    const deferred = db
      .prepare(`SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN (${TABLES.map(() => '?').join(', ')}) ORDER BY type = 'trigger', name`)
      .all(...TABLES) as { type: string; name: string; sql: string }[];
    for (const d of deferred) db.exec(`DROP ${d.type.toUpperCase()} ${d.name}`);

    const end = Date.now() - 2 * DAY;
    const begin = end - 398 * DAY;
    // At least a millisecond apart, so that order numbers (creation time + a counter of 0) differ.
    const step = Math.max(1, Math.floor((end - begin) / Math.max(1, count)));
    const insertOrders = db.prepare(`WITH RECURSIVE s(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM s WHERE i + 1 < @to),
      r AS (SELECT i, @begin + i * @step AS created, ${STATUS_SQL} AS status FROM s),
      o AS (SELECT *, ${ENDED_SQL} AS ended, ${beijing('created')} || printf('%03d00000', created % 1000) AS oid, printf('H%011d', i) AS mon FROM r)
      INSERT INTO orders (order_id, merc_no, merc_order_no, request_hash, payway, scene, trade_type, amount_fen, fee_type, trade_time,
        order_period, term_type, notify_url, return_url, request_json, pay_status, channel_state, channel_trade_no, channel_code,
        channel_msg, response_json, created_at, expire_at, trade_end_time, bank_type, late_payment, updated_at, ended_at)
      SELECT oid, @mercNo, mon, printf('%064x', i), 'alipay', 'scan', '01', 1234, 'CNY', @tradeTime,
        30, 'pc', @notifyUrl, NULL, replace(@request, '${MON}', mon), status, 'accepted', 'SBX' || oid, NULL,
        NULL, replace(replace(replace(@response, '${OID}', oid), '${MON}', mon), '${EXPIRES}', ${beijing('(created + 1800000)')}),
        created, created + 1800000, CASE WHEN status = 'p0005' THEN NULL ELSE ${beijing('ended')} END,
        CASE WHEN status = 'p0000' THEN 'ALIPAYACCOUNT' END, 0, ended, ended
      FROM o`);
    // Each order's event, notification and attempt go in with the chunk of orders they belong
    // to, while its pages are still in the cache.
    const insertEvents = db.prepare(`INSERT INTO order_events (order_id, from_status, to_status, source, detail, at)
      SELECT order_id, 'p0001', pay_status, 'channel callback', NULL, updated_at FROM orders WHERE order_id > @last ORDER BY order_id`);
    // A close the merchant asked for is not announced; every other end is, and was delivered.
    const insertNotifications = db.prepare(`INSERT INTO notifications (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
      SELECT 'msg_h' || order_id, order_id, merc_no, notify_url,
        replace(replace(replace(CASE pay_status WHEN 'p0000' THEN @paid WHEN 'p0004' THEN @failed ELSE @expired END, '${OID}', order_id), '${MON}', merc_order_no), '${ENDED}', trade_end_time),
        'MD5', 'state change to ' || pay_status, 'delivered', 1, NULL, updated_at, updated_at + 15
      FROM orders WHERE order_id > @last AND pay_status <> 'p0005' ORDER BY order_id`);
    const insertAttempts = db.prepare(`INSERT INTO notification_attempts (notification_id, attempt, due_at, at, http_status, latency_ms, outcome, error, answer)
      SELECT id, 1, created_at, created_at + 3, 200, 12, 'delivered', NULL, 'success' FROM notifications WHERE id > @after ORDER BY id`);
    const lastOrder = db.prepare('SELECT max(order_id) FROM orders').pluck();
    const lastNotification = db.prepare('SELECT coalesce(max(id), 0) FROM notifications').pluck();
    const params = { begin, step, mercNo: merchant.mercNo, tradeTime: t.tradeTime, notifyUrl: NOTIFY_URL, request: t.request, response: t.response };
    const notices = { paid: t.noticePaid, failed: t.noticeFailed, expired: t.noticeExpired };
    for (let from = 0; from < count; from += CHUNK) {
      const to = Math.min(count, from + CHUNK);
      db.transaction(() => {
        // Order numbers grow with creation time: the chunk's orders are those above the last one before it.
        const last = (lastOrder.get() as string | null) ?? '';
        const after = lastNotification.get() as number;
        insertOrders.run({ ...params, from, to });
        insertEvents.run({ last });
        insertNotifications.run({ ...notices, last });
        insertAttempts.run({ after });
      })();
      progress(`  history: ${to} of ${count} orders written with their events, notifications and attempts (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    progress(`  history: making ${deferred.filter((d) => d.type === 'index').length} indexes and ${deferred.filter((d) => d.type === 'trigger').length} triggers again`);
    db.transaction(() => {
      for (const d of deferred) db.exec(d.sql);
      // The count triggers were away while the rows went in: count once, as migration 0007 does.
      db.exec(`UPDATE status_counts SET n = (SELECT count(*) FROM orders WHERE pay_status = status_counts.status) WHERE entity = 'orders';
        UPDATE status_counts SET n = (SELECT count(*) FROM notifications WHERE status = status_counts.status) WHERE entity = 'notifications';`);
    })();
    // As the gateway keeps its file.
    db.pragma('journal_mode = WAL');
    const notifications = db.prepare('SELECT count(*) FROM notifications').pluck().get() as number;
    db.close();
    const fd = openSync(dbPath, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    return { orders: count, notifications, ms: performance.now() - started, mb: statSync(dbPath).size / 2 ** 20 };
  } finally {
    if (db.open) db.close();
  }
}
