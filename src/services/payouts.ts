import type { PayoutCancelResult, PayoutQueryResult, PayoutRef } from '../channels/payout-types.js';
import { PAYEE_CONFIRMS } from '../channels/matrix.js';
import type { Payway } from '../channels/types.js';
import { CHECK_DELAYS_SEC } from '../domain/check-schedule.js';
import { OPEN_STATES } from '../domain/order-states.js';
import type { OrderRow } from '../db/rows.js';
import { callChannel, driverFor } from './channel-call.js';
import type { Services } from './context.js';
import { applyTransition } from './transitions.js';

// A payout's life after the channel first answered (CONTRACT §4): what the channel later reports
// (a query, a callback, the answer to a cancel) applied as a conditional state change. An outcome
// unknown at creation is settled here, by asking about the same orderId, never by sending again.

export const isPayout = (order: Pick<OrderRow, 'trade_type'>) => order.trade_type === '02' || order.trade_type === '03';

/** A payout that does not wait for its payee has no expiry: it ends when the channel says so. */
export const NO_EXPIRY = Date.UTC(9999, 11, 31);

/** Whether the payee has to confirm this payout (wxpay): only then it expires and may be cancelled. */
export const payeeConfirms = (order: Pick<OrderRow, 'payway'>) => PAYEE_CONFIRMS[order.payway as Payway] === true;

/** When to ask the channel about an open payout next: the payment schedule, with no expiry to stop it. */
export function nextPayoutCheckAt(checksDone: number, lastAt: number): number {
  return lastAt + CHECK_DELAYS_SEC[Math.min(checksDone, CHECK_DELAYS_SEC.length - 1)]! * 1000;
}

/** A payout the channel has no record of is failed only after this long: its creation may still be arriving. */
export const NOT_FOUND_GRACE_MS = 60_000;

export const payoutRef = (order: OrderRow): PayoutRef => ({
  orderId: order.order_id,
  channelTradeNo: order.channel_trade_no ?? undefined,
  amountFen: order.amount_fen,
  tradeType: order.trade_type as '02' | '03',
});

/** How a payout ended at the channel, however the gateway heard of it. */
export type PayoutEnd =
  | { result: 'succeeded'; channelTradeNo?: string; paidAt?: string }
  | { result: 'failed'; code: string; message: string }
  | { result: 'cancelled' };

/**
 * Applies a payout's end. A cancelled bill ends as the cancel was asked: p0005 when the merchant
 * closed it (not notified), else p0006 (the payee did not confirm in time, or the channel dropped it).
 */
export async function applyPayoutEnd(s: Services, orderId: string, end: PayoutEnd, source: string): Promise<boolean> {
  const at = s.now();
  switch (end.result) {
    case 'succeeded':
      return (
        await applyTransition(s, { orderId, event: 'channel_paid', source, at, tradeEndTime: end.paidAt, channelTradeNo: end.channelTradeNo })
      ).changed;
    case 'failed':
      return (await applyTransition(s, { orderId, event: 'channel_failed', source, at, failCode: end.code, failReason: end.message })).changed;
    case 'cancelled': {
      const reason = (await s.reads.order(orderId))?.cancel_reason;
      return (await applyTransition(s, { orderId, event: reason === 'merchant' ? 'merchant_closed' : 'expired', source, at })).changed;
    }
  }
}

/** Applies what a query of the channel says about an open payout. */
export async function applyPayoutQuery(s: Services, order: OrderRow, r: PayoutQueryResult, source: string): Promise<void> {
  switch (r.outcome) {
    case 'succeeded':
      await applyPayoutEnd(s, order.order_id, { result: 'succeeded', channelTradeNo: r.channelTradeNo, paidAt: r.paidAt }, source);
      return;
    case 'failed':
      await applyPayoutEnd(s, order.order_id, { result: 'failed', code: r.code, message: r.message }, source);
      return;
    case 'cancelled':
      await applyPayoutEnd(s, order.order_id, { result: 'cancelled' }, source);
      return;
    case 'processing':
    case 'waiting_for_payee':
      // The channel has it: an outcome unknown at creation is now known to be under way.
      if (order.channel_state === 'unknown') await s.writer.run('markChannelAccepted', { orderId: order.order_id, at: s.now() });
      await applyTransition(s, { orderId: order.order_id, event: 'channel_accepted', source, at: s.now(), channelTradeNo: r.channelTradeNo });
      return;
    case 'not_found':
      if (order.channel_state === 'unknown' && s.now() - order.created_at >= NOT_FOUND_GRACE_MS) {
        await applyPayoutEnd(s, order.order_id, { result: 'failed', code: 'NOT_FOUND', message: 'the channel has no such payout' }, source);
      }
      return;
    default:
      // cancelling (the close or expiry finishes later), or no answer: asked again later
      s.log.debug({ orderId: order.order_id, outcome: r.outcome }, 'payout query settled nothing');
  }
}

