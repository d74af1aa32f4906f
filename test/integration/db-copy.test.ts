import t from 'tap';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { createOrder, sandboxPay, startGateway, until } from '../helper.js';
import { CLI, runNode } from '../cli-runner.js';
import { pgCluster } from '../pg-cluster.js';
import { openPool } from '../../src/db/postgres/pool.js';
import { migratePostgres } from '../../src/db/postgres/migrate.js';
import { createMerchant } from '../../src/services/merchants.js';
import { sealCredentials, openCredentials } from '../../src/secrets/channel-credentials.js';
import { openMerchantKey } from '../../src/secrets/merchant-keys.js';
import { sign, verify } from '../../src/domain/sign.js';
import { sqliteTables } from '../../src/db/copy-to-postgres.js';
import { migrationFiles } from '../../src/runtime/resources.js';
import { postgresMetricReads } from '../../src/db/postgres/metric-reads.js';
import { holdDatabase } from '../../src/db/process-lock.js';

// Not repeated on PostgreSQL: it copies a SQLite gateway into PostgreSQL, so it needs one of each.

// `dtpay db copy --to postgres://…` (CONTRACT §7), round trip: a SQLite gateway that took orders,
// payments, a refund and notifications, and holds a live merchant's sealed channel credentials, is
// stopped and copied; every table arrives whole, credentials still open and merchant keys still
// verify under the same MASTER_KEY, and a target that is not empty, or a copy that does not
// compare, leaves the target as it was.

const MASTER_KEY = randomBytes(32).toString('base64');

/** Every row of a table, each value as text, in a stable order: for comparing the two databases. */
const text = (v: unknown) => (v === null || v === undefined ? 'null' : Buffer.isBuffer(v) ? v.toString('hex') : String(v));
const rowsText = (rows: Record<string, unknown>[], cols: string[]) =>
  rows.map((r) => cols.map((c) => text(r[c])).join('|')).sort();

