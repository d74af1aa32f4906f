import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RESP, SUCCESS_DESC, httpStatusOf, type RespCode } from '../errors.js';
import { PAYWAYS, SCENES } from '../channels/types.js';
import { REFUND_STATUS } from '../domain/refund-states.js';
import { docsPage } from '../pages/docs-page.js';
import { beijingTime, payStatus, signType, text, yuan } from './openapi-fields.js';
import { notificationWebhooks, WEBHOOKS_TEXT, type WebhookOperation } from './openapi-webhooks.js';
import { payFields, unknownFieldsError } from './pay-schema.js';
import { payoutRequestSchema } from './payout-schema.js';
import { PAYOUT_SCENE } from '../channels/matrix.js';
import { orderRefSchema } from './order-ref.js';
import { refundQuerySchema, refundRequestSchema } from './refund-routes.js';
import { billRequestSchema } from './bill-route.js';
import { MERCHANT_BILL_COLUMNS } from '../domain/merchant-bill.js';

// The merchant API as OpenAPI 3.1, generated from the Zod schemas the routes validate with
// (z.toJSONSchema), so the document cannot drift from what the gateway accepts. What Zod keeps in
// code rather than in data is recovered from the schemas themselves where that can be done exactly:
// a `.refine` that is a length limit is probed for its limit (→ maxLength), a `.pipe` into an enum
// gives its values, and every other refinement's message becomes part of the field's description.
// Cross-field rules (a superRefine) cannot be read back out of code; they are written below and
// checked against the routes by test/integration/openapi.test.ts.

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers?: { url: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  /** What the gateway POSTs to merchants (OpenAPI 3.1 webhooks). */
  webhooks: Record<string, Record<string, WebhookOperation>>;
  components: { schemas: Record<string, Json> };
  /** The respCode table (src/errors.ts): code, HTTP status, meaning. */
  'x-respCodes': { respCode: RespCode; httpStatus: number; meaning: string }[];
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  'x-interfaceCode': string;
  /** Rules across fields, which the request schema cannot say. */
  'x-crossFieldRules': string[];
  requestBody: { required: true; content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string; content: Record<string, { schema: Json }> }>;
}

// ---------------------------------------------------------------------------------------------
// Request schemas: Zod → JSON Schema

const PROBE_LIMIT = 1 << 20;

/**
 * The length a `.refine` allows, if it is a length limit: true for one character, false for a
 * million, monotonic in between, and counting characters (code points) as JSON Schema's maxLength
 * does. Anything else (a URL rule, a date rule…) is not a length limit and gives undefined.
 */
function refinedMaxLength(fn: (s: string) => unknown): number | undefined {
  const ok = (s: string) => {
    try {
      return fn(s) === true;
    } catch {
      return false;
    }
  };
  const a = (n: number) => 'a'.repeat(n);
  if (!ok('') || !ok(a(1)) || ok(a(PROBE_LIMIT))) return undefined;
  let lo = 1;
  let hi = PROBE_LIMIT;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ok(a(mid))) lo = mid;
    else hi = mid;
  }
  const astral = '\u{1F600}';
  if (!ok(astral.repeat(lo)) || ok(astral.repeat(lo + 1)) || !ok(a(lo - 1))) return undefined;
  return lo;
}

interface CheckDef {
  check?: string;
  fn?: (s: string) => unknown;
  error?: () => unknown;
}

const defOf = (schema: unknown) => (schema as { _zod: { def: { type: string; checks?: { _zod: { def: CheckDef } }[] } & Json } })._zod.def;

function messageOf(check: CheckDef): string | undefined {
  const e = check.error?.();
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
  return undefined;
}

