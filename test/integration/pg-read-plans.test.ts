import t from 'tap';
import { openPool, type Pool } from '../../src/db/postgres/pool.js';
import { migratePostgres } from '../../src/db/postgres/migrate.js';
import { postgresReads } from '../../src/db/postgres/reads.js';
import { postgresConsoleReads } from '../../src/db/postgres/console-reads.js';
import { postgresOrderReads } from '../../src/db/postgres/order-reads.js';
import { postgresMetricReads } from '../../src/db/postgres/metric-reads.js';
import type { Queryable } from '../../src/db/postgres/statements.js';
import { ORDER_FILTER_KEYS, type OrderFilter } from '../../src/console/console-reads.js';
import { pgCluster } from '../pg-cluster.js';
import { checkClaimOps } from '../../src/db/postgres/ops/check-claim-ops.js';
import type { PoolClient } from '../../src/db/postgres/pool.js';

// The reads the gateway makes on every request, on every dispatcher and watcher tick, and on every
// console page, each stay one range of an index on PostgreSQL however long the history grows: a
// history of a size where a scan would cost (and ANALYZE has told the planner so), each read called
// for real through a pool that records its statement, and each statement's plan asked for twice,
// as the custom plan of its first executions and as the generic plan a connection settles on.

const ORDERS = 120_000;
const NOTIFICATIONS = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1) - 8 * 3_600_000; // 2026-11-01 Beijing
const MAX = Number.MAX_SAFE_INTEGER;
/** a merchant with 20 orders, the oldest of the history, beside one with 80 % of it */
const SMALL = 'M3000';
/** rows a page of a list may read: far fewer than the history */
const PAGE_BOUND = ORDERS / 10;

async function history(pool: Pool) {
  // 41 merchants, one with 80 % of the orders and one with 20 of the oldest; orders over 30 days in
  // id order (as the gateway makes them), 90 % paid, a few percent open, the cancelled payouts
  // (p0006) all old; a notification for half of them, nearly all delivered, the superseded ones
  // old; an audit target named by a few old rows only. Loaded with
  // the triggers off (the counters do not matter to a plan; kept by a trigger, one counter row
  // updated 120 000 times in one statement costs minutes), then analyzed.
  const c = await pool.connect();
  try {
    await c.query('SET session_replication_role = replica');
    await load(c);
    await c.query('RESET session_replication_role');
    await c.query('ANALYZE');
  } finally {
    c.release();
  }
}

