import { CallbackRejected, type Ack, type RawCallback } from '../channels/types.js';
import { fenToYuan } from '../domain/money.js';
import type { Services } from './context.js';
import { applyTransition } from './transitions.js';

export type CallbackHandling = { found: false } | { found: true; ack: Ack };

/**
 * One path for every channel's asynchronous result: verify the channel's signature on the raw
 * bytes, check it against the stored order, apply it as a conditional state change, and answer
 * with the ack that channel expects. A duplicate changes nothing and is still acknowledged.
 */
export async function handleChannelCallback(
  s: Services,
  driverName: string,
  raw: RawCallback,
  mercNo?: string,
): Promise<CallbackHandling> {
  // A live channel reports to a URL naming the merchant, whose credentials verify the callback;
  // the sandbox channel has one secret for all.
  const owner = mercNo === undefined ? { mode: 'sandbox' as const, merc_no: '' } : s.reads.merchant(mercNo);
  const driver = owner && s.registry.driverNamed(driverName, owner.mode);
  if (!owner || !driver || (owner.mode === 'live' && !s.configuredPayways(owner).has(driverName))) return { found: false };
  const log = s.log.child({ channel: driverName });
  let outcome;
  try {
    outcome = driver.parseCallback(raw, s.credentialsFor(owner, driverName));
  } catch (err) {
    if (!(err instanceof CallbackRejected)) throw err;
    log.warn({ reason: err.message }, 'channel callback rejected');
    return { found: true, ack: driver.acknowledge(false) };
  }
  const order = s.reads.order(outcome.orderId);
  if (!order) {
    log.warn({ orderId: outcome.orderId }, 'channel callback for an unknown order');
    return { found: true, ack: driver.acknowledge(false) };
  }
  if (mercNo !== undefined && order.merc_no !== mercNo) {
    log.error({ orderId: order.order_id }, "channel callback for another merchant's order; not applied");
    return { found: true, ack: driver.acknowledge(false) };
  }
  const merchant = s.reads.merchant(order.merc_no);
  const route = merchant ? s.registry.resolve(merchant.mode, order.payway, order.scene) : undefined;
  if (!route?.ok || route.driver.name !== driverName) {
    log.error({ orderId: order.order_id }, 'channel callback for an order of another channel; not applied');
    return { found: true, ack: driver.acknowledge(false) };
  }
  if (order.channel_trade_no && outcome.channelTradeNo && outcome.channelTradeNo !== order.channel_trade_no) {
    log.error({ orderId: order.order_id }, 'channel callback trade number does not match the order; not applied');
    return { found: true, ack: driver.acknowledge(false) };
  }
  if (outcome.amountFen !== order.amount_fen) {
    log.error(
      { orderId: order.order_id, expected: fenToYuan(order.amount_fen), got: outcome.amountFen.toString() },
      'channel callback amount does not match the order; not applied',
    );
    return { found: true, ack: driver.acknowledge(false) };
  }
  await applyTransition(s, {
    orderId: order.order_id,
    event: outcome.result === 'paid' ? 'channel_paid' : 'channel_failed',
    source: `${driverName} callback`,
    at: s.now(),
    tradeEndTime: outcome.paidAt,
    bankType: outcome.bankType,
    channelTradeNo: outcome.channelTradeNo,
  });
  return { found: true, ack: driver.acknowledge(true) };
}
