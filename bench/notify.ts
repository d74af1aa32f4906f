import Database from 'better-sqlite3';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { OrderRow } from '../src/db/rows.js';
import { OrderIdGenerator } from '../src/domain/ids.js';
import { notificationFields, signedBody, type NotificationFields } from '../src/notify/notification-body.js';
import { webhookHeaders } from '../src/notify/webhook-signature.js';
import {
  SERVER_JS, benchNamed, benchOptions, checkTable, cpuOf, createSandboxMerchant, die, f0, f1, f2, freePort, loadLine, machineBusy, machineLine,
  makeTempDir, percentile, portLine, positive, positiveInt, serverEnv, sleep, spawnChild, stopAll, stopChild, verdictLines,
  waitForHealthz, whenChildDies, type Check, type Merchant,
} from './harness.js';
import { failsFirst, type PathStats, type ReceiverStats } from './notify-receiver.js';
import { endedOrder, newWebhookId, orderInsertSql, type SeedOrder } from './orders.js';

// `npm run bench:notify`: merchant notifications (the outbox, CONTRACT §2.5) of a real gateway —
// its own process, a fresh database, a sandbox merchant made by the CLI, default NOTIFY_* settings —
// to a receiver on 127.0.0.1 (node:http, its own process, checking both signatures of every
// request), against a bare undici Pool posting the same signed JSON to the same receiver from this
// process. In a fixed order:
//   warm-up (not scored) → baseline (bare undici Pool) → run "success" (the receiver answers
//   `success`) → run "half-fail" (it answers `fail` to the first attempt of every notification
//   whose webhook-id hashes odd; the gateway's retry schedule, 10 s by default, brings them back).
// Each run seeds N paid orders and their pending notifications with SQL through a second
// connection to the gateway's database while it runs (WAL), due_at = t0 + i·1000/R (or all at t0
// with --burst), t0 --lead seconds after seeding; the gateway's dispatcher loads them from the
// table as they come within its horizon, as it does after a restart. This process then polls the
// table until every row is `delivered` (or `failed`), and reads notification_attempts afterwards.
//   delivered/s = notifications delivered / (first moment all are seen delivered in the table −
//                 first due_at); the outbox update is committed by then.
//   lateness    = notification_attempts.at − notification_attempts.due_at, per attempt.
// Exit code: 0 valid and targets met, 2 valid but a target missed, 1 invalid run.

benchNamed('bench:notify');
const opt = benchOptions(
  'dist/bench/notify.js',
  {
    count: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '6000' },
    burst: { type: 'boolean', default: false },
    lead: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2000' },
    'baseline-connections': { type: 'string', default: '16' },
    'baseline-inflight': { type: 'string', default: '64' },
    single: { type: 'string', default: '5000' },
    'slow-ms': { type: 'string', default: '10' },
    'server-env': { type: 'string', multiple: true, default: [] },
    'skip-verify': { type: 'boolean', default: false },
  },
  [
    ['--count N', 'notifications per run (20000)'],
    ['--rate R', 'offered rate: due_at = t0 + i*1000/R (6000)'],
    ['--burst', 'every notification of a run due at t0: measures the drain rate'],
    ['--lead S', 'seconds between the end of seeding and t0 (2)'],
    ['--warmup N', 'notifications of the unscored warm-up run, 0 for none (2000)'],
    ['--baseline-connections C', 'undici Pool connections of the baseline (16)'],
    ['--baseline-inflight K', 'baseline requests in flight (64)'],
    ['--single N', 'notifications of the single-host run, all due at once, 0 for none (5000)'],
    ['--slow-ms MS', 'how long the single host takes to answer (10)'],
    ['--server-env NAME=VALUE', 'extra gateway environment (repeatable), e.g. NOTIFY_HOST_CONCURRENCY=64'],
    ['--skip-verify', 'the receiver does not check signatures'],
  ],
);

const COUNT = positiveInt(opt.count, '--count');
const RATE = positive(opt.rate, '--rate');
const BURST = opt.burst;
const LEAD_MS = positive(opt.lead, '--lead') * 1000;
const WARMUP = Number(opt.warmup);
if (!Number.isInteger(WARMUP) || WARMUP < 0) die(`--warmup: expected a whole number, got ${JSON.stringify(opt.warmup)}`);
const BASE_CONNS = positiveInt(opt['baseline-connections'], '--baseline-connections');
const BASE_INFLIGHT = positiveInt(opt['baseline-inflight'], '--baseline-inflight');
const SINGLE = Number(opt.single);
if (!Number.isInteger(SINGLE) || SINGLE < 0) die(`--single: expected a whole number, got ${JSON.stringify(opt.single)}`);
const SLOW_MS = Number(opt['slow-ms']);
if (!Number.isFinite(SLOW_MS) || SLOW_MS < 0) die(`--slow-ms: expected a number of milliseconds, got ${JSON.stringify(opt['slow-ms'])}`);
const SERVER_ENV = serverEnv(opt['server-env']);
/** The gateway's default (config.ts); the bench leaves it alone unless --server-env sets it. */
const HOST_CONCURRENCY = Number(SERVER_ENV.NOTIFY_HOST_CONCURRENCY ?? 32);
const TARGETS = { deliveredPerS: 5000, latenessP99Ms: 200 };
const POLL_MS = 25;
const STALL_MS = 8000;
const LATE_BUCKET_MS = 500;
/** The gateway's default (config.ts); the bench leaves it alone unless --server-env sets it. */
const RETRY_SCHEDULE_S = (SERVER_ENV.NOTIFY_RETRY_SCHEDULE ?? '10,10,10,10,10').split(',').map((s) => Number(s.trim()));
const SEED_BATCH = 2000;