async function load(pool: Pick<Pool, 'query'>) {
  await pool.query(`INSERT INTO merchants (merc_no, name, mode, status, created_at, updated_at)
    SELECT 'M' || (2000 + m), 'shop ' || m, 'live', 'active', ${T0}, ${T0} FROM generate_series(0, 39) m
    UNION ALL SELECT '${SMALL}', 'small shop', 'live', 'active', ${T0}, ${T0}`);
  await pool.query(`INSERT INTO orders (order_id, merc_no, merc_order_no, request_hash, payway, scene, trade_type, amount_fen, fee_type,
      trade_time, order_period, term_type, notify_url, request_json, pay_status, channel_state, channel_trade_no, response_json,
      created_at, expire_at, updated_at, next_check_at, ended_at)
    SELECT to_char(timestamp '2026-11-01' + (i * 30 / ${ORDERS}) * interval '1 day', 'YYYYMMDD') || lpad(i::text, 14, '0'),
      CASE WHEN i < 40 AND i % 2 = 0 THEN '${SMALL}' WHEN i % 10 < 8 THEN 'M2000' ELSE 'M' || (2001 + i % 39) END,
      'MO' || i, 'h', (ARRAY['alipay', 'wxpay', 'unionpay'])[1 + i % 3], 'scan',
      CASE WHEN i % 50 = 7 THEN '02' ELSE '01' END, 100 + i, 'CNY', '20261101000000', 30, 'web', 'https://shop.example.com/n', '{}',
      s.status, 'accepted', CASE WHEN s.status = 'p0001' THEN NULL ELSE 'T' || i END, '{}',
      ${T0} + i * (30::int8 * ${DAY} / ${ORDERS}), ${T0} + i * (30::int8 * ${DAY} / ${ORDERS}) + 1800000,
      ${T0} + i * (30::int8 * ${DAY} / ${ORDERS}),
      CASE WHEN s.status IN ('p0001', 'p0002') THEN ${T0} + 30::int8 * ${DAY} + (i % 3600) * 1000 END,
      CASE WHEN s.status IN ('p0001', 'p0002') THEN NULL ELSE ${T0} + i * (30::int8 * ${DAY} / ${ORDERS}) + 60000 END
    FROM generate_series(0, ${ORDERS - 1}) i
    CROSS JOIN LATERAL (SELECT CASE WHEN i < 2000 AND i % 4 = 1 THEN 'p0006' WHEN i % 100 < 90 THEN 'p0000' WHEN i % 100 < 92 THEN 'p0001'
      WHEN i % 100 < 93 THEN 'p0002' WHEN i % 100 < 97 THEN 'p0004' ELSE 'p0005' END AS status) s`);
  await pool.query(`INSERT INTO notifications (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at,
      created_at, updated_at)
    SELECT 'msg_' || o.order_id, o.order_id, o.merc_no, 'https://shop.example.com/n', '{}', 'MD5', 'state change',
      CASE WHEN o.n % 600 = 0 THEN 'pending' WHEN o.n < 1000 AND o.n % 10 = 3 THEN 'superseded' WHEN o.n % 97 = 0 THEN 'failed' ELSE 'delivered' END, 1,
      CASE WHEN o.n % 600 = 0 THEN o.created_at + 5000 END, o.created_at, o.created_at
    FROM (SELECT order_id, merc_no, created_at, row_number() OVER (ORDER BY order_id) AS n FROM orders WHERE order_id < (SELECT order_id FROM orders ORDER BY order_id OFFSET ${NOTIFICATIONS} LIMIT 1)) o`);
  await pool.query(`INSERT INTO order_events (order_id, from_status, to_status, source, at)
    SELECT order_id, 'p0001', pay_status, 'query', created_at FROM orders WHERE pay_status <> 'p0001'`);
  await pool.query(`INSERT INTO notification_attempts (notification_id, attempt, due_at, at, latency_ms, outcome)
    SELECT id, 1, created_at, created_at, 12, 'delivered' FROM notifications WHERE status = 'delivered'`);
  await pool.query(`INSERT INTO refunds (refund_id, order_id, merc_no, merc_refund_no, request_hash, request_json, amount_fen, refund_status,
      channel_state, created_at, updated_at, next_check_at, ended_at)
    SELECT order_id, order_id, merc_no, 'MR' || order_id, 'h', '{}', 1, CASE WHEN n % 200 = 0 THEN 'r0001' ELSE 'r0000' END, 'accepted',
      created_at + 1000, created_at + 1000, CASE WHEN n % 200 = 0 THEN created_at + 5000 END, CASE WHEN n % 200 = 0 THEN NULL ELSE created_at + 2000 END
    FROM (SELECT order_id, merc_no, created_at, row_number() OVER (ORDER BY order_id) AS n FROM orders WHERE pay_status = 'p0000') o WHERE n % 10 = 0`);
  await pool.query(`INSERT INTO alerts (kind, channel, order_id, merc_no, detail, at, last_at, handled_at)
    SELECT 'bad_signature', 'alipay', order_id, merc_no, 'x', created_at, created_at, CASE WHEN n % 100 = 0 THEN NULL ELSE created_at + 1 END
    FROM (SELECT order_id, merc_no, created_at, row_number() OVER (ORDER BY order_id) AS n FROM orders) o WHERE n % 40 = 0`);
  await pool.query(`INSERT INTO console_audit (at, operator, action, target, address, outcome)
    SELECT ${T0} + i, 'admin@x.cn', 'orders/refund', CASE WHEN i < 100 AND i % 10 = 0 THEN 'rare' WHEN i % 3 = 0 THEN NULL ELSE 'target' || (i % 5) END,
      '127.0.0.1', 'ok'
    FROM generate_series(1, 20000) i`);
  await pool.query(`INSERT INTO reconciliation_runs (bill_date, merc_no, payway, status, started_at, finished_at)
    SELECT to_char(date '2026-09-01' + d, 'YYYY-MM-DD'), 'M' || (2000 + m), p, 'ok', ${T0}, ${T0}
    FROM generate_series(0, 89) d, generate_series(0, 39) m, unnest(ARRAY['alipay', 'wxpay', 'unionpay']) p`);
}

