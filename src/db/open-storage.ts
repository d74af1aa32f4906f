import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { StoragePort } from './port.js';
import { openDb, type Db } from './open.js';
import { tightenDatabaseFiles } from './file-modes.js';
import { migrate } from './migrate.js';
import { WorkerWriter } from './writer.js';
import { sqliteStorage } from './sqlite-storage.js';
import { sqliteStoredSecrets } from './secret-rows.js';
import { Checkpointer, newWalSignal } from './checkpointer.js';
import { openPool } from './postgres/pool.js';
import { migratePostgres } from './postgres/migrate.js';
import { PgWriter } from './postgres/writer.js';
import { postgresPort } from './postgres/storage.js';
import { postgresStoredSecrets } from './postgres/secret-rows.js';
import { openSecrets, type OpenedSecrets } from '../services/secrets-at-start.js';

// Opening the database the configuration names (CONTRACT §7): SQLite at DATABASE_PATH, or
// PostgreSQL at DATABASE_URL, which wins. Either way it is migrated, its sealed secrets are checked
// against MASTER_KEY, and what comes back is the storage port; what differs stays in here.

/** Connections per instance on PostgreSQL, shared by reads and writes. */
export const PG_POOL_SIZE = 10;

export interface OpenedStorage {
  storage: StoragePort;
  /** the schema version the database is at */
  migrated: number;
  secrets: OpenedSecrets;
  /** whether writes can be made now (on SQLite, whether the writer thread runs) */
  writerOk(): boolean;
  /** SQLite's reading connection; none on PostgreSQL */
  db: Db | undefined;
  close(): Promise<void>;
}

export interface OpenStorageOptions {
  /** the SQLite writer thread died: no order can be stored */
  onFatal: (err: Error) => void;
  /** false: commits without fsync (SQLite) or without waiting for the WAL flush (PostgreSQL), for the bench only */
  durable?: boolean;
}

export function openStorage(config: Config, log: Logger, opts: OpenStorageOptions): Promise<OpenedStorage> {
  return config.DATABASE_URL ? openPostgres(config.DATABASE_URL, config, log, opts) : openSqlite(config, log, opts);
}

async function openSqlite(config: Config, log: Logger, opts: OpenStorageOptions): Promise<OpenedStorage> {
  const loose = tightenDatabaseFiles(config.DATABASE_PATH);
  if (loose.length > 0) {
    log.warn(
      { files: loose.map((f) => ({ file: f.file, was: f.was.toString(8) })) },
      'database files were readable by other users; made them private to the owner (0600)',
    );
  }
  const db = openDb(config.DATABASE_PATH);
  let secrets: OpenedSecrets;
  let migrated: number;
  try {
    migrated = Number(migrate(db).current ?? 0);
    // A sealed secret that MASTER_KEY cannot open would fail every request that needs it: refuse to start.
    secrets = openSecrets(sqliteStoredSecrets(db), config);
  } catch (err) {
    db.close();
    throw err;
  }
  const walSignal = newWalSignal();
  const writer = await WorkerWriter.start(config.DATABASE_PATH, opts.onFatal, walSignal, { durable: opts.durable ?? true });
  const checkpointer = Checkpointer.start(config.DATABASE_PATH, walSignal);
  const storage = sqliteStorage({ db, writer, merchantKeys: secrets.merchantKeys });
  return {
    storage,
    migrated,
    secrets,
    db,
    writerOk: () => writer.healthy,
    async close() {
      await storage.close();
      await checkpointer.close();
    },
  };
}

async function openPostgres(url: string, config: Config, log: Logger, opts: OpenStorageOptions): Promise<OpenedStorage> {
  const pool = openPool(url, { max: PG_POOL_SIZE, durable: opts.durable ?? true });
  // A pooled connection the server drops while idle (a restart, a failover) is replaced at the next
  // query; unheard, its error would end the process.
  pool.on('error', (err) => log.error({ err: { message: err.message, code: (err as { code?: string }).code } }, 'an idle PostgreSQL connection failed'));
  let secrets: OpenedSecrets;
  let migrated: number;
  try {
    migrated = Number((await migratePostgres(pool)).current ?? 0);
    secrets = openSecrets(await postgresStoredSecrets(pool), config, { mayGenerate: false });
  } catch (err) {
    await pool.end();
    throw err;
  }
  const writer = new PgWriter(pool);
  const storage = postgresPort(pool, writer, secrets.merchantKeys);
  return {
    storage,
    migrated,
    secrets,
    db: undefined,
    // Each write takes a connection of its own; a database gone away fails it, and /readyz's read says so.
    writerOk: () => true,
    close: () => storage.close(),
  };
}