/** Asks the channel where an open payout stands and applies the answer. Returns the order as stored afterwards. */
export async function reconcilePayout(s: Services, order: OrderRow, source: string): Promise<OrderRow> {
  if (!OPEN_STATES.includes(order.pay_status)) return order;
  const channel = await driverFor(s, order);
  if (!channel?.driver.queryTransfer) return order;
  const r = await callChannel<PayoutQueryResult>(s, (ctx) => channel.driver.queryTransfer!(payoutRef(order), channel.credentials, ctx));
  await applyPayoutQuery(s, order, r, source);
  return (await s.reads.order(order.order_id)) ?? order;
}

export type PayoutClose =
  | { result: 'done'; order: OrderRow }
  /** the channel is still cancelling: the order stays p0002 and the watcher finishes it */
  | { result: 'cancelling'; order: OrderRow }
  /** the channel does not (or no longer) let this payout be cancelled */
  | { result: 'not_cancellable'; order: OrderRow; reason: string }
  | { result: 'unknown'; order: OrderRow; reason: string };

export interface CancelWait {
  /** how often the channel is asked while it says CANCELING, and how many times */
  stepMs: number;
  steps: number;
  sleep(ms: number): Promise<void>;
}

/** CONTRACT §4: /api/close waits up to 5 s, querying, for the channel to report the bill cancelled. */
export const CLOSE_WAIT: CancelWait = { stepMs: 500, steps: 10, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/**
 * Cancels an open payout at the channel (merchant close → p0005, expiry → p0006), where the payee
 * has not confirmed yet. If the channel says it is too late, the payout is asked about and ends as
 * the channel reports it.
 */
export async function cancelPayout(s: Services, order: OrderRow, reason: 'merchant' | 'expiry', wait?: CancelWait): Promise<PayoutClose> {
  const channel = await driverFor(s, order);
  if (!payeeConfirms(order) || !channel?.driver.cancelTransfer) {
    return { result: 'not_cancellable', order, reason: `a ${order.payway} payout cannot be cancelled once the channel has it` };
  }
  const source = reason === 'merchant' ? 'merchant closed it' : 'orderPeriod ran out before the payee confirmed';
  await s.writer.run('markCancelAsked', { orderId: order.order_id, reason, at: s.now() });
  const r = await callChannel<PayoutCancelResult>(s, (ctx) => channel.driver.cancelTransfer!(payoutRef(order), channel.credentials, ctx));
  const now = async () => (await s.reads.order(order.order_id))!;
  switch (r.outcome) {
    case 'cancelled':
      await applyPayoutEnd(s, order.order_id, { result: 'cancelled' }, source);
      return { result: 'done', order: await now() };
    case 'refused': {
      // Too late (the payee confirmed) or the channel will not: where it stands decides the answer.
      const after = await reconcilePayout(s, await now(), `${source}: cancel refused`);
      return OPEN_STATES.includes(after.pay_status)
        ? { result: 'not_cancellable', order: after, reason: `the channel refused to cancel it: ${r.code} ${r.message}` }
        : { result: 'done', order: after };
    }
    case 'cancelling':
      for (let i = 0; wait && i < wait.steps; i++) {
        await wait.sleep(wait.stepMs);
        const after = await reconcilePayout(s, await now(), `${source}: cancel confirmed by query`);
        if (!OPEN_STATES.includes(after.pay_status)) return { result: 'done', order: after };
      }
      return { result: 'cancelling', order: await now() };
    default:
      return { result: 'unknown', order: await now(), reason: r.reason };
  }
}

/**
 * The watcher's part for a payout past its orderPeriod: only one whose payee has to confirm
 * expires. Once a cancel was asked, the channel is asked where it stands instead of cancelling again.
 */
export async function expirePayout(s: Services, order: OrderRow): Promise<void> {
  if (!OPEN_STATES.includes(order.pay_status) || !payeeConfirms(order)) return;
  if (order.cancel_reason) {
    await reconcilePayout(s, order, 'cancel asked earlier: query');
    return;
  }
  const r = await cancelPayout(s, order, 'expiry');
  if (r.result === 'unknown') s.log.warn({ orderId: order.order_id, reason: r.reason }, 'expiry: the channel did not confirm the cancel; asking again');
}
