import t from 'tap';
import { join } from 'node:path';
import { openDb, type Db } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareReads, type Reads } from '../../src/db/reads.js';
import { prepareCredentialReads, type CredentialReads } from '../../src/db/credential-reads.js';
import { prepareMetricReads, type MetricReads } from '../../src/db/metric-reads.js';
import { prepareOrderReads, type OrderReads } from '../../src/db/order-reads.js';
import { ORDER_FILTER_KEYS, prepareConsoleReads, type ConsoleReads, type OrderFilter } from '../../src/console/console-reads.js';
import type { AsyncReads, StoragePort } from '../../src/db/port.js';
import type { Writer } from '../../src/db/writer.js';
import { openPool, type Pool } from '../../src/db/postgres/pool.js';
import { migratePostgres } from '../../src/db/postgres/migrate.js';
import { postgresPort } from '../../src/db/postgres/storage.js';
import * as columns from '../../src/db/postgres/columns.js';
import { pgCluster } from '../pg-cluster.js';
import { tempDir } from '../helper.js';
import { testMerchantKeys } from '../fixtures/merchant-keys.js';
import { DAYS, MERCHANTS, OPERATOR_EMAILS, PAY_STATUSES, PAYWAY_LIST, dayStart, readSeed, type Seed, type TableRows } from '../fixtures/read-seed.js';

// Every read of the storage port answers the same on PostgreSQL as on SQLite: one history inserted
// with plain SQL into both, every function of every read group called on both with several
// arguments, the answers compared deeply (BigInt against BigInt, key order too). The calls are
// listed per function, and the list must name exactly the functions the groups have: a read added
// later without calls here fails this test (and its type).

type Calls<T> = { [K in keyof AsyncReads<T>]: Parameters<AsyncReads<T>[K]>[] };
type AnyFn = (...args: unknown[]) => unknown;

const DAY = 86_400_000;
const MAX = Number.MAX_SAFE_INTEGER;
const t0 = dayStart(DAYS[0]);

function insertSqlite(db: Db, tables: TableRows[]) {
  db.transaction(() => {
    for (const { table, rows } of tables) {
      for (const r of rows) {
        const cols = Object.keys(r);
        db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => r[c]));
      }
    }
  })();
}

async function insertPostgres(pool: Pool, tables: TableRows[]) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const { table, rows } of tables) {
      for (const r of rows) {
        const cols = Object.keys(r);
        await client.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => r[c]));
      }
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** The value as text that tells a BigInt from a number, undefined from absent, and keeps key order. */
const exact = (v: unknown) =>
  JSON.stringify({ v }, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x === undefined ? '(undefined)' : x));

const show = (args: unknown[]) => exact(args).slice(5, -1).replaceAll('"', '').slice(0, 160);

const nonEmpty = (v: unknown) => v !== undefined && !(Array.isArray(v) && v.length === 0);

interface Both {
  sqlite: { reads: Reads; credentials: CredentialReads; metrics: MetricReads; orderLists: OrderReads; console: ConsoleReads };
  port: StoragePort;
  seed: Seed;
}

// One cluster for the file, stopped when the whole file is done (each test has its own database).
const clusterOfFile = () => pgCluster(t);

let seededPair: Promise<Both | undefined> | undefined;
/** The seeded pair of databases, made once for the file (the tests below only read). */
const setup = () => (seededPair ??= seeded(t));

async function seeded(t: Parameters<typeof tempDir>[0]): Promise<Both | undefined> {
  const cluster = await clusterOfFile();
  if (!cluster) return undefined;
  const seed = readSeed();
  const db = openDb(join(tempDir(t), 'reads.sqlite'));
  t.teardown(() => db.close());
  migrate(db);
  insertSqlite(db, seed.tables);
  const pool = openPool(await cluster.createDatabase(), { max: 4 });
  await migratePostgres(pool);
  await insertPostgres(pool, seed.tables);
  const writer: Writer = { run: () => Promise.reject(new Error('this test writes nothing')), close: async () => {} };
  const port = postgresPort(pool, writer, testMerchantKeys());
  t.teardown(() => port.close());
  const keys = testMerchantKeys();
  return {
    sqlite: {
      reads: prepareReads(db, keys),
      credentials: prepareCredentialReads(db),
      metrics: prepareMetricReads(db),
      orderLists: prepareOrderReads(db),
      console: prepareConsoleReads(db),
    },
    port,
    seed,
  };
}

