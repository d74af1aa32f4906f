import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError, RESP, SUCCESS_DESC, invalid } from '../errors.js';
import type { Services } from '../services/context.js';
import { createRefund, reconcileRefund, refundView } from '../services/refunds.js';
import { findOwnOrder } from './order-ref.js';
import { commonFields, describeIssues, optional, optionalUrl, required, yuanAmount } from './pay-schema.js';
import { sendEnvelope } from './respond.js';
import { callerText } from '../domain/caller-text.js';

const unknownField = { error: (iss: { code: string }) => (iss.code === 'unrecognized_keys' ? 'unknown field' : undefined) };

export const refundRequestSchema = z
  .strictObject(
    {
      ...commonFields,
      orderId: optional(32),
      mercOrderNo: optional(32),
      mercRefundNo: required(32).regex(/^[0-9A-Za-z_\-|*]+$/, 'may hold only letters, digits and _ - | *'),
      refundAmt: yuanAmount(),
      refundReason: optional(256),
      notifyUrl: optionalUrl(200),
    },
    unknownField,
  )
  .refine((r) => r.orderId || r.mercOrderNo, { message: 'orderId or mercOrderNo is required', path: ['orderId'] });

export const refundQuerySchema = z
  .strictObject({ ...commonFields, refundId: optional(32), mercRefundNo: optional(32) }, unknownField)
  .refine((r) => r.refundId || r.mercRefundNo, { message: 'refundId or mercRefundNo is required', path: ['refundId'] });

// A processing refund is looked up at the channel before answering, at most this often.
const ASK_CHANNEL_EVERY_MS = 5_000;

/** POST /api/refund and POST /api/refund/query. */
export function refundRoutes(app: FastifyInstance, s: Services): void {
  app.post('/api/refund', { config: { interfaceCode: 'refund' } }, async (request, reply) => {
    const parsed = refundRequestSchema.safeParse(request.fields);
    if (!parsed.success) throw invalid(describeIssues(parsed.error));
    const merchant = request.signer!.merchant;
    const order = await findOwnOrder(s.reads, merchant.merc_no, {
      mercNo: merchant.merc_no,
      signature: parsed.data.signature,
      ...(parsed.data.orderId ? { orderId: parsed.data.orderId } : {}),
      ...(parsed.data.mercOrderNo ? { mercOrderNo: parsed.data.mercOrderNo } : {}),
    });
    const a = await createRefund(s, merchant, order, request.fields as never);
    return sendEnvelope(reply, { interfaceCode: 'refund', respCode: a.respCode, respDesc: a.respDesc, fields: await refundView(s, a.refund) }, request.signer);
  });

  const asked = new Map<string, number>();
  app.post('/api/refund/query', { config: { interfaceCode: 'refundQuery' } }, async (request, reply) => {
    const parsed = refundQuerySchema.safeParse(request.fields);
    if (!parsed.success) throw invalid(describeIssues(parsed.error));
    const { refundId, mercRefundNo } = parsed.data;
    const mercNo = request.signer!.merchant.merc_no;
    const found = refundId ? await s.reads.refund(refundId) : await s.reads.refundByMercNo(mercNo, mercRefundNo!);
    let refund = found && found.merc_no === mercNo && (!mercRefundNo || found.merc_refund_no === mercRefundNo) ? found : undefined;
    if (!refund) throw new ApiError(RESP.NOT_FOUND, `no refund ${refundId ? `refundId ${callerText(refundId)}` : `mercRefundNo ${callerText(mercRefundNo!)}`}`);
    const now = s.now();
    if (refund.refund_status === 'r0001' && !(now - (asked.get(refund.refund_id) ?? -Infinity) < ASK_CHANNEL_EVERY_MS)) {
      asked.delete(refund.refund_id);
      asked.set(refund.refund_id, now);
      if (asked.size > 10_000) asked.delete(asked.keys().next().value!);
      refund = await reconcileRefund(s, refund);
    }
    return sendEnvelope(reply, { interfaceCode: 'refundQuery', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields: await refundView(s, refund) }, request.signer);
  });
}
