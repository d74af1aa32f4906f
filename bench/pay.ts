import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sign } from '../src/domain/sign.js';
import { orderFields } from '../test/fixtures/orders.js';
import {
  SERVER_JS, benchNamed, benchOptions, checkTable, cpuOf, die, f0, f1, f2, f3, freePort, loadLine, machineBusy, machineLine,
  makeTempDir, percentile, portLine, positive, positiveInt, rssMb, sleep, spawnChild, stopAll, stopChild, threadCpuOf,
  threadCpuSince, verdictLines, waitForHealthz, whenChildDies, type Check, type Child, type Merchant,
} from './harness.js';
import { openBenchDb, DbSetupError, type BenchDb, type PhaseDb } from './database.js';
import { DB_HELP, DB_OPTIONS, parseDbChoice } from './db-options.js';
import { buildHistory, type History } from './history.js';
import { buildPgHistory } from './history-pg.js';

// `npm run bench`: POST /api/pay of a real gateway (its own process, a sandbox merchant,
// MD5-signed orders with unique mercOrderNo built before each run, every order committed with
// fsync before it is answered) against a bare Fastify route (its own process) that receives the
// same bodies and answers a body of the same size; autocannon drives them from this process.
// Three gateways, each in its own process on its own database, all started before the runs:
//   empty     a fresh database
//   no-fsync  the same on another fresh database, committing without waiting for the disk (a
//             bench-only switch of bench/gateway.ts): what durability costs
//   history   a database holding --history ended orders, built here with SQL beforehand
// The databases are SQLite files, or with --db postgres PostgreSQL databases (bench/database.ts):
// there the CPU per answer adds the server's processes to the gateway's, since on SQLite the
// same work is done in the gateway's own writer thread.
// After a warm-up of each, the runs go in --rounds rounds, each round one run of every kind:
// for each connection count bare and pay on the empty database, then at the largest count pay on
// no-fsync and on history. Each figure adds up its runs over the rounds, so that a ratio compares
// runs that took turns under the same load rather than runs minutes apart. As soon as a gateway
// has started, before any other load, /metrics is scraped while its event loop is watched (and
// /healthz, for comparison); its resident memory is read after the runs.
// Prints every figure of issue 13 with its target and verdict. Exit code: 0 valid and targets
// met, 2 valid but a target missed, 1 invalid run.

benchNamed('bench');
const GATEWAY_NODE_FLAGS = '--max-semi-space-size=8';
const opt = benchOptions(
  'dist/bench/pay.js',
  {
    duration: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10,50' },
    pause: { type: 'string', default: '0.5' },
    history: { type: 'string', default: '1000000' },
    big: { type: 'boolean', default: false },
    scrapes: { type: 'string', default: '20' },
    phases: { type: 'string', default: 'empty,no-fsync,history' },
    // As the Dockerfile runs the gateway: a young generation of 2 × 8 MB instead of V8's 2 × 64 MB.
    'node-flags': { type: 'string', default: GATEWAY_NODE_FLAGS },
    ...DB_OPTIONS,
  },
  [
    ['--duration S', 'seconds of each run (4)'],
    ['--rounds N', 'rounds of runs; each figure adds up its N runs (3)'],
    ['--warmup S', "seconds of each gateway's warm-up, 0 for none (2)"],
    ['--connections C,..', 'connection counts of bare and pay on the empty database (10,50); the others use the largest'],
    ['--pause S', 'seconds between runs (0.5)'],
    ['--history N', 'ended orders in the history database (1000000)'],
    ['--big', '--history 10000000'],
    ['--scrapes N', '/metrics scrapes while the event loop is watched (20)'],
    ['--phases LIST', 'which gateways run, of empty,no-fsync,history (all)'],
    ['--node-flags="..."', `node options for the gateways (${GATEWAY_NODE_FLAGS}, as the Dockerfile runs it; --node-flags= for none)`],
    ...DB_HELP,
  ],
);

