import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

export interface OpenOptions {
  /** FULL on the connection that commits orders: the commit is fsync'd before it returns. */
  synchronous?: 'FULL' | 'NORMAL';
  busyTimeoutMs?: number;
}

/**
 * Opens the database with the pragmas every connection needs. Automatic checkpoints are off on
 * every connection: a dedicated checkpoint thread does them, so no request waits for one.
 */
export function openDb(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
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
