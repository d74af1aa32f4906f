// The merchant bill (CONTRACT §5, POST /api/bill): one CSV row per order and per refund of a
// merchant that ended on a Beijing day, so that a merchant can reconcile against dtpay the way
// dtpay reconciles against the channels. Pure: rows in, bytes and totals out.
//
// UTF-8 without a BOM, RFC 4180: a header row, every record ending in CRLF, a field quoted (with
// its quotes doubled) when it holds a comma, a quote, CR or LF. Empty where a field does not
// apply: refundId, mercRefundNo, refundAmt, refundStatus on an order row; payStatus on a refund
// row, whose tradeEndTime is when the refund ended. feeAmt is the fee the channel's bill stated
// (a refund's is what it gave back, negative), empty until reconciliation stored one.

export const MERCHANT_BILL_COLUMNS = [
  'recordType', 'orderId', 'mercOrderNo', 'refundId', 'mercRefundNo', 'tradeType', 'paywayCode', 'sceneCode', 'tradeAmt', 'refundAmt',
  'payStatus', 'refundStatus', 'tradeTime', 'tradeEndTime', 'channelTradeNo', 'feeAmt',
] as const;

export type MerchantBillColumn = (typeof MERCHANT_BILL_COLUMNS)[number];

export interface BillOrder {
  orderId: string;
  mercOrderNo: string;
  tradeType: string;
  payway: string;
  scene: string;
  amountFen: bigint;
  payStatus: string;
  tradeTime: string;
  tradeEndTime?: string;
  channelTradeNo?: string;
  feeFen?: bigint;
}

export interface BillRefund {
  refundId: string;
  mercRefundNo: string;
  amountFen: bigint;
  refundStatus: string;
  refundEndTime?: string;
  feeFen?: bigint;
  /** the refunded order */
  order: Omit<BillOrder, 'payStatus' | 'tradeEndTime' | 'feeFen'>;
}

export interface MerchantBill {
  bytes: Uint8Array;
  /** data rows */
  count: number;
  /** the p0000 order rows' tradeAmt */
  totalTradeFen: bigint;
  /** the r0000 refund rows' refundAmt */
  totalRefundFen: bigint;
}

/** Fen as yuan with two decimals, signed where negative. */
export function yuanText(fen: bigint): string {
  const neg = fen < 0n;
  const s = (neg ? -fen : fen).toString().padStart(3, '0');
  return `${neg ? '-' : ''}${s.slice(0, -2)}.${s.slice(-2)}`;
}

/** One RFC 4180 field. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

const record = (values: Partial<Record<MerchantBillColumn, string>>) => MERCHANT_BILL_COLUMNS.map((c) => csvField(values[c] ?? '')).join(',') + '\r\n';

export function writeMerchantBill(orders: Iterable<BillOrder>, refunds: Iterable<BillRefund>): MerchantBill {
  const parts: string[] = [MERCHANT_BILL_COLUMNS.join(',') + '\r\n'];
  let count = 0;
  let totalTradeFen = 0n;
  let totalRefundFen = 0n;
  for (const o of orders) {
    count++;
    if (o.payStatus === 'p0000') totalTradeFen += o.amountFen;
    parts.push(
      record({
        recordType: 'order', orderId: o.orderId, mercOrderNo: o.mercOrderNo, tradeType: o.tradeType, paywayCode: o.payway, sceneCode: o.scene,
        tradeAmt: yuanText(o.amountFen), payStatus: o.payStatus, tradeTime: o.tradeTime, tradeEndTime: o.tradeEndTime, channelTradeNo: o.channelTradeNo,
        feeAmt: o.feeFen === undefined ? '' : yuanText(o.feeFen),
      }),
    );
  }
  for (const r of refunds) {
    count++;
    if (r.refundStatus === 'r0000') totalRefundFen += r.amountFen;
    const o = r.order;
    parts.push(
      record({
        recordType: 'refund', orderId: o.orderId, mercOrderNo: o.mercOrderNo, refundId: r.refundId, mercRefundNo: r.mercRefundNo, tradeType: o.tradeType,
        paywayCode: o.payway, sceneCode: o.scene, tradeAmt: yuanText(o.amountFen), refundAmt: yuanText(r.amountFen), refundStatus: r.refundStatus,
        tradeTime: o.tradeTime, tradeEndTime: r.refundEndTime, channelTradeNo: o.channelTradeNo, feeAmt: r.feeFen === undefined ? '' : yuanText(r.feeFen),
      }),
    );
  }
  return { bytes: new TextEncoder().encode(parts.join('')), count, totalTradeFen, totalRefundFen };
}
