import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sign } from '../src/domain/sign.js';
import { orderFields } from '../test/fixtures/orders.js';
import {
  SERVER_JS, benchNamed, checkTable, cpuOf, createSandboxMerchant, die, f0, f1, f2, freePort, loadLine, machineBusy, machineLine,
  makeTempDir, percentile, portLine, positive, positiveInt, rssMb, sleep, spawnChild, stopAll, stopChild, threadCpuOf,
  threadCpuSince, verdictLines, waitForHealthz, whenChildDies, type Check, type Child, type Merchant,
} from './harness.js';
import { buildHistory, type History } from './history.js';

// `npm run bench`: POST /api/pay of a real gateway (its own process, a sandbox merchant,
// MD5-signed orders with unique mercOrderNo built before each run, every order committed with
// fsync before it is answered) against a bare Fastify route (its own process) that receives the
// same bodies and answers a body of the same size; autocannon drives both from this process.
// Three gateways, one after the other, each on its own database:
//   empty     a fresh database: warm-up bare and pay, then for each connection count bare, pay
//   no-fsync  the same gateway with a writer that commits without fsync (a bench-only switch of
//             bench/gateway.ts): what durability costs, at the largest connection count
//   history   a database holding --history ended orders (built here with SQL): start-up time,
//             pay at the largest connection count, and the longest event-loop stall while
//             /metrics is scraped
// Prints every figure of issue 13 with its target and verdict. Exit code: 0 valid and targets
// met, 2 valid but a target missed, 1 invalid run.

