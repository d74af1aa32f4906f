import type { CloseResult, QueryResult } from '../channels/types.js';
import { fenToYuan } from '../domain/money.js';
import { OPEN_STATES } from '../domain/order-states.js';
import type { OrderRow } from '../db/rows.js';
import { callChannel, driverFor, tradeRef } from './channel-call.js';
import type { Services } from './context.js';
import { applyTransition } from './transitions.js';

/**
 * A payment the channel reports (in a query or in answer to a close) is applied like a callback:
 * only for the amount the order was made for.
 */
export async function applyChannelPaid(
  s: Services,
  order: OrderRow,
  paid: Extract<QueryResult | CloseResult, { outcome: 'paid' }>,
  source: string,
): Promise<boolean> {
  if (paid.amountFen !== order.amount_fen) {
    s.log.error(
      { orderId: order.order_id, expected: fenToYuan(order.amount_fen), got: paid.amountFen.toString(), source },
      'channel reports a payment of another amount; not applied',
    );
    return false;
  }
  const r = await applyTransition(s, {
    orderId: order.order_id,
    event: 'channel_paid',
    source,
    at: s.now(),
    tradeEndTime: paid.paidAt,
    bankType: paid.bankType,
    channelTradeNo: paid.channelTradeNo,
  });
  return r.changed;
}

/**
 * Asks the channel where an open order stands and applies the answer (补单). An outcome unknown at
 * creation is settled here, never by sending the order again. Returns the order as stored afterwards.
 */
export async function reconcileOrder(s: Services, order: OrderRow, source: string): Promise<OrderRow> {
  if (!OPEN_STATES.includes(order.pay_status)) return order;
  const channel = await driverFor(s, order);
  if (!channel) return order;
  const r = await callChannel<QueryResult>(s, (ctx) => channel.driver.queryPayment(tradeRef(order), channel.credentials, ctx));
  switch (r.outcome) {
    case 'paid':
      await applyChannelPaid(s, order, r, source);
      break;
    case 'failed':
      await applyTransition(s, { orderId: order.order_id, event: 'channel_failed', source, at: s.now() });
      break;
    case 'open':
      if (order.channel_state === 'unknown') await s.writer.run('markChannelAccepted', { orderId: order.order_id, at: s.now() });
      break;
    case 'not_found':
      // The channel never got an order whose creation went unanswered: nobody can pay it.
      if (order.channel_state === 'unknown') {
        await applyTransition(s, { orderId: order.order_id, event: 'channel_failed', source, at: s.now(), detail: 'the channel has no such order' });
      }
      break;
    default:
      // closed at the channel (expiry follows), or no answer: asked again later
      s.log.debug({ orderId: order.order_id, outcome: r.outcome }, 'channel query settled nothing');
  }
  return (await s.reads.order(order.order_id)) ?? order;
}