/** What z.toJSONSchema leaves out of a schema node, put back where it can be said exactly. */
function enrich(ctx: { zodSchema: unknown; jsonSchema: Json }): void {
  const def = defOf(ctx.zodSchema);
  const json = ctx.jsonSchema;
  if (def.type === 'pipe') {
    // The input goes through `out` unchanged (no transform): its constraints (the enum) apply to the input too.
    const out = z.toJSONSchema(def.out as z.ZodType, { io: 'input', unrepresentable: 'any' }) as Json;
    for (const [k, v] of Object.entries(out)) if (k !== '$schema' && !(k in json)) json[k] = v;
  }
  // A field's refinements sit on its string, or on its optional when refined after .optional().
  if (def.type !== 'object' && def.checks?.length) {
    const rules = [...((json['x-rules'] as string[] | undefined) ?? [])];
    for (const check of def.checks ?? []) {
      const c = check._zod.def;
      if (c.check !== 'custom' || !c.fn) continue;
      const max = refinedMaxLength(c.fn);
      if (max !== undefined) json.maxLength = Math.min(max, (json.maxLength as number | undefined) ?? Infinity);
      else {
        const m = messageOf(c);
        if (m && !rules.includes(m)) rules.push(m);
      }
    }
    if (rules.length) json['x-rules'] = rules;
  }
}

/** Field meanings, for people (the rules themselves come from the schemas). */
const FIELD_TEXT: Record<string, string> = {
  mercNo: 'your merchant number',
  signature: 'MD5 or HMAC-SHA256 over the other non-empty fields and your key, hex',
  signType: '`MD5` (default) or `HMAC-SHA256`; the answer is signed the same way',
  mercOrderNo: 'your order number; unique per merchant',
  subject: 'what is bought',
  body: 'a longer description of the order',
  tradeType: '`01` payment; `02` payout (代付) and `03` withdrawal (提现) take the PayoutRequest fields',
  tradeAmt: 'amount in yuan, e.g. `12.50`',
  feeType: 'currency; `CNY` is the default',
  tradeTime: 'when you created the order, `yyyyMMddHHmmss`',
  orderPeriod: 'minutes until the order expires, counted from when the gateway created it',
  notifyUrl: 'where the order’s notifications are POSTed',
  returnUrl: 'where the payer is sent back after paying; empty: nowhere',
  refererUrl: 'the page the payer came from',
  termType: 'the payer’s terminal',
  paywayCode: 'the payment channel',
  sceneCode: 'how the payer pays',
  ip: 'the payer’s IPv4 or IPv6 address',
  attach: 'returned as given',
  deviceInfo: 'WeChat H5 only',
  mchAppName: 'WeChat H5 only: the app or site name',
  mchAppId: 'WeChat H5 only: the bundle id, package name or site domain',
  bankCode: 'online banking: the payer’s bank',
  payType: '`1` debit (default for ebank), `2` credit, `3` either',
  openId: 'the payer’s WeChat openid or Alipay buyer id',
  orderId: 'the gateway’s order number',
  mercRefundNo: 'your refund number; unique per merchant',
  refundAmt: 'amount to refund in yuan; at most what is left to refund',
  refundReason: 'why, shown to the payer where the channel does',
  refundId: 'the gateway’s refund number',
  payeeAccountType: 'who is paid: ALIPAY_USER_ID, ALIPAY_LOGON_ID, ALIPAY_OPEN_ID (alipay), WX_OPENID (wxpay), BANK_CARD (alipay, unionpay)',
  payeeAccount: 'the payee’s id, logon name, openid or card number; answered and notified masked',
  payeeName: 'the payee’s real name, checked by the channel; answered and notified masked',
};

// A payment is a PayRequest with tradeType 01; tradeType 02 and 03 take PayoutRequest. The route
// checks a payment with payRequestSchema (whose tradeType takes all three, so its message lists
// them); the document says which body goes with which tradeType.
const paymentRequestDoc = z.strictObject({ ...payFields, tradeType: z.string().min(1).pipe(z.enum(['01'])) }, unknownFieldsError);

/** Notes per field that come from a cross-field rule, by operation. */
type FieldNotes = Record<string, string>;

