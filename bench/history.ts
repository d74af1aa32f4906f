import Database from 'better-sqlite3';
import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';
import type { OrderRow } from '../src/db/rows.js';
import { OrderIdGenerator } from '../src/domain/ids.js';
import { notificationFields } from '../src/notify/notification-body.js';
import type { Merchant } from './harness.js';
import { endedOrder, orderInsertSql, type EndedOrder } from './orders.js';

// A long history for the bench to run on: `count` orders that ended between 400 and 2 days ago,
// as the gateway leaves them — mostly paid, some expired, failed or closed; each with the event
// that ended it and, where the end was announced, a delivered notification and its attempt.
// Written with SQL in large transactions (without fsync: a crash here only loses the bench's own
// file), never through the API, with the tables' secondary indexes and triggers dropped meanwhile
// and made again at the end (a sort instead of a million B-tree inserts), so that a million orders
// take a minute, not hours. The file is synced before the gateway opens it, so that none of the
// build's writing is still going to disk while the gateway is measured.

const DAY = 86_400_000;
const TABLES = ['orders', 'order_events', 'notifications', 'notification_attempts'];
const BATCH = 20_000;

// Out of every 50 orders: 40 paid, 5 expired, 3 failed, 2 closed.
const STATUS_OF = (i: number): EndedOrder['status'] => {
  const k = i % 50;
  return k < 40 ? 'p0000' : k < 45 ? 'p0006' : k < 48 ? 'p0004' : 'p0005';
};

export interface History {
  orders: number;
  notifications: number;
  ms: number;
  /** size of the database file afterwards */
  mb: number;
}

export function buildHistory(dbPath: string, merchant: Merchant, count: number, progress: (line: string) => void): History {
  const started = performance.now();
  const db = new Database(dbPath);
  let notifications = 0;
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
    const insertOrder = db.prepare(orderInsertSql((db.pragma('table_info(orders)') as { name: string }[]).map((c) => c.name)));
    const insertEvent = db.prepare(`INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) VALUES (?, 'p0001', ?, 'channel callback', NULL, ?)`);
    const insertNotification = db.prepare(`INSERT INTO notifications
        (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
      VALUES (@webhookId, @orderId, @mercNo, @url, @fieldsJson, 'MD5', @reason, 'delivered', 1, NULL, @at, @done)`);
    const insertAttempt = db.prepare(`INSERT INTO notification_attempts
        (notification_id, attempt, due_at, at, http_status, latency_ms, outcome, error, answer)
      VALUES (?, 1, ?, ?, 200, 12, 'delivered', NULL, 'success')`);

    const end = Date.now() - 2 * DAY;
    const begin = end - 398 * DAY;
    const step = (end - begin) / Math.max(1, count);
    let clock = begin;
    const ids = new OrderIdGenerator(() => clock);
    const notifyUrl = 'https://shop.example.com/dtpay/notify';
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        clock = Math.floor(begin + i * step);
        const status = STATUS_OF(i);
        // Paid within a minute; expiry after the 30 minutes of orderPeriod; failures and closes soon.
        const endedAt = clock + (status === 'p0006' ? 30 * 60_000 : status === 'p0000' ? 40_000 : 90_000);
        const order = endedOrder(merchant, { orderId: ids.next(), mercOrderNo: `H${String(i).padStart(11, '0')}`, notifyUrl, createdAt: clock, endedAt, status });
        insertOrder.run(order);
        insertEvent.run(order.order_id, status, endedAt);
        if (status === 'p0005') continue; // a close the merchant asked for is not announced
        const { fields } = notificationFields(order as OrderRow, endedAt);
        const id = insertNotification.run({
          // Unique like the gateway's random ones, but increasing: appended to the unique index.
          webhookId: `msg_history${String(i).padStart(17, '0')}`,
          orderId: order.order_id,
          mercNo: merchant.mercNo,
          url: notifyUrl,
          fieldsJson: JSON.stringify(fields),
          reason: `state change to ${status}`,
          at: endedAt,
          done: endedAt + 15,
        }).lastInsertRowid;
        insertAttempt.run(id, endedAt, endedAt + 3);
        notifications++;
      }
    });
    let reported = 0;
    for (let i = 0; i < count; i += BATCH) {
      batch(i, Math.min(count, i + BATCH));
      const done = Math.min(count, i + BATCH);
      if (done - reported >= count / 10 || done === count) {
        reported = done;
        progress(`  history: ${done} of ${count} orders written (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }
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
  } finally {
    db.close();
  }
  const fd = openSync(dbPath, 'r+');
  fsyncSync(fd);
  closeSync(fd);
  return { orders: count, notifications, ms: performance.now() - started, mb: statSync(dbPath).size / 2 ** 20 };
}
