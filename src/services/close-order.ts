import type { CloseResult } from '../channels/types.js';
import { OPEN_STATES, type OrderEvent } from '../domain/order-states.js';
import type { OrderRow } from '../db/rows.js';
import { callChannel, driverFor, tradeRef } from './channel-call.js';
import type { Services } from './context.js';
import { applyChannelPaid } from './reconcile.js';
import { applyTransition } from './transitions.js';

export type ClosedAtChannel =
  | { result: 'closed'; order: OrderRow }
  /** the payer had paid: the order is now p0000 */
  | { result: 'paid'; order: OrderRow }
  /** the channel did not confirm the close: the order stays open and the close is tried again */
  | { result: 'unknown'; order: OrderRow; reason: string };

/**
 * Closes an open order at the channel first, so that it can no longer be paid there, and only
 * then moves it (merchant close → p0005, expiry → p0006). If the channel says the payer has paid,
 * the payment wins. Whichever event commits first wins the conditional update.
 */
export async function closeAtChannel(
  s: Services,
  order: OrderRow,
  event: Extract<OrderEvent, 'merchant_closed' | 'expired'>,
  source: string,
): Promise<ClosedAtChannel> {
  const channel = await driverFor(s, order);
  // A refused order never existed at the channel; an order without a driver has nothing to close there.
  if (channel && order.channel_state !== 'refused') {
    const r = await callChannel<CloseResult>(s, (ctx) => channel.driver.closePayment(tradeRef(order), channel.credentials, ctx));
    if (r.outcome === 'paid') {
      await applyChannelPaid(s, order, r, `${source}: the channel reports it paid`);
      return { result: 'paid', order: (await s.reads.order(order.order_id))! };
    }
    if (r.outcome !== 'closed') return { result: 'unknown', order, reason: r.reason };
  }
  await applyTransition(s, { orderId: order.order_id, event, source, at: s.now() });
  const now = (await s.reads.order(order.order_id))!;
  return now.pay_status === 'p0000' ? { result: 'paid', order: now } : { result: 'closed', order: now };
}

/** Expires an open order whose orderPeriod has run out (CONTRACT §2.4, p0006, notified). */
export async function expireOrder(s: Services, order: OrderRow): Promise<ClosedAtChannel | undefined> {
  if (!OPEN_STATES.includes(order.pay_status)) return undefined;
  return closeAtChannel(s, order, 'expired', 'orderPeriod ran out');
}
