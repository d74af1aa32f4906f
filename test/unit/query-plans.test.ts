import t from 'tap';
import { join } from 'node:path';
import { openDb, type Db } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareMetricReads } from '../../src/db/metric-reads.js';
import { prepareOrderReads } from '../../src/db/order-reads.js';
import { prepareReads } from '../../src/db/reads.js';
import { tempDir } from '../helper.js';

// The reads that must stay cheap however long the history grows (millions of orders): each one's
// query plan, as SQLite makes it for the real statement, is a search of an index or of
// status_counts, never a scan of a table and never a sort of what it found. The plan does not
// depend on the rows, so an empty database shows the plan a large one gets.

function plan(db: Db, sql: string): string[] {
  // Every parameter bound to something; the plan does not depend on the values.
  const params: Record<string, unknown> = {};
  for (const m of sql.matchAll(/@([A-Za-z_]+)/g)) params[m[1]!] = m[1] === 'limit' ? 50 : 'x';
  const positional = (sql.match(/\?/g) ?? []).map(() => 'x');
  const st = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = (Object.keys(params).length ? st.all(params) : st.all(...positional)) as { detail: string }[];
  return rows.map((r) => r.detail);
}

/** No table scan (an index walked in order and stopped at the limit is fine), no temporary B-tree. */
function bounded(lines: string[]): boolean {
  return lines.every((l) => !/TEMP B-TREE/.test(l) && !(/^SCAN /.test(l) && !/USING (COVERING )?INDEX/.test(l)));
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const db = openDb(join(tempDir(t), 'p.sqlite'));
  t.teardown(() => db.close());
  migrate(db);
  return db;
}

t.test('a /metrics scrape reads status_counts, not the orders or notifications tables', async (t) => {
  const db = await setup(t);
  const { statements } = prepareMetricReads(db);
  t.equal(statements.length, 2);
  for (const sql of statements) {
    const p = plan(db, sql);
    t.ok(p.length > 0, sql);
    t.ok(p.every((l) => /^SEARCH status_counts USING PRIMARY KEY/.test(l)), `${sql}\n  → ${p.join('; ')}`);
    t.notOk(/\b(orders|notifications)\b/.test(p.join('\n')), 'no history table in the plan');
  }
});

t.test('dtpay order list: every filter is one index range in order, stopped at the limit', async (t) => {
  const db = await setup(t);
  const { listStatements } = prepareOrderReads(db);
  const expected: Record<keyof typeof listStatements, RegExp> = {
    all: /^SCAN orders USING INDEX sqlite_autoindex_orders_1$/,
    status: /^SEARCH orders USING INDEX orders_status \(pay_status=\?\)$/,
    merchant: /^SEARCH orders USING INDEX orders_merchant \(merc_no=\?\)$/,
    both: /^SEARCH orders USING INDEX orders_merchant_status \(merc_no=\? AND pay_status=\?\)$/,
  };
  for (const [filter, re] of Object.entries(expected)) {
    const p = plan(db, listStatements[filter as keyof typeof listStatements]);
    t.equal(p.length, 1, `${filter}: one step (${p.join('; ')})`);
    t.match(p[0], re, `${filter}: ${p.join('; ')}`);
    t.ok(bounded(p), `${filter}: no sort, no scan of the table`);
  }
});

t.test('/api/query by orderId and by mercOrderNo: one index search each, and so are its side reads', async (t) => {
  const db = await setup(t);
  const { queryStatements } = prepareReads(db);
  const expected: Record<keyof typeof queryStatements, RegExp> = {
    order: /^SEARCH orders USING INDEX sqlite_autoindex_orders_1 \(order_id=\?\)$/,
    orderByMercNo: /^SEARCH orders USING INDEX sqlite_autoindex_orders_2 \(merc_no=\? AND merc_order_no=\?\)$/,
    latestNotification: /^SEARCH notifications USING INDEX notifications_order \(order_id=\?\)$/,
    refundedFen: /^SEARCH refunds USING INDEX refunds_order \(order_id=\?\)$/,
  };
  for (const [name, re] of Object.entries(expected)) {
    const p = plan(db, queryStatements[name as keyof typeof queryStatements]);
    t.equal(p.length, 1, `${name}: one step (${p.join('; ')})`);
    t.match(p[0], re, `${name}: ${p.join('; ')}`);
    t.ok(bounded(p), `${name}: bounded`);
  }
});

