import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { gatewayDatabase, postgresSql, testBackend, type TestBackend, type TestSql } from './backend.js';

// The database of a gateway a test starts its own way (a child process through test/processes.ts
// startServer, or buildGateway with a logger of the test's) on the backend DTPAY_TEST_BACKEND names,
// as startGateway picks one: a SQLite file in the test's folder, or a PostgreSQL database of its
// own. `env` goes into the gateway's configuration (DATABASE_URL wins over the DATABASE_PATH
// startServer sets); `sql` reads the rows from the test, the same way on both (test/backend.ts).

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface OwnDatabase {
  backend: TestBackend;
  /** the variables naming this database, for the gateway's configuration */
  env: Record<string, string>;
  /** the SQLite file startServer is given; on PostgreSQL no file is made there */
  path: string;
  sql: TestSql;
}

/**
 * SQLite rows through a connection opened for each statement and closed after it, as a separate
 * process reads a database another process holds (or a killed one left): nothing stays open.
 */
export function sqliteFileSql(path: string): TestSql {
  const once = <T>(readonly: boolean, fn: (db: Database.Database) => T): T => {
    const db = new Database(path, { readonly, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    backend: 'sqlite',
    all: async (sql, ...p) => once(true, (db) => db.prepare(sql).all(...p) as any[]),
    get: async (sql, ...p) => once(true, (db) => db.prepare(sql).get(...p) as any),
    value: async (sql, ...p) => once(true, (db) => db.prepare(sql).pluck().get(...p) as any),
    values: async (sql, ...p) => once(true, (db) => db.prepare(sql).pluck().all(...p) as any[]),
    bigint: async (sql, ...p) =>
      once(true, (db) => {
        const v = db.prepare(sql).pluck().safeIntegers(true).get(...p);
        return v === undefined || v === null ? undefined : BigInt(v as bigint);
      }),
    run: async (sql, ...p) => once(false, (db) => db.prepare(sql).run(...p).changes),
    close: async () => {},
  };
}

/** A new database for a gateway in `dir`; on PostgreSQL with `masterKey` (or a random one). */
export async function ownDatabase(t: Teardown, dir: string, opts: { masterKey?: string; backend?: TestBackend } = {}): Promise<OwnDatabase> {
  const backend = opts.backend ?? testBackend();
  const path = join(dir, 'dtpay.sqlite');
  if (backend === 'sqlite') return { backend, env: { DATABASE_PATH: path }, path, sql: sqliteFileSql(path) };
  const url = await gatewayDatabase();
  const sql = postgresSql(url);
  t.teardown(() => sql.close());
  return { backend, env: { DATABASE_URL: url, MASTER_KEY: opts.masterKey ?? randomBytes(32).toString('hex') }, path, sql };
}
