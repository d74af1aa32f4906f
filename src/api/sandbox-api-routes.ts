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
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return reply.code(400).send({ error: 'body is not JSON' });
    }
    const { orderId, refundId, amount } = fields ?? {};
    if (typeof orderId !== 'string' || !isOrderId(orderId)) return reply.code(400).send({ error: 'orderId: expected 22 digits' });
    const action = request.params.action;
    let answer: unknown;
    if (action === 'query') answer = sandbox.query(orderId);
    else if (action === 'close') answer = await sandbox.close(orderId);
    else if (action === 'refund' || action === 'refund-query') {
      if (typeof refundId !== 'string' || !isOrderId(refundId)) return reply.code(400).send({ error: 'refundId: expected 22 digits' });
      if (action === 'refund-query') answer = sandbox.refundQuery(refundId);
      else if (typeof amount !== 'string' || !/^[1-9][0-9]{0,18}$/.test(amount)) return reply.code(400).send({ error: 'amount: expected fen' });
      else answer = await sandbox.refund(orderId, refundId, BigInt(amount));
    } else return reply.code(404).send({ error: 'no such sandbox API' });
    const body = JSON.stringify(answer);
    return reply
      .type('application/json; charset=utf-8')
      .header(SANDBOX_SIGNATURE_HEADER, signSandboxBody(body, sandbox.secret()))
      .send(body);
  });
}