t.test("a merchant's day (merchant bill, reconciliation): one range of the ended_at index, in order", async (t) => {
  const db = await setup(t);
  const { endedStatements } = prepareReads(db);
  const expected: Record<keyof typeof endedStatements, RegExp> = {
    orders: /^SEARCH orders USING INDEX orders_merchant_ended \(merc_no=\? AND ended_at>\? AND ended_at<\?\)$/,
    refunds: /^SEARCH refunds USING INDEX refunds_merchant_ended \(merc_no=\? AND ended_at>\? AND ended_at<\?\)$/,
  };
  for (const [name, re] of Object.entries(expected)) {
    const p = plan(db, endedStatements[name as keyof typeof endedStatements]);
    t.equal(p.length, 1, `${name}: one step (${p.join('; ')})`);
    t.match(p[0], re, `${name}: ${p.join('; ')}`);
    t.ok(bounded(p), `${name}: no sort, no scan`);
  }
});

t.test('reconciliation: a day a page at a time, the sandbox book by time, runs, items and alerts by index', async (t) => {
  const db = await setup(t);
  const { reconcileStatements: st } = prepareReads(db);
  const expected: Record<keyof typeof st, RegExp[]> = {
    endedOrdersPage: [/^SEARCH orders USING INDEX orders_merchant_ended \(merc_no=\? AND \(ended_at,order_id\)>\(\?,\?\) AND ended_at<\?\)$/],
    endedRefundsPage: [/^SEARCH refunds USING INDEX refunds_merchant_ended \(merc_no=\? AND \(ended_at,refund_id\)>\(\?,\?\) AND ended_at<\?\)$/],
    sandboxTrades: [/^SEARCH t USING INDEX sandbox_trades_paid \(paid_at>\? AND paid_at<\?\)$/, /^SEARCH o USING INDEX (sqlite_autoindex_orders_1|orders_merchant|orders_merchant_payway) \((merc_no=\? AND )?(payway=\? AND )?order_id=\?\)$/],
    sandboxRefunds: [
      /^SEARCH r USING INDEX sandbox_refunds_ends \(ends_at>\? AND ends_at<\?\)$/,
      /^SEARCH o USING INDEX (sqlite_autoindex_orders_1|orders_merchant|orders_merchant_payway) \((merc_no=\? AND )?(payway=\? AND )?order_id=\?\)$/,
      /^SEARCH t USING INDEX sqlite_autoindex_sandbox_trades_1 \(order_id=\?\)( LEFT-JOIN)?$/,
    ],
    runsOfDay: [/^SEARCH reconciliation_runs USING INDEX sqlite_autoindex_reconciliation_runs_1 \(bill_date=\?\)$/],
    runsOfMerchantDay: [/^SEARCH reconciliation_runs USING INDEX sqlite_autoindex_reconciliation_runs_1 \(bill_date=\? AND merc_no=\?\)$/],
    itemsOfRun: [/^SEARCH reconciliation_items USING INDEX reconciliation_items_run \(run_id=\?\)$/],
    alertsAll: [/^SCAN alerts$/],
    alertsOpen: [/^SCAN alerts USING (COVERING )?INDEX alerts_open$/],
  };
  for (const [name, res] of Object.entries(expected)) {
    const p = plan(db, st[name as keyof typeof st]);
    t.equal(p.length, res.length, `${name}: ${res.length} step(s) (${p.join('; ')})`);
    res.forEach((re, i) => t.match(p[i], re, `${name}: ${p.join('; ')}`));
    t.notOk(p.some((l) => /TEMP B-TREE/.test(l)), `${name}: no sort`);
  }
});

t.test('a /metrics scrape reads reconciliation_latest and alert_counts, never the runs, items, alerts or orders', async (t) => {
  const db = await setup(t);
  const { reconciliationStatements } = prepareMetricReads(db);
  const byPayway = plan(db, reconciliationStatements.byPayway);
  t.same(byPayway, ['SCAN reconciliation_latest'], `one row per merchant and payway, in primary-key order: ${byPayway.join('; ')}`);
  const open = plan(db, reconciliationStatements.openAlerts);
  t.same(open, ['SEARCH alert_counts USING PRIMARY KEY (state=?)']);
});

