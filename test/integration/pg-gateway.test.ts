import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createOrder, sandboxPay, startGateway, tempDir } from '../helper.js';
import { CLI, oneJson, runNode } from '../cli-runner.js';
import { PG_MIGRATIONS_DIR } from '../../src/db/postgres/migrate.js';
import { pgCluster } from '../pg-cluster.js';
import { openPool } from '../../src/db/postgres/pool.js';
import { PgWriter } from '../../src/db/postgres/writer.js';
import { redactedUrl } from '../../src/db/database-url.js';
import { reconcileLeaseName } from '../../src/services/leases.js';

// Not repeated on PostgreSQL: it is about PostgreSQL already, and chooses its backends itself.

// The gateway on PostgreSQL (DATABASE_URL, CONTRACT §7), in-process: an order taken, paid in the
// sandbox, notified, queried and refunded, with every row in PostgreSQL and no SQLite file made.

const MASTER_KEY = randomBytes(32).toString('base64');

t.test('an order on PostgreSQL, from the unified order to its refund', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  const url = await cluster.createDatabase();
  const gw = await startGateway(t, { DATABASE_URL: url, MASTER_KEY }, { backend: 'postgres' });
  t.equal(gw.gateway.storage.dialect, 'postgres');
  t.throws(() => gw.gateway.db, /runs on PostgreSQL/, 'there is no SQLite connection to reach for');

  const orderId = await createOrder(gw);
  t.match(orderId, /^\d{17}00\d{3}$/, 'the first instance holds slot 00, in its order ids');
  const second = await startGateway(t, { DATABASE_URL: url, MASTER_KEY }, { backend: 'postgres' });
  t.match(await createOrder(second, {}, {}), /^\d{17}01\d{3}$/, 'a second instance on the database holds slot 01');
  await second.close();
  await sandboxPay(gw, orderId);
  const query = () => gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId, signType: 'MD5' });
  t.equal((await query()).body.payStatus, 'p0000');
  const pool = openPool(url, { max: 1 });
  t.teardown(() => pool.end());
  const notified = async () => (await pool.query("SELECT count(*)::int AS n FROM notifications WHERE order_id = $1", [orderId])).rows[0].n;
  t.equal(await notified(), 1, 'the payment notification is in the outbox');
  const refund = await gw.post('/api/refund', { mercNo: gw.merchant.mercNo, orderId, mercRefundNo: 'R1', refundAmt: '1.00', signType: 'MD5' });
  t.equal(refund.body.respCode, '000000', refund.text);
  const again = await gw.post('/api/refund', { mercNo: gw.merchant.mercNo, orderId, mercRefundNo: 'R1', refundAmt: '1.00', signType: 'MD5' });
  t.equal(again.body.refundId, refund.body.refundId, 'the same refund again is the same refund');
  const rows = (await pool.query('SELECT order_id, pay_status FROM orders ORDER BY order_id')).rows;
  t.same(rows.map((r) => r.order_id).sort(), [orderId, rows[1]?.order_id].sort(), 'both instances’ orders are PostgreSQL rows');
  t.equal(rows.find((r) => r.order_id === orderId)?.pay_status, 'p0000');
  const ready = await fetch(`${gw.url}/readyz`);
  t.equal(ready.status, 200, await ready.text());
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /dtpay_orders\{[^}]*pay_status="p0000"[^}]*\} 1/, 'metrics read the counters in PostgreSQL');
  await gw.close();
  t.notOk(readdirSync(gw.dir).some((f) => f.endsWith('.sqlite')), 'no SQLite file was made');
  t.notOk(existsSync(`${gw.dir}/master.key`), 'and no key file');
});

