import { workerData } from 'node:worker_threads';
import { openDb } from './open.js';

const { dbPath, intervalMs } = workerData as { dbPath: string; intervalMs: number };
const db = openDb(dbPath, { synchronous: 'FULL' });
// PASSIVE never waits for the writer or readers; it copies what it can and tries again later.
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
setInterval(() => {
  try {
    checkpoint.get();
  } catch {
    // SQLITE_BUSY and the like: the next tick tries again.
  }
}, intervalMs);
