import { chmodSync, statSync } from 'node:fs';

/** A database file whose mode let other users read or write it, and the mode it had. */
export interface TightenedFile {
  file: string;
  was: number;
}

const PRIVATE = 0o600;

/**
 * Restricts the database and its -wal and -shm to their owner (0600), as a database created by an
 * older version (with the process umask, often 0644) may not be: the rows hold merchants' orders
 * and sealed secrets. Returns what was changed so the caller can say so once. The folder is left
 * as it is: the operator may have made it, and may share it on purpose.
 */
export function tightenDatabaseFiles(dbPath: string): TightenedFile[] {
  if (dbPath === ':memory:' || dbPath === '') return [];
  const changed: TightenedFile[] = [];
  for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') continue;
      throw err;
    }
    if ((mode & 0o077) === 0) continue;
    chmodSync(file, PRIVATE);
    changed.push({ file, was: mode });
  }
  return changed;
}