t.test('the CLI with DATABASE_URL works on PostgreSQL, never prints the password, and backup refuses', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  // The test cluster trusts 127.0.0.1 and ignores the password: it is in the URL to be looked for in
  // everything the CLI prints.
  const PASSWORD = 'Url-Password-7f3kQ';
  const u = new URL(await cluster.createDatabase());
  u.password = PASSWORD;
  const url = u.toString();
  const shown = redactedUrl(url);
  t.notOk(shown.includes(PASSWORD));
  const dir = tempDir(t);
  const env = { DATABASE_URL: url, MASTER_KEY, DATABASE_PATH: join(dir, 'dtpay.sqlite') };
  const printed: string[] = [];
  const run = async (args: string[], stdin = '', extra: Record<string, string> = {}) => {
    const r = await runNode(CLI, args, dir, { ...env, ...extra }, stdin);
    printed.push(r.stdout, r.stderr);
    return r;
  };

  // A database without tables is migrated first, as a gateway would migrate it: no `dtpay migrate` needed.
  const empty = await run(['order', 'list']);
  t.equal(empty.code, 0, empty.stderr);
  t.equal(empty.stdout, 'no orders\n');
  t.match(empty.stderr, `the database at ${shown} has no merchants`, 'the note names the database, its password hidden');
  t.match(empty.stderr, `DATABASE_URL=${shown}`);
  const m = await run(['migrate', '--json']);
  t.equal(m.code, 0, m.stderr);
  t.same(oneJson(t, m).applied, [], 'the order list had migrated it');
  t.same(oneJson(t, m).current, readdirSync(PG_MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort().at(-1)!.slice(0, 4));

  const made = await run(['merchant', 'create', '--name', 'Shop', '--mode', 'sandbox', '--json']);
  t.equal(made.code, 0, made.stderr);
  const { mercNo, key } = oneJson(t, made) as { mercNo: string; key: string };
  t.same((oneJson(t, await run(['merchant', 'list', '--json'])) as { mercNo: string }[]).map((r) => r.mercNo), [mercNo]);
  const op = await run(['operator', 'create', '--email', 'a@b.test', '--role', 'admin', '--password-stdin'], 'a long enough password\n');
  t.equal(op.code, 0, op.stderr);
  t.match(oneJson(t, await run(['operator', 'list', '--json'])), [{ email: 'a@b.test', role: 'admin' }]);
  const missing = await run(['merchant', 'show', 'M999999999999999']);
  t.equal(missing.code, 1);
  t.equal(missing.stderr, `dtpay: no merchant M999999999999999 in ${shown}\n`);

  const pool = openPool(url, { max: 1 });
  t.teardown(() => pool.end());
  const row = (await pool.query('SELECT key_sealed FROM merchants WHERE merc_no = $1', [mercNo])).rows[0];
  t.ok(Buffer.isBuffer(row?.key_sealed) && !row.key_sealed.toString('latin1').includes(key), 'the merchant is a PostgreSQL row, its key sealed');

  const backup = await run(['backup', join(dir, 'copy.sqlite')]);
  t.equal(backup.code, 2, 'backup refuses on PostgreSQL');
  t.match(backup.stderr, /copies the SQLite database .*DATABASE_URL is set.*pg_dump/s);

  // On PostgreSQL no key is generated: a MASTER_KEY_FILE that is not there is a configuration error.
  const noKey = await run(['merchant', 'create', '--name', 'X', '--mode', 'live'], '', { MASTER_KEY: '', MASTER_KEY_FILE: join(dir, 'absent.key') });
  t.equal(noKey.code, 2, noKey.stderr);
  t.match(noKey.stderr, /^dtpay: merchant create: MASTER_KEY is not set and MASTER_KEY_FILE \(.*absent\.key\) does not exist\. On PostgreSQL every instance must be given the same key; none is generated/);
  t.equal((await pool.query('SELECT count(*)::int AS n FROM merchants')).rows[0].n, 1, 'and nothing was made');

  const gone = new URL(url);
  gone.pathname = '/no_such_database';
  const unreachable = await run(['order', 'list'], '', { DATABASE_URL: gone.toString() });
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, `order list: cannot use the PostgreSQL database at ${redactedUrl(gone.toString())}: `);
  t.match(unreachable.stderr, /does not exist/);
  t.notMatch(unreachable.stderr, /\n\s+at /, 'a message, not a stack trace');

  t.ok(printed.join('').includes(shown), 'the URL was printed, redacted');
  t.notOk(printed.join('\n').includes(PASSWORD), 'the password was never printed');
  t.same(readdirSync(dir), [], 'no SQLite file nor key file was made');
});

t.test('dtpay reconcile on PostgreSQL takes the day\'s lease, as every gateway instance does', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  const url = await cluster.createDatabase();
  const dir = tempDir(t);
  const env = { DATABASE_URL: url, MASTER_KEY };
  t.equal((await runNode(CLI, ['migrate'], dir, env)).code, 0);
  const pool = openPool(url, { max: 2 });
  t.teardown(() => pool.end());
  const writer = new PgWriter(pool);
  const day = '2026-01-01';
  const at = Date.now();
  // What a gateway holds while it reconciles that day for every merchant.
  t.ok(await writer.run('takeLease', { name: reconcileLeaseName({ date: day }), holder: 'gateway-1', at, until: at + 30_000 }));
  const held = await runNode(CLI, ['reconcile', '--date', day], dir, env);
  t.equal(held.code, 1, held.stderr);
  t.match(held.stderr, `reconcile: a gateway instance is reconciling ${day} right now; run this again once it is done`);
  t.equal(held.stdout, '');
  t.ok(await writer.run('releaseLease', { name: reconcileLeaseName({ date: day }), holder: 'gateway-1' }));
  const free = await runNode(CLI, ['reconcile', '--date', day, '--json'], dir, env);
  t.equal(free.code, 0, free.stderr);
  t.same(oneJson(t, free), { date: day, runs: [] });
  t.same((await pool.query('SELECT name FROM leases')).rows, [], 'the command gave its lease up');
});
