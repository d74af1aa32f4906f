import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import type { StoragePort } from '../db/port.js';
import { openDb, type Db } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { InlineWriter } from '../db/writer.js';
import { sqliteStorage } from '../db/sqlite-storage.js';
import { sqliteStoredSecrets, type StoredSecrets } from '../db/secret-rows.js';
import { openPool, type Pool } from '../db/postgres/pool.js';
import { migratePostgres } from '../db/postgres/migrate.js';
import { PgWriter } from '../db/postgres/writer.js';
import { postgresPort } from '../db/postgres/storage.js';
import { postgresStoredSecrets } from '../db/postgres/secret-rows.js';
import { redactedUrl } from '../db/database-url.js';
import { lockedMerchantKeys, type MerchantKeys } from '../secrets/merchant-keys.js';
import { CliError } from './io.js';

// The database a command works on, found as the gateway finds it: PostgreSQL at DATABASE_URL when
// set, else the SQLite file at DATABASE_PATH (from the environment or from .env in the current
// folder, relative to that folder). When the CLI and the gateway do not agree, the CLI sees an empty
// or missing database while the gateway serves from another: the messages below say so, naming the
// database the CLI opened (a URL with its password hidden), instead of a bare "not found".

/** The file a command works on, as an absolute path. */
export const databaseFile = (config: Config) => resolve(config.DATABASE_PATH);

/** Connections a command holds on PostgreSQL: a read and a write may be under way at once, little more. */
const CLI_POOL_SIZE = 3;

/** The database a command has open, as the storage port, with what the messages and MASTER_KEY need. */
export interface CliDatabase {
  readonly dialect: StoragePort['dialect'];
  /** the port, with merchant keys locked (a command that opens them asks `withKeys`) */
  readonly storage: StoragePort;
  /** the database as messages name it: the file, or the URL with its password hidden */
  readonly name: string;
  /** the same connections, with reads that open merchant keys; closing it closes nothing */
  withKeys(merchantKeys: MerchantKeys): StoragePort;
  /** what the MASTER_KEY check reads (secrets-at-start) */
  storedSecrets(): Promise<StoredSecrets>;
  close(): Promise<void>;
}

function elsewhere(config: Config): string {
  if (config.DATABASE_URL) {
    return (
      `This command used DATABASE_URL=${redactedUrl(config.DATABASE_URL)} (from the environment or .env in ${process.cwd()}). ` +
      'A gateway started with another DATABASE_URL uses another database, which this command does not see: ' +
      'run it with the DATABASE_URL the gateways use.'
    );
  }
  return (
    `This command used DATABASE_PATH=${config.DATABASE_PATH} (from the environment, .env in ${process.cwd()}, or the default). ` +
    'A gateway started with another DATABASE_PATH, or from another folder, uses another file, which this command does not see: ' +
    'run it in the folder the gateway runs in, with the same DATABASE_PATH.'
  );
}

/**
 * Opens the database for a command, migrated as the gateway migrates it at start. On SQLite a
 * missing file is an error, not an empty database made as a side effect of looking, unless
 * `create` (the commands that make the first merchant or operator). On PostgreSQL the database is
 * the administrator's to create; one that has no tables yet is migrated, as a gateway would.
 */
export async function openCliDatabase(config: Config, command: string, opts: { create?: boolean } = {}): Promise<CliDatabase> {
  if (config.DATABASE_URL) return openPostgres(config.DATABASE_URL, command);
  const file = databaseFile(config);
  if (!opts.create && !existsSync(file)) throw new CliError(`${command}: no database at ${file}; nothing was created.\n${elsewhere(config)}`, 1);
  const db = openDb(file);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return sqliteDatabase(db, file);
}

function sqliteDatabase(db: Db, file: string): CliDatabase {
  // Writes go through this connection, in their own transactions, beside the running gateway's
  // writer thread: SQLite takes their turns on the file (busy_timeout, openDb).
  const writer = new InlineWriter(db);
  const withKeys = (merchantKeys: MerchantKeys) => sqliteStorage({ db, writer, merchantKeys, closeDb: false });
  return {
    dialect: 'sqlite',
    storage: withKeys(lockedMerchantKeys),
    name: file,
    withKeys,
    storedSecrets: async () => sqliteStoredSecrets(db),
    close: async () => {
      db.close();
    },
  };
}

/** A PostgreSQL error's message, with the URL's password hidden should it ever be in it. */
function safeMessage(err: unknown, url: string): string {
  let message = String((err as Error)?.message ?? err);
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // an unreadable URL: redactedUrl names it so
  }
  if (password) message = message.split(password).join('***');
  return message;
}

async function openPostgres(url: string, command: string): Promise<CliDatabase> {
  const pool: Pool = openPool(url, { max: CLI_POOL_SIZE, applicationName: `dtpay ${command}` });
  // An idle connection the server drops would otherwise end the process with an unheard error.
  pool.on('error', () => {});
  try {
    // Under the migrators' advisory lock: gateways starting meanwhile wait for it, or find it done.
    await migratePostgres(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw new CliError(`${command}: cannot use the PostgreSQL database at ${redactedUrl(url)}: ${safeMessage(err, url)}`, 1);
  }
  // Each write is its own transaction on a pooled connection, as each gateway instance writes;
  // every operation is safe beside the others' (src/db/postgres/ops).
  const writer = new PgWriter(pool);
  const withKeys = (merchantKeys: MerchantKeys): StoragePort => ({ ...postgresPort(pool, writer, merchantKeys), close: async () => {} });
  const storage = postgresPort(pool, writer, lockedMerchantKeys);
  return {
    dialect: 'postgres',
    storage: { ...storage, close: async () => {} },
    name: redactedUrl(url),
    withKeys,
    storedSecrets: () => postgresStoredSecrets(pool),
    close: () => storage.close(),
  };
}

/** Said beside an empty answer (no orders, no notifications) when the database has no merchants at all. */
export async function emptyDatabaseNote(d: CliDatabase, config: Config): Promise<string | undefined> {
  if ((await d.storage.reads.merchantCount()) > 0) return undefined;
  return `the database at ${d.name} has no merchants.\n${elsewhere(config)}`;
}

/** "no order X", naming the database looked in, and why it may be the wrong one when it is empty. */
export async function notFound(d: CliDatabase, config: Config, what: string): Promise<CliError> {
  const note = await emptyDatabaseNote(d, config);
  return new CliError(note ? `${what}: ${note}` : `${what} in ${d.name}`, 1);
}

/** Runs `fn` on the database opened for `command`, closing it after. */
export async function withDatabase<T>(config: Config, command: string, fn: (d: CliDatabase) => Promise<T>, opts: { create?: boolean } = {}): Promise<T> {
  const d = await openCliDatabase(config, command, opts);
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}
