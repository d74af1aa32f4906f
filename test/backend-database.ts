import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Gateway } from '../src/app.js';
import type { Writer } from '../src/db/writer.js';
import { openDb } from '../src/db/open.js';
import { migrate } from '../src/db/migrate.js';
import { InlineWriter } from '../src/db/writer.js';
import { openPool } from '../src/db/postgres/pool.js';
import { PgWriter } from '../src/db/postgres/writer.js';
import pg from 'pg';
import { dropDatabase, gatewayDatabase, postgresSql, sqliteSql, testBackend, type TestBackend, type TestSql } from './backend.js';
import { pgCluster } from './pg-cluster.js';

// A database on the suite's backend (DTPAY_TEST_BACKEND) for tests that run the CLI without a
// gateway: the environment that names it to a child process, the write operations to fill it with,
// and rows read back the same way on both (TestSql). On SQLite it is the file at `path`; on
// PostgreSQL a migrated database of its own, with MASTER_KEY, as CONTRACT §7 has every process on
// it given the same key.

export interface BackendDatabase {
  backend: TestBackend;
  /** DATABASE_PATH, or DATABASE_URL and MASTER_KEY */
  env: Record<string, string>;
  sql: TestSql;
  /** the write operations on it (made on first use; on SQLite this migrates the file, creating it) */
  writer(): Writer;
  /** closes this side's connections (the file or the database stays) */
  close(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * A database on the test backend, closed in teardown. `masterKey` is the MASTER_KEY the CLI gets on
 * PostgreSQL (on SQLite the test gives its own, or the CLI generates one beside the file, as ever).
 */
export async function testBackendDatabase(
  t: Teardown,
  path: string,
  /** `empty`: on PostgreSQL a database without tables (on SQLite there is no file until something makes it) */
  opts: { masterKey?: string; backend?: TestBackend; empty?: boolean } = {},
): Promise<BackendDatabase> {
  const backend = opts.backend ?? testBackend();
  if (backend === 'postgres') {
    const url = opts.empty ? await emptyDatabase(t) : await gatewayDatabase();
    const sql = postgresSql(url);
    let pool: ReturnType<typeof openPool> | undefined;
    let writer: PgWriter | undefined;
    const d: BackendDatabase = {
      backend,
      env: { DATABASE_URL: url, MASTER_KEY: opts.masterKey ?? randomBytes(32).toString('base64') },
      sql,
      writer() {
        pool ??= openPool(url, { max: 2 });
        writer ??= new PgWriter(pool);
        return writer;
      },
      async close() {
        await sql.close();
        await writer?.close();
        await pool?.end();
        pool = undefined;
        writer = undefined;
      },
    };
    t.teardown(() => d.close());
    return d;
  }
  let db: ReturnType<typeof openDb> | undefined;
  const open = () => {
    if (!db) {
      mkdirSync(dirname(path), { recursive: true });
      db = openDb(path);
      migrate(db);
    }
    return db;
  };
  // sqliteSql reads `gateway.db`: here, this file's connection.
  const sql = sqliteSql({ get db() { return open(); } } as unknown as Gateway);
  const d: BackendDatabase = {
    backend,
    env: { DATABASE_PATH: path, ...(opts.masterKey ? { MASTER_KEY: opts.masterKey } : {}) },
    sql,
    writer: () => new InlineWriter(open()),
    async close() {
      db?.close();
      db = undefined;
    },
  };
  t.teardown(() => d.close());
  return d;
}

/** A PostgreSQL database with no tables, dropped in teardown. */
async function emptyDatabase(t: Teardown): Promise<string> {
  const cluster = await pgCluster();
  if (!cluster) throw new Error('DTPAY_TEST_BACKEND=postgres, but there is no PostgreSQL: set DTPAY_TEST_PG_URL or install the server programs');
  const url = await cluster.createDatabase();
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    try {
      await dropDatabase(client, new URL(url).pathname.slice(1));
    } finally {
      await client.end();
    }
  });
  return url;
}