benchNamed('bench');
const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10,50' },
    pause: { type: 'string', default: '1' },
    history: { type: 'string', default: '1000000' },
    big: { type: 'boolean', default: false },
    scrapes: { type: 'string', default: '20' },
    phases: { type: 'string', default: 'empty,no-fsync,history' },
    'server-prof': { type: 'string' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (opt.help) {
  process.stdout.write(
    [
      'node dist/bench/pay.js [options]',
      '  --duration S        seconds of each measured run (10)',
      '  --warmup S          seconds of each warm-up run, 0 for none (2)',
      '  --connections C,..  connection counts of the empty-database runs (10,50); the others use the largest',
      '  --pause S           seconds between runs (1)',
      '  --history N         ended orders in the history database (1000000)',
      '  --big               --history 10000000',
      '  --scrapes N         /metrics scrapes while the event loop is watched (20)',
      '  --phases LIST       which gateways run, of empty,no-fsync,history (all)',
      '  --server-prof DIR   write CPU profiles of the gateways into DIR',
      '  --json              also print one JSON document at the end',
      '  --keep              keep the temporary directory (databases)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const DURATION_S = positive(opt.duration, '--duration');
const WARMUP_S = Number(opt.warmup);
const PAUSE_MS = Number(opt.pause) * 1000;
const CONNECTIONS = opt.connections.split(',').map((c) => positiveInt(c, '--connections'));
const MAX_CONNS = Math.max(...CONNECTIONS);
const HISTORY = opt.big ? 10_000_000 : positiveInt(opt.history, '--history');
const SCRAPES = positiveInt(opt.scrapes, '--scrapes');
const PHASES = new Set(opt.phases.split(','));
for (const p of PHASES) if (!['empty', 'no-fsync', 'history'].includes(p)) die(`--phases: unknown phase ${p}`);
if (!PHASES.has('empty')) die('--phases: the empty phase is the yardstick of the others and always runs');
const TARGETS = { cpuRatio: 3, payBare: 0.3, durable: 0.8, history: 0.9, startupS: 3, stallMs: 20, rssMb: 250 };
// Orders for a pay run are built before it starts: 3 × the rate of the pay warm-up (which runs
// before the JIT has settled, so is lower) for the run's duration. Should a run still use them all,
// it is run again with 1.5 × the rate the bare route just reached: pay cannot beat a route that
// does nothing, so that cannot run out, but it costs memory and time to build.
const POOL_FACTOR_WARM = 3;
const POOL_FACTOR_BARE = 1.5;
const BARE_POOL = 20_000;
const BARE_JS = fileURLToPath(new URL('./bare-server.js', import.meta.url));
const THREADS = ['main', 'writer', 'checkpoint', 'v8', 'other'] as const;

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
// One autocannon run.

interface Run {
  route: 'pay' | 'bare';
  /** which gateway (empty, no-fsync, history); the bare server's runs say bare */
  gateway: string;
  connections: number;
  seconds: number;
  warmup: boolean;
  rps: number;
  responses: number;
  ok200: number;
  non200: Record<string, number>;
  errors: number;
  timeouts: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  poolExhausted: boolean;
  bodiesUsed: number;
  /** CPU time of the server process (every thread) per response, and of this process (autocannon). */
  serverCpuUs: number;
  /** the server's CPU per response by thread */
  threadsUs: Record<string, number>;
  loadgenCpuUs: number;
  /** CPU used by everything else on the machine during the run, in % of one CPU. */
  othersCpuPct: number;
}

let abortCurrent: ((why: string) => void) | undefined;

async function load(
  route: 'pay' | 'bare',
  gatewayName: string,
  url: string,
  connections: number,
  seconds: number,
  warmup: boolean,
  pool: Pool,
  cycle: boolean,
  serverPid: number | undefined,
): Promise<Run> {
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
        // A replayed body would not be a new order: the run stops, and is run again or reported.
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
  const loadgenCpu0 = process.cpuUsage();
  const machine0 = machineBusy();
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    abortCurrent = (why) => {
      instance?.stop();
      reject(new Error(why));
    };
    instance = autocannon(
      {
        url,
        connections,
        duration: seconds,
        timeout: 10,
        requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    });
  });
  abortCurrent = undefined;
  const serverCpuS = cpuOf(serverPid) - serverCpu0;
  const threads = threadCpuSince(threads0, threadCpuOf(serverPid));
  const loadgenCpu = process.cpuUsage(loadgenCpu0);
  const elapsedS = (performance.now() - t0) / 1000;
  const loadgenCpuS = (loadgenCpu.user + loadgenCpu.system) / 1e6;
  const othersCpuPct = Math.max(0, (100 * (machineBusy() - machine0 - serverCpuS - loadgenCpuS)) / elapsedS);

  const sorted = Float64Array.from(latencies).sort();
  const non200: Record<string, number> = {};
  for (const [code, n] of statuses) if (code !== 200) non200[code] = n;
  const per = (cpuS: number) => (cpuS * 1e6) / Math.max(1, latencies.length);
  return {
    route,
    gateway: gatewayName,
    connections,
    seconds,
    warmup,
    rps: result.requests.average,
    responses: sorted.length,
    ok200: statuses.get(200) ?? 0,
    non200,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    poolExhausted: exhausted,
    bodiesUsed: next,
    serverCpuUs: per(serverCpuS),
    threadsUs: Object.fromEntries(Object.entries(threads).map(([k, v]) => [k, per(v)])),
    loadgenCpuUs: per(loadgenCpuS),
    othersCpuPct,
  };
}

// ---------------------------------------------------------------------------------------------
// Gateways.

interface Gateway {
  name: string;
  child: Child;
  base: string;
  dbPath: string;
  /** from spawning the process to its first healthy answer */
  startupMs: number;
}

async function startGateway(name: string, dir: string, dbPath: string, args: string[] = []): Promise<Gateway> {
  const port = await freePort();
  const node = opt['server-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(opt['server-prof'], name)}`] : [];
  const base = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawnChild(
    `gateway (${name})`,
    SERVER_JS,
    // One merchant at thousands of requests a second: the per-merchant rate limit is off.
    { PORT: String(port), HOST: '127.0.0.1', DATABASE_PATH: dbPath, LOG_LEVEL: 'warn', PUBLIC_BASE_URL: base, RATE_LIMIT_API_PER_MINUTE: '0' },
    dir,
    { node, script: args },
  );
  await waitForHealthz(base, child, 60_000);
  return { name, child, base, dbPath, startupMs: performance.now() - started };
}

interface LoopFigures {
  maxMs: number;
  p99Ms: number;
  rssMb: number;
}

const loopFigures = async (g: Gateway): Promise<LoopFigures> => (await (await fetch(`${g.base}/__bench/loop`)).json()) as LoopFigures;

interface Stall {
  scrapes: number;
  /** longest event-loop delay while /metrics was scraped, and during as long a time left alone */
  scrapingMaxMs: number;
  idleMaxMs: number;
  /** slowest scrape, as this process timed it */
  slowestScrapeMs: number;
}

/** The longest event-loop stall while /metrics is scraped SCRAPES times, against the same time idle. */
async function metricsStall(g: Gateway): Promise<Stall> {
  await loopFigures(g);
  const t0 = performance.now();
  let slowest = 0;
  for (let i = 0; i < SCRAPES; i++) {
    const s = performance.now();
    const res = await fetch(`${g.base}/metrics`);
    const text = await res.text();
    if (res.status !== 200 || !text.includes('dtpay_orders')) die(`GET /metrics answered ${res.status}: ${text.slice(0, 200)}`);
    slowest = Math.max(slowest, performance.now() - s);
    await sleep(50);
  }
  const spent = performance.now() - t0;
  const scraping = await loopFigures(g);
  await sleep(spent);
  const idle = await loopFigures(g);
  return { scrapes: SCRAPES, scrapingMaxMs: scraping.maxMs, idleMaxMs: idle.maxMs, slowestScrapeMs: slowest };
}

// ---------------------------------------------------------------------------------------------

interface Phase {
  name: string;
  gateway: Gateway;
  rssMb: number;
  stall?: Stall;
  /** orders answered 200 and orders stored, for the check that every answer was stored */
  answered: number;
  stored: number;
}

async function main(): Promise<number> {
  const started = Date.now();
  const historyBuildS = PHASES.has('history') ? HISTORY / 10_000 : 0; // generous: 10k orders/s
  const runs = (2 * WARMUP_S + (2 * CONNECTIONS.length + 2) * DURATION_S) * 1000 + (4 * CONNECTIONS.length + 8) * PAUSE_MS;
  const limitMs = runs + historyBuildS * 1000 + 300_000;
  const watchdog = setTimeout(() => die(`the bench took longer than ${Math.round(limitMs / 1000)} s; stopped`), limitMs);
  watchdog.unref();

  const dir = makeTempDir('dtpay-bench-', opt.keep);
  const allRuns: Run[] = [];
  const phases: Phase[] = [];
  const notes: string[] = [];
  const problems: string[] = [];
  let history: History | undefined;
  try {
    // 1. The empty gateway and its merchant (made by the CLI before the gateway opens the file).
    const emptyDb = join(dir, 'empty.sqlite');
    const merchant = createSandboxMerchant(dir, emptyDb);
    const empty = await startGateway('empty', dir, emptyDb);
    whenChildDies((why) => (abortCurrent ? abortCurrent(why) : die(why)));

    // 2. One order by hand: the request and answer sizes, and a check that the setup is right.
    const probeBody = orderBody(merchant, `BENCH-PRBE-${'0'.repeat(10)}`);
    const probe = await fetch(`${empty.base}/api/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: probeBody });
    const probeText = await probe.text();
    const probeJson = JSON.parse(probeText) as Record<string, string>;
    if (probe.status !== 200 || probeJson.respCode !== '000000') die(`the probe order failed: ${probe.status} ${probeText}`);

    // 3. The bare server, answering a body shaped and sized like that answer.
    const bare = spawnChild('bare server', BARE_JS, { PORT: '0', HOST: '127.0.0.1', BARE_REPLY_JSON: probeText }, dir);
    const bareBase = `http://127.0.0.1:${await portLine(bare, 20_000)}`;
    const bareProbe = await fetch(`${bareBase}/bare`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: probeBody });
    const bareText = await bareProbe.text();
    if (bareProbe.status !== 200) die(`the bare server answered ${bareProbe.status}: ${bareText}`);

    const barePool = buildBodies(merchant, 'BARE', BARE_POOL);
    const poolSize = (rps: number, factor: number, seconds: number, connections: number) => Math.ceil(rps * factor * seconds) + 20 * connections + 2000;
    let payWarmRps: number | undefined;
    let bareRpsSeen = 0;
    // A pay run, with orders built beforehand (while nothing runs, so signing takes no CPU from
    // either server), and run again with a larger pool should the first one run out.
    let tagSeq = 0;
    const payRun = async (g: Gateway, m: Merchant, c: number, seconds: number, warmup: boolean): Promise<Run> => {
      const tag = () => `T${String(tagSeq++).padStart(3, '0')}`;
      const upper = poolSize(bareRpsSeen, POOL_FACTOR_BARE, seconds, c);
      const first = payWarmRps === undefined ? upper : Math.min(upper, poolSize(Math.max(payWarmRps, 2000), POOL_FACTOR_WARM, seconds, c));
      let run = await load('pay', g.name, `${g.base}/api/pay`, c, seconds, warmup, buildBodies(m, tag(), first), false, g.child.proc.pid);
      if (run.poolExhausted && first < upper) {
        notes.push(`pay ${g.name} ${c}c used all ${first} pre-built orders; run again with ${upper}`);
        await sleep(PAUSE_MS);
        run = await load('pay', g.name, `${g.base}/api/pay`, c, seconds, warmup, buildBodies(m, tag(), upper), false, g.child.proc.pid);
      }
      allRuns.push(run);
      await sleep(PAUSE_MS);
      return run;
    };
    const bareRun = async (c: number, seconds: number, warmup: boolean): Promise<Run> => {
      const run = await load('bare', 'bare', `${bareBase}/bare`, c, seconds, warmup, barePool, true, bare.proc.pid);
      bareRpsSeen = Math.max(bareRpsSeen, run.rps);
      allRuns.push(run);
      await sleep(PAUSE_MS);
      return run;
    };
    const endPhase = async (g: Gateway, m: Merchant, stall?: Stall): Promise<void> => {
      const rss = rssMb(g.child.proc.pid);
      await stopChild(g.child);
      const db = new Database(g.dbPath, { readonly: true });
      const stored = db.prepare("SELECT count(*) FROM orders WHERE merc_no = ? AND merc_order_no LIKE 'BENCH-T%'").pluck().get(m.mercNo) as number;
      db.close();
      const answered = allRuns.filter((r) => r.route === 'pay' && r.gateway === g.name).reduce((a, r) => a + r.ok200, 0);
      phases.push({ name: g.name, gateway: g, rssMb: rss, stall, answered, stored });
    };

    const header = [
      `dtpay bench: POST /api/pay vs a bare Fastify JSON route, side by side in one run`,
      machineLine(`, autocannon ${autocannonVersion()}`),
      `  gateway: sandbox merchant, MD5-signed alipay.scan orders, unique mercOrderNo, bodies built before each run`,
      `  request body ${probeBody.length} B; pay answer ${Buffer.byteLength(probeText)} B; bare answer ${Buffer.byteLength(bareText)} B`,
      `  load average at start: ${loadLine()} (other work on the machine skews every figure; the targets are ratios of one run)`,
      `  empty database: ${WARMUP_S > 0 ? `warm-up bare and pay ${MAX_CONNS}c ${WARMUP_S}s, then ` : ''}for ${CONNECTIONS.join(', ')} connections: bare ${DURATION_S}s, pay ${DURATION_S}s`,
      ...(PHASES.has('no-fsync') ? [`  no-fsync: a fresh database, the writer committing without fsync: pay ${MAX_CONNS}c ${DURATION_S}s after a warm-up`] : []),
      ...(PHASES.has('history') ? [`  history: ${HISTORY} ended orders: start-up, pay ${MAX_CONNS}c ${DURATION_S}s after a warm-up, ${SCRAPES} /metrics scrapes`] : []),
    ];
    process.stdout.write(header.join('\n') + '\n');

    // 4. The empty database: warm-up, then the measured runs.
    if (WARMUP_S > 0) {
      await bareRun(MAX_CONNS, WARMUP_S, true);
      payWarmRps = (await payRun(empty, merchant, MAX_CONNS, WARMUP_S, true)).rps;
    }
    for (const c of CONNECTIONS) {
      await bareRun(c, DURATION_S, false);
      await payRun(empty, merchant, c, DURATION_S, false);
    }
    await endPhase(empty, merchant, await metricsStall(empty));

    // 5. The same gateway without fsync.
    if (PHASES.has('no-fsync')) {
      const dbPath = join(dir, 'no-fsync.sqlite');
      const m = createSandboxMerchant(dir, dbPath);
      const g = await startGateway('no-fsync', dir, dbPath, ['--no-fsync']);
      if (WARMUP_S > 0) await payRun(g, m, MAX_CONNS, WARMUP_S, true);
      await payRun(g, m, MAX_CONNS, DURATION_S, false);
      await endPhase(g, m);
    }

    // 6. A long history.
    if (PHASES.has('history')) {
      const dbPath = join(dir, 'history.sqlite');
      const m = createSandboxMerchant(dir, dbPath);
      process.stdout.write(`building the history database (${HISTORY} ended orders)\n`);
      history = buildHistory(dbPath, m, HISTORY, (line) => process.stdout.write(`${line}\n`));
      const g = await startGateway('history', dir, dbPath);
      if (WARMUP_S > 0) await payRun(g, m, MAX_CONNS, WARMUP_S, true);
      await payRun(g, m, MAX_CONNS, DURATION_S, false);
      await endPhase(g, m, await metricsStall(g));
    }

    whenChildDies(undefined);
    await stopChild(bare);
  } catch (err) {
    for (const r of allRuns) process.stdout.write(`${formatRun(r)}\n`);
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    await stopAll();
    if (opt.keep) process.stdout.write(`kept ${dir}\n`);
  }
  return report(allRuns, phases, history, notes, problems, Date.now() - started);
}

function autocannonVersion(): string {
  try {
    const pkg = fileURLToPath(import.meta.resolve('autocannon/package.json'));
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function formatRun(r: Run): string {
  const non200 = Object.values(r.non200).reduce((a, b) => a + b, 0);
  const name = r.route === 'bare' ? 'bare' : `pay ${r.gateway}`;
  return [
    String(r.connections).padStart(5),
    (name + (r.warmup ? '*' : '')).padEnd(15),
    r.rps.toFixed(0).padStart(7),
    f2(r.p50).padStart(7),
    f2(r.p99).padStart(7),
    f2(r.max).padStart(7),
    String(r.responses).padStart(8),
    String(non200 + r.errors).padStart(5),
    f0(r.serverCpuUs).padStart(7),
    THREADS.map((k) => f0(r.threadsUs[k] ?? 0).padStart(k.length)).join(' '),
    f0(r.loadgenCpuUs).padStart(6),
    `${f0(r.othersCpuPct)}%`.padStart(6),
  ].join('  ');
}

function report(runs: Run[], phases: Phase[], history: History | undefined, notes: string[], problems: string[], elapsedMs: number): number {
  const lines: string[] = [''];
  lines.push(`conns  run                req/s   p50 ms  p99 ms   max ms  answers   bad  CPU µs  ${THREADS.join(' ')}  loadgen  others`);
  for (const r of runs) lines.push(formatRun(r));
  lines.push(
    '  (* = warm-up, not scored. Latency per response as autocannon times it. bad: non-200 answers and socket errors.',
    '   CPU: µs per response of the server process, all threads, then by thread: main = event loop, writer and',
    '   checkpoint = the gateway\'s database threads, v8 = garbage collection and compilation; loadgen = autocannon',
    '   (this process); others = CPU used meanwhile by the rest of the machine, % of one CPU: high means disturbed)',
    '',
  );

  for (const r of runs) {
    const non200 = Object.entries(r.non200);
    const name = `${r.route === 'bare' ? 'bare' : `pay ${r.gateway}`} ${r.connections}c`;
    if (non200.length) problems.push(`${name}: non-200 answers ${non200.map(([c, n]) => `${c}×${n}`).join(', ')}`);
    if (r.errors) problems.push(`${name}: ${r.errors} socket errors (${r.timeouts} timeouts)`);
    if (r.poolExhausted) problems.push(`${name}: ran out of pre-built orders after ${r.bodiesUsed}`);
  }
  for (const p of phases) if (p.stored < p.answered) problems.push(`${p.name}: only ${p.stored} orders stored for ${p.answered} answers 200`);

  const find = (route: string, gateway: string, c: number) => runs.find((r) => r.route === route && r.gateway === gateway && !r.warmup && r.connections === c);
  const checks: Check[] = [];
  for (const c of CONNECTIONS) {
    const b = find('bare', 'bare', c)!;
    const p = find('pay', 'empty', c)!;
    const scored = c === MAX_CONNS;
    const cpu = p.serverCpuUs / b.serverCpuUs;
    checks.push({ what: `CPU per answer, pay/bare, ${c}c`, target: `<= ${TARGETS.cpuRatio}`, value: `${f2(cpu)}×`, ok: scored ? cpu <= TARGETS.cpuRatio : undefined, note: scored ? `${f0(p.serverCpuUs)} vs ${f0(b.serverCpuUs)} µs` : `not scored (${f0(p.serverCpuUs)} vs ${f0(b.serverCpuUs)} µs)` });
    const ratio = p.rps / b.rps;
    checks.push({ what: `req/s, pay/bare, ${c}c`, target: `>= ${TARGETS.payBare}`, value: f2(ratio), ok: scored ? ratio >= TARGETS.payBare : undefined, note: scored ? `${f0(p.rps)} vs ${f0(b.rps)}` : `not scored (${f0(p.rps)} vs ${f0(b.rps)})` });
  }
  const emptyMax = find('pay', 'empty', MAX_CONNS)!;
  const noFsync = find('pay', 'no-fsync', MAX_CONNS);
  if (noFsync) {
    const r = emptyMax.rps / noFsync.rps;
    checks.push({ what: `req/s, pay durable/no-fsync, ${MAX_CONNS}c`, target: `>= ${TARGETS.durable}`, value: f2(r), ok: r >= TARGETS.durable, note: `${f0(emptyMax.rps)} vs ${f0(noFsync.rps)}` });
  }
  const hist = find('pay', 'history', MAX_CONNS);
  const histPhase = phases.find((p) => p.name === 'history');
  if (hist && histPhase) {
    const r = hist.rps / emptyMax.rps;
    checks.push({ what: `req/s, pay ${HISTORY} ended orders/empty, ${MAX_CONNS}c`, target: `>= ${TARGETS.history}`, value: f2(r), ok: r >= TARGETS.history, note: `${f0(hist.rps)} vs ${f0(emptyMax.rps)}` });
    const s = histPhase.gateway.startupMs / 1000;
    checks.push({ what: `start-up on ${HISTORY} ended orders`, target: `<= ${TARGETS.startupS} s`, value: `${f2(s)} s`, ok: s <= TARGETS.startupS, note: `empty: ${f2(phases[0]!.gateway.startupMs / 1000)} s` });
  }
  for (const p of phases) {
    if (!p.stall) continue;
    const scored = p.name === 'history' || !histPhase;
    const size = p.name === 'history' ? `${HISTORY} ended orders` : 'empty database';
    checks.push({
      what: `longest stall, /metrics scraped, ${size}`,
      target: `<= ${TARGETS.stallMs} ms`,
      value: `${f1(p.stall.scrapingMaxMs)} ms`,
      ok: scored ? p.stall.scrapingMaxMs <= TARGETS.stallMs : undefined,
      note: `${scored ? '' : 'not scored; '}idle: ${f1(p.stall.idleMaxMs)} ms, slowest scrape ${f1(p.stall.slowestScrapeMs)} ms`,
    });
  }
  const rssMax = Math.max(...phases.map((p) => p.rssMb));
  checks.push({ what: 'RSS after the run', target: `<= ${TARGETS.rssMb} MB`, value: `${f0(rssMax)} MB`, ok: rssMax <= TARGETS.rssMb, note: phases.map((p) => `${p.name} ${f0(p.rssMb)}`).join(', ') });
  lines.push(...checkTable(checks), '');
  if (history) lines.push(`history database: ${history.orders} orders and ${history.notifications} notifications built in ${f1(history.ms / 1000)} s, ${f0(history.mb)} MB`);
  lines.push(`orders stored: ${phases.map((p) => `${p.name} ${p.stored} for ${p.answered} answers 200`).join('; ')} (warm-ups included)`);
  for (const n of notes) lines.push(`note: ${n}`);
  const verdict = verdictLines(problems, checks, elapsedMs);
  lines.push(...verdict.lines);
  process.stdout.write(lines.join('\n') + '\n');
  if (opt.json) {
    process.stdout.write(
      JSON.stringify({
        valid: problems.length === 0,
        met: verdict.code === 0,
        problems,
        checks: checks.map((c) => ({ ...c, ok: c.ok ?? null })),
        runs: runs.map(pick),
        phases: phases.map((p) => ({ name: p.name, startupMs: Math.round(p.gateway.startupMs), rssMb: Math.round(p.rssMb), stall: p.stall, answered: p.answered, stored: p.stored })),
        history,
      }) + '\n',
    );
  }
  return verdict.code;
}

function pick(r: Run) {
  return {
    route: r.route,
    gateway: r.gateway,
    connections: r.connections,
    seconds: r.seconds,
    warmup: r.warmup,
    rps: Math.round(r.rps),
    p50: +r.p50.toFixed(3),
    p90: +r.p90.toFixed(3),
    p99: +r.p99.toFixed(3),
    max: +r.max.toFixed(3),
    responses: r.responses,
    non200: r.non200,
    errors: r.errors,
    timeouts: r.timeouts,
    serverCpuUs: Number.isFinite(r.serverCpuUs) ? Math.round(r.serverCpuUs) : null,
    threadsUs: Object.fromEntries(Object.entries(r.threadsUs).map(([k, v]) => [k, Math.round(v)])),
    loadgenCpuUs: Math.round(r.loadgenCpuUs),
    othersCpuPct: Number.isFinite(r.othersCpuPct) ? Math.round(r.othersCpuPct) : null,
  };
}

main().then(
  (code) => process.exit(code),
  (err) => die(String((err as Error).stack ?? err)),
);
