import type { FastifyInstance } from 'fastify';
import { RESP, SUCCESS_DESC } from '../errors.js';
import { fenToYuan } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import type { Reads } from '../db/reads.js';
import type { OrderRow } from '../db/rows.js';
import { authenticate } from './merchant-auth.js';
import { findOwnOrder } from './order-ref.js';
import { sendEnvelope } from './respond.js';

/** An order as the merchant sees it: §4.2.1's fields, where it stands, and where its notification stands. */
export function orderView(order: OrderRow, reads: Reads): Record<string, string> {
  const req = JSON.parse(order.request_json) as Record<string, string>;
  // The latest notification speaks for the order; older ones were superseded by it.
  const notification = reads.latestNotification(order.order_id);
  return {
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
    expireTime: formatBeijing(order.expire_at),
    attach: req.attach ?? '',
    notifyStatus: notification?.status ?? '',
    notifyAttempts: notification ? String(notification.attempts) : '',
  };
}

/** POST /api/query: one order by orderId or mercOrderNo, only the merchant's own. */
export function queryRoute(app: FastifyInstance, reads: Reads): void {
  app.post('/api/query', { config: { interfaceCode: 'query' } }, async (request, reply) => {
    authenticate(request, reads);
    const order = findOwnOrder(reads, request.signer!.merchant.merc_no, request.fields);
    return sendEnvelope(reply, { interfaceCode: 'query', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields: orderView(order, reads) }, request.signer);
  });
}
