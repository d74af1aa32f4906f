import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { baseEnv } from './processes.js';

// Running the compiled CLI (or another compiled entry point) as a child process, as an operator would.

/** The compiled entry points next to this compiled module, whatever the outDir is. */
export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` to its end, bounded (SIGKILL after `timeoutMs`); a killed run rejects, naming its stderr. */
export function runProcess(
  command: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string>; stdin?: string; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 45_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal) reject(new Error(`${command} ${args.join(' ')} was killed (${signal}); stderr: ${stderr}`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Runs a compiled entry point in `cwd` with only what node needs from the environment, bounded to 45 s (a bound for a command that hangs, not a speed requirement). */
export function runNode(entry: string, args: string[], cwd: string, env: Record<string, string>, stdin = ''): Promise<CliResult> {
  return runProcess(process.execPath, [entry, ...args], { cwd, env: baseEnv(env), stdin });
}

/** Runs the real CLI in `cwd` (a temp dir: no .env is read) on the database at `dbPath`. */
export const cli = (cwd: string, dbPath: string, args: string[], stdin = '') => runNode(CLI, args, cwd, { DATABASE_PATH: dbPath }, stdin);

/** Parses stdout as exactly one JSON document, failing the test (not throwing) when it is not. */
export function oneJson(t: { fail(msg: string): void }, r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    t.fail(`stdout is not one JSON document: ${(err as Error).message}\n${r.stdout}\nstderr: ${r.stderr}`);
    return undefined;
  }
}

/** Runs the jobs (each a child process) at most `n` at a time, keeping their order: a busy machine has few cores. */
export async function pooled<T>(jobs: (() => Promise<T>)[], n = 3): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, worker));
  return out;
}
