import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/processes.js';

// `node dist/bench/startup.js [--runs N] [--binary dist/dtpay]`: start-up time to the first
// GET /healthz 200, for the single executable and for `node dist/src/server.js`, runs alternating,
// each on a fresh copy of one database that has already been migrated and has its first merchant
// (a restart, the usual case; the first start also applies the migrations). Prints the median,
// min and max in ms of wall time, and the median CPU time the process had used by then (user +
// system, all threads, from /proc), which a busy machine disturbs less.

const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    binary: { type: 'string', default: fileURLToPath(new URL('../dtpay', import.meta.url)) },
  },
});
const RUNS = Number(opt.runs);
const SERVER_JS = fileURLToPath(new URL('../src/server.js', import.meta.url));

interface Candidate {
  name: string;
  cmd: string;
  args: string[];
}

/** CPU time (user + system) the process has used, in ms; the clock ticks are 100 Hz on Linux. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Wall and CPU ms from spawn to the first 200 on /healthz, polled every 5 ms; then SIGTERM. */
async function startOnce(c: Candidate, cwd: string): Promise<{ wall: number; cpu: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(c.cmd, c.args, {
    cwd,
    env: { PATH: '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_PATH: join(cwd, 'data', 'dtpay.sqlite') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((r) => child.once('close', r));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${c.name} exited with ${child.exitCode} before serving`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.status === 200) return { wall: performance.now() - started, cpu: cpuMs(child.pid!) };
      } catch {
        // not listening yet
      }
      if (performance.now() - started > 30_000) throw new Error(`${c.name} did not serve within 30 s`);
      await sleep(5);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const candidates: Candidate[] = [{ name: 'node dist/src/server.js', cmd: process.execPath, args: [SERVER_JS] }];
  if (existsSync(opt.binary)) candidates.unshift({ name: `${opt.binary} serve`, cmd: opt.binary, args: ['serve'] });
  else process.stderr.write(`no executable at ${opt.binary} (npm run build:binary); measuring node alone\n`);

  const work = mkdtempSync(join(tmpdir(), 'dtpay-startup-'));
  try {
    const seed = join(work, 'seed');
    mkdirSync(seed);
    process.stdout.write(`first start (migrations, first merchant): ${(await startOnce(candidates.at(-1)!, seed)).wall.toFixed(0)} ms\n`);
    const times = new Map(candidates.map((c) => [c.name, [] as { wall: number; cpu: number }[]]));
    for (let i = 0; i < RUNS; i++) {
      for (const c of candidates) {
        const dir = join(work, `run-${i}-${times.get(c.name)!.length}-${candidates.indexOf(c)}`);
        cpSync(seed, dir, { recursive: true });
        times.get(c.name)!.push(await startOnce(c, dir));
        rmSync(dir, { recursive: true, force: true });
      }
    }
    for (const [name, runs] of times) {
      const xs = runs.map((r) => r.wall);
      process.stdout.write(
        `${name}: median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, ` +
          `${xs.length} runs); CPU time median ${median(runs.map((r) => r.cpu)).toFixed(0)} ms\n`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
