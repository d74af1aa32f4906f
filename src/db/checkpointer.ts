import type { Worker } from 'node:worker_threads';
import { startThread } from '../runtime/resources.js';

/** Value the checkpoint thread stores in the shared signal when the writer should catch up. */
export const WAL_CATCH_UP = 1;

/** A WAL longer than this (in pages) is worth resetting. */
export const WAL_RESET_PAGES = 1000;

/** The cell through which the checkpoint thread asks the writer thread to finish a checkpoint. */
export function newWalSignal(): SharedArrayBuffer {
  return new SharedArrayBuffer(4);
}

/**
 * Runs WAL checkpoints on a thread of their own, since automatic checkpoints are off on every
 * connection: copying the WAL into the database file (and its fsync) never delays a request.
 * Under steady writes a passive checkpoint never quite catches up, so once it has copied most of
 * a long WAL it signals the writer thread to copy the last frames between two transactions.
 */
export class Checkpointer {
  private constructor(private readonly worker: Worker) {}

  static start(dbPath: string, walSignal?: SharedArrayBuffer, intervalMs = 500): Checkpointer {
    const worker = startThread('checkpoint-thread', {
      name: 'dtpay-checkpoint',
      workerData: { dbPath, intervalMs, walSignal, resetPages: WAL_RESET_PAGES, catchUp: WAL_CATCH_UP },
    });
    worker.unref();
    return new Checkpointer(worker);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
