import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
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
  if (path !== ':memory:') createPrivately(path);
  const db = new Database(path, bindingOption());
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('journal_size_limit = 67108864');
  // Sized by measurement on a million orders (see the operations notes): 16 MB of page cache keeps
  // the inner pages of every index in memory, no memory map (it made no lookup cheaper and every
  // mapped page counts as resident memory), temporary tables in memory (they are small: lists).
  db.pragma('cache_size = -16384');
  db.pragma('mmap_size = 0');
  db.pragma('temp_store = MEMORY');
  return db;
}

/**
 * The folder (when missing) 0700 and the file 0600, before SQLite opens it: SQLite gives -wal and
 * -shm the main file's mode, so they are private too. An existing file is left to
 * tightenDatabaseFiles, which says what it changed.
 */
function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
  }
}