const DURATION_S = positive(opt.duration, '--duration');
const ROUNDS = positiveInt(opt.rounds, '--rounds');
const WARMUP_S = Number(opt.warmup);
const PAUSE_MS = Number(opt.pause) * 1000;
const CONNECTIONS = opt.connections.split(',').map((c) => positiveInt(c, '--connections'));
const MAX_CONNS = Math.max(...CONNECTIONS);
const HISTORY = opt.big ? 10_000_000 : positiveInt(opt.history, '--history');
const SCRAPES = positiveInt(opt.scrapes, '--scrapes');
const NODE_FLAGS = opt['node-flags'].split(/\s+/).filter(Boolean);
const PHASES = new Set(opt.phases.split(','));
for (const p of PHASES) if (!['empty', 'no-fsync', 'history'].includes(p)) die(`--phases: unknown phase ${p}`);
if (!PHASES.has('empty')) die('--phases: the empty phase is the yardstick of the others and always runs');
const dbChoice = parseDbChoice(opt);
const DB = dbChoice instanceof Error ? die(dbChoice.message) : dbChoice;
const TARGETS = { cpuRatio: 3, payBare: 0.3, durable: 0.8, history: 0.9, startupS: 3, stallMs: 20, rssMb: 250 };
// Orders for a pay run are built before it starts, for 1.5 × the rate the bare route reached (or,
// before it has run, a generous guess): pay cannot beat a route that does nothing. Should a run
// still use them all, it is reported as invalid rather than replaying a body as a new order.
const POOL_FACTOR = 1.5;
const FIRST_GUESS_RPS = 20_000;
const BARE_POOL = 20_000;
const BARE_JS = fileURLToPath(new URL('./bare-server.js', import.meta.url));
const THREADS = ['main', 'writer', 'checkpoint', 'v8', 'other', 'db'] as const;

// ---------------------------------------------------------------------------------------------
// Orders: valid unified orders (as test/helper.ts payFields), fixed-width mercOrderNo so every
// body has the same size, signed with the merchant's key before the run starts.

function orderBody(m: Merchant, mercOrderNo: string): Buffer {
  const fields = orderFields(m.mercNo, mercOrderNo);
  fields.signature = sign(fields, m.key, 'MD5');
  return Buffer.from(JSON.stringify(fields));
}

/** Pre-built bodies, all of one length, in one buffer; `at(i)` is a view, no copy. */
interface Pool {
  count: number;
  size: number;
  at(i: number): Buffer;
}

/** `tag` is 4 characters, so that bodies of every pool have the same length. */
function buildBodies(m: Merchant, tag: string, n: number): Pool {
  const name = (i: number) => `BENCH-${tag}-${String(i).padStart(10, '0')}`;
  const size = orderBody(m, name(0)).length;
  const buf = Buffer.allocUnsafe(n * size);
  for (let i = 0; i < n; i++) {
    const body = orderBody(m, name(i));
    if (body.length !== size) throw new Error(`order bodies differ in length (${body.length} vs ${size})`);
    body.copy(buf, i * size);
  }
  return { count: n, size, at: (i) => buf.subarray(i * size, (i + 1) * size) };
}


// ---------------------------------------------------------------------------------------------
// One autocannon run, and the sum of several.

type Route = 'pay' | 'bare';

interface Run {
  route: Route;
  /** which gateway (empty, no-fsync, history); the bare server's runs say bare */
  gateway: string;
  connections: number;
  warmup: boolean;
  elapsedS: number;
  /** every response's latency, sorted */
  latencies: Float64Array;
  ok200: number;
  non200: Record<string, number>;
  errors: number;
  timeouts: number;
  poolExhausted: boolean;
  /** CPU seconds of the server (every thread of its process, and its database server's processes), by thread (`db` for the database server), of this process (autocannon), and of the rest of the machine */
  serverCpuS: number;
  threadsS: Record<string, number>;
  loadgenCpuS: number;
  othersCpuS: number;
  /** channel queries the gateway made during the run (reconciliation of open orders) */
  queries: number;
}

let abortCurrent: ((why: string) => void) | undefined;
/** the database server's memory (PSS) while the gateways were connected; NaN on SQLite */
let dbMemoryMb = NaN;