function requestJsonSchema(schema: z.ZodType, notes: FieldNotes, texts: FieldNotes = {}): { json: Json; objectRules: string[] } {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', override: enrich }) as Json;
  delete json.$schema;
  const props = json.properties as Record<string, Json>;
  for (const [name, prop] of Object.entries(props)) {
    const parts = [texts[name] ?? FIELD_TEXT[name], notes[name], ...((prop['x-rules'] as string[] | undefined) ?? [])].filter(Boolean);
    if (parts.length) prop.description = parts.join('; ');
  }
  // Object-level refinements (`.refine(…, message)`) say their rule in their message.
  const objectRules = (defOf(schema).checks ?? []).map((c) => messageOf(c._zod.def)).filter((m): m is string => !!m);
  return { json, objectRules };
}

// ---------------------------------------------------------------------------------------------
// Answer fields (what sendEnvelope sends; fields with an empty value are left out)

const notifyStatus = z.enum(['pending', 'delivered', 'failed']).describe('of the latest notification, once there is one');

/** The envelope of every answer. */
export const envelopeSchema = z.object({
  respCode: z.enum(Object.values(RESP) as [RespCode, ...RespCode[]]),
  respDesc: text.describe(`${SUCCESS_DESC} on success; otherwise names the field and the rule, or what went wrong`),
  interfaceCode: text,
  mercNo: text.optional().describe('once the request’s signature verified'),
  signType: signType.optional().describe('the request’s signType (MD5 if it had none); once the request’s signature verified'),
  signature: text.optional().describe('the answer’s signature, computed like the request’s; once the request’s signature verified'),
});

/** POST /api/pay's fields (src/services/create-order.ts). */
export const payAnswerFields = z.object({
  mercOrderNo: text,
  orderId: text.describe('the gateway’s order number'),
  tradeType: text,
  tradeAmt: yuan,
  tradeTime: text,
  feeType: text,
  termType: text,
  codeUrl: text.optional().describe('scan: the QR code’s content'),
  imgUrl: text.optional().describe('scan: a PNG of codeUrl served by the gateway'),
  mwebUrl: text.optional().describe('h5: where to send the payer'),
  resultHtml: text.optional().describe('gateway, ebank, UnionPay h5: a form that submits itself when placed in a page'),
  payInfo: text.optional().describe('app, jspay: what the channel’s SDK or JS bridge takes; a wxpay payout: JSON {"mchId","appId","package"} for wx.requestMerchantTransfer'),
  payeeAccountType: text.optional().describe('a payout: as sent'),
  payeeAccount: text.optional().describe('a payout: masked'),
  payeeName: text.optional().describe('a payout: masked'),
  payStatus,
  expireTime: beijingTime.optional().describe('a payment, and a payout its payee confirms (wxpay): when it expires'),
  cashierUrl: text.optional().describe('a payment: the hosted cashier page for this order'),
});

/** An order as /api/query, /api/close and /api/notify/resend answer it (orderView in query-route.ts). */
export const orderViewFields = z.object({
  mercOrderNo: text,
  orderId: text,
  tradeType: text,
  tradeAmt: yuan,
  feeType: text,
  tradeTime: text,
  termType: text,
  paywayCode: z.enum(PAYWAYS),
  sceneCode: z.enum([...SCENES, PAYOUT_SCENE]),
  payStatus,
  tradeEndTime: beijingTime.optional().describe('when it was paid or failed'),
  bankType: text.optional(),
  expireTime: beijingTime.optional().describe('absent for a payout nobody has to confirm'),
  payeeAccountType: text.optional().describe('a payout: as sent'),
  payeeAccount: text.optional().describe('a payout: masked'),
  payeeName: text.optional().describe('a payout: masked'),
  failCode: text.optional().describe('p0004 (payment or payout): the channel’s code'),
  failReason: text.optional().describe('p0004: the channel’s message'),
  attach: text.optional(),
  refundedAmt: yuan.optional().describe('a paid order: the sum of its successful refunds'),
  feeAmt: yuan.optional().describe('the fee the channel’s bill stated for this order, once reconciliation matched it (absent until then)'),
  latePayment: z.literal('true').optional().describe('a payment that arrived after the order had failed, been closed or expired'),
  notifyStatus: notifyStatus.optional(),
  notifyAttempts: text.optional(),
});

