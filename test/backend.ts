import pg from 'pg';
import tap from 'tap';
import type { Gateway } from '../src/app.js';
import type { Db } from '../src/db/open.js';
import { openPool, type Pool } from '../src/db/postgres/pool.js';
import { migratePostgres } from '../src/db/postgres/migrate.js';
import { pgCluster, type PgCluster } from './pg-cluster.js';

// The backend the suite's gateways run on. `npm test` runs the suite twice: once on SQLite, then the
// integration tests (and the unit tests on testStorage) again with DTPAY_TEST_BACKEND=postgres (scripts/test-on-postgres.sh), where
// every gateway `startGateway` starts gets a PostgreSQL database of its own. A test file that is
// about one backend only carries the line `// Not repeated on PostgreSQL: <why>` and is left out of
// the second pass.

export type TestBackend = 'sqlite' | 'postgres';

export function testBackend(): TestBackend {
  const b = process.env.DTPAY_TEST_BACKEND ?? 'sqlite';
  if (b !== 'sqlite' && b !== 'postgres') throw new Error(`DTPAY_TEST_BACKEND=${b}: sqlite or postgres`);
  return b;
}

/**
 * Rows read back from a gateway's database the same way on both backends, for tests that look at
 * what was stored. Placeholders are SQLite's `?` (turned into `$1…` on PostgreSQL); integers come
 * back as numbers on both (PostgreSQL's int8 would be a BigInt), so a test compares one way.
 */
export interface TestSql {
  backend: TestBackend;
  all<T = Record<string, any>>(sql: string, ...params: unknown[]): Promise<T[]>;
  get<T = Record<string, any>>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** the first column of the first row */
  value<T = any>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** the first column of every row */
  values<T = any>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** the first column of the first row as a BigInt on both backends: for amounts beyond 2^53 */
  bigint(sql: string, ...params: unknown[]): Promise<bigint | undefined>;
  /** runs a write; answers the number of rows it changed */
  run(sql: string, ...params: unknown[]): Promise<number>;
  close(): Promise<void>;
}

const plain = (v: unknown): unknown =>
  typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;

function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = plain(v);
  return out;
}

/** `?` → `$n`, outside quoted strings and identifiers. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  let quote: string | undefined;
  let out = '';
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '?') {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  return out;
}

/** Rows of a gateway's SQLite database, or of a bare connection (a test's own storage). */
export function sqliteSql(source: Pick<Gateway, 'db'> | Db): TestSql {
  const db = (): Db => (isDb(source) ? source : source.db);
  return {
    backend: 'sqlite',
    all: async (sql, ...p) => db().prepare(sql).all(...p) as any[],
    get: async (sql, ...p) => db().prepare(sql).get(...p) as any,
    value: async (sql, ...p) => db().prepare(sql).pluck().get(...p) as any,
    values: async (sql, ...p) => db().prepare(sql).pluck().all(...p) as any[],
    bigint: async (sql, ...p) => {
      const v = db().prepare(sql).pluck().safeIntegers(true).get(...p);
      return v === undefined || v === null ? undefined : BigInt(v as bigint);
    },
    run: async (sql, ...p) => db().prepare(sql).run(...p).changes,
    close: async () => {},
  };
}

const isDb = (x: Pick<Gateway, 'db'> | Db): x is Db => typeof (x as Partial<Db>).prepare === 'function';

export function postgresSql(url: string): TestSql {
  let pool: Pool | undefined;
  const query = async (sql: string, params: unknown[], rowMode?: 'array') => {
    pool ??= openPool(url, { max: 2 });
    return pool.query({ text: numberedPlaceholders(sql), values: params, ...(rowMode ? { rowMode } : {}) });
  };
  return {
    backend: 'postgres',
    all: async (sql, ...p) => (await query(sql, p)).rows.map(plainRow) as any[],
    get: async (sql, ...p) => {
      const r = (await query(sql, p)).rows[0];
      return r === undefined ? undefined : (plainRow(r) as any);
    },
    value: async (sql, ...p) => plain((await query(sql, p, 'array')).rows[0]?.[0]) as any,
    values: async (sql, ...p) => (await query(sql, p, 'array')).rows.map((r) => plain(r[0])) as any[],
    bigint: async (sql, ...p) => {
      const v = (await query(sql, p, 'array')).rows[0]?.[0];
      return v === undefined || v === null ? undefined : BigInt(v);
    },
    run: async (sql, ...p) => (await query(sql, p)).rowCount ?? 0,
    close: async () => {
      await pool?.end();
      pool = undefined;
    },
  };
}

// One migrated template database per test process: a gateway's database is copied from it
// (CREATE DATABASE … TEMPLATE), which is quicker than migrating each one.
let template: Promise<{ cluster: PgCluster; name: string }> | undefined;
const made: string[] = [];

async function migratedTemplate(): Promise<{ cluster: PgCluster; name: string }> {
  const cluster = await pgCluster();
  if (!cluster) throw new Error('DTPAY_TEST_BACKEND=postgres, but there is no PostgreSQL: set DTPAY_TEST_PG_URL or install the server programs');
  const url = await cluster.createDatabase();
  const pool = openPool(url, { max: 1 });
  try {
    await migratePostgres(pool);
  } finally {
    await pool.end();
  }
  const name = new URL(url).pathname.slice(1);
  made.push(name);
  // Dropped when this file's tests are done: with hundreds of gateways in a run, the suite's
  // cluster would otherwise fill up with databases.
  tap.teardown(async () => {
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    try {
      for (const db of made.splice(0).reverse()) await dropDatabase(client, db);
    } finally {
      await client.end();
    }
  });
  return { cluster, name };
}

/**
 * Drops a test's database. FORCE ends the sessions still on it, but waits only 5 s for them to go:
 * on a loaded machine a closed gateway's backends can take longer to exit. That is no failure of
 * the test (the suite's cluster is removed at the end), so the drop is tried a few times and then
 * left.
 */
export async function dropDatabase(client: pg.Client, db: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      return;
    } catch (err) {
      if (attempt === 3) {
        console.error(`# could not drop the test database ${db}: ${(err as Error).message}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

/** A new, migrated PostgreSQL database for one gateway; answers its URL. */
export async function gatewayDatabase(): Promise<string> {
  template ??= migratedTemplate();
  const { cluster, name } = await template;
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  const db = `g_${process.pid}_${made.length}_${Math.random().toString(36).slice(2, 8)}`;
  try {
    await client.query(`CREATE DATABASE ${db} TEMPLATE ${name}`);
  } finally {
    await client.end();
  }
  made.push(db);
  const u = new URL(cluster.url);
  u.pathname = `/${db}`;
  return u.toString();
}