async function load(route: Route, gatewayName: string, url: string, connections: number, seconds: number, warmup: boolean, pool: Pool, cycle: boolean, serverPid: number | undefined, dbCpu: () => number): Promise<Run> {
  let next = 0;
  let exhausted = false;
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let instance: autocannon.Instance | undefined;
  const setupRequest = (req: autocannon.Request): autocannon.Request => {
    if (next >= pool.count) {
      if (cycle) {
        next = 0;
      } else {
        // A replayed body would not be a new order: the run stops, and is reported.
        exhausted = true;
        instance?.stop();
        next = pool.count - 1;
      }
    }
    req.body = pool.at(next++);
    return req;
  };

  const serverCpu0 = cpuOf(serverPid);
  const threads0 = threadCpuOf(serverPid);
  const dbCpu0 = dbCpu();
  const loadgenCpu0 = process.cpuUsage();
  const machine0 = machineBusy();
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    abortCurrent = (why) => {
      instance?.stop();
      reject(new Error(why));
    };
    instance = autocannon(
      { url, connections, duration: seconds, timeout: 10, requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest }] },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    });
  });
  abortCurrent = undefined;
  const dbCpuS = dbCpu() - dbCpu0;
  const serverCpuS = cpuOf(serverPid) - serverCpu0 + dbCpuS;
  const threadsS = { ...threadCpuSince(threads0, threadCpuOf(serverPid)), db: dbCpuS };
  const loadgenCpu = process.cpuUsage(loadgenCpu0);
  const elapsedS = (performance.now() - t0) / 1000;
  const loadgenCpuS = (loadgenCpu.user + loadgenCpu.system) / 1e6;
  const non200: Record<string, number> = {};
  for (const [code, n] of statuses) if (code !== 200) non200[code] = n;
  return {
    route,
    gateway: gatewayName,
    connections,
    warmup,
    elapsedS,
    latencies: Float64Array.from(latencies).sort(),
    ok200: statuses.get(200) ?? 0,
    non200,
    errors: result.errors,
    timeouts: result.timeouts,
    poolExhausted: exhausted,
    serverCpuS,
    threadsS,
    loadgenCpuS,
    othersCpuS: Math.max(0, machineBusy() - machine0 - serverCpuS - loadgenCpuS),
    queries: 0,
  };
}

/** Several runs of one kind as one: responses over time, CPU over responses, latencies together. */
interface Figures {
  key: string;
  route: Route;
  gateway: string;
  connections: number;
  warmup: boolean;
  runs: number;
  rps: number;
  /** the lowest and highest rate of a single run */
  rpsMin: number;
  rpsMax: number;
  responses: number;
  p50: number;
  p99: number;
  max: number;
  cpuUs: number;
  threadsUs: Record<string, number>;
  loadgenUs: number;
  othersPct: number;
  queriesPerAnswer: number;
}

function figures(runs: Run[]): Figures {
  const r0 = runs[0]!;
  const responses = runs.reduce((a, r) => a + r.latencies.length, 0);
  const elapsed = runs.reduce((a, r) => a + r.elapsedS, 0);
  const all = new Float64Array(responses);
  let k = 0;
  for (const r of runs) {
    all.set(r.latencies, k);
    k += r.latencies.length;
  }
  all.sort();
  const per = (s: number) => (s * 1e6) / Math.max(1, responses);
  const threads: Record<string, number> = {};
  for (const r of runs) for (const [t, v] of Object.entries(r.threadsS)) threads[t] = (threads[t] ?? 0) + v;
  const rates = runs.map((r) => r.latencies.length / r.elapsedS);
  return {
    key: key(r0.route, r0.gateway, r0.connections, r0.warmup),
    route: r0.route,
    gateway: r0.gateway,
    connections: r0.connections,
    warmup: r0.warmup,
    runs: runs.length,
    rps: responses / elapsed,
    rpsMin: Math.min(...rates),
    rpsMax: Math.max(...rates),
    responses,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    max: all.length ? all[all.length - 1]! : NaN,
    cpuUs: per(runs.reduce((a, r) => a + r.serverCpuS, 0)),
    threadsUs: Object.fromEntries(Object.entries(threads).map(([t, v]) => [t, per(v)])),
    loadgenUs: per(runs.reduce((a, r) => a + r.loadgenCpuS, 0)),
    othersPct: (100 * runs.reduce((a, r) => a + r.othersCpuS, 0)) / elapsed,
    queriesPerAnswer: runs.reduce((a, r) => a + r.queries, 0) / Math.max(1, responses),
  };
}

const key = (route: Route, gateway: string, c: number, warmup: boolean) => `${route === 'bare' ? 'bare' : `pay ${gateway}`} ${c}c${warmup ? '*' : ''}`;

// ---------------------------------------------------------------------------------------------
// Gateways.