/** A refund as /api/refund and /api/refund/query answer it (refundView in services/refunds.ts). */
export const refundViewFields = z.object({
  mercOrderNo: text,
  orderId: text,
  mercRefundNo: text,
  refundId: text,
  tradeAmt: yuan,
  refundAmt: yuan,
  refundStatus: z.enum(Object.values(REFUND_STATUS) as [string, ...string[]]).describe('r0001 processing, r0000 success, r0004 failed'),
  refundEndTime: beijingTime.optional(),
  refundReason: text.optional(),
  refundedAmt: yuan,
  notifyStatus: notifyStatus.optional().describe('of the refund’s latest notification, if it has a notifyUrl'),
  notifyAttempts: text.optional(),
});

/** POST /api/bill's fields (api/bill-route.ts). */
export const billAnswerFields = z.object({
  billDate: text.describe('the day asked for, yyyyMMdd (Beijing)'),
  count: text.describe('data rows in the bill (orders and refunds)'),
  totalTradeAmt: yuan.describe('the sum of tradeAmt over the p0000 order rows'),
  totalRefundAmt: yuan.describe('the sum of refundAmt over the r0000 refund rows'),
  billSha256: text.describe('lowercase hex SHA-256 of the CSV served at billUrl'),
  billUrl: text.describe('GET: the CSV, for 10 minutes (then, or for any other token, 404)'),
});

export const notifyResendFields = orderViewFields.extend({ webhookId: text.describe('the new notification’s webhook-id') });

// ---------------------------------------------------------------------------------------------
// Response codes (src/errors.ts)

const MEANING: Record<RespCode, string> = {
  '000000': `success (${SUCCESS_DESC})`,
  '100001': 'request invalid: respDesc names the field and the rule',
  '100002': 'the signature does not verify',
  '100003': 'unknown or disabled merchant',
  '100004': 'mercOrderNo (or mercRefundNo) already used with different parameters',
  '100005': 'order or refund not found',
  '100006': 'payway/scene/tradeType combination not supported, or no channel configured; respDesc lists what is',
  '100007': 'the order’s state does not allow this',
  '100008': 'rate limited; Retry-After is set',
  '200001': 'the channel refused; respDesc carries the channel’s code and message',
  '200002': 'the channel did not answer in time; the outcome is found out by querying the channel',
  '999999': 'internal error (never caused by what a client sends)',
};

const ALL_CODES = Object.values(RESP) as RespCode[];
/** What any merchant interface may answer. */
const COMMON: RespCode[] = [RESP.OK, RESP.INVALID, RESP.BAD_SIGNATURE, RESP.MERCHANT_REFUSED, RESP.RATE_LIMITED, RESP.INTERNAL];

/** Statuses Fastify's transport gives 100001 besides 400 (src/api/error-handler.ts). */
const TRANSPORT_STATUSES: Record<number, string> = {
  413: 'the body is larger than BODY_LIMIT_BYTES (respCode 100001)',
  415: 'Content-Type is neither application/json nor application/x-www-form-urlencoded (respCode 100001)',
};

// ---------------------------------------------------------------------------------------------
// Operations

interface OperationSpec {
  path: string;
  interfaceCode: string;
  summary: string;
  description: string;
  requestName: string;
  request: z.ZodType;
  /** Another body the same path takes (the payout of /api/pay), documented as oneOf beside the first. */
  alternative?: { requestName: string; request: z.ZodType; crossFieldRules: string[]; notes: FieldNotes };
  answerName: string;
  answer: z.ZodObject;
  /** Codes this interface can answer besides the common ones. */
  codes: RespCode[];
  /** Codes whose answer carries the answer's fields too (the order or refund exists). */
  withFields: RespCode[];
  crossFieldRules: string[];
  notes: FieldNotes;
  /** What a field means here, where it differs from FIELD_TEXT. */
  texts?: FieldNotes;
}

const WX_H5 = 'required for WeChat H5 (paywayCode wxpay, sceneCode h5)';
const ONE_OF_ORDER_NOTE = 'orderId or mercOrderNo is required';
const ONE_OF_ORDER = 'orderId or mercOrderNo: at least one of them (non-empty); if both are given they must name the same order';

