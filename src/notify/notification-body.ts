// The body of a merchant notification (seed §4.2.1/§4.2.2, CONTRACT §2.5). Pure: the write
// operation that queues a notification calls it inside the state change's transaction, and the
// dispatcher signs the result at send time with the merchant's current key.

import { fenToYuan } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import { isSignType, sign, type SignType } from '../domain/sign.js';
import type { OrderRow, RefundRow } from '../db/rows.js';

export type NotificationFields = Record<string, string>;

/**
 * The fields announcing `order` as it stands, in §4.2.2's order, empty ones left out.
 * `at` stands in for tradeEndTime when the channel gave none (a failure or an expiry).
 */
export function notificationFields(order: OrderRow, at: number): { fields: NotificationFields; signType: SignType } {
  const req = JSON.parse(order.request_json) as Record<string, string | undefined>;
  const signType: SignType = isSignType(req.signType) ? req.signType : 'MD5';
  const all: Record<string, string | undefined> = {
    mercNo: order.merc_no,
    mercOrderNo: order.merc_order_no,
    orderId: order.order_id,
    tradeType: order.trade_type,
    tradeAmt: fenToYuan(BigInt(order.amount_fen)),
    feeType: order.fee_type,
    tradeTime: order.trade_time,
    tradeEndTime: order.trade_end_time ?? (isFinal(order.pay_status) ? formatBeijing(at) : undefined),
    termType: order.term_type,
    payStatus: order.pay_status,
    bankType: order.bank_type ?? undefined,
    attach: req.attach,
    // A payout's payee, as stored: masked (CONTRACT §4).
    ...(order.trade_type === '02' || order.trade_type === '03'
      ? { payeeAccountType: req.payeeAccountType, payeeAccount: req.payeeAccount, payeeName: req.payeeName }
      : {}),
    ...envelope(req, signType),
  };
  return { fields: compact(all), signType };
}

// The closing fields every notification carries, as seed §4.2.2's example shows them.
const envelope = (req: Record<string, string | undefined>, signType: SignType) => ({
  charset: req.charset || 'UTF-8',
  locale: 'CN',
  version: req.version || '1.0',
  signType,
});

/** Empty fields are left out (CONTRACT §2.5); the order of the rest is kept. */
function compact(all: Record<string, string | undefined>): NotificationFields {
  const fields: NotificationFields = {};
  for (const [k, v] of Object.entries(all)) if (v !== undefined && v !== '') fields[k] = v;
  return fields;
}

const isFinal = (s: string) => s === 'p0000' || s === 'p0004' || s === 'p0005' || s === 'p0006';

/** The exact bytes POSTed: the stored fields plus a signature made with the merchant's current key. */
export function signedBody(fields: NotificationFields, key: string, signType: SignType): string {
  return JSON.stringify({ ...fields, signature: sign(fields, key, signType) });
}

/** The fields announcing a refund that has ended (CONTRACT §2.5), in the order a merchant reads them. */
export function refundNotificationFields(
  refund: Pick<RefundRow, 'refund_id' | 'merc_refund_no' | 'amount_fen' | 'refund_status' | 'refund_end_time' | 'request_json'>,
  order: Pick<OrderRow, 'merc_no' | 'merc_order_no' | 'order_id' | 'amount_fen'>,
  at: number,
): { fields: NotificationFields; signType: SignType } {
  const req = JSON.parse(refund.request_json) as Record<string, string | undefined>;
  const signType: SignType = isSignType(req.signType) ? req.signType : 'MD5';
  const all: Record<string, string | undefined> = {
    mercNo: order.merc_no,
    mercOrderNo: order.merc_order_no,
    orderId: order.order_id,
    mercRefundNo: refund.merc_refund_no,
    refundId: refund.refund_id,
    tradeAmt: fenToYuan(BigInt(order.amount_fen)),
    refundAmt: fenToYuan(BigInt(refund.amount_fen)),
    refundStatus: refund.refund_status,
    refundEndTime: refund.refund_end_time ?? formatBeijing(at),
    ...envelope(req, signType),
  };
  return { fields: compact(all), signType };
}
