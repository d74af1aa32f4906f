import type { FastifyInstance } from 'fastify';
import type { StoragePort } from '../db/port.js';

export interface Readiness {
  /** the writer thread is up and has not failed */
  writerOk(): boolean;
  /** the notification dispatcher is running (not stopping) */
  dispatcherRunning(): boolean;
}

/**
 * GET /healthz: the process answers. GET /readyz: it can take orders: the database answers a
 * read, the migrations are all applied, the writer works and notifications go out; 503 otherwise,
 * naming what is not ready.
 */
export function healthRoutes(app: FastifyInstance, reads: Pick<StoragePort['reads'], 'schemaVersion'>, ready: Readiness, expectedMigration: number): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const problems: string[] = [];
    try {
      const current = await reads.schemaVersion();
      if (current < expectedMigration) problems.push(`database at migration ${current}, expected ${expectedMigration}`);
    } catch (err) {
      problems.push(`database does not answer: ${(err as Error).message}`);
    }
    if (!ready.writerOk()) problems.push('database writer is not running');
    if (!ready.dispatcherRunning()) problems.push('notification dispatcher is not running');
    if (problems.length) return reply.code(503).send({ status: 'not ready', problems });
    return { status: 'ready' };
  });
}