const orderRef = {
  requestName: 'OrderRefRequest',
  request: orderRefSchema,
  crossFieldRules: [ONE_OF_ORDER],
  notes: { orderId: ONE_OF_ORDER_NOTE, mercOrderNo: ONE_OF_ORDER_NOTE },
};

export const OPERATIONS: readonly OperationSpec[] = [
  {
    path: '/api/pay',
    interfaceCode: 'pay',
    summary: 'Unified order',
    description:
      'Creates an order at the channel and answers what the payer does next (codeUrl, mwebUrl, payInfo or resultHtml, by scene). ' +
      'Idempotent per (mercNo, mercOrderNo): the same parameters again answer the original answer with the current payStatus; other parameters answer 100004. ' +
      'On 200002 the order exists and its outcome is found out by querying: never send it again under a new mercOrderNo.',
    requestName: 'PayRequest',
    request: paymentRequestDoc,
    alternative: {
      requestName: 'PayoutRequest',
      request: payoutRequestSchema,
      crossFieldRules: [
        'payouts (tradeType 02, 03; sceneCode transfer) are off until the operator turns them on (100006), and the request must be signed with HMAC-SHA256 (100002)',
        'payeeName is required for payeeAccountType ALIPAY_LOGON_ID and BANK_CARD, and for WX_OPENID from tradeAmt 2000.00',
        'payeeAccount of payeeAccountType BANK_CARD: 12 to 19 digits; bankCode only with BANK_CARD',
        'openId, deviceInfo, mchAppName, mchAppId, payType and quickPayAttach are not used by payouts: 100001 naming the field',
        'the daily and per-payout limits: over either answers 100007 (respDesc: what is left today, or the limit)',
      ],
      notes: {
        payeeName: 'required for ALIPAY_LOGON_ID, BANK_CARD, and WX_OPENID from 2000.00',
        bankCode: 'for BANK_CARD only: the bank',
        openId: 'not used by payouts',
        deviceInfo: 'not used by payouts',
        mchAppName: 'not used by payouts',
        mchAppId: 'not used by payouts',
        payType: 'not used by payouts',
        quickPayAttach: 'not used by payouts',
      },
    },
    answerName: 'PayAnswer',
    answer: payAnswerFields,
    codes: [RESP.DUPLICATE, RESP.UNSUPPORTED, RESP.STATE_CONFLICT, RESP.CHANNEL_REFUSED, RESP.CHANNEL_TIMEOUT],
    withFields: [RESP.OK, RESP.CHANNEL_REFUSED, RESP.CHANNEL_TIMEOUT],
    crossFieldRules: [
      'tradeType 01 (payment): the PayRequest fields; tradeType 02 (payout) and 03 (withdrawal): the PayoutRequest fields',
      'subject or body: at least one of them (non-empty)',
      'WeChat H5 (paywayCode wxpay, sceneCode h5): deviceInfo, mchAppName and mchAppId are required',
      'sceneCode ebank (online banking): bankCode is required',
      "sceneCode jspay: openId is required (the payer's WeChat openid or Alipay buyer id)",
    ],
    notes: {
      subject: 'subject or body is required',
      body: 'subject or body is required',
      deviceInfo: WX_H5,
      mchAppName: WX_H5,
      mchAppId: WX_H5,
      bankCode: 'required for sceneCode ebank',
      openId: 'required for sceneCode jspay',
    },
  },
  {
    path: '/api/query',
    interfaceCode: 'query',
    summary: 'Order query',
    description:
      'One of your orders, by orderId or mercOrderNo. For an open order (p0001, p0002) the gateway first asks the channel, at most once every 5 s per order.',
    ...orderRef,
    answerName: 'OrderAnswer',
    answer: orderViewFields,
    codes: [RESP.NOT_FOUND],
    withFields: [RESP.OK],
  },
  {
    path: '/api/close',
    interfaceCode: 'close',
    summary: 'Close an unpaid order',
    description:
      'Closes the order at the channel, then p0005; closing it again answers the same. A paid, failed or expired order answers 100007 with the order. ' +
      'If the channel does not confirm the close in time: 200002, the order stays open; close it again.',
    ...orderRef,
    answerName: 'OrderAnswer',
    answer: orderViewFields,
    codes: [RESP.NOT_FOUND, RESP.STATE_CONFLICT, RESP.CHANNEL_TIMEOUT],
    withFields: [RESP.OK, RESP.STATE_CONFLICT],
  },
  {
    path: '/api/refund',
    interfaceCode: 'refund',
    summary: 'Refund',
    description:
      'A full or partial refund of a paid order, keyed by mercRefundNo: the same mercRefundNo with the same fields answers the same refund, with other fields 100004. ' +
      'Beyond what is left to refund: 100007. It ends asynchronously (r0001 → r0000 or r0004); query it, or give a notifyUrl.',
    requestName: 'RefundRequest',
    request: refundRequestSchema,
    answerName: 'RefundAnswer',
    answer: refundViewFields,
    codes: [RESP.NOT_FOUND, RESP.DUPLICATE, RESP.STATE_CONFLICT, RESP.CHANNEL_REFUSED, RESP.CHANNEL_TIMEOUT],
    withFields: [RESP.OK, RESP.CHANNEL_REFUSED, RESP.CHANNEL_TIMEOUT],
    crossFieldRules: [ONE_OF_ORDER],
    notes: { orderId: ONE_OF_ORDER_NOTE, mercOrderNo: ONE_OF_ORDER_NOTE },
    texts: { notifyUrl: 'where the refund’s end is announced (optional: without it, query the refund)', mercOrderNo: 'your order number' },
  },
  {
    path: '/api/refund/query',
    interfaceCode: 'refundQuery',
    summary: 'Refund query',
    description: 'One of your refunds, by refundId or mercRefundNo. A processing refund is first asked about at the channel, at most every 5 s.',
    requestName: 'RefundQueryRequest',
    request: refundQuerySchema,
    answerName: 'RefundAnswer',
    answer: refundViewFields,
    codes: [RESP.NOT_FOUND],
    withFields: [RESP.OK],
    crossFieldRules: ['refundId or mercRefundNo: at least one of them (non-empty); if both are given they must name the same refund'],
    notes: { refundId: 'refundId or mercRefundNo is required', mercRefundNo: 'refundId or mercRefundNo is required' },
  },
  {
    path: '/api/bill',
    interfaceCode: 'bill',
    summary: 'Merchant bill of a day',
    description:
      'Your orders and refunds that ended on a Beijing day (a payment on the day the channel says it was paid), as a CSV to reconcile against: ' +
      'UTF-8 without a BOM, RFC 4180 (a field holding a comma, a quote or a line break is quoted), CRLF after every record, a header row, ' +
      `then one row per order (recordType order) and per refund (recordType refund). Columns: ${MERCHANT_BILL_COLUMNS.join(',')}. ` +
      'On a refund row the order’s fields name the refunded order, payStatus is empty and tradeEndTime is when the refund ended; feeAmt is the fee the channel’s bill stated ' +
      '(a refund’s, the fee given back, negative), empty until reconciliation stored it. ' +
      'The answer signs billSha256, the SHA-256 of exactly the bytes billUrl serves; the link is valid 10 minutes, holds no key, and a wrong or expired one is 404. ' +
      'A day with nothing answers count 0, totals 0.00 and a link to the header row alone. A bill too large to hold for download answers 100007.',
    requestName: 'BillRequest',
    request: billRequestSchema,
    answerName: 'BillAnswer',
    answer: billAnswerFields,
    codes: [RESP.STATE_CONFLICT],
    withFields: [RESP.OK],
    crossFieldRules: ['billDate: not after today in Beijing time (the clock decides it, not the schema): 100001 naming billDate'],
    notes: { billDate: 'not in the future (Beijing time); today gives what has ended so far' },
    texts: { billDate: 'the Beijing calendar day, yyyyMMdd' },
  },
  {
    path: '/api/notify/resend',
    interfaceCode: 'notifyResend',
    summary: 'Resend the order’s notification',
    description: 'Queues a fresh notification of the order’s current state (a new webhook-id, the full retry schedule) and answers the order with the new webhookId.',
    ...orderRef,
    answerName: 'NotifyResendAnswer',
    answer: notifyResendFields,
    codes: [RESP.NOT_FOUND],
    withFields: [RESP.OK],
  },
];

