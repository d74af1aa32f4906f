import type { StoragePort } from '../db/port.js';
import type { OrderRow } from '../db/rows.js';
import { beijingDay } from '../reconcile/bill.js';
import { writeMerchantBill, type BillOrder, type BillRefund, type MerchantBill } from '../domain/merchant-bill.js';

// The merchant bill of one Beijing day (CONTRACT §5), from dtpay's own records: the merchant's
// orders and refunds that ended that day, each read as one range of the (merc_no, ended_at) indexes.

const orderFields = (o: OrderRow): Omit<BillOrder, 'payStatus' | 'tradeEndTime' | 'feeFen'> => ({
  orderId: o.order_id,
  mercOrderNo: o.merc_order_no,
  tradeType: o.trade_type,
  payway: o.payway,
  scene: o.scene,
  amountFen: o.amount_fen,
  tradeTime: o.trade_time,
  ...(o.channel_trade_no ? { channelTradeNo: o.channel_trade_no } : {}),
});

/** `billDate` as YYYY-MM-DD. */
export async function merchantBill(reads: StoragePort['reads'], mercNo: string, billDate: string): Promise<MerchantBill> {
  const { fromMs, toMs } = beijingDay(billDate);
  const orders = (await reads.endedOrders(mercNo, fromMs, toMs)).map(
    (o): BillOrder => ({
      ...orderFields(o),
      payStatus: o.pay_status,
      ...(o.trade_end_time ? { tradeEndTime: o.trade_end_time } : {}),
      ...(o.fee_fen !== null && o.fee_fen !== undefined ? { feeFen: o.fee_fen } : {}),
    }),
  );
  // A refund names its order; one order row read per refunded order, however many refunds it has.
  const refunded = new Map<string, OrderRow | undefined>();
  const refunds: BillRefund[] = [];
  for (const r of await reads.endedRefunds(mercNo, fromMs, toMs)) {
    if (!refunded.has(r.order_id)) refunded.set(r.order_id, await reads.order(r.order_id));
    const order = refunded.get(r.order_id);
    if (!order) continue;
    refunds.push({
      refundId: r.refund_id,
      mercRefundNo: r.merc_refund_no,
      amountFen: r.amount_fen,
      refundStatus: r.refund_status,
      ...(r.refund_end_time ? { refundEndTime: r.refund_end_time } : {}),
      ...(r.fee_fen !== null && r.fee_fen !== undefined ? { feeFen: r.fee_fen } : {}),
      order: orderFields(order),
    });
  }
  return writeMerchantBill(orders, refunds);
}
