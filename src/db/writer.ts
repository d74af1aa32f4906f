import type { Worker } from 'node:worker_threads';
import { batchRunner, type OpCall, type OpName, type OpArgs, type OpResult, type OpOutcome } from './write-ops.js';
import { openDb } from './open.js';
import { startThread } from '../runtime/resources.js';

/**
 * All writes go through a Writer. The server's writer is a group commit on its own thread:
 * operations that arrive while a batch is being committed wait and go together in the next
 * transaction, so many requests share one fsync and the event loop never blocks on the disk.
 * A promise resolves only once its transaction is durable.
 *
 * While the thread commits, the next packet of operations already waits at its door: it starts
 * the next transaction the moment its fsync returns, with whatever queued up meanwhile, however
 * busy this event loop is at that moment. No more than that one packet waits, so that a message
 * (whose cost is mostly fixed) carries every operation issued during a commit, not one each.
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
  /** transactions committed */
  batches: number;
  operations: number;
}

/** A packet of operations posted to the writer thread; the thread commits whatever packets are queued together. */
export interface Packet {
  seq: number;
  calls: OpCall[];
}

export type WriterReply = { seqs: number[]; outcomes: OpOutcome[][] } | { seqs: number[]; error: string };

/** One packet in the transaction being committed, one waiting for the next. */
const MAX_PACKETS_POSTED = 2;

export class WorkerWriter implements Writer {
  private readonly worker: Worker;
  private queue: Pending[] = [];
  private readonly posted = new Map<number, Pending[]>();
  private seq = 0;
  private scheduled = false;
  private closed = false;
  private failure: Error | undefined;
  private drained: (() => void) | undefined;
  readonly stats: WriterStats = { batches: 0, operations: 0 };

  private constructor(worker: Worker, private readonly onFatal: (err: Error) => void) {
    this.worker = worker;
    worker.on('message', (msg: WriterReply) => this.onReply(msg));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`database writer thread exited with code ${code}`));
    });
  }

  /**
   * `walSignal` is shared with the checkpoint thread (see checkpointer.ts). `durable: false`
   * commits without fsync: only for measuring what durability costs (the bench), never for orders.
   */
  static async start(
    dbPath: string,
    onFatal: (err: Error) => void = () => {},
    walSignal?: SharedArrayBuffer,
    opts: { durable?: boolean } = {},
  ): Promise<WorkerWriter> {
    const worker = startThread('writer-thread', {
      name: 'dtpay-writer',
      workerData: { dbPath, walSignal, durable: opts.durable ?? true },
    });
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

  /** Up, and never failed: for readiness. */
  get healthy(): boolean {
    return !this.failure && !this.closed;
  }

  run<N extends OpName>(op: N, args: OpArgs<N>): Promise<OpResult<N>> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('database writer is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ call: { op, args }, resolve, reject });
      this.schedule();
    });
  }

  private readonly postNow = () => this.post();

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.posted.size >= MAX_PACKETS_POSTED) return;
    this.scheduled = true;
    // An idle thread gets the operation at once (with those of the same synchronous stretch). A
    // busy one cannot start on it before its commit returns anyway, so the packet waits for the
    // end of this event-loop turn and takes along every operation the turn issues.
    if (this.posted.size === 0) queueMicrotask(this.postNow);
    else setImmediate(this.postNow);
  }

  private post() {
    this.scheduled = false;
    if (this.queue.length === 0 || this.failure || (this.posted.size >= MAX_PACKETS_POSTED && !this.closed)) return;
    const seq = ++this.seq;
    this.posted.set(seq, this.queue);
    this.stats.operations += this.queue.length;
    const packet: Packet = { seq, calls: this.queue.map((p) => p.call) };
    this.queue = [];
    this.worker.postMessage(packet);
  }

  private onReply(msg: WriterReply) {
    this.stats.batches += 1;
    msg.seqs.forEach((seq, i) => {
      const batch = this.posted.get(seq) ?? [];
      this.posted.delete(seq);
      if ('error' in msg) {
        // The transaction as a whole failed (disk full, I/O error): nothing in it was written.
        for (const p of batch) p.reject(new WriteError(msg.error));
      } else {
        const outcomes = msg.outcomes[i]!;
        batch.forEach((p, j) => settle(outcomes[j]!, p.resolve, p.reject));
      }
    });
    this.schedule();
    if (this.closed && this.posted.size === 0) this.drained?.();
  }

  private fail(err: Error) {
    if (this.failure) return;
    this.failure = err;
    for (const batch of this.posted.values()) for (const p of batch) p.reject(err);
    for (const p of this.queue) p.reject(err);
    this.posted.clear();
    this.queue = [];
    this.onFatal(err);
  }

  /** Commits what is queued, then stops the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.post();
    if (this.posted.size > 0 && !this.failure) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
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
