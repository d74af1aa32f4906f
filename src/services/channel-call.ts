import type { ChannelContext, ChannelDriver, TradeRef } from '../channels/types.js';
import type { OrderRow } from '../db/rows.js';
import type { Services } from './context.js';
import { meteredDriver } from '../metrics.js';

/** The driver serving an order, with the merchant's credentials for it; undefined if none does any more. */
export async function driverFor(s: Services, order: OrderRow): Promise<{ driver: ChannelDriver<any>; credentials: unknown } | undefined> {
  const merchant = await s.reads.merchant(order.merc_no);
  if (!merchant) return undefined;
  const route = s.registry.resolve(merchant.mode, order.payway, order.scene);
  if (!route.ok) return undefined;
  return { driver: meteredDriver(s, route.driver, order.payway, order.scene), credentials: await s.credentialsFor(merchant, route.driver.name) };
}

export const tradeRef = (order: OrderRow): TradeRef => ({
  orderId: order.order_id,
  channelTradeNo: order.channel_trade_no ?? undefined,
  amountFen: order.amount_fen,
});

/**
 * Runs one driver call bounded by CHANNEL_TIMEOUT_MS. No answer in time, or a driver that throws,
 * is an unknown outcome: the caller leaves the order as it is and asks again later.
 */
export async function callChannel<R>(
  s: Services,
  call: (ctx: ChannelContext) => Promise<R | { outcome: 'unknown'; reason: string }>,
): Promise<R | { outcome: 'unknown'; reason: string }> {
  const controller = new AbortController();
  const ctx = s.channelContext(controller.signal);
  let timer: NodeJS.Timeout | undefined;
  const ms = s.config.CHANNEL_TIMEOUT_MS;
  const timeout = new Promise<{ outcome: 'unknown'; reason: string }>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ outcome: 'unknown', reason: `no answer within ${ms} ms` });
    }, ms);
  });
  try {
    return await Promise.race([call(ctx), timeout]);
  } catch (err) {
    s.log.error({ err }, 'channel driver threw; treating the outcome as unknown');
    return { outcome: 'unknown', reason: 'the channel driver failed' };
  } finally {
    clearTimeout(timer);
  }
}
