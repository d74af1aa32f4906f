import type { FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { signSandboxBill, signSandboxBody, SANDBOX_SIGNATURE_HEADER } from '../channels/sandbox/driver.js';
import { isOrderId } from '../domain/ids.js';
import { PAYWAYS } from '../channels/types.js';
import { beijingDay } from '../reconcile/bill.js';
import type { SandboxPayments } from '../services/sandbox-payment.js';

/** An answer of the sandbox channel's API, as it goes over HTTP. */
export interface SandboxApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const refusal = (status: number, error: string): SandboxApiAnswer => ({ status, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify({ error }) });

/**
 * The sandbox channel's API, which the sandbox driver calls as a live driver calls its channel:
 * requests and answers signed with the sandbox secret over the raw bytes. Answered here for both
 * roads to it: the HTTP route below, and the gateway's own in-process calls (app.ts), which get
 * the same bytes without going through the HTTP server.
 */
export async function answerSandboxApi(sandbox: SandboxPayments, action: string, raw: Buffer, given: string | string[] | undefined): Promise<SandboxApiAnswer> {
  const secret = await sandbox.secret();
  const expected = signSandboxBody(raw, secret);
  if (typeof given !== 'string' || given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) {
    return refusal(401, 'signature does not verify');
  }
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    return refusal(400, 'body is not JSON');
  }
  const { orderId, refundId, amount, confirm } = fields ?? {};
  if (typeof orderId !== 'string' || !isOrderId(orderId)) return refusal(400, 'orderId: expected 22 digits');
  let answer: unknown;
  if (action === 'query') answer = await sandbox.query(orderId);
  else if (action === 'close') answer = await sandbox.close(orderId);
  else if (action === 'transfer') {
    if (typeof amount !== 'string' || !/^[1-9][0-9]{0,18}$/.test(amount)) return refusal(400, 'amount: expected fen');
    if (confirm !== '0' && confirm !== '1') return refusal(400, 'confirm: expected 0 or 1');
    answer = await sandbox.transfer(orderId, BigInt(amount), confirm === '1');
  } else if (action === 'transfer-query') answer = await sandbox.transferQuery(orderId);
  else if (action === 'transfer-cancel') answer = await sandbox.transferCancel(orderId);
  else if (action === 'refund' || action === 'refund-query') {
    if (typeof refundId !== 'string' || !isOrderId(refundId)) return refusal(400, 'refundId: expected 22 digits');
    if (action === 'refund-query') answer = await sandbox.refundQuery(refundId);
    else if (typeof amount !== 'string' || !/^[1-9][0-9]{0,18}$/.test(amount)) return refusal(400, 'amount: expected fen');
    else answer = await sandbox.refund(orderId, refundId, BigInt(amount));
  } else return refusal(404, 'no such sandbox API');
  const body = JSON.stringify(answer);
  return { status: 200, headers: { 'content-type': JSON_TYPE, [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(body, secret) }, body };
}

const verifies = (text: string | Buffer, secret: string, given: string | string[] | undefined) => {
  const expected = signSandboxBody(text, secret);
  return typeof given === 'string' && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
};

/**
 * GET /sandbox/api/bill?date=YYYY-MM-DD&mercNo=…&payway=…: the sandbox channel's trade bill of one
 * merchant's account for a payway and Beijing day, in WeChat Pay's ALL layout. The request's
 * signature covers its query string, the answer's its body (signSandboxBill).
 */
export async function answerSandboxBill(sandbox: SandboxPayments, query: string, given: string | string[] | undefined): Promise<SandboxApiAnswer> {
  const secret = await sandbox.secret();
  if (!verifies(query, secret, given)) return refusal(401, 'signature does not verify');
  const p = new URLSearchParams(query);
  const date = p.get('date') ?? '';
  try {
    beijingDay(date);
  } catch {
    return refusal(400, 'date: expected a YYYY-MM-DD date');
  }
  const payway = p.get('payway') ?? '';
  if (!(PAYWAYS as readonly string[]).includes(payway)) return refusal(400, `payway: expected ${PAYWAYS.join(', ')}`);
  const mercNo = p.get('mercNo') ?? '';
  if (!(await sandbox.isSandboxMerchant(mercNo))) return refusal(404, 'mercNo: no such sandbox merchant');
  const body = Buffer.from(await sandbox.bill(mercNo, payway, date)).toString('utf8');
  return { status: 200, headers: { 'content-type': 'text/csv; charset=utf-8', [SANDBOX_SIGNATURE_HEADER]: signSandboxBill(body, secret) }, body };
}

/** The HTTP road to the sandbox API: its own scope, whose only body parser keeps the raw bytes. */
export async function sandboxApiRoutes(app: FastifyInstance, opts: { sandbox: SandboxPayments }): Promise<void> {
  const { sandbox } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post<{ Params: { action: string } }>('/sandbox/api/:action', async (request, reply) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const a = await answerSandboxApi(sandbox, request.params.action, raw, request.headers[SANDBOX_SIGNATURE_HEADER]);
    return reply.code(a.status).headers(a.headers).send(a.body);
  });
  app.get('/sandbox/api/bill', async (request, reply) => {
    const q = request.url.indexOf('?');
    const a = await answerSandboxBill(sandbox, q < 0 ? '' : request.url.slice(q + 1), request.headers[SANDBOX_SIGNATURE_HEADER]);
    return reply.code(a.status).headers(a.headers).send(a.body);
  });
}