interface Gateway {
  name: string;
  child: Child;
  base: string;
  db: PhaseDb;
  merchant: Merchant;
  /** from spawning the process to its first healthy answer */
  startupMs: number;
}

async function startGateway(name: string, dir: string, db: PhaseDb, merchant: Merchant, args: string[] = []): Promise<Gateway> {
  const port = await freePort();
  const node = [...NODE_FLAGS, ...(opt['server-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(opt['server-prof'], name)}`] : [])];
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawnChild(
    `gateway (${name})`,
    SERVER_JS,
    // One merchant at thousands of requests a second: the per-merchant rate limit is off.
    { PORT: String(port), HOST: '127.0.0.1', ...db.env, LOG_LEVEL: 'warn', PUBLIC_BASE_URL: base, RATE_LIMIT_API_PER_MINUTE: '0' },
    dir,
    { node, script: args },
  );
  await waitForHealthz(base, child, 60_000);
  return { name, child, base, db, merchant, startupMs: performance.now() - started };
}

async function scrape(g: Gateway): Promise<string> {
  const res = await fetch(`${g.base}/metrics`);
  const text = await res.text();
  if (res.status !== 200 || !text.includes('dtpay_orders')) die(`GET ${g.base}/metrics answered ${res.status}: ${text.slice(0, 200)}`);
  return text;
}

/** Channel queries (reconciliation) made so far, from the gateway's own counter. */
async function channelQueries(g: Gateway): Promise<number> {
  let n = 0;
  for (const line of (await scrape(g)).split('\n')) {
    if (line.startsWith('dtpay_channel_calls_total{') && line.includes('operation="query"')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

interface LoopFigures {
  maxMs: number;
  p99Ms: number;
  rssMb: number;
  heapMb: number;
}

const loopFigures = async (g: Gateway): Promise<LoopFigures> => (await (await fetch(`${g.base}/__bench/loop`)).json()) as LoopFigures;

interface Stall {
  scrapes: number;
  /** the longest event-loop delay during a scrape of /metrics, and during a GET /healthz (the control) */
  scrapingMaxMs: number;
  controlMaxMs: number;
  /** slowest scrape, as this process timed it */
  slowestScrapeMs: number;
}

/**
 * The longest event-loop stall while /metrics is scraped: the delay histogram is read just before
 * and just after each of SCRAPES scrapes, so that each window holds the scrape and little else;
 * the same for GET /healthz gives what the machine's noise alone shows.
 */
async function metricsStall(g: Gateway): Promise<Stall> {
  const during = async (request: () => Promise<unknown>) => {
    let max = 0;
    let slowest = 0;
    for (let i = 0; i < SCRAPES; i++) {
      await loopFigures(g);
      const s = performance.now();
      await request();
      slowest = Math.max(slowest, performance.now() - s);
      max = Math.max(max, (await loopFigures(g)).maxMs);
      await sleep(20);
    }
    return { max, slowest };
  };
  const scraping = await during(() => scrape(g));
  const control = await during(async () => (await fetch(`${g.base}/healthz`)).text());
  return { scrapes: SCRAPES, scrapingMaxMs: scraping.max, controlMaxMs: control.max, slowestScrapeMs: scraping.slowest };
}

/** What is read off a gateway once the runs are over. */
interface After {
  name: string;
  startupMs: number;
  rssMb: number;
  stall: Stall;
  /** the event loop's V8 heap (committed), of the RSS */
  heapMb: number;
  /** orders answered 200 and orders stored, for the check that every answer was stored */
  answered: number;
  stored: number;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = Date.now();
  const kinds = 2 * CONNECTIONS.length + (PHASES.has('no-fsync') ? 1 : 0) + (PHASES.has('history') ? 1 : 0);
  const runsMs = (4 * WARMUP_S + ROUNDS * kinds * DURATION_S) * 1000 + (4 + ROUNDS * kinds) * PAUSE_MS;
  // A generous 5k history orders/s on SQLite, 1k/s on PostgreSQL.
  const limitMs = runsMs + (PHASES.has('history') ? HISTORY / (DB.kind === 'sqlite' ? 5 : 1) : 0) + 300_000;
  const watchdog = setTimeout(() => die(`the bench took longer than ${Math.round(limitMs / 1000)} s; stopped`), limitMs);
  watchdog.unref();

  const dir = makeTempDir('dtpay-bench-', opt.keep);
  const runs: Run[] = [];
  const afters: After[] = [];
  const problems: string[] = [];
  let history: History | undefined;
  let bdb: BenchDb | undefined;
  try {
    // 1. Databases and their merchants (made before a gateway opens the database), the
    //    history first: it takes a while, and nothing runs meanwhile.
    try {
      bdb = await openBenchDb(DB, dir);
    } catch (err) {
      if (err instanceof DbSetupError) die(err.message);
      throw err;
    }
    const dbs = new Map<string, PhaseDb>();
    const merchants = new Map<string, Merchant>();
    for (const name of ['empty', 'no-fsync', 'history'].filter((p) => PHASES.has(p))) {
      const db = await bdb.phase(name);
      dbs.set(name, db);
      merchants.set(name, await db.makeMerchant());
    }
    if (PHASES.has('history')) {
      process.stdout.write(`building the history database (${HISTORY} ended orders)\n`);
      const progress = (line: string) => process.stdout.write(`${line}\n`);
      const env = dbs.get('history')!.env;
      history = DB.kind === 'sqlite' ? buildHistory(env.DATABASE_PATH!, merchants.get('history')!, HISTORY, progress) : await buildPgHistory(env.DATABASE_URL!, merchants.get('history')!, HISTORY, progress);
    }

    // 2. The gateways, one at a time, so that each start-up is timed alone; then, before anything
    //    else runs on it, /metrics is scraped while its event loop is watched.
    const gateways: Gateway[] = [];
    const stalls = new Map<string, Stall>();
    for (const [name, m] of merchants) {
      const g = await startGateway(name, dir, dbs.get(name)!, m, name === 'no-fsync' ? ['--no-fsync'] : []);
      gateways.push(g);
      stalls.set(name, await metricsStall(g));
    }
    const gw = (name: string) => gateways.find((g) => g.name === name);
    const empty = gw('empty')!;
    whenChildDies((why) => (abortCurrent ? abortCurrent(why) : die(why)));

    // 3. One order by hand: the request and answer sizes, and a check that the setup is right.
    const probeBody = orderBody(empty.merchant, `BENCH-PRBE-${'0'.repeat(10)}`);
    const probe = await fetch(`${empty.base}/api/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: probeBody });
    const probeText = await probe.text();
    const probeJson = JSON.parse(probeText) as Record<string, string>;
    if (probe.status !== 200 || probeJson.respCode !== '000000') die(`the probe order failed: ${probe.status} ${probeText}`);

    // 4. The bare server, answering a body shaped and sized like that answer.
    const bare = spawnChild('bare server', BARE_JS, { PORT: '0', HOST: '127.0.0.1', BARE_REPLY_JSON: probeText }, dir);
    const bareBase = `http://127.0.0.1:${await portLine(bare, 20_000)}`;
    const bareProbe = await fetch(`${bareBase}/bare`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: probeBody });
    const bareText = await bareProbe.text();
    if (bareProbe.status !== 200) die(`the bare server answered ${bareProbe.status}: ${bareText}`);
    const barePool = buildBodies(empty.merchant, 'BARE', BARE_POOL);

    const dbCpu = () => bdb!.serverCpu();
    let bareRps = 0;
    let tagSeq = 0;
    // A pay run with orders built beforehand, while nothing runs, so that signing takes no CPU
    // from the servers. `tag` is 4 characters, so that every body has the same length.
    const payRun = async (g: Gateway, c: number, seconds: number, warmup: boolean): Promise<void> => {
      const pool = buildBodies(g.merchant, `T${String(tagSeq++).padStart(3, '0')}`, Math.ceil((bareRps || FIRST_GUESS_RPS) * POOL_FACTOR * seconds) + 20 * c);
      const queries0 = await channelQueries(g);
      const run = await load('pay', g.name, `${g.base}/api/pay`, c, seconds, warmup, pool, false, g.child.proc.pid, dbCpu);
      run.queries = (await channelQueries(g)) - queries0;
      runs.push(run);
      await sleep(PAUSE_MS);
    };
    const bareRun = async (c: number, seconds: number, warmup: boolean): Promise<void> => {
      const run = await load('bare', 'bare', `${bareBase}/bare`, c, seconds, warmup, barePool, true, bare.proc.pid, () => 0);
      if (!warmup) bareRps = Math.max(bareRps, run.latencies.length / run.elapsedS);
      runs.push(run);
      await sleep(PAUSE_MS);
    };

    const header = [
      `dtpay bench: POST /api/pay vs a bare Fastify JSON route, side by side in one run`,
      machineLine(`, autocannon ${autocannonVersion()}`),
      `  gateway: sandbox merchant, MD5-signed alipay.scan orders, unique mercOrderNo, bodies built before each run`,
      ...bdb.describe,
      DB.kind === 'sqlite'
        ? '  no-fsync: the writer thread commits with synchronous=OFF (a bench-only switch of bench/gateway.ts)'
        : '  no-fsync: the gateway\'s connections commit with synchronous_commit=off (the commit does not wait for the WAL flush; a bench-only switch of bench/gateway.ts)',
      `  request body ${probeBody.length} B; pay answer ${Buffer.byteLength(probeText)} B; bare answer ${Buffer.byteLength(bareText)} B`,
      `  gateways: ${gateways.map((g) => g.name).join(', ')}${history ? ` (history: ${HISTORY} ended orders)` : ''}${NODE_FLAGS.length ? `, node ${NODE_FLAGS.join(' ')}` : ', default node options'}`,
      `  load average at start: ${loadLine()} (other work on the machine skews every figure; the targets are ratios of one run)`,
      `  ${WARMUP_S > 0 ? `warm-up ${WARMUP_S}s of bare and of pay on each gateway at ${MAX_CONNS}c, then ` : ''}${ROUNDS} rounds of ${DURATION_S}s runs: ` +
        `${CONNECTIONS.map((c) => `bare ${c}c, pay empty ${c}c`).join(', ')}${gw('no-fsync') ? `, pay no-fsync ${MAX_CONNS}c` : ''}${gw('history') ? `, pay history ${MAX_CONNS}c` : ''}`,
    ];
    process.stdout.write(header.join('\n') + '\n');

    // 5. Warm-ups, then the rounds.
    if (WARMUP_S > 0) {
      await bareRun(MAX_CONNS, WARMUP_S, true);
      for (const g of gateways) await payRun(g, MAX_CONNS, WARMUP_S, true);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONNECTIONS) {
        await bareRun(c, DURATION_S, false);
        await payRun(empty, c, DURATION_S, false);
      }
      for (const g of gateways) if (g !== empty) await payRun(g, MAX_CONNS, DURATION_S, false);
    }

    // 6. Memory, then stop and count what was stored.
    dbMemoryMb = bdb.serverMemoryMb();
    for (const g of gateways) {
      const stall = stalls.get(g.name)!;
      const rss = rssMb(g.child.proc.pid);
      const { heapMb } = await loopFigures(g);
      await stopChild(g.child);
      const stored = await g.db.countOrders(g.merchant.mercNo, 'BENCH-T');
      const answered = runs.filter((r) => r.route === 'pay' && r.gateway === g.name).reduce((a, r) => a + r.ok200, 0);
      afters.push({ name: g.name, startupMs: g.startupMs, rssMb: rss, heapMb, stall, answered, stored });
    }
    whenChildDies(undefined);
    await stopChild(bare);
    return report(header, runs, afters, history, problems, Date.now() - started);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    whenChildDies(undefined);
    await stopAll();
    await bdb?.close(opt.keep);
    if (opt.keep) process.stdout.write(`kept ${dir}${DB.kind === 'postgres' ? (DB.url ? '; the PostgreSQL databases are kept too' : '; the throwaway PostgreSQL cluster goes all the same (use --db-url to keep databases)') : ''}\n`);
  }
}

function autocannonVersion(): string {
  try {
    const pkg = fileURLToPath(import.meta.resolve('autocannon/package.json'));
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function formatFigures(f: Figures): string {
  return [
    String(f.connections).padStart(5),
    (f.route === 'bare' ? 'bare' : `pay ${f.gateway}`).padEnd(13) + (f.warmup ? '*' : ' '),
    String(f.runs).padStart(4),
    f0(f.rps).padStart(7),
    `${f0(f.rpsMin)}-${f0(f.rpsMax)}`.padStart(11),
    f2(f.p50).padStart(7),
    f2(f.p99).padStart(7),
    f1(f.max).padStart(7),
    f0(f.cpuUs).padStart(6),
    THREADS.map((t) => f0(f.threadsUs[t] ?? 0).padStart(t.length)).join(' '),
    (f.route === 'pay' ? f2(f.queriesPerAnswer) : '').padStart(7),
    f0(f.loadgenUs).padStart(7),
    `${f0(f.othersPct)}%`.padStart(6),
  ].join('  ');
}

function report(header: string[], runs: Run[], afters: After[], history: History | undefined, problems: string[], elapsedMs: number): number {
  const groups = new Map<string, Run[]>();
  for (const r of runs) {
    const k = key(r.route, r.gateway, r.connections, r.warmup);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const all = [...groups.values()].map(figures);
  const lines: string[] = [''];
  lines.push(`conns  run            runs   req/s  per run    p50 ms  p99 ms  max ms  CPU µs  ${THREADS.join(' ')}  queries  loadgen  others`);
  for (const f of [...all.filter((x) => x.warmup), ...all.filter((x) => !x.warmup)]) lines.push(formatFigures(f));
  lines.push(
    '  (* = warm-up, not scored. req/s: all answers over all runs\' time; per run: the slowest and fastest run. Latency',
    '   per response as autocannon times it. CPU: µs per answer of the server process, all threads, then by thread:',
    '   main = event loop, writer and checkpoint = the gateway\'s database threads, v8 = garbage collection and',
    ...(DB.kind === 'sqlite'
      ? ['   compilation, db = a database server\'s processes (none on SQLite: the database is the writer thread).']
      : [
          '   compilation, db = the PostgreSQL server\'s processes, included in CPU µs (on PostgreSQL there are no writer and',
          '   checkpoint threads: each write is a transaction on a pooled connection, done by a server backend).',
        ]),
    '   queries: channel queries per answer meanwhile (reconciliation of the open orders of earlier',
    '   runs: their CPU is in the figure). loadgen = autocannon (this process); others = CPU used meanwhile by the',
    '   rest of the machine, % of one CPU: a high figure means the runs were disturbed)',
    '',
  );

  for (const r of runs) {
    const name = key(r.route, r.gateway, r.connections, r.warmup);
    const non200 = Object.entries(r.non200);
    if (non200.length) problems.push(`${name}: non-200 answers ${non200.map(([c, n]) => `${c}×${n}`).join(', ')}`);
    if (r.errors) problems.push(`${name}: ${r.errors} socket errors (${r.timeouts} timeouts)`);
    if (r.poolExhausted) problems.push(`${name}: ran out of pre-built orders`);
  }
  for (const a of afters) if (a.stored < a.answered) problems.push(`${a.name}: only ${a.stored} orders stored for ${a.answered} answers 200`);

  const find = (route: Route, gateway: string, c: number) => all.find((f) => f.key === key(route, gateway, c, false));
  const checks: Check[] = [];
  for (const c of CONNECTIONS) {
    const b = find('bare', 'bare', c)!;
    const p = find('pay', 'empty', c)!;
    const scored = c === MAX_CONNS;
    const cpu = p.cpuUs / b.cpuUs;
    const ratio = p.rps / b.rps;
    const not = scored ? '' : 'not scored; ';
    // What no work on the event loop can remove: the threads bare has not (the database's and
    // V8's helpers), on top of an event loop doing bare's whole answer. Printed with the ratio so
    // that each run shows how much of the gap the event loop could close at all.
    const offLoop = (['writer', 'checkpoint', 'v8', 'db'] as const).reduce((sum, k) => sum + (p.threadsUs[k] ?? 0), 0);
    const floor = `; bare + off the event loop (writer, checkpoint, V8${DB.kind === 'postgres' ? ', PostgreSQL' : ''}: ${f0(offLoop)} µs) = ${f2((b.cpuUs + offLoop) / b.cpuUs)}×`;
    checks.push({ what: `CPU per answer, pay/bare, ${c}c`, target: `<= ${TARGETS.cpuRatio}`, value: `${f2(cpu)}×`, ok: scored ? cpu <= TARGETS.cpuRatio : undefined, note: `${not}${f0(p.cpuUs)}${DB.kind === 'postgres' ? ` (gateway ${f0(p.cpuUs - (p.threadsUs.db ?? 0))} + PostgreSQL ${f0(p.threadsUs.db ?? 0)})` : ''} vs ${f0(b.cpuUs)} µs${floor}` });
    checks.push({ what: `req/s, pay/bare, ${c}c`, target: `>= ${TARGETS.payBare}`, value: f3(ratio), ok: scored ? ratio >= TARGETS.payBare : undefined, note: `${not}${f0(p.rps)} vs ${f0(b.rps)}` });
  }
  const emptyMax = find('pay', 'empty', MAX_CONNS)!;
  const noFsync = find('pay', 'no-fsync', MAX_CONNS);
  if (noFsync) {
    const r = emptyMax.rps / noFsync.rps;
    checks.push({ what: `req/s, pay durable/no-fsync, ${MAX_CONNS}c`, target: `>= ${TARGETS.durable}`, value: f3(r), ok: r >= TARGETS.durable, note: `${f0(emptyMax.rps)} vs ${f0(noFsync.rps)}` });
  }
  const hist = find('pay', 'history', MAX_CONNS);
  const histAfter = afters.find((a) => a.name === 'history');
  if (hist && histAfter) {
    const r = hist.rps / emptyMax.rps;
    checks.push({ what: `req/s, pay on ${HISTORY} ended orders/empty, ${MAX_CONNS}c`, target: `>= ${TARGETS.history}`, value: f3(r), ok: r >= TARGETS.history, note: `${f0(hist.rps)} vs ${f0(emptyMax.rps)}` });
    const s = histAfter.startupMs / 1000;
    checks.push({ what: `start-up on ${HISTORY} ended orders`, target: `<= ${TARGETS.startupS} s`, value: `${f2(s)} s`, ok: s <= TARGETS.startupS, note: `empty: ${f2(afters[0]!.startupMs / 1000)} s` });
  }
  for (const a of afters) {
    const scored = a.name === 'history' || !histAfter;
    if (a.name === 'no-fsync') continue;
    checks.push({
      what: `longest stall, /metrics scraped, ${a.name === 'history' ? `${HISTORY} ended orders` : 'empty database'}`,
      target: `<= ${TARGETS.stallMs} ms`,
      value: `${f1(a.stall.scrapingMaxMs)} ms`,
      ok: scored ? a.stall.scrapingMaxMs <= TARGETS.stallMs : undefined,
      note: `${scored ? '' : 'not scored; '}GET /healthz the same way: ${f1(a.stall.controlMaxMs)} ms; slowest of ${a.stall.scrapes} scrapes ${f1(a.stall.slowestScrapeMs)} ms`,
    });
  }
  const rssMax = Math.max(...afters.map((a) => a.rssMb));
  checks.push({ what: 'RSS after the run', target: `<= ${TARGETS.rssMb} MB`, value: `${f0(rssMax)} MB`, ok: rssMax <= TARGETS.rssMb, note: afters.map((a) => `${a.name} ${f0(a.rssMb)} (heap ${f0(a.heapMb)})`).join(', ') });
  if (DB.kind === 'postgres') {
    checks.push({
      what: 'PostgreSQL server memory (PSS)',
      target: '-',
      value: `${f0(dbMemoryMb)} MB`,
      ok: undefined,
      note: 'not scored: the target is the gateway process\'s; the server\'s processes, all databases, shared_buffers counted once',
    });
  }
  lines.push(...checkTable(checks), '');
  if (history) lines.push(`history database: ${history.orders} orders and ${history.notifications} notifications built in ${f1(history.ms / 1000)} s, ${f0(history.mb)} MB${DB.kind === 'postgres' ? ' (pg_database_size)' : ''}`);
  lines.push(`orders stored: ${afters.map((a) => `${a.name} ${a.stored} for ${a.answered} answers 200`).join('; ')} (warm-ups included)`);
  const verdict = verdictLines(problems, checks, elapsedMs);
  lines.push(...verdict.lines);
  process.stdout.write(lines.join('\n') + '\n');
  if (opt.json) {
    const json = (f: Figures) => ({ ...f, threadsUs: Object.fromEntries(Object.entries(f.threadsUs).map(([t, v]) => [t, Math.round(v)])) });
    process.stdout.write(
      JSON.stringify({
        header,
        valid: problems.length === 0,
        met: verdict.code === 0,
        problems,
        checks: checks.map((c) => ({ ...c, ok: c.ok ?? null })),
        figures: all.map(json),
        gateways: afters,
        history,
      }) + '\n',
    );
  }
  return verdict.code;
}

main().then(
  (code) => process.exit(code),
  (err) => die(String((err as Error).stack ?? err)),
);
