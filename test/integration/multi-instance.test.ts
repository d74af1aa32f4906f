import t from 'tap';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sign } from '../../src/domain/sign.js';
import { payFields, tempDir } from '../helper.js';
import { startServer, waitFor, type Served } from '../processes.js';
import { startReceiver, type Behaviour } from '../receiver.js';
import { pgCluster } from '../pg-cluster.js';
import { openPool } from '../../src/db/postgres/pool.js';
import { migratePostgres } from '../../src/db/postgres/migrate.js';
import { PgWriter } from '../../src/db/postgres/writer.js';
import { MerchantKeys } from '../../src/secrets/merchant-keys.js';
import { createMerchant } from '../../src/services/merchants.js';
import { orderRow } from '../fixtures/orders.js';

// Two gateway processes on one PostgreSQL database (CONTRACT §7): an order taken on one is paid
// and queried through the other; identical requests sent to both at once make one order; refunds
// sent to both at once never pass the order's amount; one first-boot merchant for the database;
// and when one instance is killed with notifications in hand, the other delivers every one. Orders
// that ran out while no gateway ran are expired by the two together, each once.

type Fields = Record<string, string>;
const MASTER_KEY = randomBytes(32).toString('base64');

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function post(server: Served, path: string, fields: Fields, key: string): Promise<Fields> {
  const res = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...fields, signature: sign(fields, key, 'MD5') }),
  });
  return (await res.json()) as Fields;
}