// ---------------------------------------------------------------------------------------------
// The document

const SIGNATURE_TEXT = `## Signature

Every request carries \`signature\`, and every answer once that signature verified is signed the same way (with the request's \`signType\`):

1. Take every top-level field except \`signature\` whose value is not empty.
2. Sort the names by byte order (ASCII); join them as \`name=value\` with \`&\`, raw values (not URL-encoded), UTF-8.
3. Append \`&key=<merchant key>\`.
4. \`MD5\` (default): MD5 of that string. \`HMAC-SHA256\`: HMAC-SHA256 of that string keyed with the merchant key. Hex, upper case (either case is accepted).

\`npx dtpay sign --key KEY [--sign-type MD5|HMAC-SHA256]\` signs a JSON object read on stdin.

Test vector: key \`k3y-For-Tests-0123456789abcdefXYZ\`, body \`{"mercNo":"M100000000000001","mercOrderNo":"D20180315125826","subject":"测试商品 A&B=C","body":"","tradeType":"01","tradeAmt":"0.01","tradeTime":"20240618125826","orderPeriod":"30","notifyUrl":"https://shop.example.com/pay/notify","returnUrl":"https://shop.example.com/pay/done","termType":"wap","paywayCode":"wxpay","sceneCode":"scan","ip":"203.0.113.7","signType":"MD5"}\` → MD5 \`53E6F56EFB2874CBBD3C914E7506F214\`.`;

