import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bindingOption } from './open.js';

// On SQLite, the database belongs to one gateway process (CONTRACT §7): each keeps its own caches,
// order id sequence and notification claims in memory, so two on one file would collide.
//
// The lock is a POSIX record lock, which the kernel drops when its process ends, however it ends
// (kill -9 included), so no lock outlives its holder. Node cannot take one on a file itself;
// SQLite can: a connection to the side file <database>.lock holds a write transaction open (a
// RESERVED lock) for the life of the process, and any other connection, in this process or
// another, is refused at once. The side file is never deleted (deleting a lock file lets a third
// process lock a new file while the second still holds the old one), and nothing else in the
// process may open it: closing any descriptor of a file drops the process's locks on it.
//
// <database>.pid names the holder, for the message a refused process gives. It is written after
// the lock is taken and removed before it is let go, so it names the holder, or, for the moment
// between taking the lock and writing it, a process that is gone (the refused one then waits a
// little for the new one to be written).

export class DatabaseHeld extends Error {
  override name = 'DatabaseHeld';
  constructor(
    readonly path: string,
    readonly pid: number | undefined,
  ) {
    super(
      `the database ${path} belongs to another gateway process (${pid === undefined ? 'pid unknown' : `pid ${pid}`}): ` +
        'a SQLite database serves one gateway process; stop that one first, or give this one its own DATABASE_PATH',
    );
  }
}

export interface DatabaseLock {
  release(): void;
}

export const lockFileOf = (dbPath: string) => `${dbPath}.lock`;
export const pidFileOf = (dbPath: string) => `${dbPath}.pid`;

/** Takes the database at `dbPath` for this process until `release()` or the process's end; throws DatabaseHeld when another has it. */
export function holdDatabase(dbPath: string): DatabaseLock {
  const lockFile = lockFileOf(dbPath);
  const pidFile = pidFileOf(dbPath);
  mkdirSync(dirname(lockFile), { recursive: true, mode: 0o700 });
  // Created (private) before SQLite opens it, never opened by Node again while held.
  try {
    closeSync(openSync(lockFile, 'wx', 0o600));
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
  }
  const conn = new Database(lockFile, { ...bindingOption(), timeout: 0 });
  try {
    // Nothing is ever written: no journal file, so a killed holder leaves none behind.
    conn.pragma('journal_mode = MEMORY');
    conn.exec('BEGIN IMMEDIATE');
  } catch (err) {
    conn.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DatabaseHeld(dbPath, holderPid(pidFile));
    throw err;
  }
  const tmp = `${pidFile}.${process.pid}`;
  writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
  renameSync(tmp, pidFile);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      rmSync(pidFile, { force: true });
      conn.close();
    },
  };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
};

/** The pid the holder wrote, waiting up to about a second for a holder that has just taken the lock to write it. */
function holderPid(pidFile: string): number | undefined {
  const waitUntil = Date.now() + 1000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let pid: number | undefined;
    try {
      const n = Number(readFileSync(pidFile, 'utf8').trim());
      if (Number.isSafeInteger(n) && n > 0) pid = n;
    } catch {
      // not written yet, or removed by a holder letting go
    }
    if (pid !== undefined && (pid === process.pid || alive(pid))) return pid;
    if (Date.now() > waitUntil) return undefined;
    Atomics.wait(pause, 0, 0, 20);
  }
}
