import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, cpus, loadavg, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sign } from '../src/domain/sign.js';
import { orderFields } from '../test/fixtures/orders.js';

// `npm run bench`: POST /api/pay of a real gateway (its own process, a fresh database, a sandbox
// merchant, MD5-signed orders with unique mercOrderNo built before each run) against a bare Fastify
// route (its own process) that receives the same bodies and answers a body of the same size.
// autocannon drives both from this process, in a fixed order:
//   warm-up bare, warm-up pay (at the largest connection count, own bodies),
//   then for each connection count: bare, then pay.
// Prints req/s, p50/p99 latency and pay/bare per connection count, and checks the targets of
// issue 2. Exit code: 0 valid and targets met, 2 valid but a target missed, 1 invalid run.

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10,50' },
    pause: { type: 'string', default: '1' },
    'server-prof': { type: 'string' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

const DURATION_S = positive(opt.duration, '--duration');
const WARMUP_S = Number(opt.warmup);
const PAUSE_MS = Number(opt.pause) * 1000;
const CONNECTIONS = opt.connections.split(',').map((c) => positive(c, '--connections'));
const MAX_CONNS = Math.max(...CONNECTIONS);
const TARGETS = { ratio: new Map([[10, 0.3], [50, 0.4]]), p99AtConns: 10, p99Ms: 15 };
// Orders for a pay run are built before it starts: 3 × the rate of the pay warm-up (which runs
// before the JIT has settled, so is lower) for the run's duration. Should a run still use them all,
// it is run again with 1.5 × the rate the bare route just reached: pay cannot beat a route that
// does nothing, so that cannot run out, but it costs memory and time to build.
const POOL_FACTOR_WARM = 3;
const POOL_FACTOR_BARE = 1.5;
const BARE_POOL = 20_000;

function positive(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) die(`${name}: expected a positive number, got ${JSON.stringify(s)}`);
  return n;
}

