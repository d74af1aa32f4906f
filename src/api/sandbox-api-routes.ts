import type { FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { signSandboxBody, SANDBOX_SIGNATURE_HEADER } from '../channels/sandbox/driver.js';
import { isOrderId } from '../domain/ids.js';
import type { SandboxPayments } from '../services/sandbox-payment.js';

/**
 * The sandbox channel's API, which the sandbox driver calls as a live driver calls its channel:
 * requests and answers signed with the sandbox secret over the raw bytes. Its own scope, whose
 * only body parser keeps the raw bytes.
 */
export async function sandboxApiRoutes(app: FastifyInstance, opts: { sandbox: SandboxPayments }): Promise<void> {
  const { sandbox } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post<{ Params: { action: string } }>('/sandbox/api/:action', async (request, reply) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const given = request.headers[SANDBOX_SIGNATURE_HEADER];
    const expected = signSandboxBody(raw, sandbox.secret());
    if (typeof given !== 'string' || given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) {
      return reply.code(401).send({ error: 'signature does not verify' });
    }
    let orderId: unknown;
    try {
      orderId = (JSON.parse(raw.toString('utf8')) as { orderId?: unknown }).orderId;
    } catch {
      return reply.code(400).send({ error: 'body is not JSON' });
    }
    if (typeof orderId !== 'string' || !isOrderId(orderId)) return reply.code(400).send({ error: 'orderId: expected 22 digits' });
    const action = request.params.action;
    if (action !== 'query' && action !== 'close') return reply.code(404).send({ error: 'no such sandbox API' });
    const answer = action === 'query' ? sandbox.query(orderId) : await sandbox.close(orderId);
    const body = JSON.stringify(answer);
    return reply
      .type('application/json; charset=utf-8')
      .header(SANDBOX_SIGNATURE_HEADER, signSandboxBody(body, sandbox.secret()))
      .send(body);
  });
}
