import type { FastifyInstance } from 'fastify';
import { RESP, SUCCESS_DESC } from '../errors.js';
import type { Services } from '../services/context.js';
import { resendNotification } from '../services/notifications.js';
import { findOwnOrder } from './order-ref.js';
import { orderView } from './query-route.js';
import { sendEnvelope } from './respond.js';

/** POST /api/notify/resend: a fresh notification of the order's current state (a new webhook-id). */
export function notifyRoutes(app: FastifyInstance, s: Services): void {
  app.post('/api/notify/resend', { config: { interfaceCode: 'notifyResend' } }, async (request, reply) => {
    const order = await findOwnOrder(s.reads, request.signer!.merchant.merc_no, request.fields);
    const queued = await resendNotification(s, order.order_id, 'resend requested by the merchant');
    const fields = { ...(await orderView((await s.reads.order(order.order_id))!, s.reads)), webhookId: queued.webhookId };
    return sendEnvelope(reply, { interfaceCode: 'notifyResend', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields }, request.signer);
  });
}
