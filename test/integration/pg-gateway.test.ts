import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createOrder, sandboxPay, startGateway, tempDir } from '../helper.js';
import { CLI, runNode } from '../cli-runner.js';
import { PG_MIGRATIONS_DIR } from '../../src/db/postgres/migrate.js';
import { pgCluster } from '../pg-cluster.js';
import { openPool } from '../../src/db/postgres/pool.js';

// Not repeated on PostgreSQL: it is about PostgreSQL already, and chooses its backends itself.

// The gateway on PostgreSQL (DATABASE_URL, CONTRACT §7), in-process: an order taken, paid in the
// sandbox, notified, queried and refunded, with every row in PostgreSQL and no SQLite file made.

const MASTER_KEY = randomBytes(32).toString('base64');

t.test('an order on PostgreSQL, from the unified order to its refund', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  const url = await cluster.createDatabase();
  const gw = await startGateway(t, { DATABASE_URL: url, MASTER_KEY });
  t.equal(gw.gateway.storage.dialect, 'postgres');
  t.throws(() => gw.gateway.db, /runs on PostgreSQL/, 'there is no SQLite connection to reach for');

  const orderId = await createOrder(gw);
  t.match(orderId, /^\d{17}00\d{3}$/, 'the first instance holds slot 00, in its order ids');
  const second = await startGateway(t, { DATABASE_URL: url, MASTER_KEY });
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

t.test('the CLI with DATABASE_URL: migrate works on PostgreSQL, SQLite-only commands refuse and create nothing', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  const url = await cluster.createDatabase();
  const dir = tempDir(t);
  const env = { DATABASE_URL: url, MASTER_KEY, DATABASE_PATH: join(dir, 'dtpay.sqlite') };
  const m = await runNode(CLI, ['migrate', '--json'], dir, env);
  t.equal(m.code, 0, m.stderr);
  t.same(JSON.parse(m.stdout).current, readdirSync(PG_MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort().at(-1)!.slice(0, 4));
  const again = await runNode(CLI, ['migrate'], dir, env);
  t.match(again.stdout, /up to date/);
  for (const args of [['merchant', 'list'], ['operator', 'create', '--email', 'a@b.test', '--role', 'admin'], ['order', 'list']]) {
    const r = await runNode(CLI, args, dir, env);
    t.equal(r.code, 2, `${args.join(' ')} refuses`);
    t.match(r.stderr, /works on the SQLite database \(DATABASE_PATH\) only, and DATABASE_URL is set/);
  }
  t.same(readdirSync(dir), [], 'no SQLite file was made');
});