t.test('console: every combination of order filters is one index range in order_id order, stopped at the page size', async (t) => {
  const db = await setup(t);
  const { orderListSql, ORDER_FILTER_KEYS } = await import('../../src/console/console-reads.js');
  const keys = ORDER_FILTER_KEYS;
  for (let mask = 0; mask < 1 << keys.length; mask++) {
    const present = new Set(keys.filter((_, i) => mask & (1 << i)));
    const p = plan(db, orderListSql(present));
    const name = [...present].join('+') || 'none';
    t.equal(p.length, 1, `${name}: one step (${p.join('; ')})`);
    t.match(p[0], /^(SEARCH|SCAN) orders USING INDEX (orders_\w+|sqlite_autoindex_orders_1)/, `${name}: ${p[0]}`);
    t.ok(bounded(p), `${name}: no sort, no scan of the table`);
    // The most selective filter leads: a merchant, a payway or a status is an equality in the index.
    if (present.has('mercNo')) t.match(p[0], /\(merc_no=\?/, `${name}: by merchant`);
    else if (present.has('payway')) t.match(p[0], /\(payway=\?/, `${name}: by payway`);
    else if (present.has('status')) t.match(p[0], /\(pay_status=\?/, `${name}: by status`);
    if (present.has('fromId') || present.has('toId') || present.has('before')) t.match(p[0], /order_id[<>]/, `${name}: the date range and the page are a range of order_id`);
  }
});

t.test('console: search, dashboard, refunds, notifications, alerts, audit, sessions and operators are index searches', async (t) => {
  const db = await setup(t);
  const { prepareConsoleReads } = await import('../../src/console/console-reads.js');
  const { statements } = prepareConsoleReads(db);
  const expected: [string, string, RegExp][] = [
    ['search by orderId', statements.search[0]!, /^SEARCH orders USING INDEX sqlite_autoindex_orders_1 \(order_id=\?\)$/],
    ['search by mercOrderNo', statements.search[1]!, /^SEARCH orders USING INDEX orders_merc_order_no \(merc_order_no=\?\)$/],
    ['search by channel trade number', statements.search[2]!, /^SEARCH orders USING INDEX orders_channel_trade_no \(channel_trade_no=\?\)$/],
    ['dashboard orders', statements.dashboard[0]!, /^SEARCH orders USING COVERING INDEX orders_payway \(payway=\? AND order_id>\? AND order_id<\?\)$/],
    ['dashboard paid', statements.dashboard[1]!, /^SEARCH orders USING INDEX orders_payway_status \(payway=\? AND pay_status=\? AND order_id>\? AND order_id<\?\)$/],
    ['refunds page', statements.refunds, /^SEARCH refunds USING INDEX refunds_created|^SCAN refunds USING INDEX refunds_created/],
    ['notifications page', statements.notifications, /^SEARCH notifications USING INDEX notifications_status \(status=\? AND id<\?\)$/],
    ['open alerts', statements.openAlerts, /^SEARCH alerts USING INDEX alerts_open \((rowid|id)<\?\)$/],
    ['audit page', statements.audit, /^SEARCH console_audit USING INTEGER PRIMARY KEY \(rowid<\?\)$/],
    ['audit of one order', statements.auditOf, /^SEARCH console_audit USING INDEX console_audit_target \(target=\?\)$/],
    ['operator by email', statements.operatorByEmail, /^SEARCH console_operators USING INDEX sqlite_autoindex_console_operators_1 \(email=\?\)$/],
    ['session', statements.session, /^SEARCH console_sessions USING INDEX sqlite_autoindex_console_sessions_1 \(sid=\?\)$/],
    ['reconciliation days', statements.reconciliationDays, /^SEARCH reconciliation_runs USING INDEX sqlite_autoindex_reconciliation_runs_1 \(bill_date<\?\)$/],
  ];
  for (const [name, sql, re] of expected) {
    const p = plan(db, sql);
    t.match(p[0], re, `${name}: ${p.join('; ')}`);
    t.ok(bounded(p), `${name}: bounded (${p.join('; ')})`);
  }
});

t.test("the order watcher's claims: one range of the open rows' partial index each, moved on by primary key", async (t) => {
  const db = await setup(t);
  const { prepareCheckClaimOps } = await import('../../src/db/check-claim-ops.js');
  const st = prepareCheckClaimOps(db).checkClaimStatements;
  const expected: Record<keyof typeof st, RegExp[]> = {
    overdue: [/^SEARCH orders USING INDEX orders_open_expire \(expire_at<\?\)$/],
    due: [/^SEARCH orders USING INDEX orders_open_check \(next_check_at<\?\)$/],
    refunds: [/^SEARCH refunds USING INDEX refunds_open_check \(next_check_at<\?\)$/],
    leaseOrders: [/^SEARCH orders USING (COVERING )?INDEX sqlite_autoindex_orders_1 \(order_id=\?\)$/, /^LIST SUBQUERY \d+$/, /^SCAN json_each VIRTUAL TABLE INDEX \d+:$/],
    leaseRefunds: [/^SEARCH refunds USING (COVERING )?INDEX sqlite_autoindex_refunds_1 \(refund_id=\?\)$/, /^LIST SUBQUERY \d+$/, /^SCAN json_each VIRTUAL TABLE INDEX \d+:$/],
  };
  for (const [name, res] of Object.entries(expected)) {
    const p = plan(db, st[name as keyof typeof st]);
    t.equal(p.length, res.length, `${name}: ${res.length} step(s) (${p.join('; ')})`);
    res.forEach((re, i) => t.match(p[i], re, `${name}: ${p.join('; ')}`));
    // The list of ids claimed is the one thing read whole.
    t.ok(bounded(p.filter((l) => !/^SCAN json_each /.test(l))), `${name}: no sort, no scan of a table`);
  }
});