const SERVER_JS = fileURLToPath(new URL('../src/server.js', import.meta.url));
const CLI_JS = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const BARE_JS = fileURLToPath(new URL('./bare-server.js', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Child processes: always killed, whatever way the bench ends.

interface Child {
  name: string;
  proc: ChildProcess;
  tail: string;
  exitCode: number | null | undefined;
  exited: Promise<void>;
  stopping: boolean;
}

const children: Child[] = [];
let failing: ((why: string) => void) | undefined;

function startChild(name: string, script: string, env: Record<string, string>, cwd: string, nodeArgs: string[] = []): Child {
  const proc = spawn(process.execPath, [...nodeArgs, script], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child: Child = { name, proc, tail: '', exitCode: undefined, exited: Promise.resolve(), stopping: false };
  const keep = (chunk: Buffer) => {
    child.tail = (child.tail + chunk.toString()).slice(-8000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  child.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      child.exitCode = code ?? (signal ? -1 : null);
      if (!child.stopping) failing?.(`${name} exited unexpectedly (code ${code}, signal ${signal})\n${child.tail}`);
      resolve();
    });
  });
  children.push(child);
  return child;
}

async function stopChild(child: Child, graceMs = 15_000): Promise<void> {
  child.stopping = true;
  if (child.exitCode !== undefined) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

let tempDir: string | undefined;
process.on('exit', () => {
  for (const c of children) if (c.exitCode === undefined) c.proc.kill('SIGKILL');
  if (tempDir && !opt.keep) rmSync(tempDir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const c of children) if (c.exitCode === undefined) c.proc.kill('SIGKILL');
    process.exit(130);
  });
}

function die(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, child: Child, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== undefined) die(`${child.name} exited while starting:\n${child.tail}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  die(`${child.name} did not answer at ${url} within ${timeoutMs} ms:\n${child.tail}`);
}

// ---------------------------------------------------------------------------------------------
// Orders: valid unified orders (as test/helper.ts payFields), fixed-width mercOrderNo so every
// body has the same size, signed with the merchant's key before the run starts.

interface Merchant {
  mercNo: string;
  key: string;
}

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
  loadgenCpuUs: number;
  /** CPU used by everything else on the machine during the run, in % of one CPU. */
  othersCpuPct: number;
}

// CPU seconds a process (all its threads) has used, from /proc; undefined where there is no /proc.
let clockTicks: number | undefined;
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine has spent busy (every CPU, every process), from /proc/stat. */
function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    return (user! + nice! + system! + irq! + softirq! + steal!) / clockTicks;
  } catch {
    return undefined;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

let abortCurrent: ((why: string) => void) | undefined;

async function load(
  route: 'pay' | 'bare',
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

  const serverCpu0 = processCpuSeconds(serverPid);
  const loadgenCpu0 = process.cpuUsage();
  const machine0 = machineBusySeconds();
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
  const serverCpu1 = processCpuSeconds(serverPid);
  const loadgenCpu = process.cpuUsage(loadgenCpu0);
  const machine1 = machineBusySeconds();
  const elapsedS = (performance.now() - t0) / 1000;
  const serverCpuS = serverCpu0 !== undefined && serverCpu1 !== undefined ? serverCpu1 - serverCpu0 : NaN;
  const loadgenCpuS = (loadgenCpu.user + loadgenCpu.system) / 1e6;
  const othersCpuPct =
    machine0 !== undefined && machine1 !== undefined ? Math.max(0, (100 * (machine1 - machine0 - serverCpuS - loadgenCpuS)) / elapsedS) : NaN;

  const sorted = Float64Array.from(latencies).sort();
  const non200: Record<string, number> = {};
  for (const [code, n] of statuses) if (code !== 200) non200[code] = n;
  return {
    route,
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
    serverCpuUs: (serverCpuS * 1e6) / Math.max(1, latencies.length),
    loadgenCpuUs: (loadgenCpuS * 1e6) / Math.max(1, latencies.length),
    othersCpuPct,
  };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = Date.now();
  const limitMs = (2 * WARMUP_S + 2 * CONNECTIONS.length * DURATION_S) * 1000 + 4 * CONNECTIONS.length * PAUSE_MS + 180_000;
  const watchdog = setTimeout(() => die(`the bench took longer than ${Math.round(limitMs / 1000)} s; stopped`), limitMs);

  const dir = mkdtempSync(join(tmpdir(), 'dtpay-bench-'));
  tempDir = dir;
  const dbPath = join(dir, 'dtpay.sqlite');
  const runs: Run[] = [];
  try {
    // 1. A sandbox merchant, made by the CLI before the server opens the database.
    const created = execFileSync(process.execPath, [CLI_JS, 'merchant', 'create', '--name', 'Bench', '--mode', 'sandbox', '--json'], {
      cwd: dir,
      env: { ...process.env, DATABASE_PATH: dbPath, LOG_LEVEL: 'warn' },
      timeout: 30_000,
      encoding: 'utf8',
    });
    const merchant = JSON.parse(created) as Merchant & { mode: string };

    // 2. The gateway, in its own process (cwd is the temp dir, so no project .env is read).
    const payPort = await freePort();
    const nodeArgs = opt['server-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${opt['server-prof']}`] : [];
    const gateway = startChild(
      'gateway',
      SERVER_JS,
      // One merchant at tens of thousands of requests a second: the per-merchant rate limit is off.
      { PORT: String(payPort), HOST: '127.0.0.1', DATABASE_PATH: dbPath, LOG_LEVEL: 'warn', PUBLIC_BASE_URL: `http://127.0.0.1:${payPort}`, RATE_LIMIT_API_PER_MINUTE: '0' },
      dir,
      nodeArgs,
    );
    const payBase = `http://127.0.0.1:${payPort}`;
    await waitForHttp(`${payBase}/`, gateway, 20_000);
    failing = (why) => {
      if (abortCurrent) abortCurrent(why);
      else die(why);
    };

    // 3. One order by hand: the request and answer sizes, and a check that the setup is right.
    const probeBody = orderBody(merchant, `BENCH-PRBE-${'0'.repeat(10)}`);
    const probe = await fetch(`${payBase}/api/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: probeBody });
    const probeText = await probe.text();
    const probeJson = JSON.parse(probeText) as Record<string, string>;
    if (probe.status !== 200 || probeJson.respCode !== '000000') die(`the probe order failed: ${probe.status} ${probeText}`);

    // 4. The bare server, answering a body shaped and sized like that answer.
    const bare = startChild('bare server', BARE_JS, { PORT: '0', HOST: '127.0.0.1', BARE_REPLY_JSON: probeText }, dir);
    const barePort = await new Promise<number>((resolve) => {
      let buf = '';
      const onData = (chunk: Buffer) => {
        buf += chunk.toString();
        const m = /\{"port":(\d+)\}/.exec(buf);
        if (m) {
          bare.proc.stdout!.off('data', onData);
          resolve(Number(m[1]));
        }
      };
      bare.proc.stdout!.on('data', onData);
    });
    const bareBase = `http://127.0.0.1:${barePort}`;
    const bareProbe = await fetch(`${bareBase}/bare`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: probeBody });
    const bareText = await bareProbe.text();
    if (bareProbe.status !== 200) die(`the bare server answered ${bareProbe.status}: ${bareText}`);

    const barePool = buildBodies(merchant, 'BARE', BARE_POOL);
    const poolSize = (rps: number, factor: number, seconds: number, connections: number) =>
      Math.ceil(rps * factor * seconds) + 20 * connections + 2000;
    let payWarmRps: number | undefined;
    const notes: string[] = [];
    // A pay run, with orders built beforehand (while nothing runs, so signing takes no CPU from
    // either server), and run again with a larger pool should the first one run out.
    const payRun = async (c: number, seconds: number, warmup: boolean, bareRps: number, tag: string): Promise<Run> => {
      const upper = poolSize(bareRps, POOL_FACTOR_BARE, seconds, c);
      const first = payWarmRps === undefined ? upper : Math.min(upper, poolSize(Math.max(payWarmRps, 2000), POOL_FACTOR_WARM, seconds, c));
      let run = await load('pay', `${payBase}/api/pay`, c, seconds, warmup, buildBodies(merchant, tag, first), false, gateway.proc.pid);
      if (run.poolExhausted && first < upper) {
        notes.push(`pay ${c}c used all ${first} pre-built orders; run again with ${upper}`);
        await sleep(PAUSE_MS);
        run = await load('pay', `${payBase}/api/pay`, c, seconds, warmup, buildBodies(merchant, tag.slice(0, 3) + 'R', upper), false, gateway.proc.pid);
      }
      return run;
    };

    const header = [
      `dtpay bench: POST /api/pay vs a bare Fastify JSON route, side by side in one run`,
      `  node ${process.version}, ${platform()} ${arch()}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? '?'}), autocannon ${autocannonVersion()}`,
      `  gateway: sandbox merchant ${merchant.mercNo}, MD5-signed alipay.scan orders, unique mercOrderNo, bodies built before each run`,
      `  request body ${probeBody.length} B; pay answer ${Buffer.byteLength(probeText)} B; bare answer ${Buffer.byteLength(bareText)} B`,
      `  load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews every figure)`,
      `  order: ${WARMUP_S > 0 ? `warm-up bare ${MAX_CONNS}c ${WARMUP_S}s, warm-up pay ${MAX_CONNS}c ${WARMUP_S}s; then ` : 'no warm-up; '}for ${CONNECTIONS.join(', ')} connections: bare ${DURATION_S}s, pay ${DURATION_S}s (fixed order, ${PAUSE_MS / 1000}s pause between runs)`,
    ];
    process.stdout.write(header.join('\n') + '\n');

    // 5. Warm-up, then the measured runs.
    let bareWarm: Run | undefined;
    if (WARMUP_S > 0) {
      bareWarm = await load('bare', `${bareBase}/bare`, MAX_CONNS, WARMUP_S, true, barePool, true, bare.proc.pid);
      runs.push(bareWarm);
      await sleep(PAUSE_MS);
      const warm = await payRun(MAX_CONNS, WARMUP_S, true, bareWarm.rps, 'WARM');
      runs.push(warm);
      payWarmRps = warm.rps;
      await sleep(PAUSE_MS);
    }
    for (const c of CONNECTIONS) {
      const b = await load('bare', `${bareBase}/bare`, c, DURATION_S, false, barePool, true, bare.proc.pid);
      runs.push(b);
      await sleep(PAUSE_MS);
      runs.push(await payRun(c, DURATION_S, false, b.rps, `C${String(c).padStart(3, '0')}`));
      await sleep(PAUSE_MS);
    }

    // 6. Stop both servers (the gateway drains its writer), then count what was stored.
    failing = undefined;
    await Promise.all([stopChild(gateway), stopChild(bare)]);
    const db = new Database(dbPath, { readonly: true });
    const stored = (db.prepare('SELECT count(*) FROM orders').pluck().get() as number) - 1; // minus the probe
    db.close();

    return report(header, runs, stored, notes, Date.now() - started);
  } catch (err) {
    for (const r of runs) process.stdout.write(`${formatRun(r)}\n`);
    process.stderr.write(`bench: ${(err as Error).message ?? err}\n`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    for (const c of children) await stopChild(c, 5000);
    if (opt.keep) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
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

const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

function formatRun(r: Run): string {
  const non200 = Object.values(r.non200).reduce((a, b) => a + b, 0);
  return [
    String(r.connections).padStart(5),
    (r.route + (r.warmup ? '*' : '')).padEnd(6),
    r.rps.toFixed(0).padStart(8),
    f2(r.p50).padStart(7),
    f2(r.p90).padStart(7),
    f2(r.p99).padStart(7),
    f2(r.max).padStart(8),
    String(r.responses).padStart(9),
    String(non200).padStart(8),
    String(r.errors).padStart(7),
    (Number.isFinite(r.serverCpuUs) ? r.serverCpuUs.toFixed(0) : '-').padStart(10),
    r.loadgenCpuUs.toFixed(0).padStart(11),
    (Number.isFinite(r.othersCpuPct) ? `${r.othersCpuPct.toFixed(0)}%` : '-').padStart(6),
  ].join('  ');
}

function report(header: string[], runs: Run[], stored: number, notes: string[], elapsedMs: number): number {
  const lines: string[] = [''];
  lines.push('conns  route      req/s   p50 ms   p90 ms   p99 ms    max ms  responses   non-200   errors  server CPU   autocannon  others');
  for (const r of runs) lines.push(formatRun(r));
  lines.push(
    '  (* = warm-up, not scored. Latency: per response as autocannon times it. CPU: microseconds per response,',
    '   of the server process (all threads) and of the autocannon process; others: CPU used meanwhile by the',
    '   rest of the machine, in % of one CPU; a high figure there means the run was disturbed)',
    '',
  );

  const problems: string[] = [];
  const misses: string[] = [];
  const payRuns = runs.filter((r) => r.route === 'pay');
  for (const r of runs) {
    const non200 = Object.entries(r.non200);
    if (non200.length) problems.push(`${r.route} ${r.connections}c: non-200 answers ${non200.map(([c, n]) => `${c}×${n}`).join(', ')}`);
    if (r.errors) problems.push(`${r.route} ${r.connections}c: ${r.errors} socket errors (${r.timeouts} timeouts)`);
    if (r.poolExhausted) problems.push(`${r.route} ${r.connections}c: ran out of pre-built orders after ${r.bodiesUsed}`);
  }
  const payOk = payRuns.reduce((a, r) => a + r.ok200, 0);
  if (stored < payOk) problems.push(`only ${stored} orders stored for ${payOk} answers 200`);

  lines.push('conns  pay/bare  target      p99 pay  target     verdict');
  const summary: Record<string, unknown>[] = [];
  for (const c of CONNECTIONS) {
    const b = runs.find((r) => r.route === 'bare' && !r.warmup && r.connections === c)!;
    const p = runs.find((r) => r.route === 'pay' && !r.warmup && r.connections === c)!;
    const ratio = p.rps / b.rps;
    const ratioTarget = TARGETS.ratio.get(c);
    const p99Target = c === TARGETS.p99AtConns ? TARGETS.p99Ms : undefined;
    const ratioOk = ratioTarget === undefined || ratio >= ratioTarget;
    const p99Ok = p99Target === undefined || p.p99 <= p99Target;
    if (!ratioOk) misses.push(`pay/bare ${ratio.toFixed(2)} < ${ratioTarget} at ${c} connections`);
    if (!p99Ok) misses.push(`p99 ${f2(p.p99)} ms > ${p99Target} ms at ${c} connections`);
    lines.push(
      [
        String(c).padStart(5),
        ratio.toFixed(2).padStart(8),
        (ratioTarget === undefined ? '-' : `>= ${ratioTarget.toFixed(2)}`).padEnd(8),
        `${f2(p.p99)} ms`.padStart(9),
        (p99Target === undefined ? '-' : `<= ${p99Target} ms`).padEnd(9),
        ratioOk && p99Ok ? 'met' : 'MISSED',
      ].join('  '),
    );
    summary.push({ connections: c, bare: pick(b), pay: pick(p), ratio, ratioTarget, p99Target, met: ratioOk && p99Ok });
  }
  lines.push('');
  lines.push(`orders stored: ${stored} for ${payOk} pay answers 200 (warm-up included; the probe order not counted)`);
  const valid = problems.length === 0;
  const verdict = !valid ? 'INVALID' : misses.length ? 'targets MISSED' : 'targets MET';
  for (const n of notes) lines.push(`note: ${n}`);
  for (const p of problems) lines.push(`problem: ${p}`);
  for (const m of misses) lines.push(`missed: ${m}`);
  lines.push(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  lines.push(`result: ${verdict} (${(elapsedMs / 1000).toFixed(0)} s)`);
  process.stdout.write(lines.join('\n') + '\n');
  if (opt.json) {
    process.stdout.write(
      JSON.stringify({ header, valid, met: valid && misses.length === 0, problems, misses, stored, payOk, runs: summary, warmups: runs.filter((r) => r.warmup).map(pick) }) +
        '\n',
    );
  }
  return !valid ? 1 : misses.length ? 2 : 0;
}

function pick(r: Run) {
  return {
    route: r.route,
    connections: r.connections,
    seconds: r.seconds,
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
    loadgenCpuUs: Math.round(r.loadgenCpuUs),
    othersCpuPct: Number.isFinite(r.othersCpuPct) ? Math.round(r.othersCpuPct) : null,
  };
}

main().then(
  (code) => process.exit(code),
  (err) => die(String((err as Error).stack ?? err)),
);
