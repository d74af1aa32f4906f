import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { sign, type SignType } from '../../src/domain/sign.js';
import { payFields, tempDir } from '../helper.js';
import { startServer, waitFor, type Served } from '../processes.js';
import { startReceiver, type Received } from '../receiver.js';
import { ownDatabase } from '../own-database.js';
import type { TestSql } from '../backend.js';

// The notification outbox against the real server process, on the pass's backend (a SQLite file,
// or a PostgreSQL database, where a killed process leaves its connections for the server to end):
// a SIGKILL in the middle of deliveries loses nothing (every paid order is announced after the
// restart, at least once), and a SIGTERM lets the attempts in flight finish and be recorded, starts
// no new one, and hands the rest to the next start.

type Fields = Record<string, string>;

/** Polls `pred` every `everyMs` until it holds; throws after `ms`. */
async function until(pred: () => boolean | Promise<boolean>, what: string, ms: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs `fn` over `items` with at most `workers` at once. */
async function pool<T>(items: readonly T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function firstMerchant(server: Served): Promise<{ mercNo: string; key: string }> {
  const [, mercNo, key] = await waitFor(server, /mercNo:\s+(M\d{15})\s+key:\s+(\S+)/);
  return { mercNo: mercNo!, key: key! };
}

async function signedPost(server: Served, path: string, fields: Fields, key: string): Promise<Fields> {
  const res = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...fields, signature: sign(fields, key, 'MD5') }),
  });
  return (await res.json()) as Fields;
}

/** Creates one sandbox order notifying `notifyUrl`; returns its orderId. */
async function createOrder(server: Served, mercNo: string, key: string, mercOrderNo: string, notifyUrl: string): Promise<string> {
  const body = await signedPost(server, '/api/pay', payFields(mercNo, { mercOrderNo, notifyUrl }), key);
  if (body.respCode !== '000000' || !body.orderId) throw new Error(`order ${mercOrderNo} not created: ${JSON.stringify(body)}`);
  return body.orderId;
}

