import { randomBytes } from 'node:crypto';
import pg from 'pg';
import tap from 'tap';
import { freePort } from './processes.js';
import { pgBinDir, startThrowawayCluster } from '../scripts/throwaway-postgres.js';

// A throwaway PostgreSQL for tests: a real server on 127.0.0.1, never the machine's own cluster.
//
// `.ci/run` starts one cluster for the whole suite and names it in DTPAY_TEST_PG_URL (a superuser
// URL, database `postgres`); each test file then creates databases of its own in it. Without that
// variable a test file starts a cluster of its own (initdb takes about a second) and stops it at
// teardown (scripts/throwaway-postgres.ts starts it; the bench starts its clusters there too).
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

export { pgBinDir };

/** Starts a cluster in a new directory (scripts/throwaway-postgres.ts, fsync off); `stop` ends it and removes the directory. */
export async function startPgCluster(): Promise<PgCluster> {
  // fsync off: a test cluster holds nothing worth keeping, and the suite runs on a shared disk.
  // synchronous_commit stays on, as the gateway sets it, so commits behave as in production.
  const cluster = startThrowawayCluster({ port: await freePort(), durable: false });
  return { url: cluster.url, createDatabase: () => createDatabaseIn(cluster.url), stop: async () => cluster.stop() };
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
