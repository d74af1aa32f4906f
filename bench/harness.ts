import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, cpus, loadavg, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

// What the benches (bench/pay.ts, bench/notify.ts) share: their child processes (always killed,
// whatever way a bench ends), the temporary directory, option checks, CPU accounting from /proc,
// and the table of figures with their targets and verdicts.

export const SERVER_JS = fileURLToPath(new URL('./gateway.js', import.meta.url));
export const CLI_JS = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

let benchName = 'bench';

/** Names the bench in its messages. */
export function benchNamed(name: string): void {
  benchName = name;
}

export function die(message: string): never {
  process.stderr.write(`${benchName}: ${message}\n`);
  process.exit(1);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The options every bench takes, after its own.
const COMMON_OPTIONS = {
  'server-prof': { type: 'string' },
  json: { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;
const COMMON_HELP: [string, string][] = [
  ['--server-prof DIR', 'write CPU profiles of the gateways into DIR'],
  ['--json', 'also print one JSON document at the end'],
  ['--keep', 'keep the temporary directory (databases)'],
];

/** Parses a bench's options (its own and the common ones); --help prints `help` and exits. */
export function benchOptions<const O extends NonNullable<ParseArgsConfig['options']>>(script: string, options: O, help: [string, string][]) {
  const { values } = parseArgs({ options: { ...options, ...COMMON_OPTIONS } as O & typeof COMMON_OPTIONS, strict: true, allowPositionals: false });
  if ((values as { help?: boolean }).help) {
    const all = [...help, ...COMMON_HELP];
    const w = Math.max(...all.map(([flag]) => flag.length));
    process.stdout.write([`node ${script} [options]`, ...all.map(([flag, text]) => `  ${flag.padEnd(w)}  ${text}`), ''].join('\n'));
    process.exit(0);
  }
  return values;
}

export function positive(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) die(`${name}: expected a positive number, got ${JSON.stringify(s)}`);
  return n;
}

export function positiveInt(s: string, name: string): number {
  const n = positive(s, name);
  if (!Number.isInteger(n)) die(`${name}: expected a whole number, got ${JSON.stringify(s)}`);
  return n;
}

/** --server-env NAME=VALUE options, as an environment. */
export function serverEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of pairs) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(kv);
    if (!m) die(`--server-env: expected NAME=VALUE, got ${JSON.stringify(kv)}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Child processes and the temporary directory.

export interface Child {
  name: string;
  proc: ChildProcess;
  /** the last few kB of stdout and stderr together, for error messages */
  output: string;
  gone: boolean;
  exited: Promise<void>;
  expected: boolean;
}

const children: Child[] = [];
let onChildDied: ((why: string) => void) | undefined;
let tempDir: string | undefined;
let keepTemp = false;

/** What happens when a child dies unasked: by default the bench ends with the child's output. */
export function whenChildDies(fn: ((why: string) => void) | undefined): void {
  onChildDied = fn;
}

/** Only what node needs from this environment: no dtpay variable of the caller leaks into a child. */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return { ...env, ...extra };
}

export function spawnChild(name: string, script: string, env: Record<string, string>, cwd: string, args: { node?: string[]; script?: string[] } = {}): Child {
  const proc = spawn(process.execPath, [...(args.node ?? []), script, ...(args.script ?? [])], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { name, proc, output: '', gone: false, exited: Promise.resolve(), expected: false };
  const collect = (b: Buffer) => {
    child.output = (child.output + b.toString()).slice(-8000);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  child.exited = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      child.gone = true;
      if (!child.expected) (onChildDied ?? die)(`${name} exited unexpectedly (code ${code}, signal ${signal})\n${child.output}`);
      resolve();
    }),
  );
  children.push(child);
  return child;
}

export async function stopChild(child: Child, graceMs = 15_000): Promise<void> {
  child.expected = true;
  if (child.gone) return;
  child.proc.kill('SIGTERM');
  const hard = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(hard);
}

export async function stopAll(graceMs = 5000): Promise<void> {
  for (const c of children) await stopChild(c, graceMs);
}

function killAll(): void {
  for (const c of children) if (!c.gone) c.proc.kill('SIGKILL');
}

const exitHooks: (() => void)[] = [];

/** Runs `fn` (synchronous) when the process exits, however it ends: after the children are killed, before the temporary directory goes. */
export function atExit(fn: () => void): void {
  exitHooks.push(fn);
}

/** The bench's temporary directory, removed at exit unless `keep`. */
export function makeTempDir(prefix: string, keep: boolean): string {
  tempDir = mkdtempSync(join(tmpdir(), prefix));
  keepTemp = keep;
  return tempDir;
}

process.on('exit', () => {
  killAll();
  for (const fn of exitHooks.splice(0).reverse()) {
    try {
      fn();
    } catch (err) {
      process.stderr.write(`${benchName}: while exiting: ${(err as Error).message}\n`);
    }
  }
  if (tempDir && !keepTemp) rmSync(tempDir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Waits until GET /healthz answers ok; returns how long that took. */
export async function waitForHealthz(base: string, child: Child, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.gone) die(`${child.name} exited while starting:\n${child.output}`);
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200 && ((await res.json()) as { status?: string }).status === 'ok') return performance.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  die(`${child.name} did not answer ${base}/healthz within ${timeoutMs} ms:\n${child.output}`);
}

/** The {"port":N} line a helper process prints once it listens. */
export function portLine(child: Child, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${child.name} printed no port within ${timeoutMs} ms:\n${child.output}`)), timeoutMs);
    const onData = (b: Buffer) => {
      buf += b.toString();
      const m = /\{"port":(\d+)\}/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.proc.stdout!.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    child.proc.stdout!.on('data', onData);
  });
}

