import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError, RESP, SUCCESS_DESC, invalid } from '../errors.js';
import { fenToYuan } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import type { Reads } from '../db/reads.js';
import type { OrderRow } from '../db/rows.js';
import { authenticate } from './merchant-auth.js';
import { commonFields, describeIssues } from './pay-schema.js';
import { sendEnvelope } from './respond.js';

const queryRequestSchema = z
  .strictObject(
    {
      ...commonFields,
      orderId: z.string().max(32, 'must be at most 32 characters').optional(),
      mercOrderNo: z.string().max(32, 'must be at most 32 characters').optional(),
    },
    { error: (iss) => (iss.code === 'unrecognized_keys' ? 'unknown field' : undefined) },
  )
  .refine((r) => r.orderId || r.mercOrderNo, { message: 'orderId or mercOrderNo is required', path: ['orderId'] });

/** An order as the merchant sees it: §4.2.1's fields plus where it stands. */
export function orderView(order: OrderRow): Record<string, string> {
  const req = JSON.parse(order.request_json) as Record<string, string>;
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
  };
}

/** POST /api/query: one order by orderId or mercOrderNo, only the merchant's own. */
export function queryRoute(app: FastifyInstance, reads: Reads): void {
  app.post('/api/query', { config: { interfaceCode: 'query' } }, async (request, reply) => {
    authenticate(request, reads);
    const parsed = queryRequestSchema.safeParse(request.fields);
    if (!parsed.success) throw invalid(describeIssues(parsed.error));
    const { orderId, mercOrderNo } = parsed.data;
    const mercNo = request.signer!.merchant.merc_no;
    const order = orderId ? reads.order(orderId) : reads.orderByMercNo(mercNo, mercOrderNo!);
    const mine = order && order.merc_no === mercNo && (!mercOrderNo || order.merc_order_no === mercOrderNo) ? order : undefined;
    if (!mine) throw new ApiError(RESP.NOT_FOUND, `no order ${orderId ? `orderId ${orderId}` : `mercOrderNo ${mercOrderNo}`}`);
    return sendEnvelope(reply, { interfaceCode: 'query', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields: orderView(mine) }, request.signer);
  });
}
