import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

// Running the real gateway as a child process, for tests that need a process to kill or restart.

/** The compiled server entry point next to this compiled module, whatever the outDir is. */
export const SERVER = fileURLToPath(new URL('../src/server.js', import.meta.url));

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Only what node needs from the parent environment: no dtpay variable or test-runner hook leaks in. */
export const START_DEADLINE_MS = 45_000;

export function baseEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  return { ...env, ...extra };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  out(): string;
  err(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `env` adds to (or overrides) the variables the server is given, e.g. NOTIFY_TIMEOUT_MS. */
export async function startServer(
  t: Teardown,
  cwd: string,
  dbPath: string,
  port?: number,
  env: Record<string, string> = {},
): Promise<Served> {
  port ??= await freePort();
  const child = spawn(process.execPath, [SERVER], {
    cwd,
    env: baseEnv({ PORT: String(port), HOST: '127.0.0.1', DATABASE_PATH: dbPath, LOG_LEVEL: 'info', ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const url = `http://127.0.0.1:${port}`;
  // A bound for a server that never comes up, not a speed requirement: a busy shared machine
  // has taken over 15 s to start an honest one.
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before serving; stderr: ${stderr}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200 && ((await res.json()) as { status?: string }).status === 'ok') break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server did not serve /healthz within ${START_DEADLINE_MS / 1000} s; stderr: ${stderr}`);
    await sleep(50);
  }
  return { child, url, out: () => stdout, err: () => stderr, exited };
}

/** Waits (bounded) for the child to have printed what `re` matches. */
export async function waitFor(s: Served, re: RegExp, ms = 5000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(s.out());
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ${re} on stdout within ${ms} ms; stdout: ${s.out()}`);
    await sleep(20);
  }
}
