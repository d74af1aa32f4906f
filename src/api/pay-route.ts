import type { FastifyInstance } from 'fastify';
import { invalid } from '../errors.js';
import type { OrderCreator } from '../services/create-order.js';
import type { PayoutCreator } from '../services/create-payout.js';
import { describeIssues, payRequestSchema } from './pay-schema.js';
import { payoutRequestSchema } from './payout-schema.js';
import { sendEnvelope } from './respond.js';

export function payRoute(app: FastifyInstance, creator: OrderCreator, payouts: PayoutCreator): void {
  app.post('/api/pay', { config: { interfaceCode: 'pay' } }, async (request, reply) => {
    const tradeType = request.fields?.tradeType;
    // A payout (CONTRACT §4) has a schema of its own; a payment is checked exactly as it always was.
    if (tradeType === '02' || tradeType === '03') {
      const parsed = payoutRequestSchema.safeParse(request.fields);
      if (!parsed.success) throw invalid(describeIssues(parsed.error));
      const answer = await payouts.create(request.signer!.merchant, request.signer!.signType, parsed.data);
      return sendEnvelope(reply, { interfaceCode: 'pay', ...answer }, request.signer);
    }
    const parsed = payRequestSchema.safeParse(request.fields);
    if (!parsed.success) throw invalid(describeIssues(parsed.error));
    const answer = await creator.create(request.signer!.merchant, parsed.data);
    return sendEnvelope(reply, { interfaceCode: 'pay', ...answer }, request.signer);
  });
}