const RECEIVER_JS = fileURLToPath(new URL('./notify-receiver.js', import.meta.url));

// ---------------------------------------------------------------------------------------------
// CPU of the gateway, the receiver and this process, and of the rest of the machine.

interface CpuMark {
  t: number;
  gateway: number;
  receiver: number;
  bench: number;
  machine: number;
}

interface CpuSpent {
  seconds: number;
  gateway: number;
  receiver: number;
  bench: number;
  /** CPU seconds of everything else on the machine */
  others: number;
}

function cpuMark(gatewayPid: number | undefined, receiverPid: number | undefined): CpuMark {
  const u = process.cpuUsage();
  return { t: performance.now(), gateway: cpuOf(gatewayPid), receiver: cpuOf(receiverPid), bench: (u.user + u.system) / 1e6, machine: machineBusy() };
}

function cpuSince(a: CpuMark, b: CpuMark): CpuSpent {
  const gateway = b.gateway - a.gateway;
  const receiver = b.receiver - a.receiver;
  const bench = b.bench - a.bench;
  return { seconds: (b.t - a.t) / 1000, gateway, receiver, bench, others: Math.max(0, b.machine - a.machine - gateway - receiver - bench) };
}

// ---------------------------------------------------------------------------------------------
// Seeding: paid orders and their pending notifications, as the payment path would have left them.

const ids = new OrderIdGenerator();

/** A paid order (paid a second ago, created a minute ago); `tag` is 4 characters, so that every run's bodies have the same length. */
function paidOrder(m: Merchant, tag: string, i: number, notifyUrl: string, now: number): SeedOrder {
  return endedOrder(m, { orderId: ids.next(), mercOrderNo: `BN-${tag}-${String(i).padStart(8, '0')}`, notifyUrl, createdAt: now - 60_000, endedAt: now - 1000, status: 'p0000' });
}

type RunPath = '/ok' | '/half' | '/slow';

interface Seeded {
  tag: string;
  path: string;
  count: number;
  firstId: number;
  lastId: number;
  firstDue: number;
  lastDue: number;
  /** how many of them the receiver fails once (path /half) */
  failOnce: number;
  /** bytes of one signed body, as the gateway will post it */
  bodyBytes: number;
  seedMs: number;
}

class Seeder {
  private readonly insertOrder;
  private readonly insertEvent;
  private readonly insertNotification;
  private readonly ordersTx;
  private readonly notificationsTx;

  constructor(
    private readonly db: Database.Database,
    private readonly merchant: Merchant,
    private readonly receiverBase: string,
  ) {
    this.insertOrder = db.prepare(orderInsertSql((db.pragma('table_info(orders)') as { name: string }[]).map((c) => c.name)));
    this.insertEvent = db.prepare(
      `INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) VALUES (?, 'p0001', 'p0000', 'bench', 'seeded by bench:notify', ?)`,
    );
    this.insertNotification = db.prepare(`INSERT INTO notifications
        (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
      VALUES (@webhookId, @orderId, @mercNo, @url, @fieldsJson, 'MD5', 'state change to p0000', 'pending', 0, @dueAt, @at, @at)`);
    this.ordersTx = db.transaction((rows: SeedOrder[]) => {
      for (const r of rows) {
        this.insertOrder.run(r);
        this.insertEvent.run(r.order_id, r.updated_at);
      }
    });
    this.notificationsTx = db.transaction((rows: Record<string, unknown>[]) => {
      let first = 0;
      let last = 0;
      for (const r of rows) {
        last = Number(this.insertNotification.run(r).lastInsertRowid);
        if (!first) first = last;
      }
      return { first, last };
    });
  }

