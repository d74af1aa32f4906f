import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A throwaway PostgreSQL cluster on 127.0.0.1, in a new temporary directory, for the test suite
// (test/pg-cluster.ts, fsync off) and the bench (bench/database.ts, fsync on). Trust auth, superuser
// `dtpay`, the socket inside the directory, never the machine's own cluster. PostgreSQL refuses to
// run as root, so as root the cluster belongs to, and runs as, the `postgres` user (Debian's package
// makes it) through runuser. Everything here is synchronous, so that a process can stop its cluster
// from an 'exit' handler.

/** The directory holding initdb, pg_ctl and postgres: PG_BIN, the newest Debian version, or PATH. */
export function pgBinDir(): string | undefined {
  if (process.env.PG_BIN && existsSync(join(process.env.PG_BIN, 'pg_ctl'))) return process.env.PG_BIN;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return join(debian, versions[0]!, 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  return found ? join(found, '..') : undefined;
}

const asRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL program, as the `postgres` user when this process is root. */
function runPg(bin: string, args: string[]): string {
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

export interface ThrowawayCluster {
  /** superuser URL of the maintenance database `postgres` */
  url: string;
  /** the server's settings as given on its command line, for a report */
  settings: string[];
  /** Stops the server at once and removes its directory; safe to call twice. */
  stop(): void;
}

export interface ThrowawayOptions {
  port: number;
  /** false: fsync and full_page_writes off (a test cluster holds nothing worth keeping) */
  durable: boolean;
  maxConnections?: number;
}

export function startThrowawayCluster(opts: ThrowawayOptions): ThrowawayCluster {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL server programs (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin or PATH; set PG_BIN');
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-pg-'));
  const data = join(dir, 'data');
  let running = false;
  const stop = () => {
    try {
      if (running) runPg(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped (a Ctrl-C reaches the server too)
    } finally {
      running = false;
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    if (asRoot()) {
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, id('-u'), id('-g'));
    }
    // --no-sync: initdb's own files need not reach the disk; the server's commits are what count.
    runPg(join(bin, 'initdb'), ['-D', data, '-U', 'dtpay', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    const settings = [`listen_addresses=127.0.0.1`, `max_connections=${opts.maxConnections ?? 200}`, ...(opts.durable ? [] : ['fsync=off', 'full_page_writes=off'])];
    const o = [`-p ${opts.port}`, `-k ${dir}`, ...settings.map((s) => `-c ${s}`)].join(' ');
    try {
      running = true;
      runPg(join(bin, 'pg_ctl'), ['-D', data, '-o', o, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    } catch (err) {
      const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000) : '';
      throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
    }
    return { url: `postgres://dtpay@127.0.0.1:${opts.port}/postgres`, settings, stop };
  } catch (err) {
    stop();
    throw err;
  }
}
