import { fenToYuan } from '../domain/money.js';
import { isSignType, signed, type SignType } from '../domain/sign.js';
import type { OrderRow } from '../db/rows.js';

// The front notification: when a payer finishes paying on the hosted cashier, the browser goes
// back to the order's returnUrl with the outcome in the query string, signed per CONTRACT §2.1
// with the merchant's key and the order's signType. It is a convenience for the page the payer
// lands on; the server-to-server notification stays the authoritative one.

/** The parameters appended to returnUrl, in the order they are written. */
export const FRONT_NOTIFICATION_FIELDS = ['mercNo', 'mercOrderNo', 'orderId', 'payStatus', 'tradeAmt', 'signType', 'signature'] as const;

export type FrontNotification = Record<(typeof FRONT_NOTIFICATION_FIELDS)[number], string>;

/** The order's signType (the one its /api/pay request used), MD5 when it named none. */
export function orderSignType(order: Pick<OrderRow, 'request_json'>): SignType {
  const req = JSON.parse(order.request_json) as Record<string, unknown>;
  return isSignType(req.signType) ? req.signType : 'MD5';
}

/** The signed front-notification fields of `order`. */
export function frontNotificationFields(
  order: Pick<OrderRow, 'merc_no' | 'merc_order_no' | 'order_id' | 'pay_status' | 'amount_fen' | 'request_json'>,
  key: string,
): FrontNotification {
  return signed(
    {
      mercNo: order.merc_no,
      mercOrderNo: order.merc_order_no,
      orderId: order.order_id,
      payStatus: order.pay_status,
      tradeAmt: fenToYuan(order.amount_fen),
    },
    key,
    orderSignType(order),
  );
}

/**
 * The order's returnUrl with the signed front-notification parameters added to its query string
 * (any parameter of the same name already there is replaced); undefined when the order has no
 * returnUrl or it is not an http(s) URL.
 */
export function frontNotificationUrl(
  order: Pick<OrderRow, 'merc_no' | 'merc_order_no' | 'order_id' | 'pay_status' | 'amount_fen' | 'request_json' | 'return_url'>,
  key: string,
): string | undefined {
  if (!order.return_url) return undefined;
  let url: URL;
  try {
    url = new URL(order.return_url);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const fields = frontNotificationFields(order, key);
  for (const name of FRONT_NOTIFICATION_FIELDS) url.searchParams.set(name, fields[name]);
  return url.toString();
}
