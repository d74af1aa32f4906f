import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { gatewayDatabase, postgresSql, testBackend, type TestBackend, type TestSql } from './backend.js';

// The database of a gateway run as a child process (test/processes.ts startServer), on the backend
// DTPAY_TEST_BACKEND names, as startGateway picks one for an in-process gateway: a SQLite file in
// the test's folder, or a PostgreSQL database of its own. `env` goes to the child (DATABASE_URL
// wins over the DATABASE_PATH startServer sets); `sql` reads the rows from the test, the same way
// on both (test/backend.ts).

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface ChildDatabase {
  backend: TestBackend;
  /** the variables naming this database, for the child (and for a CLI on the same data) */
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

/** A new database for a child gateway in `dir`; on PostgreSQL with `masterKey` (or a random one). */
export async function childDatabase(t: Teardown, dir: string, opts: { masterKey?: string; backend?: TestBackend } = {}): Promise<ChildDatabase> {
  const backend = opts.backend ?? testBackend();
  const path = join(dir, 'dtpay.sqlite');
  if (backend === 'sqlite') return { backend, env: { DATABASE_PATH: path }, path, sql: sqliteFileSql(path) };
  const url = await gatewayDatabase();
  const sql = postgresSql(url);
  t.teardown(() => sql.close());
  return { backend, env: { DATABASE_URL: url, MASTER_KEY: opts.masterKey ?? randomBytes(32).toString('hex') }, path, sql };
}
