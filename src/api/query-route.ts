import type { FastifyInstance } from 'fastify';
import { RESP, SUCCESS_DESC } from '../errors.js';
import { fenToYuan } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import { yuanText } from '../domain/merchant-bill.js';
import type { StoragePort } from '../db/port.js';
import type { OrderRow } from '../db/rows.js';
import { findOwnOrder } from './order-ref.js';
import { sendEnvelope } from './respond.js';
import { OPEN_STATES } from '../domain/order-states.js';
import type { Services } from '../services/context.js';
import { reconcileOrder } from '../services/reconcile.js';
import { isPayout, NO_EXPIRY, reconcilePayout } from '../services/payouts.js';

/** An order as the merchant sees it: §4.2.1's fields, where it stands, and where its notification stands. */
export async function orderView(order: OrderRow, reads: StoragePort['reads']): Promise<Record<string, string>> {
  const req = JSON.parse(order.request_json) as Record<string, string>;
  // The latest notification speaks for the order; older ones were superseded by it.
  const latest = await reads.latestNotification(order.order_id);
  // A superseded latest notification announced a state the order has since left unannounced.
  const notification = latest?.status === 'superseded' ? undefined : latest;
  const view: Record<string, string> = {
    mercOrderNo: order.merc_order_no,
    orderId: order.order_id,
    tradeType: order.trade_type,
    tradeAmt: fenToYuan(order.amount_fen),
    feeType: order.fee_type,
    tradeTime: order.trade_time,
    termType: order.term_type,
    paywayCode: order.payway,
    sceneCode: order.scene,
    payStatus: order.pay_status,
    tradeEndTime: order.trade_end_time ?? '',
    bankType: order.bank_type ?? '',
    expireTime: order.expire_at >= NO_EXPIRY ? '' : formatBeijing(order.expire_at),
    attach: req.attach ?? '',
    refundedAmt: order.pay_status === 'p0000' ? fenToYuan(await reads.refundedFen(order.order_id)) : '',
    // The channel's fee as its bill stated it, once reconciliation stored it.
    feeAmt: order.fee_fen === null || order.fee_fen === undefined ? '' : yuanText(order.fee_fen),
    latePayment: order.late_payment ? 'true' : '',
    notifyStatus: notification?.status ?? '',
    notifyAttempts: notification ? String(notification.attempts) : '',
  };
  if (isPayout(order)) {
    // Stored masked: the clear payee is sealed apart and never shown (CONTRACT §4).
    view.payeeAccountType = req.payeeAccountType ?? '';
    view.payeeAccount = req.payeeAccount ?? '';
    view.payeeName = req.payeeName ?? '';
    view.refundedAmt = '';
  }
  if (order.pay_status === 'p0004') Object.assign(view, failureOf(order));
  return view;
}

/** CONTRACT §4: a failed order (payment or payout) says why, in the channel's words where it gave them. */
export function failureOf(order: Pick<OrderRow, 'channel_code' | 'channel_msg' | 'channel_state'>): { failCode: string; failReason: string } {
  if (order.channel_code) return { failCode: order.channel_code, failReason: order.channel_msg ?? '' };
  return { failCode: 'CHANNEL_FAILED', failReason: order.channel_msg || 'the channel reported it failed' };
}

// An open order is looked up at the channel before answering, but not more often than this, so a
// merchant polling in a loop does not turn into a channel polled in a loop.
const ASK_CHANNEL_EVERY_MS = 5_000;
const ASKED_REMEMBERED = 10_000;

/** POST /api/query: one order by orderId or mercOrderNo, only the merchant's own. */
export function queryRoute(app: FastifyInstance, s: Services): void {
  const asked = new Map<string, number>();
  app.post('/api/query', { config: { interfaceCode: 'query' } }, async (request, reply) => {
    let order = await findOwnOrder(s.reads, request.signer!.merchant.merc_no, request.fields);
    const now = s.now();
    if (OPEN_STATES.includes(order.pay_status) && !(now - (asked.get(order.order_id) ?? -Infinity) < ASK_CHANNEL_EVERY_MS)) {
      asked.delete(order.order_id);
      asked.set(order.order_id, now);
      if (asked.size > ASKED_REMEMBERED) asked.delete(asked.keys().next().value!);
      order = isPayout(order) ? await reconcilePayout(s, order, 'merchant query') : await reconcileOrder(s, order, 'merchant query');
    }
    return sendEnvelope(reply, { interfaceCode: 'query', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields: await orderView(order, s.reads) }, request.signer);
  });
}
