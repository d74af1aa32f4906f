import { workerData } from 'node:worker_threads';
import { openDb } from './open.js';

const { dbPath, intervalMs, walSignal, resetPages, catchUp } = workerData as {
  dbPath: string;
  intervalMs: number;
  walSignal?: SharedArrayBuffer;
  resetPages: number;
  catchUp: number;
};
const db = openDb(dbPath, { synchronous: 'FULL' });
const signal = walSignal ? new Int32Array(walSignal) : undefined;
// PASSIVE never waits for the writer or readers; it copies what it can and tries again later.
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
setInterval(() => {
  try {
    const r = checkpoint.get() as { busy: number; log: number; checkpointed: number };
    // Most of a long WAL is now in the database file: let the writer copy the rest and restart it.
    if (signal && r.log >= resetPages && r.checkpointed >= r.log - resetPages / 2) Atomics.store(signal, 0, catchUp);
  } catch {
    // SQLITE_BUSY and the like: the next tick tries again.
  }
}, intervalMs);
