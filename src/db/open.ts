import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { sqliteBinding } from '../runtime/resources.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** FULL on the connection that commits orders: the commit is fsync'd before it returns. */
  synchronous?: 'FULL' | 'NORMAL';
  busyTimeoutMs?: number;
}

/** Every connection's binding: better-sqlite3's own lookup, or the single executable's (runtime/resources.ts). */
export function bindingOption(): Database.Options {
  const nativeBinding = sqliteBinding();
  // The option takes a loaded addon too, which its type does not list.
  return nativeBinding ? ({ nativeBinding } as unknown as Database.Options) : {};
}

/**
 * Opens the database with the pragmas every connection needs. Automatic checkpoints are off on
 * every connection: a dedicated checkpoint thread does them, so no request waits for one.
 */
export function openDb(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, bindingOption());
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('journal_size_limit = 67108864');
  return db;
}