  /** N paid orders (committed first), then their notifications in one transaction, due from t0 = now + lead. */
  seed(tag: string, count: number, path: RunPath, rate: number, burst: boolean): Seeded {
    const started = performance.now();
    const url = `${this.receiverBase}${path}`;
    const now = Date.now();
    const orders: SeedOrder[] = [];
    for (let i = 0; i < count; i++) orders.push(paidOrder(this.merchant, tag, i, url, now));
    for (let i = 0; i < count; i += SEED_BATCH) this.ordersTx(orders.slice(i, i + SEED_BATCH));

    const rows: Record<string, unknown>[] = [];
    let failOnce = 0;
    let bodyBytes = 0;
    for (const o of orders) {
      const { fields } = notificationFields(o as OrderRow, now);
      const webhookId = newWebhookId();
      if (path === '/half' && failsFirst(webhookId)) failOnce++;
      if (!bodyBytes) bodyBytes = Buffer.byteLength(signedBody(fields, this.merchant.key, 'MD5'));
      rows.push({ webhookId, orderId: o.order_id, mercNo: o.merc_no, url, fieldsJson: JSON.stringify(fields), dueAt: 0, at: now });
    }
    const t0 = Date.now() + LEAD_MS;
    rows.forEach((r, i) => (r.dueAt = burst ? t0 : t0 + Math.floor((i * 1000) / rate)));
    const { first, last } = this.notificationsTx(rows);
    if (last - first + 1 !== count) throw new Error(`notification ids of run ${tag} are not contiguous (${first}..${last})`);
    return {
      tag,
      path,
      count,
      firstId: first,
      lastId: last,
      firstDue: t0,
      lastDue: rows[rows.length - 1]!.dueAt as number,
      failOnce,
      bodyBytes,
      seedMs: performance.now() - started,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// One gateway run: seed, wait until the table says every row is delivered, read the attempt log.

interface Lateness {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

interface GatewayRun {
  name: string;
  warmup: boolean;
  seeded: Seeded;
  complete: boolean;
  delivered: number;
  failed: number;
  /** epoch ms when the poll first saw every row delivered (failed), and the first-round deliveries */
  allSeenAt: number;
  firstRoundSeenAt: number;
  attempts: number;
  outcomes: Record<string, number>;
  errors: Record<string, number>;
  firstOk: number;
  /** end of the exchange (at + latency_ms) of the last delivering attempt, and of the last first attempt that delivered */
  lastDeliveryEnd: number;
  lastFirstOkEnd: number;
  deliveredPerS: number;
  deliveredPerSExchange: number;
  firstRoundPerS: number;
  /** first attempts, whatever their outcome, per second up to the end of the last first exchange */
  firstAttemptsPerS: number;
  /** p99 lateness of the attempts due in each LATE_BUCKET_MS of the run, from the first due_at; NaN when none */
  lateP99ByDue: number[];
  lateFirst: Lateness;
  lateRetry: Lateness;
  lateAll: Lateness;
  exchangeMs: Lateness;
  cpu: CpuSpent;
  receiver: PathStats;
  unexpected: string[];
}

function lateness(values: number[]): Lateness {
  const s = Float64Array.from(values).sort();
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : NaN };
}

function diffStats(before: PathStats | undefined, after: PathStats | undefined): PathStats {
  const zero: PathStats = { requests: 0, success: 0, fail: 0, duplicates: 0, badBodySignature: 0, badWebhookSignature: 0, malformed: 0, bytesIn: 0 };
  const a = after ?? zero;
  const b = before ?? zero;
  const out = { ...zero };
  for (const k of Object.keys(zero) as (keyof PathStats)[]) out[k] = a[k] - b[k];
  return out;
}

async function receiverStats(base: string): Promise<ReceiverStats> {
  const res = await fetch(`${base}/stats`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as ReceiverStats;
}

interface Context {
  seeder: Seeder;
  reader: Database.Database;
  receiverBase: string;
  gatewayPid: number | undefined;
  receiverPid: number | undefined;
}

let abortWait: ((why: string) => void) | undefined;

async function gatewayRun(ctx: Context, name: string, tag: string, count: number, path: RunPath, warmup: boolean, burst = BURST): Promise<GatewayRun> {
  const before = (await receiverStats(ctx.receiverBase))[path];
  const seeded = ctx.seeder.seed(tag, count, path, RATE, burst);
  const cpu0 = cpuMark(ctx.gatewayPid, ctx.receiverPid);

  const countStatus = ctx.reader.prepare('SELECT count(*) FROM notifications WHERE status = ? AND id BETWEEN ? AND ?').pluck();
  const firstRound = seeded.count - seeded.failOnce;
  const retries = path === '/half' && seeded.failOnce > 0;
  const spanMs = seeded.lastDue - seeded.firstDue;
  const timeoutMs = LEAD_MS + spanMs + (retries ? (RETRY_SCHEDULE_S[0] ?? 0) * 1000 : 0) + 20_000 + (burst ? count * (1 + SLOW_MS) : 0);
  const deadline = Date.now() + timeoutMs;
  let delivered = 0;
  let failed = 0;
  let allSeenAt = NaN;
  let firstRoundSeenAt = NaN;
  let aborted: string | undefined;
  abortWait = (why) => (aborted = why);
  // Stalled: nothing delivered for STALL_MS while rows are overdue by more than that. A wait for a
  // retry (rows due in the future) is not a stall.
  const overdue = ctx.reader.prepare("SELECT count(*) FROM notifications WHERE status = 'pending' AND due_at <= ? AND id BETWEEN ? AND ?").pluck();
  let progressAt = Date.now();
  let lastDelivered = -1;
  let stalled = false;
  while (Date.now() < deadline && !aborted) {
    delivered = countStatus.get('delivered', seeded.firstId, seeded.lastId) as number;
    const now = Date.now();
    if (delivered !== lastDelivered) {
      lastDelivered = delivered;
      progressAt = now;
    } else if (now - progressAt > STALL_MS && (overdue.get(now - STALL_MS, seeded.firstId, seeded.lastId) as number) > 0) {
      stalled = true;
      break;
    }
    if (Number.isNaN(firstRoundSeenAt) && delivered >= firstRound) firstRoundSeenAt = now;
    if (delivered === seeded.count) {
      allSeenAt = now;
      break;
    }
    failed = countStatus.get('failed', seeded.firstId, seeded.lastId) as number;
    if (delivered + failed === seeded.count) {
      allSeenAt = now;
      break;
    }
    await sleep(POLL_MS);
  }
  abortWait = undefined;
  if (aborted) throw new Error(aborted);
  const cpu = cpuSince(cpu0, cpuMark(ctx.gatewayPid, ctx.receiverPid));
  const after = (await receiverStats(ctx.receiverBase))[path];

  const rows = ctx.reader
    .prepare(
      `SELECT n.webhook_id AS webhookId, a.attempt, a.due_at AS dueAt, a.at, a.latency_ms AS latencyMs, a.outcome, a.error
       FROM notification_attempts a JOIN notifications n ON n.id = a.notification_id
       WHERE a.notification_id BETWEEN ? AND ?`,
    )
    .all(seeded.firstId, seeded.lastId) as { webhookId: string; attempt: number; dueAt: number; at: number; latencyMs: number; outcome: string; error: string | null }[];

  const outcomes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const lateFirst: number[] = [];
  const lateRetry: number[] = [];
  const exchange: number[] = [];
  let firstOk = 0;
  let lastDeliveryEnd = NaN;
  let lastFirstOkEnd = NaN;
  let lastFirstEnd = NaN;
  const buckets: number[][] = [];
  const unexpected: string[] = [];
  let wrongOutcome = 0;
  for (const r of rows) {
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    (r.attempt === 1 ? lateFirst : lateRetry).push(r.at - r.dueAt);
    exchange.push(r.latencyMs);
    const end = r.at + r.latencyMs;
    if (r.attempt === 1 && !(end <= lastFirstEnd)) lastFirstEnd = end;
    (buckets[Math.max(0, Math.floor((r.dueAt - seeded.firstDue) / LATE_BUCKET_MS))] ??= []).push(r.at - r.dueAt);
    if (r.outcome === 'delivered') {
      if (!(end <= lastDeliveryEnd)) lastDeliveryEnd = end;
      if (r.attempt === 1) {
        firstOk++;
        if (!(end <= lastFirstOkEnd)) lastFirstOkEnd = end;
      }
    }
    // What the receiver was told to do: only the first attempt of a /half "odd" notification fails.
    const shouldFail = path === '/half' && r.attempt === 1 && failsFirst(r.webhookId);
    if ((r.outcome === 'delivered') === shouldFail) wrongOutcome++;
  }
  const complete = delivered === seeded.count;
  if (!complete) {
    unexpected.push(
      `${delivered} of ${seeded.count} delivered (${failed} failed) when the wait ended: ` +
        (stalled ? `no delivery for ${STALL_MS / 1000} s while rows were overdue` : `timed out after ${(timeoutMs / 1000).toFixed(0)} s`),
    );
  }
  if (wrongOutcome) unexpected.push(`${wrongOutcome} attempts ended otherwise than the receiver was told to answer`);
  const receiver = diffStats(before, after);
  if (receiver.duplicates) unexpected.push(`the receiver acknowledged ${receiver.duplicates} webhook-ids twice (duplicate deliveries)`);
  if (receiver.badBodySignature || receiver.badWebhookSignature || receiver.malformed) {
    unexpected.push(`receiver: ${receiver.badBodySignature} bad body signatures, ${receiver.badWebhookSignature} bad webhook signatures, ${receiver.malformed} malformed`);
  }
  if (receiver.requests !== rows.length) unexpected.push(`the receiver saw ${receiver.requests} requests for ${rows.length} attempts logged`);

  const perS = (n: number, end: number) => (n / Math.max(1, end - seeded.firstDue)) * 1000;
  return {
    name,
    warmup,
    seeded,
    complete,
    delivered,
    failed,
    allSeenAt,
    firstRoundSeenAt,
    attempts: rows.length,
    outcomes,
    errors,
    firstOk,
    lastDeliveryEnd,
    lastFirstOkEnd,
    deliveredPerS: complete ? perS(delivered, allSeenAt) : NaN,
    deliveredPerSExchange: perS(outcomes.delivered ?? 0, lastDeliveryEnd),
    firstRoundPerS: perS(firstOk, firstRoundSeenAt),
    firstAttemptsPerS: perS(lateFirst.length, lastFirstEnd),
    lateP99ByDue: Array.from(buckets, (b) => (b ? lateness(b).p99 : NaN)),
    lateFirst: lateness(lateFirst),
    lateRetry: lateness(lateRetry),
    lateAll: lateness([...lateFirst, ...lateRetry]),
    exchangeMs: lateness(exchange),
    cpu,
    receiver,
    unexpected,
  };
}

// ---------------------------------------------------------------------------------------------
// The baseline: a bare undici Pool posting signed JSON of the same size to the same receiver,
// signed at send time (MD5 body signature + webhook headers) as the dispatcher does.

interface BaselineRun {
  name: string;
  warmup: boolean;
  requests: number;
  ok: number;
  errors: number;
  perS: number;
  latency: Lateness;
  cpu: CpuSpent;
  receiver: PathStats;
  bodyBytes: number;
}

async function baseline(ctx: Context, m: Merchant, count: number, warmup: boolean): Promise<BaselineRun> {
  const now = Date.now();
  // Same fields, same lengths as the notifications (tag BASE/BWRM are 4 characters too).
  const fields: NotificationFields[] = [];
  for (let i = 0; i < count; i++) fields.push(notificationFields(paidOrder(m, warmup ? 'BWRM' : 'BASE', i, `${ctx.receiverBase}/base`, now) as OrderRow, now).fields);
  const origin = ctx.receiverBase;
  const pool = new Pool(origin, { connections: BASE_CONNS, pipelining: 1, keepAliveTimeout: 4_000 });
  const before = (await receiverStats(ctx.receiverBase))['/base'];
  const latencies: number[] = [];
  let next = 0;
  let ok = 0;
  let errors = 0;
  let bodyBytes = 0;
  const cpu0 = cpuMark(ctx.gatewayPid, ctx.receiverPid);
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const started = performance.now();
      try {
        const body = signedBody(fields[i]!, m.key, 'MD5');
        bodyBytes ||= Buffer.byteLength(body);
        const headers = webhookHeaders({ id: newWebhookId(), timestampSec: Math.floor(Date.now() / 1000), body, key: m.key });
        const res = await pool.request({
          method: 'POST',
          path: '/base',
          headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'dtpay-notify/1', ...headers },
          body,
          headersTimeout: 5000,
          bodyTimeout: 5000,
        });
        const text = await res.body.text();
        if (res.statusCode === 200 && text.trim() === 'success') ok++;
        else errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: BASE_INFLIGHT }, worker));
  const cpu = cpuSince(cpu0, cpuMark(ctx.gatewayPid, ctx.receiverPid));
  await pool.close();
  const after = (await receiverStats(ctx.receiverBase))['/base'];
  return {
    name: 'baseline',
    warmup,
    requests: count,
    ok,
    errors,
    perS: (ok / cpu.seconds),
    latency: lateness(latencies),
    cpu,
    receiver: diffStats(before, after),
    bodyBytes,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = Date.now();
  const expectedS = (2 * COUNT + WARMUP) / RATE + 3 * (LEAD_MS / 1000) + (RETRY_SCHEDULE_S[0] ?? 0);
  const limitMs = (expectedS + 150) * 1000 + (BURST ? 3 * COUNT : 0) + SINGLE * (1 + SLOW_MS);
  const watchdog = setTimeout(() => die(`the bench took longer than ${Math.round(limitMs / 1000)} s; stopped`), limitMs);
  watchdog.unref();

  const dir = makeTempDir('dtpay-bench-notify-', opt.keep);
  const dbPath = join(dir, 'dtpay.sqlite');
  const runs: GatewayRun[] = [];
  const bases: BaselineRun[] = [];
  let seedDb: Database.Database | undefined;
  let reader: Database.Database | undefined;
  try {
    // 1. A sandbox merchant, made by the CLI before the gateway opens the database.
    const merchant = createSandboxMerchant(dir, dbPath);

    // 2. The receiver, in its own process.
    const receiver = spawnChild(
      'receiver',
      RECEIVER_JS,
      { PORT: '0', HOST: '127.0.0.1', RECEIVER_SLOW_MS: String(SLOW_MS), ...(opt['skip-verify'] ? {} : { RECEIVER_KEY: merchant.key }) },
      dir,
    );
    const receiverBase = `http://127.0.0.1:${await portLine(receiver, 10_000)}`;

    // 3. The gateway, in its own process (cwd is the temp dir, so no project .env is read).
    const port = await freePort();
    const node = opt['server-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${opt['server-prof']}`] : [];
    const gateway = spawnChild(
      'gateway',
      SERVER_JS,
      { PORT: String(port), HOST: '127.0.0.1', DATABASE_PATH: dbPath, LOG_LEVEL: 'warn', PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, ...SERVER_ENV },
      dir,
      { node },
    );
    gatewayOutput = () => gateway.output;
    await waitForHealthz(`http://127.0.0.1:${port}`, gateway, 20_000);
    whenChildDies((why) => {
      if (abortWait) abortWait(why);
      else die(why);
    });

    // 4. A second connection to the same file for seeding (the gateway's writer thread holds the
    //    write lock only while it commits), and a read-only one for polling.
    seedDb = new Database(dbPath);
    seedDb.pragma('busy_timeout = 10000');
    seedDb.pragma('synchronous = NORMAL');
    seedDb.pragma('foreign_keys = ON');
    seedDb.pragma('wal_autocheckpoint = 0'); // the gateway's checkpoint thread does them
    reader = new Database(dbPath, { readonly: true });
    reader.pragma('busy_timeout = 10000');
    const ctx: Context = {
      seeder: new Seeder(seedDb, merchant, receiverBase),
      reader,
      receiverBase,
      gatewayPid: gateway.proc.pid,
      receiverPid: receiver.proc.pid,
    };

    const header = [
      `dtpay bench:notify: merchant notifications from the outbox of a real gateway vs a bare undici Pool, same receiver`,
      machineLine(),
      `  gateway: own process, fresh database, sandbox merchant ${merchant.mercNo}, NOTIFY_* defaults${Object.keys(SERVER_ENV).length ? ` except ${Object.entries(SERVER_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`,
      `  receiver: node:http on 127.0.0.1, own process, ${opt['skip-verify'] ? 'signatures not checked' : 'checks the MD5 body signature and the webhook-signature of every request'}`,
      `  per run: ${COUNT} paid orders + pending notifications seeded by SQL, ${BURST ? 'all due at t0 (--burst: drain rate)' : `due_at = t0 + i/${RATE}/s (offered rate ${RATE}/s)`}, t0 = ${LEAD_MS / 1000} s after seeding`,
      `  baseline: undici Pool, ${BASE_CONNS} connections, ${BASE_INFLIGHT} in flight, signing each body (MD5) and its webhook headers at send time`,
      `  load average at start: ${loadLine()} (other work on the machine skews every figure)`,
      `  order: ${WARMUP ? `warm-up gateway (${WARMUP}) and baseline (${WARMUP}), not scored; then ` : ''}baseline, success, half-fail (retry after ${RETRY_SCHEDULE_S[0]} s)${SINGLE ? `, single host (${SINGLE} due at once, answering in ${SLOW_MS} ms)` : ''}`,
    ];
    process.stdout.write(header.join('\n') + '\n');

    // 5. Warm-ups, baseline, then the two runs.
    if (WARMUP > 0) {
      runs.push(await gatewayRun(ctx, 'warm-up', 'WARM', WARMUP, '/ok', true));
      bases.push(await baseline(ctx, merchant, WARMUP, true));
    }
    bases.push(await baseline(ctx, merchant, COUNT, false));
    await sleep(500);
    runs.push(await gatewayRun(ctx, 'success', 'SUCC', COUNT, '/ok', false));
    runs.push(await gatewayRun(ctx, 'half-fail', 'HALF', COUNT, '/half', false));
    if (SINGLE) runs.push(await gatewayRun(ctx, 'single host', 'SNGL', SINGLE, '/slow', false, true));

    whenChildDies(undefined);
    await Promise.all([stopChild(gateway), stopChild(receiver)]);
    return report(header, runs, bases, Date.now() - started);
  } catch (err) {
    process.stderr.write(`bench:notify: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    whenChildDies(undefined);
    seedDb?.close();
    reader?.close();
    await stopAll();
    if (opt.keep) process.stdout.write(`kept ${dir}\n`);
  }
}

let gatewayOutput = () => '';

// ---------------------------------------------------------------------------------------------
// Output.

const usPer = (cpuS: number, n: number) => (n > 0 ? (cpuS * 1e6) / n : NaN);
const pct = (cpuS: number, s: number) => (Number.isFinite(cpuS) && s > 0 ? `${((100 * cpuS) / s).toFixed(0)}%` : '-');

function row(cells: [string, number][]): string {
  return cells.map(([s, w]) => (w < 0 ? s.padEnd(-w) : s.padStart(w))).join('  ');
}

const HEAD = row([
  ['run', -16], ['notifs', 6], ['attempts', 8], ['delivered/s', 11], ['exch-end/s', 10], ['late p50', 8], ['late p99', 8], ['late max', 8],
  ['exch p50', 8], ['exch p99', 8], ['gw µs/att', 9], ['recv µs/req', 11], ['bench', 5], ['others', 6],
]);

function formatLine(name: string, n: number, attempts: number, perS: number, exchPerS: number, late: Lateness, exch: Lateness, cpu: CpuSpent, gwN: number, recvN: number): string {
  return row([
    [name, -16],
    [String(n), 6],
    [String(attempts), 8],
    [f0(perS), 11],
    [f0(exchPerS), 10],
    [f1(late.p50), 8],
    [f1(late.p99), 8],
    [f0(late.max), 8],
    [f1(exch.p50), 8],
    [f1(exch.p99), 8],
    [f0(usPer(cpu.gateway, gwN)), 9],
    [f0(usPer(cpu.receiver, recvN)), 11],
    [pct(cpu.bench, cpu.seconds), 5],
    [pct(cpu.others, cpu.seconds), 6],
  ]);
}

const NONE: Lateness = { n: 0, p50: NaN, p99: NaN, max: NaN };

function runLines(r: GatewayRun): string[] {
  const name = r.name + (r.warmup ? '*' : '');
  if (r.seeded.path !== '/half') {
    return [formatLine(name, r.seeded.count, r.attempts, r.deliveredPerS, r.deliveredPerSExchange, r.lateAll, r.exchangeMs, r.cpu, r.attempts, r.receiver.requests)];
  }
  return [
    formatLine(`${name} 1st`, r.lateFirst.n, r.lateFirst.n, r.firstRoundPerS, r.firstAttemptsPerS, r.lateFirst, NONE, r.cpu, NaN, NaN),
    formatLine(`${name} retries`, r.lateRetry.n, r.lateRetry.n, NaN, NaN, r.lateRetry, NONE, r.cpu, NaN, NaN),
    formatLine(`${name} all`, r.seeded.count, r.attempts, r.deliveredPerS, r.deliveredPerSExchange, r.lateAll, r.exchangeMs, r.cpu, r.attempts, r.receiver.requests),
  ];
}

function baseLine(b: BaselineRun): string {
  return formatLine(b.name + (b.warmup ? '*' : ''), b.requests, b.requests, b.perS, NaN, NONE, b.latency, b.cpu, NaN, b.receiver.requests);
}

function report(header: string[], runs: GatewayRun[], bases: BaselineRun[], elapsedMs: number): number {
  const lines: string[] = [''];
  lines.push(HEAD);
  for (const b of bases.filter((x) => x.warmup)) lines.push(baseLine(b));
  for (const r of runs.filter((x) => x.warmup)) lines.push(...runLines(r));
  for (const b of bases.filter((x) => !x.warmup)) lines.push(baseLine(b));
  for (const r of runs.filter((x) => !x.warmup)) lines.push(...runLines(r));
  lines.push(
    '  (* = warm-up, not scored. delivered/s: notifications / (first poll that sees them all delivered in the table',
    `   − first due_at), polled every ${POLL_MS} ms. exch-end/s: the same up to the end of the last delivering exchange`,
    '   (at + latency_ms), before its row is written. Row "1st": first attempts; its delivered/s counts first-attempt',
    '   deliveries until the poll sees them all, its exch-end/s first attempts of any outcome up to the end of the last.',
    '   late: attempt at − due_at, ms. exch: the exchange as the gateway timed it (address check, sign, POST, answer),',
    '   ms; for the baseline, each request. CPU: gw = gateway process (all threads) per attempt, recv = receiver per',
    '   request, µs; bench = this process (seed poll or baseline client), others = the rest of the machine, % of one CPU)',
    '',
  );

  const problems: string[] = [];
  for (const r of runs) for (const u of r.unexpected) problems.push(`${r.name}: ${u}`);
  for (const b of bases) {
    if (b.errors) problems.push(`baseline${b.warmup ? ' warm-up' : ''}: ${b.errors} requests without a success answer`);
    if (b.receiver.badBodySignature || b.receiver.badWebhookSignature) problems.push(`baseline: the receiver rejected signatures`);
  }

  const base = bases.find((b) => !b.warmup)!;
  const success = runs.find((r) => r.name === 'success')!;
  const half = runs.find((r) => r.name === 'half-fail')!;
  const single = runs.find((r) => r.name === 'single host');
  const checks: Check[] = [];
  checks.push({ what: 'delivered/s, success run', target: `>= ${TARGETS.deliveredPerS}`, value: f0(success.deliveredPerS), ok: success.deliveredPerS >= TARGETS.deliveredPerS });
  for (const r of [success, half]) {
    // All due at once, lateness is the queue's drain time by construction: shown, not scored.
    checks.push({
      what: `lateness p99, ${r.name} run`,
      target: `<= ${TARGETS.latenessP99Ms} ms`,
      value: `${f1(r.lateAll.p99)} ms`,
      ok: BURST ? undefined : r.lateAll.p99 <= TARGETS.latenessP99Ms,
      ...(BURST ? { note: 'not scored (--burst)' } : {}),
    });
  }
  checks.push({ what: 'gateway/baseline (success run)', target: '-', value: f2(success.deliveredPerS / base.perS), ok: undefined });
  if (single) {
    // What one host can take: its concurrency over the time each attempt holds a slot.
    const ceiling = SLOW_MS > 0 ? (HOST_CONCURRENCY * 1000) / SLOW_MS : NaN;
    checks.push({
      what: 'delivered/s, single host',
      target: '-',
      value: f0(single.deliveredPerS),
      ok: undefined,
      note: `${HOST_CONCURRENCY} at a time answering in ${SLOW_MS} ms: at most ${f0(ceiling)}/s; exchange p50 ${f1(single.exchangeMs.p50)} ms`,
    });
  }
  lines.push(...checkTable(checks));
  if (!BURST) lines.push(`note: due times are paced at ${RATE}/s, so delivered/s cannot exceed about ${RATE} (nor the ratio ${f2(RATE / base.perS)}); --burst measures the drain rate`);
  lines.push('');
  for (const r of runs.filter((x) => !x.warmup)) {
    const errs = Object.entries(r.errors).map(([e, n]) => `${e}×${n}`).join(', ') || 'none';
    lines.push(
      `${r.name}: seeded in ${f0(r.seeded.seedMs)} ms, due over ${f0(r.seeded.lastDue - r.seeded.firstDue)} ms; ` +
        `all delivered ${f0(r.allSeenAt - r.seeded.lastDue)} ms after the last due_at; receiver answered fail ${r.receiver.fail}× (expected ${r.seeded.failOnce}); attempt errors: ${errs}`,
    );
    lines.push(`  late p99 (ms) of the attempts due in each ${LATE_BUCKET_MS / 1000} s from t0: ${r.lateP99ByDue.map((v) => (Number.isFinite(v) ? v.toFixed(0) : '.')).join(' ')}`);
  }
  lines.push(`notification body ${success.seeded.bodyBytes} B, baseline body ${base.bodyBytes} B`);
  if (problems.length && gatewayOutput().trim()) lines.push(`gateway output (last 3 kB):\n${gatewayOutput().slice(-3000)}`);
  const verdict = verdictLines(problems, checks, elapsedMs);
  lines.push(...verdict.lines);
  process.stdout.write(lines.join('\n') + '\n');
  const valid = problems.length === 0;
  if (opt.json) {
    const lat = (l: Lateness) => ({ n: l.n, p50: l.p50, p99: l.p99, max: l.max });
    const cpuJson = (c: CpuSpent) => ({ seconds: +c.seconds.toFixed(3), gateway: +c.gateway.toFixed(3), receiver: +c.receiver.toFixed(3), bench: +c.bench.toFixed(3), others: +c.others.toFixed(3) });
    process.stdout.write(
      JSON.stringify({
        header,
        options: { count: COUNT, rate: RATE, burst: BURST, leadMs: LEAD_MS, warmup: WARMUP, serverEnv: SERVER_ENV },
        valid,
        met: verdict.code === 0,
        problems,
        checks: checks.map((c) => ({ ...c, ok: c.ok ?? null })),
        baseline: bases.map((b) => ({ warmup: b.warmup, requests: b.requests, ok: b.ok, errors: b.errors, perS: Math.round(b.perS), latencyMs: lat(b.latency), cpu: cpuJson(b.cpu), bodyBytes: b.bodyBytes })),
        runs: runs.map((r) => ({
          name: r.name,
          warmup: r.warmup,
          count: r.seeded.count,
          failOnce: r.seeded.failOnce,
          complete: r.complete,
          attempts: r.attempts,
          outcomes: r.outcomes,
          errors: r.errors,
          deliveredPerS: Math.round(r.deliveredPerS),
          deliveredPerSExchange: Math.round(r.deliveredPerSExchange),
          firstOk: r.firstOk,
          firstRoundPerS: Math.round(r.firstRoundPerS),
          firstAttemptsPerS: Math.round(r.firstAttemptsPerS),
          lateP99ByDueMs: r.lateP99ByDue.map((v) => (Number.isFinite(v) ? v : null)),
          lateBucketMs: LATE_BUCKET_MS,
          latenessMs: { first: lat(r.lateFirst), retry: lat(r.lateRetry), all: lat(r.lateAll) },
          exchangeMs: lat(r.exchangeMs),
          cpu: cpuJson(r.cpu),
          receiver: r.receiver,
          seedMs: Math.round(r.seeded.seedMs),
          dueSpanMs: r.seeded.lastDue - r.seeded.firstDue,
        })),
        ratio: success.deliveredPerS / base.perS,
      }) + '\n',
    );
  }
  return verdict.code;
}

main().then(
  (code) => process.exit(code),
  (err) => die(String((err as Error).stack ?? err)),
);
