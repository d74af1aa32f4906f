import t from 'tap';
import { join } from 'node:path';
import pino from 'pino';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { InlineWriter, type Writer } from '../../src/db/writer.js';
import { prepareReads } from '../../src/db/reads.js';
import { asyncReads } from '../../src/db/sqlite-storage.js';
import { openPool } from '../../src/db/postgres/pool.js';
import { PgWriter } from '../../src/db/postgres/writer.js';
import { postgresPort } from '../../src/db/postgres/storage.js';
import type { StoragePort } from '../../src/db/port.js';
import type { AttemptRow, MerchantMode, NotificationRow } from '../../src/db/rows.js';
import { createMerchant, type NewMerchant } from '../../src/services/merchants.js';
import { Dispatcher, type DispatcherOptions } from '../../src/notify/dispatcher.js';
import { realClock } from '../../src/notify/clock.js';
import { tempDir, until } from '../helper.js';
import { gatewayDatabase, postgresSql, sqliteSql, testBackend, type TestSql } from '../backend.js';
import { orderRow } from '../fixtures/orders.js';
import { startReceiver } from '../receiver.js';
import { testMerchantKeys } from '../fixtures/merchant-keys.js';

// The dispatcher over a real database and a real receiver, without the HTTP API: live merchants
// (which cannot take sandbox orders), DNS answers chosen by the test, and a million rows. The
// database is the pass's backend: a SQLite file with the inline writer, or a PostgreSQL database
// with the writer and reads a gateway has there.

interface Rig {
  sql: TestSql;
  w: Writer;
  reads: StoragePort['reads'];
  start(opts?: Partial<DispatcherOptions>): Dispatcher;
  /** a paid order of a new merchant in `mode`, notifying `url`; returns the notification id */
  paid(mode: MerchantMode, url: string): Promise<{ id: number; merchant: NewMerchant }>;
  row(id: number): Promise<NotificationRow>;
  attempts(id: number): Promise<AttemptRow[]>;
}

async function rig(t: { teardown(fn: () => unknown): void }): Promise<Rig> {
  const merchantKeys = testMerchantKeys();
  let w: Writer;
  let reads: StoragePort['reads'];
  let sql: TestSql;
  let close: () => Promise<void>;
  if (testBackend() === 'postgres') {
    const url = await gatewayDatabase();
    const pool = openPool(url, { max: 4 });
    w = new PgWriter(pool);
    const storage = postgresPort(pool, w, merchantKeys);
    reads = storage.reads;
    sql = postgresSql(url);
    close = async () => {
      await sql.close();
      await storage.close();
    };
  } else {
    const db = openDb(join(tempDir(t), 'd.sqlite'));
    migrate(db);
    w = new InlineWriter(db);
    reads = asyncReads(prepareReads(db, merchantKeys));
    sql = sqliteSql({ db });
    close = async () => void db.close();
  }
  const dispatchers: Dispatcher[] = [];
  t.teardown(async () => {
    for (const d of dispatchers) await d.stop(100);
    await close();
  });
  return {
    sql,
    w,
    reads,
    start(opts = {}) {
      const d = new Dispatcher({
        reads,
        writer: w,
        log: pino({ level: 'silent' }),
        clock: realClock,
        schedule: [600],
        timeoutMs: 2_000,
        concurrency: 8,
        hostConcurrency: 4,
        allowPrivate: false,
        allowHosts: [],
        resolve: async (h) => {
          throw new Error(`unexpected lookup of ${h}`);
        },
        ...opts,
      });
      dispatchers.push(d);
      d.start();
      return d;
    },
    async paid(mode, url) {
      const merchant = await createMerchant({ writer: w, merchantKeys }, `${mode} shop`, mode);
      const order = orderRow(merchant.mercNo, Date.now(), { notify_url: url });
      await w.run('insertOrder', order);
      const r = await w.run('transitionOrder', { orderId: order.order_id, event: 'channel_paid', source: 'test', at: Date.now() });
      if (!r.changed || !r.notification) throw new Error('no notification queued');
      return { id: r.notification.id, merchant };
    },
    row: async (id) => (await sql.get<NotificationRow>('SELECT * FROM notifications WHERE id = ?', id))!,
    attempts: (id) => sql.all<AttemptRow>('SELECT * FROM notification_attempts WHERE notification_id = ? ORDER BY id', id),
  };
}

