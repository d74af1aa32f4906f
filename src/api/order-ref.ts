import { z } from 'zod';
import { ApiError, RESP, invalid } from '../errors.js';
import type { StoragePort } from '../db/port.js';
import type { OrderRow } from '../db/rows.js';
import { commonFields, describeIssues, optional } from './pay-schema.js';
import { callerText } from '../domain/caller-text.js';

// The interfaces that act on one existing order name it by orderId or by mercOrderNo.
export const orderRefSchema = z
  .strictObject(
    {
      ...commonFields,
      orderId: optional(32),
      mercOrderNo: optional(32),
    },
    { error: (iss) => (iss.code === 'unrecognized_keys' ? 'unknown field' : undefined) },
  )
  .refine((r) => r.orderId || r.mercOrderNo, { message: 'orderId or mercOrderNo is required', path: ['orderId'] });

/** The merchant's own order the request names, or 100001/100005. Another merchant's order is "not found". */
export async function findOwnOrder(reads: StoragePort['reads'], mercNo: string, fields: Record<string, string> | undefined): Promise<OrderRow> {
  const parsed = orderRefSchema.safeParse(fields);
  if (!parsed.success) throw invalid(describeIssues(parsed.error));
  const { orderId, mercOrderNo } = parsed.data;
  const order = orderId ? await reads.order(orderId) : await reads.orderByMercNo(mercNo, mercOrderNo!);
  const mine = order && order.merc_no === mercNo && (!mercOrderNo || order.merc_order_no === mercOrderNo) ? order : undefined;
  if (!mine) throw new ApiError(RESP.NOT_FOUND, `no order ${orderId ? `orderId ${callerText(orderId)}` : `mercOrderNo ${callerText(mercOrderNo!)}`}`);
  return mine;
}