async function sandboxPay(server: Served, orderId: string): Promise<void> {
  const res = await fetch(`${server.url}/sandbox/pay/${orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  if (res.status !== 200) throw new Error(`paying ${orderId}: ${res.status} ${await res.text()}`);
}

t.test('two gateways on one PostgreSQL database', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  const url = await cluster.createDatabase();
  const pool = openPool(url, { max: 2 });
  t.teardown(() => pool.end());
  const one = async (sql: string, values: unknown[] = []) => (await pool.query(sql, values)).rows;

  let behaviour: Behaviour = () => ({ status: 200, body: 'success' });
  const receiver = await startReceiver(t, (r, seen) => behaviour(r, seen));
  const notifyUrl = `${receiver.url}/notify`;
  const env = {
    DATABASE_URL: url,
    MASTER_KEY,
    NOTIFY_ALLOW_PRIVATE: 'true',
    NOTIFY_TIMEOUT_MS: '1000',
    NOTIFY_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1',
    LOG_LEVEL: 'warn',
  };
  const dir = tempDir(t);
  const a = await startServer(t, dir, join(dir, 'unused.sqlite'), undefined, env);
  const [, mercNo, key] = await waitFor(a, /mercNo:\s+(M\d{15})\s+key:\s+(\S+)/);
  // B sends one notification at a time to a host, so that when the merchant hangs, A holds most of them.
  const b = await startServer(t, dir, join(dir, 'unused.sqlite'), undefined, { ...env, NOTIFY_HOST_CONCURRENCY: '1' });
  t.equal((await one('SELECT count(*)::int AS n FROM merchants'))[0].n, 1, 'one first-boot merchant for the database');
  t.notMatch(b.out(), /First start/, 'the second instance makes none');
  const order = (over: Fields = {}) => payFields(mercNo!, { notifyUrl, ...over });

  await t.test('an order taken on A is paid through B and queried on either', async (t) => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await post(a, '/api/pay', order(), key!);
      t.equal(r.respCode, '000000', JSON.stringify(r));
      ids.push(r.orderId!);
    }
    t.ok(ids.every((id) => id.slice(17, 19) === '00'), 'A holds slot 00');
    const onB = await post(b, '/api/pay', order(), key!);
    t.equal(onB.orderId!.slice(17, 19), '01', 'B holds slot 01: ids never meet');
    for (const id of ids) await sandboxPay(b, id);
    for (const id of ids) {
      const qa = await post(a, '/api/query', { mercNo: mercNo!, orderId: id, signType: 'MD5' }, key!);
      t.equal(qa.payStatus, 'p0000', `${id} paid, as A sees it`);
    }
    await until(() => ids.every((id) => receiver.received.some((r) => r.json.orderId === id && r.json.payStatus === 'p0000')), 'the payments notified');
    const attempts = await one(
      `SELECT n.order_id, count(a.id)::int AS tries FROM notifications n JOIN notification_attempts a ON a.notification_id = n.id
        WHERE n.order_id = ANY($1) GROUP BY n.order_id`,
      [ids],
    );
    t.same(attempts.map((r) => r.tries), [1, 1, 1, 1], 'each payment notification was attempted once, by one of the two');
  });

  await t.test('the same request sent to both at once makes one order', async (t) => {
    for (let i = 0; i < 6; i++) {
      const fields = order({ mercOrderNo: `SAME-${i}-${process.pid}` });
      const [ra, rb] = await Promise.all([post(a, '/api/pay', fields, key!), post(b, '/api/pay', fields, key!)]);
      t.equal(ra.respCode, '000000', JSON.stringify(ra));
      t.equal(rb.respCode, '000000', JSON.stringify(rb));
      t.equal(ra.orderId, rb.orderId, `${fields.mercOrderNo}: both answer the same order`);
      t.equal((await one('SELECT count(*)::int AS n FROM orders WHERE merc_order_no = $1', [fields.mercOrderNo]))[0].n, 1);
    }
  });

  await t.test("refunds sent to both at once never pass the order's amount", async (t) => {
    const paid = await post(a, '/api/pay', order({ tradeAmt: '10.00' }), key!);
    await sandboxPay(a, paid.orderId!);
    const asks = Array.from({ length: 12 }, (_, i) =>
      post(i % 2 ? a : b, '/api/refund', { mercNo: mercNo!, orderId: paid.orderId!, mercRefundNo: `RF-${i}`, refundAmt: '1.50', signType: 'MD5' }, key!),
    );
    const answers = await Promise.all(asks);
    const accepted = answers.filter((r) => r.respCode === '000000');
    t.equal(accepted.length, 6, `6 of 12 refunds of 1.50 fit in 10.00 (${answers.map((r) => r.respCode).join(' ')})`);
    const stored = await one('SELECT coalesce(sum(amount_fen), 0)::int8 AS fen FROM refunds WHERE order_id = $1', [paid.orderId]);
    t.equal(stored[0].fen, 900n, '9.00 of refunds stored, no more');
  });

  await t.test('A killed with notifications in hand: B delivers every one', async (t) => {
    // The merchant hangs: attempts stay in flight, held by whichever instance claimed them.
    behaviour = () => ({ hang: true });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post(a, '/api/pay', order(), key!)).orderId!);
    for (const id of ids) await sandboxPay(a, id);
    await until(async () => (await one("SELECT count(*)::int AS n FROM notifications WHERE order_id = ANY($1) AND lease_owner IS NOT NULL", [ids]))[0].n === 5, 'every notification claimed');
    const held = await one('SELECT lease_owner, count(*)::int AS n FROM notifications WHERE order_id = ANY($1) GROUP BY lease_owner', [ids]);
    t.ok(Math.max(...held.map((r) => r.n)) >= 3, `A holds at least 3 of them when it dies (${held.map((r) => r.n).join(' + ')})`);
    a.child.kill('SIGKILL');
    await a.exited;
    behaviour = () => ({ status: 200, body: 'success' });
    await until(async () => (await one("SELECT count(*)::int AS n FROM notifications WHERE order_id = ANY($1) AND status = 'delivered'", [ids]))[0].n === 5, 'every notification delivered by B', 60_000);
    for (const id of ids) t.ok(receiver.received.some((r) => r.json.orderId === id), `${id} reached the merchant`);
    const q = await post(b, '/api/query', { mercNo: mercNo!, orderId: ids[0]!, signType: 'MD5' }, key!);
    t.equal(q.payStatus, 'p0000', 'and B still answers for A’s orders');
  });
});

/** The sum of a counter's samples on a gateway's /metrics whose labels include every one of `labels`. */
async function counter(server: Served, name: string, labels: string[]): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) || !labels.every((l) => line.includes(l))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

t.test('orders that ran out while no gateway ran are expired by the two together: each closed once, notified once', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  const url = await cluster.createDatabase();
  const pool = openPool(url, { max: 2 });
  t.teardown(() => pool.end());
  await migratePostgres(pool);
  const writer = new PgWriter(pool);
  t.teardown(() => writer.close());
  const receiver = await startReceiver(t);
  // More than one round takes (200 a round), so that both instances find work at start.
  const N = 300;
  const { mercNo } = await createMerchant({ writer, merchantKeys: new MerchantKeys(() => MASTER_KEY) }, 'Expiry shop', 'sandbox');
  const made = Date.now() - 2 * 3_600_000;
  const ids: string[] = [];
  for (let i = 0; i < N; i += 50) {
    const batch = Array.from({ length: Math.min(50, N - i) }, (_, j) => orderRow(mercNo, made + i + j, { notify_url: `${receiver.url}/expired` }));
    await Promise.all(batch.map((o) => writer.run('insertOrder', o)));
    ids.push(...batch.map((o) => o.order_id));
  }
  const one = async (sql: string, values: unknown[] = []) => (await pool.query(sql, values)).rows;

  const env = { DATABASE_URL: url, MASTER_KEY, NOTIFY_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'warn' };
  const dir = tempDir(t);
  const [a, b] = await Promise.all([
    startServer(t, dir, join(dir, 'unused.sqlite'), undefined, env),
    startServer(t, dir, join(dir, 'unused.sqlite'), undefined, env),
  ]);
  await until(async () => (await one("SELECT count(*)::int AS n FROM orders WHERE order_id = ANY($1) AND pay_status = 'p0006'", [ids]))[0].n === N, `all ${N} expired`, 60_000);
  await until(() => new Set(receiver.received.map((r) => r.json.orderId)).size === N, 'every expiry notified', 60_000);

  const notices = await one('SELECT order_id, count(*)::int AS n FROM notifications WHERE order_id = ANY($1) GROUP BY order_id', [ids]);
  t.equal(notices.length, N, 'a notification for every order');
  t.ok(notices.every((r) => r.n === 1), 'one notification per order (never one from each instance)');
  const events = await one("SELECT count(*)::int AS n FROM order_events WHERE order_id = ANY($1) AND to_status = 'p0006'", [ids]);
  t.equal(events[0].n, N, 'each order expired once');
  const delivered = new Map<string, number>();
  for (const r of receiver.received) delivered.set(String(r.json.orderId), (delivered.get(String(r.json.orderId)) ?? 0) + 1);
  t.ok([...delivered.values()].every((n) => n === 1), 'the merchant heard of each expiry once');
  // Every expiry asks the channel to close the order first: N closes in all means one each.
  const closes = await Promise.all([a, b].map((s) => counter(s, 'dtpay_channel_calls_total', ['operation="close"'])));
  const queries = await Promise.all([a, b].map((s) => counter(s, 'dtpay_channel_calls_total', ['operation="query"'])));
  t.equal(closes[0]! + closes[1]!, N, `the channel was asked to close ${N} times in all, once an order (A ${closes[0]}, B ${closes[1]})`);
  t.equal(queries[0]! + queries[1]!, 0, 'and never asked about them otherwise');
});
