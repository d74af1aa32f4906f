import type { FastifyInstance } from 'fastify';
import { invalid } from '../errors.js';
import type { OrderCreator } from '../services/create-order.js';
import { describeIssues, payRequestSchema } from './pay-schema.js';
import { sendEnvelope } from './respond.js';

export function payRoute(app: FastifyInstance, creator: OrderCreator): void {
  app.post('/api/pay', { config: { interfaceCode: 'pay' } }, async (request, reply) => {
    const parsed = payRequestSchema.safeParse(request.fields);
    if (!parsed.success) throw invalid(describeIssues(parsed.error));
    const answer = await creator.create(request.signer!.merchant, parsed.data);
    return sendEnvelope(reply, { interfaceCode: 'pay', ...answer }, request.signer);
  });
}
