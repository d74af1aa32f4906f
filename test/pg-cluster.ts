import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import tap from 'tap';
import { freePort } from './processes.js';

// A throwaway PostgreSQL for tests: a real server on 127.0.0.1, never the machine's own cluster.
//
// `.ci/run` starts one cluster for the whole suite and names it in DTPAY_TEST_PG_URL (a superuser
// URL, database `postgres`); each test file then creates databases of its own in it. Without that
// variable a test file starts a cluster of its own (initdb takes about a second) and stops it at
// teardown. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
// (Debian's package creates it) through runuser.
//
// Without any PostgreSQL on the machine `pgCluster()` answers undefined and the PostgreSQL tests
// skip, unless DTPAY_REQUIRE_PG=1 (set by `.ci/run`), when a missing server fails the run.

export interface PgCluster {
  /** superuser URL of the maintenance database */
  url: string;
  /** Creates an empty database and answers its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

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
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts a cluster in a new directory; `stop` ends it and removes the directory. */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries (initdb, pg_ctl) found; set PG_BIN');
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-pg-'));
  const data = join(dir, 'data');
  if (asRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  runPg(join(bin, 'initdb'), ['-D', data, '-U', 'dtpay', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  const port = await freePort();
  // fsync off: a test cluster holds nothing worth keeping, and the suite runs on a shared disk.
  // synchronous_commit stays on, as the gateway sets it, so commits behave as in production.
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=200`;
  runPg(join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  const url = `postgres://dtpay@127.0.0.1:${port}/postgres`;
  return {
    url,
    createDatabase: () => createDatabaseIn(url),
    async stop() {
      try {
        runPg(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function createDatabaseIn(url: string): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

let shared: Promise<PgCluster | undefined> | undefined;

/**
 * The cluster this test file uses: the suite's (DTPAY_TEST_PG_URL) or one started for this file,
 * shared by all its tests and stopped when the file's last test is done (the root test's teardown,
 * not `_t`'s: a cluster stopped with the first test would be gone for the second). Undefined when
 * the machine has no PostgreSQL and none is required.
 */
export function pgCluster(_t?: Teardown): Promise<PgCluster | undefined> {
  if (shared) return shared;
  const given = process.env.DTPAY_TEST_PG_URL;
  if (given) {
    shared = Promise.resolve({ url: given, createDatabase: () => createDatabaseIn(given), stop: async () => {} });
    return shared;
  }
  if (!pgBinDir()) {
    if (process.env.DTPAY_REQUIRE_PG === '1') throw new Error('DTPAY_REQUIRE_PG=1 but no PostgreSQL is installed');
    shared = Promise.resolve(undefined);
    return shared;
  }
  shared = startPgCluster().then((c) => {
    tap.teardown(() => c.stop());
    return c;
  });
  return shared;
}