t.test('live merchants: public addresses only, unless the operator allows more', async (t) => {
  const rcv = await startReceiver(t);
  const r = await rig(t);
  const refused = await r.paid('live', `${rcv.url}/live`);
  const sandbox = await r.paid('sandbox', `${rcv.url}/sandbox`);
  const metadata = await r.paid('sandbox', 'http://169.254.169.254/latest/meta-data/');
  const spelled = await r.paid('sandbox', 'http://0xa9.0xfe.0xa9.0xfe/');
  r.start();
  await until(async () => (await Promise.all([refused, sandbox, metadata, spelled].map((x) => r.attempts(x.id)))).every((a) => a.length === 1), 'four attempts');
  t.match((await r.attempts(refused.id))[0], { outcome: 'retry', http_status: null, error: /^address: host 127\.0\.0\.1 address 127\.0\.0\.1 is loopback/ });
  t.equal((await r.attempts(sandbox.id))[0]!.outcome, 'delivered', 'sandbox merchants may notify loopback');
  t.match((await r.attempts(metadata.id))[0]!.error, /is metadata: never contacted/);
  t.match((await r.attempts(spelled.id))[0]!.error, /is metadata: never contacted/, 'however the address is spelled');
  t.same(rcv.received.map((x) => x.path), ['/sandbox'], 'only the sandbox notification reached the receiver');
});

t.test('NOTIFY_ALLOW_PRIVATE and NOTIFY_ALLOW_HOSTS open private addresses to live merchants', async (t) => {
  const rcv = await startReceiver(t);
  const r1 = await rig(t);
  const a = await r1.paid('live', `${rcv.url}/any`);
  r1.start({ allowPrivate: true });
  await until(async () => (await r1.row(a.id)).status === 'delivered', 'delivered with allowPrivate');

  const r2 = await rig(t);
  const listed = await r2.paid('live', `http://shop.internal:${rcv.port}/listed`);
  const other = await r2.paid('live', `http://other.internal:${rcv.port}/other`);
  const lookups: string[] = [];
  r2.start({
    allowHosts: ['shop.internal'],
    resolve: async (h) => {
      lookups.push(h);
      return ['127.0.0.1'];
    },
  });
  await until(async () => (await r2.row(listed.id)).status === 'delivered' && (await r2.attempts(other.id)).length === 1, 'both attempted');
  t.match((await r2.attempts(other.id))[0]!.error, /other\.internal address 127\.0\.0\.1 is loopback/);
  const got = rcv.received.find((x) => x.path === '/listed')!;
  t.equal(got.headers.host, `shop.internal:${rcv.port}`, 'the Host header names the merchant host');
});

t.test('the connection goes to the address that was checked (no second lookup)', async (t) => {
  const rcv = await startReceiver(t);
  const r = await rig(t);
  const n = await r.paid('sandbox', `http://rebind.test:${rcv.port}/n`);
  let calls = 0;
  // A rebinding name: the first answer is the receiver; any later one would point elsewhere.
  r.start({
    resolve: async () => (++calls === 1 ? ['127.0.0.1'] : ['10.255.255.1']),
  });
  await until(async () => (await r.row(n.id)).status === 'delivered', 'delivered');
  t.equal(calls, 1, 'one lookup per attempt');
  t.equal(rcv.received.length, 1, 'and the request reached the checked address');
});

t.test('a lease held by a process that died is honoured until it runs out, then re-armed', async (t) => {
  const rcv = await startReceiver(t);
  const r = await rig(t);
  const n = await r.paid('sandbox', `${rcv.url}/n`);
  const now = Date.now();
  t.ok(await r.w.run('claimNotification', { id: n.id, owner: 'dead-process', now, leaseUntil: now + 300 }));
  const d = r.start();
  await new Promise((res) => setTimeout(res, 100));
  t.equal(rcv.received.length, 0, 'not sent while the lease runs');
  await until(async () => (await r.row(n.id)).status === 'delivered', 'delivered once the lease ran out');
  t.ok(Date.now() >= now + 300);
  t.equal(d.stats.loaded, 1);
});

t.test('a million rows due next week are not loaded', async (t) => {
  const rcv = await startReceiver(t);
  const r = await rig(t);
  const soon = await r.paid('sandbox', `${rcv.url}/soon`);
  const order = (await r.row(soon.id)).order_id;
  const nextWeek = Date.now() + 7 * 24 * 3600 * 1000;
  // On PostgreSQL the status counters' row trigger would update one row a million times in one
  // statement, which takes hours (no gateway ever writes so); as `dtpay db copy` does, the bulk
  // load goes around the table's triggers and then counts its rows itself.
  const pg = r.sql.backend === 'postgres';
  if (pg) await r.sql.run('ALTER TABLE notifications DISABLE TRIGGER USER');
  await r.sql.run(`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000)
    INSERT INTO notifications (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
    SELECT 'msg_bulk_' || x, '${order}', 'M0', 'http://127.0.0.1:9/', '{}', 'MD5', 'bulk', 'pending', 0, ${nextWeek} + x, 0, 0 FROM n`);
  if (pg) {
    await r.sql.run('ALTER TABLE notifications ENABLE TRIGGER USER');
    await r.sql.run("UPDATE status_counts SET n = n + 1000000 WHERE entity = 'notifications' AND status = 'pending'");
  }
  t.equal(await r.sql.value("SELECT count(*) FROM notifications WHERE status = 'pending'"), 1_000_001);
  const heapBefore = process.memoryUsage().heapUsed;
  const d = r.start({ capacity: 1000 });
  await until(async () => (await r.row(soon.id)).status === 'delivered', 'the one due now delivered');
  t.equal(d.stats.loaded, 1, 'only the row due now was read from the table');
  t.equal(d.stats.maxHeld, 1, 'and held in memory');
  const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  t.ok(grownMb < 50, `heap grew by ${grownMb.toFixed(1)} MB, not by a million rows`);
});

