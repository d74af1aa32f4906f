import { Worker } from 'node:worker_threads';
import { batchRunner, type OpCall, type OpName, type OpArgs, type OpResult, type OpOutcome } from './write-ops.js';
import { openDb } from './open.js';

/**
 * All writes go through a Writer. The server's writer is a group commit on its own thread:
 * operations that arrive while a batch is being committed wait and go together in the next
 * transaction, so many requests share one fsync and the event loop never blocks on the disk.
 * A promise resolves only once its transaction is durable.
 */
export interface Writer {
  run<N extends OpName>(op: N, args: OpArgs<N>): Promise<OpResult<N>>;
  close(): Promise<void>;
}

export class WriteError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'WriteError';
  }
}

function settle(outcome: OpOutcome, resolve: (v: any) => void, reject: (e: Error) => void) {
  if (outcome.ok) resolve(outcome.value);
  else reject(new WriteError(outcome.message, outcome.code));
}

interface Pending {
  call: OpCall;
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

export interface WriterStats {
  batches: number;
  operations: number;
}

export class WorkerWriter implements Writer {
  private readonly worker: Worker;
  private queue: Pending[] = [];
  private inFlight: Pending[] | undefined;
  private scheduled = false;
  private closed = false;
  private failure: Error | undefined;
  readonly stats: WriterStats = { batches: 0, operations: 0 };

  private constructor(worker: Worker, private readonly onFatal: (err: Error) => void) {
    this.worker = worker;
    worker.on('message', (msg: { outcomes: OpOutcome[] } | { error: string }) => this.onReply(msg));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`database writer thread exited with code ${code}`));
    });
  }

  static async start(dbPath: string, onFatal: (err: Error) => void = () => {}): Promise<WorkerWriter> {
    const worker = new Worker(new URL('./writer-thread.js', import.meta.url), { workerData: { dbPath } });
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: { ready?: true; error?: string }) => {
        worker.off('error', reject);
        if (m.ready) resolve();
        else reject(new Error(m.error ?? 'writer thread failed to start'));
      };
      worker.once('message', onMsg);
      worker.once('error', reject);
    });
    return new WorkerWriter(worker, onFatal);
  }

  run<N extends OpName>(op: N, args: OpArgs<N>): Promise<OpResult<N>> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('database writer is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ call: { op, args }, resolve, reject });
      this.schedule();
    });
  }

  private schedule() {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    // Let every request that is ready in this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush() {
    if (this.inFlight || this.queue.length === 0 || this.failure) return;
    this.inFlight = this.queue;
    this.queue = [];
    this.stats.batches += 1;
    this.stats.operations += this.inFlight.length;
    this.worker.postMessage(this.inFlight.map((p) => p.call));
  }

  private onReply(msg: { outcomes: OpOutcome[] } | { error: string }) {
    const batch = this.inFlight ?? [];
    this.inFlight = undefined;
    if ('error' in msg) {
      // The transaction as a whole failed (disk full, I/O error): nothing in it was written.
      for (const p of batch) p.reject(new WriteError(msg.error));
    } else {
      batch.forEach((p, i) => settle(msg.outcomes[i]!, p.resolve, p.reject));
    }
    if (this.queue.length > 0) this.flush();
    else if (this.closed) this.drained?.();
  }

  private drained: (() => void) | undefined;

  private fail(err: Error) {
    if (this.failure) return;
    this.failure = err;
    for (const p of [...(this.inFlight ?? []), ...this.queue]) p.reject(err);
    this.inFlight = undefined;
    this.queue = [];
    this.onFatal(err);
  }

  /** Commits what is queued, then stops the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight || this.queue.length > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.flush();
      });
    }
    await this.worker.terminate();
  }
}

/** Runs each operation in its own transaction on the calling thread: for the CLI and migrations. */
export class InlineWriter implements Writer {
  private readonly runBatch;
  constructor(db: ReturnType<typeof openDb>) {
    this.runBatch = batchRunner(db);
  }
  run<N extends OpName>(op: N, args: OpArgs<N>): Promise<OpResult<N>> {
    return new Promise((resolve, reject) => settle(this.runBatch([{ op, args }])[0]!, resolve, reject));
  }
  async close(): Promise<void> {}
}