function rowsOf(seed: Seed, table: string) {
  return seed.tables.find((x) => x.table === table)!.rows;
}

function calls(seed: Seed) {
  const orders = rowsOf(seed, 'orders');
  const refunds = rowsOf(seed, 'refunds');
  const audit = rowsOf(seed, 'console_audit');
  const orderIds = [...seed.orderIds, '20991231235959999999999', 'nope', 'bad\0id'];
  const refundIds = [...seed.refundIds, '20991231235959999999999'];
  const merchants = [...MERCHANTS, 'M999', 'M1\0'];
  const days = DAYS.map((d) => dayStart(d));
  const times = [t0 - 1, t0, t0 + 500, t0 + 1_000, t0 + 2_000, t0 + 10_000];
  // SQLite reads a negative LIMIT as none
  const limits = [1, 2, 100, -1];
  const grid = <A, B>(as: readonly A[], bs: readonly B[]) => as.flatMap((a) => bs.map((b) => [a, b] as [A, B]));
  const ended = orders.filter((o) => o.ended_at !== null).slice(0, 6);
  const endedR = refunds.filter((r) => r.ended_at !== null).slice(0, 4);
  const bill = (d: string) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;

  const reads: Calls<Reads> = {
    endedOrdersPage: [
      ...MERCHANTS.flatMap((m) => [[m, 0, '', days[0]! + 3 * DAY, 100], [m, 0, '', days[0]! + 3 * DAY, 3]] as [string, number, string, number, number][]),
      ...ended.map((o) => [o.merc_no as string, o.ended_at as number, o.order_id as string, days[0]! + 3 * DAY, 4] as [string, number, string, number, number]),
      [MERCHANTS[0], days[1]!, '', days[2]!, 10],
    ],
    endedRefundsPage: [
      ...MERCHANTS.map((m) => [m, 0, '', days[0]! + 3 * DAY, 100] as [string, number, string, number, number]),
      ...endedR.map((r) => [r.merc_no as string, r.ended_at as number, r.refund_id as string, days[0]! + 3 * DAY, 2] as [string, number, string, number, number]),
    ],
    sandboxBilledTrades: grid(MERCHANTS.slice(0, 2), PAYWAY_LIST).flatMap(([m, p]) =>
      DAYS.map((d, i) => [m, p, `${d}000000`, `${DAYS[i + 1] ?? '20261203'}000000`] as [string, string, string, string]),
    ),
    sandboxBilledRefunds: grid(MERCHANTS.slice(0, 2), PAYWAY_LIST).flatMap(([m, p]) =>
      days.map((d) => [m, p, d, d + DAY] as [string, string, number, number]).concat([[m, p, 0, MAX]]),
    ),
    runsOfDay: [...DAYS, '20261203'].flatMap((d) => [[bill(d)], ...merchants.map((m) => [bill(d), m])] as [string, string?][]),
    itemsOfRun: [...seed.runIds, 999].map((id) => [id]),
    alerts: grid([true, false], [2, 100]).map(([open, limit]) => [{ open, limit }]),
    alert: [...seed.alertIds, 999].map((id) => [id]),
    merchant: merchants.map((m) => [m]),
    merchants: [[]],
    merchantCount: [[]],
    order: orderIds.map((id) => [id]),
    orderByMercNo: [...orders.slice(0, 10).map((o) => [o.merc_no as string, o.merc_order_no as string] as [string, string]), [MERCHANTS[0], 'none']],
    maxOrderId: [[]],
    schemaVersion: [[]],
    setting: [['first_boot'], ['sandbox_merchant'], ['missing'], ['a\0']],
    dueNotifications: grid(times, limits),
    latestNotification: orderIds.map((id) => [id]),
    notifications: grid([undefined, 'pending', 'delivered', 'failed', 'superseded'] as const, [2, 100]).map(([status, limit]) => [{ status, limit }]),
    notificationsOfOrder: orderIds.map((id) => [id]),
    refund: refundIds.map((id) => [id]),
    sandboxRefund: refundIds.map((id) => [id]),
    refundByMercNo: [...refunds.map((r) => [r.merc_no as string, r.merc_refund_no as string] as [string, string]), [MERCHANTS[1], 'MR0']],
    refundedFen: orderIds.map((id) => [id]),
    latestRefundNotification: refundIds.map((id) => [id]),
    sandboxTrade: orderIds.map((id) => [id]),
    payoutSettings: merchants.map((m) => [m]),
    sandboxPayout: orderIds.map((id) => [id]),
    attempts: [...seed.notificationIds, 999].map((id) => [id]),
    endedOrders: grid(MERCHANTS, days).map(([m, d]) => [m, d, d + DAY] as [string, number, number]).concat([[MERCHANTS[0], 0, MAX]]),
    endedRefunds: grid(MERCHANTS, days).map(([m, d]) => [m, d, d + DAY] as [string, number, number]).concat([[MERCHANTS[1], 0, MAX]]),
  };

  const credentials: Calls<CredentialReads> = {
    channelCredentials: grid(merchants, ['alipay', 'wxpay', 'unionpay'] as const),
    channelCredentialsOf: merchants.map((m) => [m]),
    allChannelCredentials: [[]],
    channelCredentialCount: [[]],
  };

  const metrics: Calls<MetricReads> = {
    reconciliationByPayway: [[]],
    openAlerts: [[]],
    pendingNotifications: [[]],
    ordersByStatus: [[]],
  };

  const orderLists: Calls<OrderReads> = {
    order: orderIds.map((id) => [id]),
    orders: grid([undefined, ...PAY_STATUSES], [undefined, ...MERCHANTS]).flatMap(([status, mercNo]) =>
      [2, 50].map((limit) => [{ status, mercNo, limit }] as Parameters<OrderReads['orders']>),
    ),
    events: orderIds.map((id) => [id]),
    refunds: orderIds.map((id) => [id]),
  };

  // Two values for every filter of the console's order list, in all 128 combinations.
  const values: Pick<OrderFilter, (typeof ORDER_FILTER_KEYS)[number]>[] = [
    { mercNo: MERCHANTS[0], status: 'p0000', payway: 'alipay', tradeType: '01', fromId: DAYS[0], toId: DAYS[2], before: seed.orderIds[30] },
    { mercNo: MERCHANTS[1], status: 'p0001', payway: 'wxpay', tradeType: '02', fromId: DAYS[1], toId: '20261203', before: seed.orderIds[44] },
  ];
  const combos: [OrderFilter][] = [];
  for (let bits = 0; bits < 1 << ORDER_FILTER_KEYS.length; bits++) {
    for (const [v, set] of values.entries()) {
      const f: OrderFilter = { limit: v ? 50 : 3 };
      ORDER_FILTER_KEYS.forEach((k, i) => {
        if (bits & (1 << i)) (f as unknown as Record<string, unknown>)[k] = set[k];
      });
      combos.push([f]);
    }
  }
  const pairs = refunds.map((r) => [r.created_at as number, r.refund_id as string] as const);
  const console: Calls<ConsoleReads> = {
    operatorByEmail: [...OPERATOR_EMAILS, 'nobody@x.cn', 'a\0b'].map((e) => [e]),
    operatorById: [1, 2, 3, 4, 5].map((id) => [id]),
    operators: [[]],
    operatorCount: [[]],
    session: [['sid-one'], ['sid-two'], ['missing']],
    loginLimit: [['email:a.b@x.cn'], ['addr:127.0.0.1'], ['email:none']],
    audit: grid([MAX, 7, 1], [3, 50, -1]),
    auditOf: [...new Set(audit.map((a) => a.target).filter((x): x is string => typeof x === 'string')), 'none'].map((x) => [x]),
    alerts: grid([true, false], [MAX, 5]).flatMap(([open, before]) => [2, 50].map((limit) => [open, before, limit] as [boolean, number, number])),
    openAlertCount: [[]],
    alertsOfOrder: orderIds.map((id) => [id]),
    alert: [...seed.alertIds, 999].map((id) => [id]),
    notifications: grid(['pending', 'delivered', 'failed', 'superseded', 'other'], [MAX, 10]).flatMap(([s, b]) =>
      [2, 50].map((limit) => [s, b, limit] as [string, number, number]),
    ),
    notification: [...seed.notificationIds, 999].map((id) => [id]),
    pendingNotifications: [[]],
    attempts: [...seed.notificationIds, 999].map((id) => [id]),
    refunds: [[MAX, '9'.repeat(22), 50], [MAX, '9'.repeat(22), 3], ...pairs.slice(2, 9).map(([at, id]) => [at, id, 3] as [number, string, number])],
    search: [...seed.orderIds.slice(0, 6), 'MO1', 'MO7', 'T3', 'T0', 'none', 'x\0y'].map((q) => [q]),
    orders: combos,
    paywayDays: [...DAYS.map((d, i) => [d, DAYS[i + 1] ?? '20261203'] as [string, string]), [DAYS[0], '20261203'], ['20250101', '20250102']],
    reconciliationDays: [['9999-12-31', 1], ['9999-12-31', 30], [bill(DAYS[1]), 30], [bill(DAYS[0]), 30]],
    reconciliationRun: [...seed.runIds, 999].map((id) => [id]),
  };

  return { reads, credentials, metrics, orderLists, console };
}

