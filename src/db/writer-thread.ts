import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { openDb } from './open.js';
import { batchRunner } from './write-ops.js';
import type { Packet, WriterReply } from './writer.js';
import { WAL_CATCH_UP } from './checkpointer.js';

// The writer thread owns the one connection that writes. Each time it is free it takes every
// packet that has queued up meanwhile and commits them in one transaction with
// synchronous=FULL (fsync before the reply): the group commit.
const port = parentPort!;
const { dbPath, walSignal, durable } = workerData as { dbPath: string; walSignal?: SharedArrayBuffer; durable: boolean };
try {
  const db = openDb(dbPath, { synchronous: 'FULL' });
  if (durable === false) db.pragma('synchronous = OFF');
  const runBatch = batchRunner(db);
  const signal = walSignal ? new Int32Array(walSignal) : undefined;
  const catchUp = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

  port.on('message', (first: Packet) => {
    const packets = [first];
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) packets.push(m.message as Packet);
    // The checkpoint thread has copied most of the WAL but cannot finish while writes go on. The
    // few frames left are copied here, between transactions, so the next one restarts the WAL
    // instead of growing it forever.
    if (signal && Atomics.exchange(signal, 0, 0) === WAL_CATCH_UP) {
      try {
        catchUp.get();
      } catch {
        // busy: the next signal tries again
      }
    }
    const seqs = packets.map((p) => p.seq);
    let reply: WriterReply;
    try {
      const outcomes = runBatch(packets.flatMap((p) => p.calls));
      let k = 0;
      reply = { seqs, outcomes: packets.map((p) => outcomes.slice(k, (k += p.calls.length))) };
    } catch (err) {
      reply = { seqs, error: String((err as Error).message ?? err) };
    }
    port.postMessage(reply);
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ error: String((err as Error).message ?? err) });
}