export interface Merchant {
  mercNo: string;
  key: string;
}

/** A sandbox merchant, made by the CLI before any gateway opens the database (sandbox merchants may be notified at 127.0.0.1). */
export function createSandboxMerchant(cwd: string, dbPath: string): Merchant {
  const created = execFileSync(process.execPath, [CLI_JS, 'merchant', 'create', '--name', 'Bench', '--mode', 'sandbox', '--json'], {
    cwd,
    env: childEnv({ DATABASE_PATH: dbPath, LOG_LEVEL: 'warn' }),
    timeout: 60_000,
    encoding: 'utf8',
  });
  return JSON.parse(created) as Merchant;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: a process (every thread), its threads by name, the whole machine.

let ticksPerSecond: number | undefined;
/** Clock ticks per second of /proc's CPU times. */
export function clkTck(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
  return ticksPerSecond;
}

const statCpu = (stat: string) => {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / clkTck();
};

/** CPU seconds a process (all its threads) has used; NaN where there is no /proc. */
export function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    return statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds by kind of thread: the event loop, the gateway's writer and checkpoint threads,
 * V8's helpers (garbage collection, compilation), libuv's pool, and the rest.
 */
export function threadCpuOf(pid: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (pid === undefined) return out;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const kind = tid === String(pid) ? 'main' : comm.startsWith('dtpay-writer') ? 'writer' : comm.startsWith('dtpay-checkpoin') ? 'checkpoint' : comm.startsWith('V8') ? 'v8' : comm.startsWith('libuv') ? 'libuv' : 'other';
        out[kind] = (out[kind] ?? 0) + statCpu(stat);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return out;
}

export function threadCpuSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) out[k] = after[k]! - (before[k] ?? 0);
  return out;
}

/** CPU seconds the whole machine has spent busy (every CPU, every process). */
export function machineBusy(): number {
  try {
    const cols = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cols as number[];
    return (user! + nice! + system! + irq! + softirq! + steal!) / clkTck();
  } catch {
    return NaN;
  }
}

/** Resident memory of a process, in MB; NaN where there is no /proc. */
export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// Figures and output.

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
export const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
export const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
export const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '-');

export const loadLine = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** The machine, for the header. */
export function machineLine(extra = ''): string {
  return `  node ${process.version}, ${platform()} ${arch()}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? '?'})${extra}`;
}

/** One figure against its target; `ok` undefined: shown, not scored. */
export interface Check {
  what: string;
  target: string;
  value: string;
  ok: boolean | undefined;
  /** why it is not scored, or what it was measured on */
  note?: string;
}

export function checkTable(checks: Check[]): string[] {
  const w = Math.max(...checks.map((c) => c.what.length), 10);
  const lines = [`${'figure'.padEnd(w)}  ${'target'.padEnd(10)}  ${'measured'.padStart(12)}  verdict`];
  for (const c of checks) {
    const verdict = c.ok === undefined ? (c.note ?? '-') : `${c.ok ? 'met' : 'MISSED'}${c.note ? ` (${c.note})` : ''}`;
    lines.push(`${c.what.padEnd(w)}  ${c.target.padEnd(10)}  ${c.value.padStart(12)}  ${verdict}`);
  }
  return lines;
}

/** The last lines of a report, and the exit code: 0 valid and targets met, 2 a target missed, 1 invalid. */
export function verdictLines(problems: string[], checks: Check[], elapsedMs: number): { lines: string[]; code: number } {
  const misses = checks.filter((c) => c.ok === false).map((c) => `${c.what}: ${c.value}, target ${c.target}`);
  const lines: string[] = [];
  for (const p of problems) lines.push(`problem: ${p}`);
  for (const m of misses) lines.push(`missed: ${m}`);
  lines.push(`load average at end: ${loadLine()}`);
  const valid = problems.length === 0;
  lines.push(`result: ${!valid ? 'INVALID' : misses.length ? 'targets MISSED' : 'targets MET'} (${(elapsedMs / 1000).toFixed(0)} s)`);
  return { lines, code: !valid ? 1 : misses.length ? 2 : 0 };
}