t.test('every read of every group answers the same on PostgreSQL as on SQLite', async (t) => {
  const both = await setup();
  if (!both) {
    t.comment('no PostgreSQL on this machine');
    return;
  }
  const { sqlite, port, seed } = both;
  const all = calls(seed);
  for (const group of ['reads', 'credentials', 'metrics', 'orderLists', 'console'] as const) {
    const lite = sqlite[group] as unknown as Record<string, unknown>;
    const pg = port[group] as unknown as Record<string, AnyFn>;
    const table = all[group] as unknown as Record<string, unknown[][]>;
    const fns = Object.keys(lite).filter((k) => typeof lite[k] === 'function').sort();
    t.strictSame(Object.keys(table).sort(), fns, `${group}: the calls name every function of the SQLite group`);
    t.strictSame(Object.keys(pg).sort(), fns, `${group}: the PostgreSQL group has exactly those functions`);
    for (const fn of fns) {
      const list = table[fn] ?? [];
      let answered = false;
      let same = true;
      for (const args of list) {
        const want = (lite[fn] as AnyFn)(...args);
        const got = await pg[fn]!(...args);
        answered ||= nonEmpty(want);
        if (exact(got) !== exact(want)) {
          same = false;
          t.strictSame(got, want, `${group}.${fn}(${show(args)})`);
          t.equal(exact(got), exact(want), `${group}.${fn}(${show(args)}): key order and types`);
        }
      }
      t.ok(same, `${group}.${fn}: ${list.length} calls answer alike`);
      t.ok(answered, `${group}.${fn}: the seed gives it something to answer`);
    }
  }
});