t.test('memory stays bounded by capacity when more is due than it holds', async (t) => {
  const rcv = await startReceiver(t);
  const r = await rig(t);
  const ids: number[] = [];
  for (let i = 0; i < 60; i++) ids.push((await r.paid('sandbox', `${rcv.url}/n${i}`)).id);
  const d = r.start({ capacity: 10 });
  await until(async () => (await Promise.all(ids.map((id) => r.row(id)))).every((n) => n.status === 'delivered'), 'all delivered');
  t.ok(d.stats.maxHeld <= 10, `held at most 10 at once (${d.stats.maxHeld})`);
  t.equal(d.stats.delivered, 60);
  t.equal(rcv.received.length, 60, 'each exactly once');
});

t.test('the next notification to a host is claimed while the one before it is in flight, then sent in its slot', async (t) => {
  // The first request hangs until the attempt times out; one attempt at a time to this host.
  const rcv = await startReceiver(t, (_r, seen) => (seen.length === 1 ? { hang: true } : { status: 200, body: 'success' }));
  const r = await rig(t);
  const first = await r.paid('sandbox', `${rcv.url}/a`);
  const second = await r.paid('sandbox', `${rcv.url}/b`);
  const d = r.start({ hostConcurrency: 1, concurrency: 4, timeoutMs: 1500 });
  await rcv.waitFor((x) => x.length === 1);
  await until(async () => (await r.row(second.id)).lease_owner === d.owner, 'the second claimed');
  t.equal((await r.attempts(first.id)).length, 0, 'while the first exchange was still in flight');
  t.equal(rcv.received.length, 1, 'but not sent: the host takes one at a time');
  t.equal((await r.attempts(second.id)).length, 0);
  await until(async () => (await r.row(second.id)).status === 'delivered', 'the second delivered once the first timed out');
  const [a1] = await r.attempts(first.id);
  const [a2] = await r.attempts(second.id);
  t.match(a1, { outcome: 'retry', error: 'timeout' });
  t.ok(a2!.at >= a1!.at + a1!.latency_ms - 5, 'the second went after the first exchange ended, in its slot');
  t.equal(rcv.received.length, 2);
  await d.stop(100);
  t.equal((await r.row(first.id)).lease_owner, null, 'no lease left behind');
});

t.test('a follower claimed at shutdown is handed back untried', async (t) => {
  const rcv = await startReceiver(t, () => ({ hang: true }));
  const r = await rig(t);
  const first = await r.paid('sandbox', `${rcv.url}/a`);
  const second = await r.paid('sandbox', `${rcv.url}/b`);
  const d = r.start({ hostConcurrency: 1, concurrency: 4, timeoutMs: 5000 });
  await until(async () => (await r.row(second.id)).lease_owner === d.owner, 'the second claimed');
  await d.stop(50);
  t.equal(rcv.received.length, 1, 'only the first was sent');
  for (const id of [first.id, second.id]) t.match(await r.row(id), { status: 'pending', attempts: 0, lease_owner: null }, `${id} pending, unleased, untried`);
});

t.test('an outbox read that fails is tried again at the next load, and what it then finds goes out', async (t) => {
  const rcv = await startReceiver(t);
  const r = await rig(t);
  const n = await r.paid('sandbox', `${rcv.url}/n`);
  const reads = r.reads;
  let loads = 0;
  r.start({
    reads: {
      ...reads,
      dueNotifications: async (until, limit) => {
        if (++loads === 1) throw new Error('the database did not answer');
        return reads.dueNotifications(until, limit);
      },
    },
    loadEveryMs: 100,
  });
  await until(async () => (await r.row(n.id)).status === 'delivered', 'delivered after the failed read');
  t.ok(loads >= 2, 'read again after the failure');
  t.equal(rcv.received.length, 1);
});