interface Node {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: Node[];
}
const nodes = (n: Node): Node[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
const describe = (ns: Node[]) => ns.map((n) => `${n['Node Type']}${n['Relation Name'] ? ' on ' + n['Relation Name'] : ''}${n['Index Name'] ? ' using ' + n['Index Name'] : ''}`).join(' / ');

interface Seen {
  name?: string;
  text: string;
  values: unknown[];
}

/** A pool that runs each statement and remembers those run since `take()` was last called. */
function recording(pool: Pool) {
  let seen: Seen[] = [];
  const q: Queryable = {
    query: ((cfg: Seen) => {
      seen.push(cfg);
      return pool.query(cfg);
    }) as unknown as Queryable['query'],
  };
  // The write operations' client: statements as text and values (the watcher's claims).
  const client = {
    query: (cfg: string | Seen, values?: unknown[]) => {
      const st: Seen = typeof cfg === 'string' ? { text: cfg, values: values ?? [] } : cfg;
      seen.push(st);
      return pool.query(st);
    },
  } as unknown as PoolClient;
  const take = () => {
    const s = seen;
    seen = [];
    return s;
  };
  return { q, client, take };
}

/**
 * The statement's plans: the custom plan (made with its values), and for a named statement also
 * the generic plan a connection may settle on. `analyze` runs the custom one and counts the rows it read.
 */
async function plansOf(pool: Pool, s: Seen, analyze = false): Promise<{ mode: string; plan: Node[] }[]> {
  const c = await pool.connect();
  try {
    const lit = (v: unknown) => (v === null || v === undefined ? 'NULL' : c.escapeLiteral(Array.isArray(v) ? `{${v.join(',')}}` : String(v)));
    const out: { mode: string; plan: Node[] }[] = [];
    for (const mode of s.name ? ['custom', 'generic'] : ['custom']) {
      await c.query(`SET plan_cache_mode = force_${mode}_plan`);
      await c.query(`PREPARE p AS ${s.text}`);
      try {
        const args = s.values.length ? `(${s.values.map(lit).join(', ')})` : '';
        const r = await c.query(`EXPLAIN (FORMAT JSON${analyze && mode === 'custom' ? ', ANALYZE' : ''}) EXECUTE p${args}`);
        out.push({ mode, plan: nodes((r.rows[0] as { 'QUERY PLAN': { Plan: Node }[] })['QUERY PLAN'][0]!.Plan) });
      } finally {
        await c.query('DEALLOCATE p');
      }
    }
    return out;
  } finally {
    c.release();
  }
}

/** Rows the scans of a (run) plan read, kept or filtered out. */
const rowsRead = (plan: Node[]) =>
  plan.filter((n) => n['Relation Name']).reduce((a, n) => a + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1) + (n['Rows Removed by Filter'] ?? 0), 0);

const HISTORY = /^(orders|notifications|refunds|alerts|console_audit|notification_attempts|reconciliation_runs)$/;

