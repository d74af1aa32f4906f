import type { FastifyInstance } from 'fastify';
import { ApiError, RESP, SUCCESS_DESC } from '../errors.js';
import { OPEN_STATES } from '../domain/order-states.js';
import type { Services } from '../services/context.js';
import { closeAtChannel } from '../services/close-order.js';
import { findOwnOrder } from './order-ref.js';
import { orderView } from './query-route.js';
import { sendEnvelope } from './respond.js';
import { cancelPayout, CLOSE_WAIT, isPayout, type CancelWait } from '../services/payouts.js';

const WHY_NOT: Record<string, string> = {
  p0000: 'the order is paid; refund it instead',
  p0004: 'the order has failed; there is nothing to close',
  p0006: 'the order has expired and was closed then',
};

const PAYOUT_WHY_NOT: Record<string, string> = {
  p0000: 'the payout is paid out',
  p0004: 'the payout has failed; there is nothing to close',
  p0006: 'the payout expired (the payee did not confirm it) and was cancelled then',
};

/**
 * POST /api/close: closes an unpaid order at the channel, then p0005. Closing a closed order again
 * answers the same. If the payer has paid meanwhile, the order is p0000 and the answer 100007.
 */
export function closeRoute(app: FastifyInstance, s: Services, wait: CancelWait = CLOSE_WAIT): void {
  app.post('/api/close', { config: { interfaceCode: 'close' } }, async (request, reply) => {
    let order = await findOwnOrder(s.reads, request.signer!.merchant.merc_no, request.fields);
    if (isPayout(order) && OPEN_STATES.includes(order.pay_status)) {
      // CONTRACT §4: cancelled at the channel where it still can be (a WeChat bill before the payee confirms).
      const r = await cancelPayout(s, order, 'merchant', wait);
      order = r.order;
      const fields = await orderView(order, s.reads);
      const answer = (respCode: (typeof RESP)[keyof typeof RESP], respDesc: string) =>
        sendEnvelope(reply, { interfaceCode: 'close', respCode, respDesc, fields }, request.signer);
      if (r.result === 'cancelling') {
        return answer(RESP.OK, 'the channel is still cancelling the payout (CANCELING); it ends p0005 when the channel confirms, or p0000 if the payee confirmed first');
      }
      if (r.result === 'unknown') {
        throw new ApiError(RESP.CHANNEL_TIMEOUT, `the channel did not confirm the cancel (${r.reason}); the payout is still open, close it again`);
      }
      if (r.result === 'not_cancellable') return answer(RESP.STATE_CONFLICT, `cannot close: ${r.reason}`);
    } else if (OPEN_STATES.includes(order.pay_status)) {
      const r = await closeAtChannel(s, order, 'merchant_closed', 'merchant closed it');
      if (r.result === 'unknown') {
        throw new ApiError(RESP.CHANNEL_TIMEOUT, `the channel did not confirm the close (${r.reason}); the order is still open, close it again`);
      }
      order = r.order;
    }
    const fields = await orderView(order, s.reads);
    if (order.pay_status === 'p0005') {
      return sendEnvelope(reply, { interfaceCode: 'close', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields }, request.signer);
    }
    const why = isPayout(order) ? PAYOUT_WHY_NOT[order.pay_status] : WHY_NOT[order.pay_status];
    const desc = `cannot close: ${why ?? `the order is ${order.pay_status}`}`;
    return sendEnvelope(reply, { interfaceCode: 'close', respCode: RESP.STATE_CONFLICT, respDesc: desc, fields }, request.signer);
  });
}
