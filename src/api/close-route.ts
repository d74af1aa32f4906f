import type { FastifyInstance } from 'fastify';
import { ApiError, RESP, SUCCESS_DESC } from '../errors.js';
import { OPEN_STATES } from '../domain/order-states.js';
import type { Services } from '../services/context.js';
import { closeAtChannel } from '../services/close-order.js';
import { findOwnOrder } from './order-ref.js';
import { orderView } from './query-route.js';
import { sendEnvelope } from './respond.js';

const WHY_NOT: Record<string, string> = {
  p0000: 'the order is paid; refund it instead',
  p0004: 'the order has failed; there is nothing to close',
  p0006: 'the order has expired and was closed then',
};

/**
 * POST /api/close: closes an unpaid order at the channel, then p0005. Closing a closed order again
 * answers the same. If the payer has paid meanwhile, the order is p0000 and the answer 100007.
 */
export function closeRoute(app: FastifyInstance, s: Services): void {
  app.post('/api/close', { config: { interfaceCode: 'close' } }, async (request, reply) => {
    let order = findOwnOrder(s.reads, request.signer!.merchant.merc_no, request.fields);
    if (OPEN_STATES.includes(order.pay_status)) {
      const r = await closeAtChannel(s, order, 'merchant_closed', 'merchant closed it');
      if (r.result === 'unknown') {
        throw new ApiError(RESP.CHANNEL_TIMEOUT, `the channel did not confirm the close (${r.reason}); the order is still open, close it again`);
      }
      order = r.order;
    }
    const fields = orderView(order, s.reads);
    if (order.pay_status === 'p0005') {
      return sendEnvelope(reply, { interfaceCode: 'close', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields }, request.signer);
    }
    const desc = `cannot close: ${WHY_NOT[order.pay_status] ?? `the order is ${order.pay_status}`}`;
    return sendEnvelope(reply, { interfaceCode: 'close', respCode: RESP.STATE_CONFLICT, respDesc: desc, fields }, request.signer);
  });
}