t.test('merchant rows open their key on either backend', async (t) => {
  const both = await setup();
  if (!both) return;
  const { sqlite, port, seed } = both;
  for (const m of await port.reads.merchants()) {
    t.equal(m.key, seed.keys[m.merc_no], `${m.merc_no}: the key opens`);
    t.equal(m.key, sqlite.reads.merchant(m.merc_no)!.key);
    t.notOk(JSON.stringify(m).includes(m.key), 'the key is in no JSON of the row');
  }
  t.equal((await port.reads.merchant(MERCHANTS[1]))!.key, seed.keys[MERCHANTS[1]]);
});

t.test('keyset pages walk the same rows in the same order to the end', async (t) => {
  const both = await setup();
  if (!both) return;
  const { sqlite, port } = both;

  async function walk<R>(name: string, page: (after: R | undefined) => [unknown, Promise<unknown>], next: (rows: R[]) => R | undefined) {
    let after: R | undefined;
    let pages = 0;
    let seen = 0;
    for (;;) {
      const [want, gotP] = page(after);
      const got = await gotP;
      t.equal(exact(got), exact(want), `${name}: page ${pages + 1}`);
      const rows = want as R[];
      pages++;
      seen += rows.length;
      after = next(rows);
      if (!after || pages > 100) break;
    }
    t.ok(pages > 2, `${name}: ${pages} pages, ${seen} rows`);
  }

  for (const f of [{}, { mercNo: MERCHANTS[0] }, { status: 'p0000' as const }, { payway: 'alipay' }, { tradeType: '01', status: 'p0000' as const }, { fromId: DAYS[1], toId: DAYS[2] }]) {
    await walk<string>(
      `console orders ${JSON.stringify(f)}`,
      (before) => [sqlite.console.orders({ ...f, before, limit: 2 }), port.console.orders({ ...f, before, limit: 2 })],
      (rows) => (rows.length === 2 ? (rows.at(-1) as unknown as { order_id: string }).order_id : undefined),
    );
  }
  type Key = { at: number; id: string };
  await walk<Key>(
    'console refunds',
    (k) => [sqlite.console.refunds(k?.at ?? MAX, k?.id ?? '9'.repeat(22), 3), port.console.refunds(k?.at ?? MAX, k?.id ?? '9'.repeat(22), 3)],
    (rows) => {
      const last = rows.at(-1) as unknown as { created_at: number; refund_id: string } | undefined;
      return rows.length === 3 && last ? { at: last.created_at, id: last.refund_id } : undefined;
    },
  );
  for (const [name, lite, pg] of [
    ['audit', (b: number) => sqlite.console.audit(b, 3), (b: number) => port.console.audit(b, 3)],
    ['alerts', (b: number) => sqlite.console.alerts(false, b, 2), (b: number) => port.console.alerts(false, b, 2)],
    ['delivered notifications', (b: number) => sqlite.console.notifications('delivered', b, 2), (b: number) => port.console.notifications('delivered', b, 2)],
  ] as const) {
    await walk<number>(
      name,
      (b) => [lite(b ?? MAX), pg(b ?? MAX)],
      (rows) => (rows.length >= 2 ? (rows.at(-1) as unknown as { id: number }).id : undefined),
    );
  }
  for (const m of MERCHANTS) {
    await walk<{ ms: number; id: string }>(
      `ended orders of ${m}`,
      (k) => [sqlite.reads.endedOrdersPage(m, k?.ms ?? 0, k?.id ?? '', MAX, 2), port.reads.endedOrdersPage(m, k?.ms ?? 0, k?.id ?? '', MAX, 2)],
      (rows) => {
        const last = rows.at(-1) as { ended_at: bigint; order_id: string } | undefined;
        return rows.length === 2 && last ? { ms: Number(last.ended_at), id: last.order_id } : undefined;
      },
    );
  }
});

