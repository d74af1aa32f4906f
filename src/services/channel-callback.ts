import { CallbackIgnored, CallbackRejected, isPayoutOutcome, type Ack, type RawCallback } from '../channels/types.js';
import { fenToYuan } from '../domain/money.js';
import type { Services } from './context.js';
import { applyTransition } from './transitions.js';
import { applyPayoutEnd, isPayout, type PayoutEnd } from './payouts.js';

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
  const owner = mercNo === undefined ? { mode: 'sandbox' as const, merc_no: '' } : await s.reads.merchant(mercNo);
  const driver = owner && s.registry.driverNamed(driverName, owner.mode);
  if (!owner || !driver || (owner.mode === 'live' && !(await s.configuredPayways(owner)).has(driverName))) return { found: false };
  const log = s.log.child({ channel: driverName });
  // Every refusal is logged and flagged (an alert, counted per source) and answered with the
  // channel's "fail"; the order is never touched.
  const refuse = async (kind: string, detail: string, order?: { order_id: string; merc_no: string }, level: 'warn' | 'error' = 'error') => {
    const first = await s.alerts.record({ kind, channel: driverName, orderId: order?.order_id, mercNo: order?.merc_no ?? mercNo, detail, at: s.now() });
    // Alike refusals after the first are counted in one line a minute (by the recorder), not one each.
    log[first ? level : 'debug']({ orderId: order?.order_id, kind, detail }, 'channel callback refused; not applied');
    return { found: true as const, ack: driver.acknowledge(false) };
  };
  const credentials = await s.credentialsFor(owner, driverName);
  let outcome;
  try {
    outcome = driver.parseCallback(raw, credentials);
  } catch (err) {
    if (err instanceof CallbackIgnored) {
      log.info({ reason: err.message }, 'channel callback verified and acknowledged; nothing to apply');
      return { found: true, ack: driver.acknowledge(true) };
    }
    if (!(err instanceof CallbackRejected)) throw err;
    return refuse('callback_rejected', err.message, undefined, 'warn');
  }
  const order = await s.reads.order(outcome.orderId);
  if (!order) return refuse('callback_unknown_order', `no order ${outcome.orderId}`, undefined, 'warn');
  if (mercNo !== undefined && order.merc_no !== mercNo) {
    return refuse('callback_other_merchant', `order of ${order.merc_no} reported at the callback URL of ${mercNo}`, order);
  }
  const merchant = await s.reads.merchant(order.merc_no);
  const route = merchant ? s.registry.resolve(merchant.mode, order.payway, order.scene) : undefined;
  if (!route?.ok || route.driver.name !== driverName) {
    return refuse('callback_other_channel', `order of ${order.payway}.${order.scene} reported by ${driverName}`, order);
  }
  if (order.channel_trade_no && outcome.channelTradeNo && outcome.channelTradeNo !== order.channel_trade_no) {
    return refuse('callback_trade_no_mismatch', `trade number ${outcome.channelTradeNo}, the order has ${order.channel_trade_no}`, order);
  }
  if (outcome.amountFen !== order.amount_fen) {
    return refuse('callback_amount_mismatch', `amount ${fenToYuan(outcome.amountFen)}, the order is for ${fenToYuan(order.amount_fen)}`, order);
  }
  if (isPayoutOutcome(outcome) !== isPayout(order)) {
    return refuse('callback_kind_mismatch', `a ${isPayoutOutcome(outcome) ? 'payout' : 'payment'} result for a ${isPayout(order) ? 'payout' : 'payment'}`, order);
  }
  if (isPayoutOutcome(outcome)) {
    const source = `${driverName} callback`;
    const end: PayoutEnd =
      outcome.result === 'succeeded'
        ? { result: 'succeeded', channelTradeNo: outcome.channelTradeNo, paidAt: outcome.paidAt }
        : outcome.result === 'failed'
          ? { result: 'failed', code: outcome.failCode ?? 'FAILED', message: outcome.failReason ?? 'the channel reports the payout failed' }
          : { result: 'cancelled' };
    await applyPayoutEnd(s, order.order_id, end, source);
    return { found: true, ack: driver.acknowledge(true) };
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