/** The payer presses Pay; the answer comes once the payment (and its outbox row) is committed. */
async function sandboxPay(server: Served, orderId: string): Promise<Fields> {
  const res = await fetch(`${server.url}/sandbox/pay/${orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`paying ${orderId}: ${res.status} ${text}`);
  return JSON.parse(text) as Fields;
}

/** A received notification is genuine: its signature verifies with the merchant key. */
function verifies(r: Received, key: string): boolean {
  const signType = (r.json.signType ?? 'MD5') as SignType;
  return typeof r.json.signature === 'string' && sign(r.json, key, signType) === r.json.signature;
}

const paidOrderIds = (received: Received[]) => new Set(received.filter((r) => r.json.payStatus === 'p0000').map((r) => r.json.orderId!));

interface NotificationRow {
  id: number;
  order_id: string;
  status: string;
  attempts: number;
  lease_owner: string | null;
  webhook_id: string;
}
interface AttemptRow {
  notification_id: number;
  attempt: number;
  at: number;
  http_status: number | null;
  outcome: string;
  error: string | null;
  answer: string | null;
}

/** Reads the outbox of a stopped (or killed) gateway, from this process. */
async function readOutbox(sql: TestSql): Promise<{ notifications: NotificationRow[]; attempts: AttemptRow[] }> {
  return {
    notifications: await sql.all<NotificationRow>('SELECT id, order_id, status, attempts, lease_owner, webhook_id FROM notifications ORDER BY id'),
    attempts: await sql.all<AttemptRow>('SELECT notification_id, attempt, at, http_status, outcome, error, answer FROM notification_attempts ORDER BY id'),
  };
}

function countBy<T>(items: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

t.test('SIGKILL during a burst of deliveries: after the restart every paid order is announced and recorded delivered', async (t) => {
  const dir = tempDir(t);
  const db = await ownDatabase(t, dir);
  // A slowish merchant, so that some attempts are in flight when the gateway dies.
  const receiver = await startReceiver(t, () => ({ status: 200, body: 'success', delayMs: 20 + Math.floor(Math.random() * 31) }));
  const notifyUrl = `${receiver.url}/notify`;
  // Leases of the killed process run out 2 × 1 s after their claim; a failed attempt (none is
  // expected) is retried after 1 s rather than 10.
  const env = { NOTIFY_TIMEOUT_MS: '1000', NOTIFY_RETRY_SCHEDULE: '1,1,1,1,1' };
  const server = await startServer(t, dir, db.path, undefined, { ...env, ...db.env });
  const { mercNo, key } = await firstMerchant(server);

  const total = 150;
  const orderIds: string[] = new Array(total);
  await pool(
    Array.from({ length: total }, (_, i) => i),
    10,
    async (i) => {
      orderIds[i] = await createOrder(server, mercNo, key, `CRASH${i}`, notifyUrl);
    },
  );
  t.equal(new Set(orderIds).size, total, `${total} orders created`);
  t.equal(receiver.received.length, 0, 'nothing is announced before a payment');

  // The burst; the gateway dies the moment the last payment is acknowledged.
  const paid = new Set<string>();
  const payStarted = Date.now();
  await pool(orderIds, 30, async (orderId) => {
    const body = await sandboxPay(server, orderId);
    if (body.payStatus === 'p0000') paid.add(orderId);
  });
  server.child.kill('SIGKILL');
  const receivedAtKill = receiver.received.length;
  const ordersSeenAtKill = paidOrderIds(receiver.received).size;
  const payMs = Date.now() - payStarted;
  t.equal(paid.size, total, 'every payment was acknowledged as p0000');
  t.equal((await server.exited).signal, 'SIGKILL', 'the gateway was killed');

  const before = await readOutbox(db.sql);
  const recordedBeforeKill = before.notifications.filter((n) => n.status === 'delivered').length;
  const leasedAtKill = before.notifications.filter((n) => n.status === 'pending' && n.lease_owner !== null).length;
  const untouchedAtKill = before.notifications.filter((n) => n.status === 'pending' && n.lease_owner === null).length;
  t.equal(before.notifications.length, total, 'one outbox row per paid order survived the kill');
  t.comment(
    `payments took ${payMs} ms; at the kill the receiver had ${receivedAtKill} requests for ${ordersSeenAtKill} orders; ` +
      `outbox: ${recordedBeforeKill} recorded delivered, ${leasedAtKill} leased (in flight), ${untouchedAtKill} not yet claimed`,
  );

  // The same database, a new process: the unclaimed rows go at once, the leased ones when their lease runs out.
  const restarted = Date.now();
  const again = await startServer(t, dir, db.path, undefined, { ...env, ...db.env });
  await receiver.waitFor((r) => paidOrderIds(r).size === total, 15_000);
  t.comment(`every order announced ${Date.now() - restarted} ms after the restart began`);

  // /api/query shows each order's notification as delivered (the record follows the answer closely).
  const notifyStatus = new Map<string, string>();
  await until(
    async () => {
      const open = orderIds.filter((id) => notifyStatus.get(id) !== 'delivered');
      await pool(open, 10, async (orderId) => {
        const body = await signedPost(again, '/api/query', { mercNo, orderId }, key);
        if (body.respCode === '000000' && body.payStatus === 'p0000') notifyStatus.set(orderId, body.notifyStatus!);
      });
      return orderIds.every((id) => notifyStatus.get(id) === 'delivered');
    },
    '/api/query to show notifyStatus delivered for every order',
    10_000,
    100,
  );
  t.pass('/api/query shows notifyStatus delivered for every order');

  again.child.kill('SIGTERM');
  t.equal((await again.exited).code, 0, 'the restarted gateway stops cleanly');

  // What the merchant saw: every paid order, genuinely signed, paid, and one webhook-id per order
  // however often it came (so that the merchant can deduplicate).
  const byOrder = new Map<string, Received[]>();
  for (const r of receiver.received) {
    const id = r.json.orderId ?? '?';
    byOrder.set(id, [...(byOrder.get(id) ?? []), r]);
  }
  t.same([...byOrder.keys()].sort(), [...orderIds].sort(), 'the receiver heard of exactly the paid orders');
  t.ok(
    receiver.received.every((r) => r.json.payStatus === 'p0000' && r.json.mercNo === mercNo && verifies(r, key)),
    'every request announced p0000, signed with the merchant key',
  );
  t.ok(
    [...byOrder.values()].every((rs) => new Set(rs.map((r) => r.headers['webhook-id'])).size === 1),
    'a repeated announcement carries the same webhook-id',
  );
  const duplicates = receiver.received.length - byOrder.size;
  t.comment(`${receiver.received.length} requests in all: ${duplicates} duplicate(s) of an announcement the killed process had sent`);

  // The database agrees: every order's (only) notification delivered, with the attempt to prove it.
  const after = await readOutbox(db.sql);
  t.equal(after.notifications.length, total, 'still one notification per order');
  t.same(countBy(after.notifications, (n) => n.status), { delivered: total }, 'every notification is delivered');
  t.ok(after.notifications.every((n) => n.lease_owner === null), 'no lease is left behind');
  const deliveredAttempt = new Set(after.attempts.filter((a) => a.outcome === 'delivered' && a.http_status === 200).map((a) => a.notification_id));
  t.ok(after.notifications.every((n) => deliveredAttempt.has(n.id)), 'every notification has a delivered attempt in the log');
  const webhookIdOf = new Map(after.notifications.map((n) => [n.order_id, n.webhook_id]));
  t.ok(
    receiver.received.every((r) => r.headers['webhook-id'] === webhookIdOf.get(r.json.orderId!)),
    "the webhook-id sent is the notification's stored one",
  );
  // The killed process's attempts were never recorded; a retry here would only mean a slow
  // exchange on a busy machine, and it too must have ended delivered.
  const outcomes = countBy(after.attempts, (a) => a.outcome);
  t.equal(outcomes.failed, undefined, 'no notification ran out of attempts');
  t.comment(`attempt log: ${JSON.stringify(outcomes)}`);
});

t.test('SIGTERM with attempts in flight: they finish and are recorded, no new one starts, the rest go on the next start', async (t) => {
  const dir = tempDir(t);
  const db = await ownDatabase(t, dir);
  const delayMs = 1000;
  const receiver = await startReceiver(t, () => ({ status: 200, body: 'success', delayMs }));
  const notifyUrl = `${receiver.url}/notify`;
  const shutdownTimeoutMs = 8000;
  // At most 4 attempts at once to the receiver: of 8 paid orders, 4 are in flight at the signal
  // and 4 wait their turn in the dispatcher's queue.
  const hostConcurrency = 4;
  const env = {
    NOTIFY_TIMEOUT_MS: '3000',
    NOTIFY_HOST_CONCURRENCY: String(hostConcurrency),
    NOTIFY_RETRY_SCHEDULE: '1,1,1',
    SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
  };
  const server = await startServer(t, dir, db.path, undefined, { ...env, ...db.env });
  const { mercNo, key } = await firstMerchant(server);

  const total = 8;
  const orderIds: string[] = [];
  for (let i = 0; i < total; i++) orderIds.push(await createOrder(server, mercNo, key, `TERM${i}`, notifyUrl));
  await Promise.all(orderIds.map((id) => sandboxPay(server, id)));

  await receiver.waitFor((r) => r.length >= hostConcurrency, 10_000);
  const signalAt = Date.now();
  const inFlight = [...receiver.received];
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  const exitMs = Date.now() - signalAt;
  t.comment(`exited ${exitMs} ms after SIGTERM; ${inFlight.length} attempt(s) had reached the receiver before it`);

  t.same(exit, { code: 0, signal: null }, 'the gateway exits with code 0');
  t.ok(exitMs < shutdownTimeoutMs, `within SHUTDOWN_TIMEOUT_MS (${exitMs} ms < ${shutdownTimeoutMs} ms)`);
  // The receiver answers `delayMs` after each arrival: the gateway cannot have exited earlier than
  // the last answer to an attempt in flight unless it abandoned that attempt.
  const lastAnswer = Math.max(...inFlight.map((r) => r.at + delayMs));
  const exitedAt = signalAt + exitMs;
  t.ok(exitedAt >= lastAnswer - 50, `it waited for the attempts in flight (exit ${exitedAt - lastAnswer} ms after the last answer)`);
  t.equal(inFlight.length, hostConcurrency, `${hostConcurrency} attempts were in flight at the signal`);
  t.equal(receiver.received.length, inFlight.length, 'nothing reached the receiver after the signal');
  await sleep(200);
  t.equal(receiver.received.length, inFlight.length, 'nor after the exit');

  const inFlightIds = new Set(inFlight.map((r) => r.json.orderId!));
  const { notifications, attempts } = await readOutbox(db.sql);
  t.equal(notifications.length, total, 'one notification per paid order');
  const ofOrder = new Map(notifications.map((n) => [n.order_id, n]));
  const recorded = [...inFlightIds].filter((id) => {
    const n = ofOrder.get(id);
    const a = attempts.filter((x) => x.notification_id === n?.id);
    return n?.status === 'delivered' && n.attempts === 1 && a.length === 1 && a[0]!.outcome === 'delivered' && a[0]!.answer === 'success';
  });
  t.equal(recorded.length, inFlightIds.size, 'every attempt in flight completed and was recorded as delivered');
  const rest = notifications.filter((n) => !inFlightIds.has(n.order_id));
  t.equal(rest.length, total - hostConcurrency, 'the others were never sent');
  t.ok(
    rest.every((n) => n.status === 'pending' && n.attempts === 0),
    'the others are still pending, with no attempt counted',
  );
  t.ok(notifications.every((n) => n.lease_owner === null), 'no lease is left behind: the next start sends the rest at once');
  t.equal(attempts.length, hostConcurrency, 'the attempt log holds only the attempts in flight');
  t.ok(
    attempts.every((a) => a.at <= signalAt),
    'no recorded attempt started after the signal',
  );

  // The next start delivers the rest at once, without waiting for a lease or a retry delay.
  // (A row left leased would wait for its lease: 2 × NOTIFY_TIMEOUT_MS = 6 s.)
  const again = await startServer(t, dir, db.path, undefined, { ...env, ...db.env });
  const serving = Date.now();
  await receiver.waitFor((r) => paidOrderIds(r).size === total, 10_000);
  const waited = Date.now() - serving;
  t.ok(waited < 3000, `the rest arrived at once: ${waited} ms after the restarted gateway served`);
  t.equal(receiver.received.length, total, 'each order was announced exactly once in all');
  t.ok(receiver.received.every((r) => r.json.payStatus === 'p0000' && verifies(r, key)), 'all announced p0000, signed');
  await until(
    async () => (await readOutbox(db.sql)).notifications.every((n) => n.status === 'delivered'),
    'the rest to be recorded delivered',
    5_000,
  );
  again.child.kill('SIGTERM');
  t.equal((await again.exited).code, 0, 'the restarted gateway stops cleanly');
  const final = await readOutbox(db.sql);
  t.same(countBy(final.notifications, (n) => n.status), { delivered: total }, 'every notification is delivered');
  t.same(countBy(final.attempts, (a) => a.outcome), { delivered: total }, 'one delivered attempt each');
});