t.test('the column lists are the SQLite tables\' columns in their order', async (t) => {
  const db = openDb(join(tempDir(t), 'cols.sqlite'));
  t.teardown(() => db.close());
  migrate(db);
  const tables: Record<string, string> = {
    merchants: columns.MERCHANT,
    orders: columns.ORDER,
    refunds: columns.REFUND,
    notifications: columns.NOTIFICATION,
    notification_attempts: columns.ATTEMPT,
    sandbox_trades: columns.SANDBOX_TRADE,
    sandbox_payouts: columns.SANDBOX_PAYOUT,
    reconciliation_runs: columns.RUN,
    reconciliation_items: columns.ITEM,
    alerts: columns.ALERT,
    channel_credentials: columns.CREDENTIAL,
    console_operators: columns.OPERATOR,
    console_audit: columns.AUDIT,
  };
  t.strictSame(Object.keys(tables).length, Object.keys(columns).length, 'every list is checked');
  for (const [table, list] of Object.entries(tables)) {
    const names = (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[]).map((r) => r.name);
    t.equal(list, names.join(', '), table);
  }
});

t.test('closing the port ends the writer, then the pool, once', async (t) => {
  const cluster = await clusterOfFile();
  if (!cluster) return;
  const pool = openPool(await cluster.createDatabase(), { max: 1 });
  const order: string[] = [];
  const writer: Writer = {
    run: () => Promise.reject(new Error('unused')),
    close: async () => {
      order.push(pool.ended ? 'writer after pool' : 'writer');
    },
  };
  const port = postgresPort(pool, writer, testMerchantKeys());
  t.equal(port.dialect, 'postgres');
  t.equal(await port.reads.merchantCount().catch((e: Error) => e.message), 'relation "merchants" does not exist', 'reads use the pool');
  await Promise.all([port.close(), port.close()]);
  await port.close();
  t.strictSame(order, ['writer'], 'the writer closed once, before the pool');
  t.ok(pool.ended, 'the pool is ended');
});
