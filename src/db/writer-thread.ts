import { parentPort, workerData } from 'node:worker_threads';
import { openDb } from './open.js';
import { batchRunner, type OpCall } from './write-ops.js';

// The writer thread: owns the one connection that writes, commits each batch with
// synchronous=FULL (fsync before the reply) and answers with one outcome per operation.
const port = parentPort!;
try {
  const db = openDb((workerData as { dbPath: string }).dbPath, { synchronous: 'FULL' });
  const runBatch = batchRunner(db);
  port.on('message', (calls: OpCall[]) => {
    try {
      port.postMessage({ outcomes: runBatch(calls) });
    } catch (err) {
      port.postMessage({ error: String((err as Error).message ?? err) });
    }
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ error: String((err as Error).message ?? err) });
}