t.test('a stopped SQLite gateway copied into PostgreSQL, whole, with its secrets still opening', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) {
    t.comment('no PostgreSQL on this machine');
    return;
  }
  const gw = await startGateway(t, { MASTER_KEY });
  const orders: string[] = [];
  for (let i = 0; i < 12; i++) orders.push(await createOrder(gw));
  for (const id of orders.slice(0, 6)) await sandboxPay(gw, id);
  const refund = await gw.post('/api/refund', {
    mercNo: gw.merchant.mercNo,
    orderId: orders[0]!,
    mercRefundNo: 'R-copy-1',
    refundAmt: '0.01',
    signType: 'MD5',
  });
  t.equal(refund.body.respCode, '000000', refund.text);
  const live = await createMerchant(gw.gateway.services, 'Live shop', 'live');
  const credentials = { appId: '2021000000000001', privateKeyPem: 'not a real key, only sealed and opened' };
  const sealed = sealCredentials(MASTER_KEY, live.mercNo, 'alipay', credentials as never);
  const b64 = (b: Buffer) => b.toString('base64');
  await gw.gateway.services.writer.run('putChannelCredentials', {
    mercNo: live.mercNo, payway: 'alipay', keyId: sealed.keyId, iv: b64(sealed.iv), tag: b64(sealed.tag), ciphertext: b64(sealed.ciphertext), at: Date.now(),
  });
  const file = gw.config.DATABASE_PATH;
  const src = new Database(file, { readonly: true });
  await until(() => (src.prepare('SELECT count(*) FROM notifications').pluck().get() as number) >= 6, 'the payments’ notifications');
  src.close();
  await gw.close();

  const url = await cluster.createDatabase();
  const env = { MASTER_KEY };
  const r = await cliWith(gw.dir, file, ['db', 'copy', '--to', url, '--json'], env);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.equal(report.to, url, 'a URL without a password is shown as given');
  t.equal(report.schemaVersion, migrationFiles().map((f) => f.name.slice(0, 4)).sort().at(-1), 'the version the shipped migrations reach');

  const db = new Database(file, { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  db.defaultSafeIntegers(true);
  const pool = openPool(url, { max: 2 });
  t.teardown(() => pool.end());
  const tables = sqliteTables(db);
  t.same(report.tables.map((x: { table: string }) => x.table).sort(), [...tables].sort(), 'every table is reported');
  for (const table of tables) {
    const cols = (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[]);
    const want = rowsText(db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[], cols);
    const got = rowsText((await pool.query(`SELECT * FROM "${table}"`)).rows, cols);
    t.same(got, want, `${table}: ${want.length} rows, every value the same`);
    t.equal(report.tables.find((x: { table: string }) => x.table === table).rows, want.length);
  }
  t.ok(report.tables.find((x: { table: string }) => x.table === 'orders').sampled > 0, 'orders were sampled');

  const cred = (await pool.query('SELECT * FROM channel_credentials WHERE merc_no = $1', [live.mercNo])).rows[0];
  t.same(openCredentials(MASTER_KEY, live.mercNo, 'alipay', { keyId: cred.key_id, iv: cred.iv, tag: cred.tag, ciphertext: cred.ciphertext }), credentials,
    'the channel credentials open under the same MASTER_KEY');
  const m = (await pool.query('SELECT key_sealed FROM merchants WHERE merc_no = $1', [gw.merchant.mercNo])).rows[0];
  const key = openMerchantKey(MASTER_KEY, gw.merchant.mercNo, m.key_sealed);
  const fields = { mercNo: gw.merchant.mercNo, orderId: orders[1]! };
  t.ok(verify(fields, key, 'MD5', sign(fields, gw.merchant.key, 'MD5')), 'the merchant key still verifies what the merchant signs');

  // New rows after the copy get ids after the copied ones.
  const ids = await pool.query(`INSERT INTO order_events (order_id, from_status, to_status, source, detail, at)
    VALUES ($1, 'p0001', 'p0001', 'test', NULL, 0) RETURNING id`, [orders[0]]);
  const max = db.prepare('SELECT max(id) FROM order_events').pluck().get() as bigint;
  t.ok(ids.rows[0].id > max, 'the id sequences go on after the copied ids');

  // The copied counters go on counting on the target: what /metrics reads is the rows' count, after a change too.
  const byStatus = async () =>
    Object.fromEntries((await pool.query('SELECT pay_status, count(*)::int AS n FROM orders GROUP BY pay_status')).rows.map((r) => [r.pay_status, r.n]));
  const counted = async () => Object.fromEntries((await postgresMetricReads(pool).ordersByStatus()).filter((r) => r.n !== 0).map((r) => [r.payStatus, r.n]));
  t.same(await counted(), await byStatus(), 'the copied counts are the rows');
  t.ok(Object.keys(await byStatus()).length > 1, 'orders in more than one status');
  await pool.query(`UPDATE orders SET pay_status = 'p0005' WHERE order_id = $1`, [orders[0]]);
  t.same(await counted(), await byStatus(), 'and stay so after a write on the target');

  // A second copy into the same (now used) database is refused, and changes nothing there.
  const before = (await pool.query('SELECT count(*)::int AS n FROM orders')).rows[0].n;
  const again = await cliWith(gw.dir, file, ['db', 'copy', '--to', url], env);
  t.equal(again.code, 1);
  t.match(again.stderr, /not empty: .*merchants/);
  t.equal((await pool.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, before);
});

t.test('a copy that does not compare is rolled back, and bad arguments are refused', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) {
    t.comment('no PostgreSQL on this machine');
    return;
  }
  const gw = await startGateway(t, { MASTER_KEY });
  await createOrder(gw);
  await gw.close();
  const url = await cluster.createDatabase();
  const pool = openPool(url, { max: 2 });
  t.teardown(() => pool.end());
  await migratePostgres(pool);
  // A target whose column keeps something other than what it was given: blank-padded text.
  await pool.query('ALTER TABLE orders ALTER COLUMN trade_time TYPE char(40)');
  const r = await cliWith(gw.dir, gw.config.DATABASE_PATH, ['db', 'copy', '--to', url], { MASTER_KEY });
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /orders: column trade_time of a sampled row differs.*nothing was copied/);
  for (const table of ['merchants', 'orders', 'settings']) {
    t.equal((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 0, `${table} is still empty`);
  }

  // A source a gateway still holds (this process, as `dtpay serve` would) is refused.
  const lock = holdDatabase(gw.config.DATABASE_PATH);
  const held = await cliWith(gw.dir, gw.config.DATABASE_PATH, ['db', 'copy', '--to', url], { MASTER_KEY });
  lock.release();
  t.equal(held.code, 1);
  t.match(held.stderr, new RegExp(`belongs to another gateway process \\(pid ${process.pid}\\).*stop it before copying`));

  const notPg = await cliWith(gw.dir, gw.config.DATABASE_PATH, ['db', 'copy', '--to', 'mysql://x@127.0.0.1/db'], { MASTER_KEY });
  t.equal(notPg.code, 2);
  t.match(notPg.stderr, /--to must be a postgres:\/\/ or postgresql:\/\/ URL/);
  const noSource = await cliWith(gw.dir, `${gw.dir}/none.sqlite`, ['db', 'copy', '--to', url], { MASTER_KEY });
  t.equal(noSource.code, 1);
  t.match(noSource.stderr, /no database at/);
  const secret = 'pg-secret-Password-1';
  const withPassword = new URL(url);
  withPassword.password = secret;
  const hidden = await cliWith(gw.dir, gw.config.DATABASE_PATH, ['db', 'copy', '--to', withPassword.toString()], { MASTER_KEY });
  t.notMatch(hidden.stdout + hidden.stderr, secret, 'the password in the URL is never printed');
});

function cliWith(cwd: string, dbPath: string, args: string[], env: Record<string, string>) {
  return runNode(CLI, args, cwd, { DATABASE_PATH: dbPath, ...env });
}