const found = await pgCluster(t);
if (!found) {
  t.comment('no PostgreSQL on this machine');
} else {
  const cluster = found;
  t.test('the request path, the watchers and the console read ranges of indexes, never a scan of the history', async (t) => {
    const pool = openPool(await cluster.createDatabase(), { max: 2 });
    t.teardown(() => pool.end());
    await migratePostgres(pool);
    await history(pool);
    const { q, client, take } = recording(pool);
    const reads = postgresReads(q);
    const consoleReads = postgresConsoleReads(q);
    const orderLists = postgresOrderReads(q);
    const metrics = postgresMetricReads(q);

    const { rows } = await pool.query<{ order_id: string; merc_no: string; merc_order_no: string }>(
      `SELECT order_id, merc_no, merc_order_no FROM orders WHERE pay_status = 'p0000' ORDER BY order_id LIMIT 1 OFFSET ${ORDERS / 2}`,
    );
    const o = rows[0]!;
    const day = T0 + 15 * DAY;
    const due = T0 + 30 * DAY + 60_000;

    // Each read with the index it must walk: the one SQLite is told to use (INDEXED BY), or the
    // primary key or unique index it looks a row up by. `bounded`: a page of a list, which must read
    // few rows (EXPLAIN ANALYZE) even for a rare value (a small merchant, an old status).
    type Expect = [label: string, call: () => Promise<unknown>, index: RegExp | RegExp[], bounded?: boolean];
    const expect: Expect[] = [
      ['order', () => reads.order(o.order_id), /^orders_pkey$/],
      ['orderByMercNo', () => reads.orderByMercNo(o.merc_no, o.merc_order_no), /^orders_(merc_no_merc_order_no_key|merc_order_no)$/],
      ['dueNotifications', () => reads.dueNotifications(T0 + 31 * DAY, 500), /^notifications_pending_due$/],
      ['latestNotification', () => reads.latestNotification(o.order_id), /^notifications_order$/],
      ['refundedFen', () => reads.refundedFen(o.order_id), /^refunds_order$/],
      ['endedOrders', () => reads.endedOrders(o.merc_no, day, day + DAY), /^orders_merchant_ended$/],
      ['endedRefunds', () => reads.endedRefunds(o.merc_no, day, day + DAY), /^refunds_merchant_ended$/],
      ['endedOrdersPage', () => reads.endedOrdersPage(o.merc_no, day, '', day + DAY, 500), /^orders_merchant_ended$/],
      ['endedRefundsPage', () => reads.endedRefundsPage(o.merc_no, day, '', day + DAY, 500), /^refunds_merchant_ended$/],
      ['notificationsOfOrder', () => reads.notificationsOfOrder(o.order_id), /^notifications_order$/],
      ['notifications superseded', () => reads.notifications({ status: 'superseded', limit: 50 }), /^notifications_status$/, true],
      ['notifications delivered', () => reads.notifications({ status: 'delivered', limit: 50 }), /^notifications_(status|pkey)$/, true],
      ['alerts open', () => reads.alerts({ open: true, limit: 50 }), /^alerts_open$/],
      ['orderLists.order', () => orderLists.order(o.order_id), /^orders_pkey$/],
      ['orderLists.orders', () => orderLists.orders({ limit: 50 }), /^orders_pkey$/, true],
      ['orderLists.orders p0006', () => orderLists.orders({ status: 'p0006', limit: 50 }), /^orders_status$/, true],
      ['orderLists.orders small merchant', () => orderLists.orders({ mercNo: SMALL, limit: 50 }), /^orders_merchant(_status)?$/, true],
      ['orderLists.orders big merchant', () => orderLists.orders({ mercNo: 'M2000', limit: 50 }), /^orders_(merchant|pkey)$/, true],
      ['orderLists.orders both', () => orderLists.orders({ mercNo: 'M2000', status: 'p0006', limit: 50 }), /^orders_(merchant_status|status)$/, true],
      ['orderLists.events', () => orderLists.events(o.order_id), /^order_events_order$/],
      ['orderLists.refunds', () => orderLists.refunds(o.order_id), /^refunds_order$/],
      ['console notifications superseded', () => consoleReads.notifications('superseded', MAX, 50), /^notifications_status$/, true],
      ['console open alerts', () => consoleReads.alerts(true, MAX, 50), /^alerts_open$/, true],
      ['openAlertCount', () => consoleReads.openAlertCount(), /^alerts_open$/],
      ['console pendingNotifications', () => consoleReads.pendingNotifications(), /^notifications_pending_due$/],
      ['audit', () => consoleReads.audit(MAX, 50), /^console_audit_pkey$/, true],
      ['auditOf rare', () => consoleReads.auditOf('rare'), /^console_audit_target$/, true],
      ['console refunds', () => consoleReads.refunds(MAX, '9'.repeat(22), 50), /^refunds_created$/, true],
      ['console attempts', () => consoleReads.attempts(1), /^notification_attempts_notification$/],
      ['alertsOfOrder', () => consoleReads.alertsOfOrder(o.order_id), /^alerts_order$/],
      ['search', () => consoleReads.search(o.merc_order_no), /^orders_merc_order_no$/],
      // a period of the dashboard: a range of the payway's index, or of the primary key (ids begin with the day)
      ['paywayDays', () => consoleReads.paywayDays('20261115', '20261116'), /^orders_(payway(_status)?|pkey)$/],
      ['reconciliationDays', () => consoleReads.reconciliationDays('9999-12-31', 30), /^reconciliation_runs_bill_date_merc_no_payway_key$/],
      ['runsOfDay', () => reads.runsOfDay('2026-10-01'), /^reconciliation_runs_bill_date_merc_no_payway_key$/],
      // The watcher's claims (they move the rows they take on, so they come after the reads above):
      // the overdue orders, then those due a check, each a range of its partial index.
      ['claimOrderChecks', () => checkClaimOps.claimOrderChecks(client, { now: due, until: due + 30_000, limit: 100 }), [/^orders_open_expire$/, /^orders_open_check$/]],
      ['claimRefundChecks', () => checkClaimOps.claimRefundChecks(client, { now: T0 + 31 * DAY, until: T0 + 31 * DAY + 30_000, limit: 100 }), /^refunds_open_check$/],
    ];
    // The console's order list, every combination of its filters, with a small merchant, an old
    // status and a rare trade type among the values.
    for (const [label, set] of [
      ['rare', { mercNo: SMALL, status: 'p0006', payway: 'wxpay', tradeType: '02', fromId: '20261101', toId: '20261120', before: o.order_id }],
      ['common', { mercNo: 'M2000', status: 'p0000', payway: 'alipay', tradeType: '01', fromId: '20261110', toId: '20261130', before: o.order_id }],
    ] as const) {
      for (let bits = 0; bits < 1 << ORDER_FILTER_KEYS.length; bits++) {
        const f: OrderFilter = { limit: 50 };
        const keys = ORDER_FILTER_KEYS.filter((_, i) => bits & (1 << i));
        for (const k of keys) (f as unknown as Record<string, unknown>)[k] = set[k];
        expect.push([`console orders ${label} ${keys.join(',') || '(no filter)'}`, () => consoleReads.orders(f), /^orders_/, true]);
      }
    }

    let planned = 0;
    for (const [label, call, index, bounded] of expect) {
      take();
      await call();
      const ran = take();
      t.ok(ran.length > 0, `${label}: ran`);
      if (Array.isArray(index)) t.equal(ran.length, index.length, `${label}: ${index.length} statements`);
      for (const [i, s] of ran.entries()) {
        const want = Array.isArray(index) ? index[i] ?? /^$/ : index;
        for (const { mode, plan } of await plansOf(pool, s, bounded)) {
          planned++;
          const what = `${label} (${mode} plan): ${describe(plan)}`;
          t.notOk(plan.some((n) => n['Node Type'] === 'Seq Scan' && HISTORY.test(n['Relation Name'] ?? '')), `${what}: no scan of a history table`);
          t.ok(plan.some((n) => want.test(n['Index Name'] ?? '')), `${what}: walks ${want.source}`);
          if (bounded && mode === 'custom') t.ok(rowsRead(plan) <= PAGE_BOUND, `${what}: read ${rowsRead(plan)} rows`);
        }
      }
    }
    t.comment(`${planned} plans checked`);
    // A scrape reads the counters, never the tables they count.
    take();
    await metrics.pendingNotifications();
    await metrics.ordersByStatus();
    for (const s of take()) {
      for (const { mode, plan } of await plansOf(pool, s)) {
        t.notOk(plan.some((n) => /^(orders|notifications)$/.test(n['Relation Name'] ?? '')), `metrics (${mode} plan): ${describe(plan)}`);
      }
    }
  });
}
