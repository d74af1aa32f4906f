import { Worker } from 'node:worker_threads';

/**
 * Runs WAL checkpoints on a thread of their own, since automatic checkpoints are off on every
 * connection: copying the WAL into the database file (and its fsync) never delays a request.
 */
export class Checkpointer {
  private constructor(private readonly worker: Worker) {}

  static start(dbPath: string, intervalMs = 1000): Checkpointer {
    const worker = new Worker(new URL('./checkpoint-thread.js', import.meta.url), {
      workerData: { dbPath, intervalMs },
    });
    worker.unref();
    return new Checkpointer(worker);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
