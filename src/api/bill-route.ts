import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError, RESP, SUCCESS_DESC, invalid } from '../errors.js';
import { formatBeijing, isCompactDateTime } from '../domain/time.js';
import { yuanText } from '../domain/merchant-bill.js';
import type { Services } from '../services/context.js';
import { BillLinks, BillTooLarge } from '../services/bill-links.js';
import { merchantBill } from '../services/merchant-bill.js';
import { commonFields, describeIssues, required } from './pay-schema.js';
import { sendEnvelope } from './respond.js';

export const billRequestSchema = z.strictObject(
  {
    ...commonFields,
    billDate: required(8).refine((s) => /^\d{8}$/.test(s) && isCompactDateTime(`${s}000000`), 'must be a real date as yyyyMMdd'),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'unknown field' : undefined) },
);

/** Where a bill's download is served: GET /bills/{token} (a link, not an interface: nothing to sign). */
export const BILL_DOWNLOAD_PATH = '/bills/';

/**
 * POST /api/bill (CONTRACT §5): the merchant's own bill of a Beijing day — count, totals, the
 * SHA-256 of the CSV and a link to it — and GET /bills/{token}, which serves exactly those bytes
 * for ten minutes. An unknown, tampered or expired token is a plain 404.
 */
export function billRoutes(app: FastifyInstance, s: Services, links = new BillLinks(s.now)): void {
  app.post('/api/bill', { config: { interfaceCode: 'bill' } }, async (request, reply) => {
    const parsed = billRequestSchema.safeParse(request.fields);
    if (!parsed.success) throw invalid(describeIssues(parsed.error));
    const { billDate } = parsed.data;
    const today = formatBeijing(s.now()).slice(0, 8);
    if (billDate > today) throw invalid(`billDate: must not be in the future (today is ${today}, Beijing time)`);
    const mercNo = request.signer!.merchant.merc_no;
    const bill = await merchantBill(s.reads, mercNo, `${billDate.slice(0, 4)}-${billDate.slice(4, 6)}-${billDate.slice(6)}`);
    let token: string;
    try {
      token = links.put(mercNo, bill.bytes).token;
    } catch (err) {
      if (err instanceof BillTooLarge) throw new ApiError(RESP.STATE_CONFLICT, `billDate: ${err.message}`);
      throw err;
    }
    const fields = {
      billDate,
      count: String(bill.count),
      totalTradeAmt: yuanText(bill.totalTradeFen),
      totalRefundAmt: yuanText(bill.totalRefundFen),
      billSha256: createHash('sha256').update(bill.bytes).digest('hex'),
      billUrl: `${s.config.PUBLIC_BASE_URL.replace(/\/+$/, '')}${BILL_DOWNLOAD_PATH}${token}`,
    };
    return sendEnvelope(reply, { interfaceCode: 'bill', respCode: RESP.OK, respDesc: SUCCESS_DESC, fields }, request.signer);
  });

  app.get<{ Params: { token: string } }>(`${BILL_DOWNLOAD_PATH}:token`, async (request, reply) => {
    const bytes = links.get(request.params.token);
    if (!bytes) {
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send('no such bill: the link is wrong or has expired (links last 10 minutes); ask POST /api/bill again');
    }
    return reply
      .code(200)
      .header('content-type', 'text/csv; charset=utf-8; header=present')
      .header('content-disposition', 'attachment; filename="bill.csv"')
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