const REQUEST_TEXT = `## Requests

POST, \`application/json\` or \`application/x-www-form-urlencoded\`. Every field is a string; unknown fields are rejected by name; a form field given twice is rejected. No value may hold control characters (U+0000–U+001F, U+007F–U+009F), bidirectional embeddings, overrides or isolates (U+202A–U+202E, U+2066–U+2069) or broken Unicode. A body of more than 64 fields is refused before it is read (100001). Lengths count characters (code points), not bytes. Rules a field's schema cannot state are in its description, and rules across fields in the operation's description (x-crossFieldRules).`;

const RESPONSE_TEXT = `## Answers

JSON: \`respCode\`, \`respDesc\`, \`interfaceCode\`, plus \`mercNo\`, \`signType\` and \`signature\` once the request's signature verified (an answer before that — an unknown merchant, a signature that does not verify, a body refused before it — is not signed), plus the interface's fields (empty ones are left out). A signed respDesc never holds a raw \`&\` or \`=\`: text of the caller's that it names (an unknown field's name, a value) is percent-encoded. The HTTP status follows the respCode. An unknown path under /api/ answers 404 with 100001; an interface asked with another method than POST, 405 with 100001 and \`Allow: POST\`.`;

function respCodeTable(): string {
  const rows = ALL_CODES.map((c) => `| \`${c}\` | ${httpStatusOf(c)} | ${MEANING[c]} |`);
  return ['## Response codes', '', '| respCode | HTTP | meaning |', '|---|---|---|', ...rows].join('\n');
}

function responseSchema(op: OperationSpec, codes: RespCode[]): Json {
  const carriesFields = codes.some((c) => op.withFields.includes(c));
  const success = codes.length === 1 && codes[0] === RESP.OK;
  const envelope = envelopeSchema.extend({
    respCode: z.enum(codes as [RespCode, ...RespCode[]]),
    interfaceCode: z.literal(op.interfaceCode),
  });
  const schema = carriesFields ? envelope.extend(success ? op.answer.shape : op.answer.partial().shape) : envelope;
  const json = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Json;
  delete json.$schema;
  return json;
}

