import pg from 'pg';
import type { Merchant } from './harness.js';
import { CHUNK, DAY, ENDED, ENDED_SQL, EXPIRES, MON, NOTIFY_URL, OID, STATUS_SQL, TABLES, templates, type History } from './history.js';

// The history of bench/history.ts on PostgreSQL: the same orders, events, notifications and
// attempts, made from the same templates by INSERT … SELECT over generate_series, a chunk per
// transaction, never through the API. Meanwhile the secondary indexes are dropped (made again
// at the end, one sort each) and the count triggers disabled (the counts are taken once at the
// end, as migration 0009 does on SQLite); the primary keys, unique constraints and foreign keys
// stay and are checked row by row. Then VACUUM ANALYZE, as autovacuum would have left a table
// that grew over months (statistics for the planner, the visibility map, hint bits set), and a
// CHECKPOINT, so that none of the build's writing is still going to disk while the gateway is
// measured. The build's own session commits with synchronous_commit off: it is the bench's data.

const beijing = (ms: string) => `to_char(to_timestamp((${ms}) / 1000) AT TIME ZONE 'UTC' + interval '8 hours', 'YYYYMMDDHH24MISS')`;

export async function buildPgHistory(url: string, merchant: Merchant, count: number, progress: (line: string) => void): Promise<History> {
  const started = performance.now();
  const t = templates(merchant);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; SET TimeZone = 'UTC'");
    const deferred = (
      await c.query<{ name: string; def: string }>(
        `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
          WHERE i.indrelid = ANY ($1::text[]::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
          ORDER BY 1`,
        [TABLES],
      )
    ).rows;
    for (const d of deferred) await c.query(`DROP INDEX ${d.name}`);
    await c.query('ALTER TABLE orders DISABLE TRIGGER USER; ALTER TABLE notifications DISABLE TRIGGER USER');

    const end = Date.now() - 2 * DAY;
    const begin = end - 398 * DAY;
    const step = Math.max(1, Math.floor((end - begin) / Math.max(1, count)));
    // $1 from, $2 to, $3 begin, $4 step, $5 mercNo, $6 tradeTime, $7 notifyUrl, $8 request, $9 response
    const insertOrders = `INSERT INTO orders (order_id, merc_no, merc_order_no, request_hash, payway, scene, trade_type, amount_fen, fee_type, trade_time,
        order_period, term_type, notify_url, return_url, request_json, pay_status, channel_state, channel_trade_no, channel_code,
        channel_msg, response_json, created_at, expire_at, trade_end_time, bank_type, late_payment, updated_at, ended_at)
      SELECT oid, $5, mon, lpad(to_hex(i), 64, '0'), 'alipay', 'scan', '01', 1234, 'CNY', $6,
        30, 'pc', $7, NULL, replace($8, '${MON}', mon), status, 'accepted', 'SBX' || oid, NULL,
        NULL, replace(replace(replace($9, '${OID}', oid), '${MON}', mon), '${EXPIRES}', ${beijing('created + 1800000')}),
        created, created + 1800000, CASE WHEN status = 'p0005' THEN NULL ELSE ${beijing('ended')} END,
        CASE WHEN status = 'p0000' THEN 'ALIPAYACCOUNT' END, 0, ended, ended
      FROM (SELECT *, ${beijing('created')} || lpad((created % 1000)::text, 3, '0') || '00000' AS oid, 'H' || lpad(i::text, 11, '0') AS mon
        FROM (SELECT *, ${ENDED_SQL} AS ended
          FROM (SELECT i, $3::bigint + i * $4::bigint AS created, ${STATUS_SQL} AS status FROM generate_series($1::bigint, $2::bigint - 1) AS i) r) e) o`;
    const insertEvents = `INSERT INTO order_events (order_id, from_status, to_status, source, detail, at)
      SELECT order_id, 'p0001', pay_status, 'channel callback', NULL, updated_at FROM orders WHERE order_id > $1 ORDER BY order_id`;
    const insertNotifications = `INSERT INTO notifications (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
      SELECT 'msg_h' || order_id, order_id, merc_no, notify_url,
        replace(replace(replace(CASE pay_status WHEN 'p0000' THEN $2 WHEN 'p0004' THEN $3 ELSE $4 END, '${OID}', order_id), '${MON}', merc_order_no), '${ENDED}', trade_end_time),
        'MD5', 'state change to ' || pay_status, 'delivered', 1, NULL, updated_at, updated_at + 15
      FROM orders WHERE order_id > $1 AND pay_status <> 'p0005' ORDER BY order_id`;
    const insertAttempts = `INSERT INTO notification_attempts (notification_id, attempt, due_at, at, http_status, latency_ms, outcome, error, answer)
      SELECT id, 1, created_at, created_at + 3, 200, 12, 'delivered', NULL, 'success' FROM notifications WHERE id > $1 ORDER BY id`;
    for (let from = 0; from < count; from += CHUNK) {
      const to = Math.min(count, from + CHUNK);
      await c.query('BEGIN');
      const last = ((await c.query("SELECT coalesce(max(order_id), '') AS v FROM orders")).rows[0].v as string);
      const after = (await c.query('SELECT coalesce(max(id), 0) AS v FROM notifications')).rows[0].v as string;
      await c.query(insertOrders, [from, to, begin, step, merchant.mercNo, t.tradeTime, NOTIFY_URL, t.request, t.response]);
      await c.query(insertEvents, [last]);
      await c.query(insertNotifications, [last, t.noticePaid, t.noticeFailed, t.noticeExpired]);
      await c.query(insertAttempts, [after]);
      await c.query('COMMIT');
      progress(`  history: ${to} of ${count} orders written with their events, notifications and attempts (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    progress(`  history: making ${deferred.length} indexes again, counting, VACUUM ANALYZE, CHECKPOINT`);
    for (const d of deferred) await c.query(d.def);
    await c.query('ALTER TABLE orders ENABLE TRIGGER USER; ALTER TABLE notifications ENABLE TRIGGER USER');
    // The whole count in status_counts, none left in its shards (migrations/postgres/0018).
    await c.query(`DELETE FROM status_count_shards;
      UPDATE status_counts s SET n = (SELECT count(*) FROM orders WHERE pay_status = s.status) WHERE entity = 'orders';
      UPDATE status_counts s SET n = (SELECT count(*) FROM notifications WHERE status = s.status) WHERE entity = 'notifications'`);
    for (const table of TABLES) await c.query(`VACUUM (ANALYZE) ${table}`);
    try {
      await c.query('CHECKPOINT');
    } catch (err) {
      // Only a superuser (or pg_checkpoint) may; on a server of the caller's the build may still be going to disk.
      progress(`  history: no CHECKPOINT (${(err as Error).message}); the build's writes may still be going to disk`);
    }
    const notifications = Number((await c.query('SELECT count(*) AS n FROM notifications')).rows[0].n);
    const mb = Number((await c.query('SELECT pg_database_size(current_database()) AS b')).rows[0].b) / 2 ** 20;
    return { orders: count, notifications, ms: performance.now() - started, mb };
  } finally {
    await c.end();
  }
}
