import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { openDb, type Db } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { CliError } from './io.js';

// The CLI and the gateway find their database the same way (DATABASE_PATH from the environment or
// from .env in the current folder, relative to that folder). When they do not agree, the CLI sees an
// empty or missing database while the gateway serves from another file: the messages below say so,
// naming the file the CLI opened, instead of a bare "not found".

/** The file a command works on, as an absolute path. */
export const databaseFile = (config: Config) => resolve(config.DATABASE_PATH);

function elsewhere(config: Config): string {
  return (
    `This command used DATABASE_PATH=${config.DATABASE_PATH} (from the environment, .env in ${process.cwd()}, or the default). ` +
    'A gateway started with another DATABASE_PATH, or from another folder, uses another file, which this command does not see: ' +
    'run it in the folder the gateway runs in, with the same DATABASE_PATH.'
  );
}

/**
 * Opens the database for a command that needs what is in it, migrated. A missing file is an error,
 * not an empty database made as a side effect of looking.
 */
export function openExisting(config: Config, command: string): Db {
  const file = databaseFile(config);
  if (!existsSync(file)) throw new CliError(`${command}: no database at ${file}; nothing was created.\n${elsewhere(config)}`, 1);
  const db = openDb(file);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

const merchantCount = (db: Db) => db.prepare('SELECT count(*) FROM merchants').pluck().get() as number;

/** Said beside an empty answer (no orders, no notifications) when the database has no merchants at all. */
export function emptyDatabaseNote(db: Db, config: Config): string | undefined {
  if (merchantCount(db) > 0) return undefined;
  return `the database at ${databaseFile(config)} has no merchants.\n${elsewhere(config)}`;
}

/** "no order X", naming the database looked in, and why it may be the wrong one when it is empty. */
export function notFound(db: Db, config: Config, what: string): CliError {
  const note = emptyDatabaseNote(db, config);
  return new CliError(note ? `${what}: ${note}` : `${what} in ${databaseFile(config)}`, 1);
}