function operation(op: OperationSpec, schemas: Record<string, Json>): OpenApiOperation {
  const { json, objectRules } = requestJsonSchema(op.request, op.notes, op.texts);
  const signature = (json.properties as Record<string, Json>).signature;
  if (signature) signature.description = `${signature.description ?? 'the request signature'}; computed as described under "Signature" in the document's description`;
  schemas[op.requestName] = json;
  schemas[op.answerName] = (() => {
    const a = z.toJSONSchema(op.answer, { io: 'output', unrepresentable: 'any' }) as Json;
    delete a.$schema;
    return a;
  })();
  const crossFieldRules = [...op.crossFieldRules];
  for (const m of objectRules) if (!crossFieldRules.some((r) => r.startsWith(m.replace(/ is required$/, '')))) crossFieldRules.push(m);

  const byStatus = new Map<number, RespCode[]>();
  for (const code of ALL_CODES.filter((c) => COMMON.includes(c) || op.codes.includes(c))) {
    const status = httpStatusOf(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: OpenApiOperation['responses'] = {};
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const withFields = codes.filter((c) => op.withFields.includes(c) && c !== RESP.OK);
    const desc = codes.map((c) => `${c}: ${MEANING[c]}`).join('; ') + (withFields.length ? ` (${withFields.join(', ')}: with the ${op.answerName.replace(/Answer$/, '').toLowerCase()}'s fields)` : '');
    responses[String(status)] = { description: desc, content: { 'application/json': { schema: responseSchema(op, codes) } } };
  }
  for (const [status, desc] of Object.entries(TRANSPORT_STATUSES)) {
    responses[status] = { description: desc, content: { 'application/json': { schema: responseSchema(op, [RESP.INVALID]) } } };
  }

  let ref: Json = { $ref: `#/components/schemas/${op.requestName}` };
  if (op.alternative) {
    const alt = requestJsonSchema(op.alternative.request, op.alternative.notes);
    schemas[op.alternative.requestName] = alt.json;
    crossFieldRules.push(...op.alternative.crossFieldRules);
    ref = { oneOf: [ref, { $ref: `#/components/schemas/${op.alternative.requestName}` }] };
  }
  return {
    operationId: op.interfaceCode,
    summary: op.summary,
    description: `${op.description}\n\nRules across fields:\n${crossFieldRules.map((r) => `- ${r}`).join('\n')}`,
    'x-interfaceCode': op.interfaceCode,
    'x-crossFieldRules': crossFieldRules,
    requestBody: { required: true, content: { 'application/json': { schema: ref }, 'application/x-www-form-urlencoded': { schema: ref } } },
    responses,
  };
}

/** The merchant API as an OpenAPI 3.1 document. */
export function buildOpenApiDocument(opts: { serverUrl?: string } = {}): OpenApiDocument {
  const schemas: Record<string, Json> = {};
  const paths: OpenApiDocument['paths'] = {};
  for (const op of OPERATIONS) paths[op.path] = { post: operation(op, schemas) };
  const notifications = notificationWebhooks();
  Object.assign(schemas, notifications.schemas);
  return {
    openapi: '3.1.0',
    info: {
      title: 'dtpay merchant API',
      version: '1.0',
      description: ['One signed HTTP API for Alipay, WeChat Pay and UnionPay.', REQUEST_TEXT, SIGNATURE_TEXT, RESPONSE_TEXT, WEBHOOKS_TEXT, respCodeTable()].join('\n\n'),
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    paths,
    webhooks: notifications.webhooks,
    components: { schemas },
    'x-respCodes': ALL_CODES.map((respCode) => ({ respCode, httpStatus: httpStatusOf(respCode), meaning: MEANING[respCode] })),
  };
}

/** GET /openapi.json and GET /docs, both built once. */
export function openApiRoutes(app: FastifyInstance, publicBaseUrl?: string): void {
  const doc = buildOpenApiDocument(publicBaseUrl ? { serverUrl: publicBaseUrl } : {});
  const json = JSON.stringify(doc);
  const html = docsPage(doc);
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(json));
  app.get('/docs', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .send(html),
  );
}
