// The WeChat Pay API v3 driver: Native (scan), H5, APP and JSAPI orders, query, close, refund and
// refund query, and the TRANSACTION.SUCCESS notification. Thin, as every driver: one object in, one
// out; HTTP and the clock come from the ChannelContext, so it never imports undici.
//
// Every answer is believed only after its Wechatpay-Signature verifies (sign.ts); how the rest
// sorts into the three error classes is in `call` below.

import {
  CallbackIgnored,
  CallbackRejected,
  type Ack,
  type CallbackOutcome,
  type ChannelContext,
  type ChannelDriver,
  type CloseResult,
  type CreateResult,
  type PayAction,
  type PaymentInput,
  type QueryResult,
  type RawCallback,
  type RefundQueryResult,
  type RefundResult,
  type Scene,
} from '../types.js';
import { neverConnected } from '../net-errors.js';
import type { WxpayCredentials } from '../credentials.js';
import { decryptResource } from './crypto.js';
import { parseTransferNotification, wxpayPayouts } from './transfer.js';
import { WX_TRANSFER_EVENT } from './transfer-wire.js';
import type { PayoutCallbackOutcome } from '../payout-types.js';
import { downloadWxpayBill } from './bill-download.js';
import { authorizationHeader, joinLines, newNonce, rsaSign, verifyWechatpaySignature } from './sign.js';
import {
  WX_DEFAULT_BASE_URL,
  WX_DESCRIPTION_MAX,
  WX_MAX_TOTAL_FEN,
  WX_PATHS,
  compactBeijingFromRfc3339,
  fenFromWire,
  headerValue,
  rfc3339Beijing,
  type WxNotification,
  type WxOrderBody,
  type WxRefund,
  type WxRefundBody,
  type WxTransaction,
} from './wire.js';

const USER_AGENT = 'dtpay-wxpay/0.1 (+WECHATPAY2-SHA256-RSA2048)';

/** One exchange with WeChat, already sorted. `error` is a 4xx with WeChat's {code, message}. */
type Answer =
  | { kind: 'ok'; status: number; json: Record<string, unknown> | undefined }
  | { kind: 'error'; status: number; code: string; message: string }
  | { kind: 'unreached'; reason: string }
  | { kind: 'unknown'; reason: string };

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

const asObject = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * Sends one signed request and sorts the answer:
 * - 2xx: believed only if Wechatpay-Signature verifies within the 300 s window, else `unknown`
 *   (WeChat may have acted; we cannot tell what it said);
 * - 4xx with {code, message}: WeChat said no. If the answer is signed the signature must verify
 *   (else `unknown`); an unsigned 4xx is accepted, as the official SDKs do (gateway-level errors
 *   come unsigned). 429 is the exception: WeChat did not process the request, so it is `unreached`
 *   (safe to send again) rather than a final refusal;
 * - 5xx, other statuses, timeouts, resets: `unknown` — resolve by querying, never by resending blindly;
 * - no connection at all: `unreached`.
 */
async function call(
  method: 'GET' | 'POST',
  path: string,
  payload: object | undefined,
  c: WxpayCredentials,
  ctx: ChannelContext,
  extraHeaders: Record<string, string> = {},
): Promise<Answer> {
  if (!ctx.http) return { kind: 'unreached', reason: 'no HTTP transport for wxpay' };
  if (ctx.signal?.aborted) return { kind: 'unreached', reason: 'aborted before sending' };
  const url = new URL((c.baseUrl || WX_DEFAULT_BASE_URL).replace(/\/+$/, '') + path);
  const body = payload === undefined ? '' : JSON.stringify(payload);
  const headers: Record<string, string> = {
    ...extraHeaders,
    accept: 'application/json',
    'user-agent': USER_AGENT,
    authorization: authorizationHeader({
      mchid: c.mchid,
      serialNo: c.serialNo,
      privateKeyPem: c.privateKeyPem,
      method,
      pathWithQuery: url.pathname + url.search,
      body,
      timestamp: Math.floor(ctx.now() / 1000),
      nonce: newNonce(),
    }),
  };
  if (method === 'POST') headers['content-type'] = 'application/json';

  let res;
  try {
    res = await ctx.http({ method, url: url.toString(), headers, ...(method === 'POST' ? { body } : {}) });
  } catch (err) {
    const codes = errorCodes(err);
    const what = `${method} ${url.pathname}: ${codes[0] ?? (err as Error)?.message ?? 'failed'}`;
    return neverConnected(err) ? { kind: 'unreached', reason: `wxpay ${what}` } : { kind: 'unknown', reason: `wxpay ${what}` };
  }

  const signed = headerValue(res.headers, 'wechatpay-signature') !== undefined;
  const verdict = () => verifyWechatpaySignature(res.headers, res.body, c, ctx.now());
  if (res.status >= 200 && res.status < 300) {
    const v = verdict();
    if (!v.ok) return { kind: 'unknown', reason: `wxpay ${url.pathname} answered ${res.status}, not believed: ${v.reason}` };
    if (res.body === '') return { kind: 'ok', status: res.status, json: undefined };
    const json = parseJson(res.body);
    return json ? { kind: 'ok', status: res.status, json } : { kind: 'unknown', reason: `wxpay ${url.pathname} answered ${res.status} without a JSON object` };
  }
  if (res.status >= 400 && res.status < 500) {
    if (signed) {
      const v = verdict();
      if (!v.ok) return { kind: 'unknown', reason: `wxpay ${url.pathname} answered ${res.status}, not believed: ${v.reason}` };
    }
    const e = parseJson(res.body);
    if (typeof e?.code !== 'string') return { kind: 'unknown', reason: `wxpay ${url.pathname} answered ${res.status} without an error code` };
    const message = typeof e.message === 'string' ? e.message : '';
    if (res.status === 429) return { kind: 'unreached', reason: `wxpay ${url.pathname}: ${e.code} ${message}`.trim() };
    return { kind: 'error', status: res.status, code: e.code, message };
  }
  const e = parseJson(res.body);
  const code = typeof e?.code === 'string' ? ` ${e.code}` : '';
  return { kind: 'unknown', reason: `wxpay ${url.pathname} answered ${res.status}${code}` };
}

/** Truncates by code points, so a character is never split. */
const clip = (s: string, max: number) => [...s].slice(0, max).join('');

// Which v3 API serves each cell of the scene matrix (CONTRACT §2.3, matrix.ts).
const CELL_PATH: Partial<Record<Scene, string>> = { scan: WX_PATHS.native, h5: WX_PATHS.h5, app: WX_PATHS.app, jspay: WX_PATHS.jsapi };

/** The merchant's deviceInfo (seed §4.1.2: IOS_SDK / AND_SDK / WAP_SDK) → v3 h5_info. */
function h5Info(input: PaymentInput): NonNullable<WxOrderBody['scene_info']>['h5_info'] {
  const app_name = input.mchAppName || undefined;
  const id = input.mchAppId || undefined;
  switch ((input.deviceInfo ?? '').toUpperCase()) {
    case 'IOS_SDK':
      return { type: 'iOS', app_name, bundle_id: id };
    case 'AND_SDK':
      return { type: 'Android', app_name, package_name: id };
    default:
      return { type: 'Wap', app_name, app_url: id };
  }
}

function orderBody(input: PaymentInput, c: WxpayCredentials): WxOrderBody {
  const body: WxOrderBody = {
    appid: c.appid,
    mchid: c.mchid,
    description: clip(input.subject || input.body || input.orderId, WX_DESCRIPTION_MAX),
    out_trade_no: input.orderId,
    time_expire: rfc3339Beijing(input.expireAt),
    notify_url: input.callbackUrl,
    amount: { total: Number(input.amountFen), currency: 'CNY' },
  };
  if (input.scene === 'jspay') body.payer = { openid: input.openId ?? '' };
  if (input.scene === 'h5') body.scene_info = { payer_client_ip: input.ip, h5_info: h5Info(input) };
  return body;
}

/** What the payer's client gets for APP and JSAPI: signed with the merchant key, as WeChat specifies. */
function clientParams(scene: Scene, prepayId: string, c: WxpayCredentials, nowMs: number): string {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = newNonce();
  if (scene === 'app') {
    const sign = rsaSign(joinLines(c.appid, timestamp, nonce, prepayId), c.privateKeyPem);
    return JSON.stringify({ appid: c.appid, partnerid: c.mchid, prepayid: prepayId, package: 'Sign=WXPay', noncestr: nonce, timestamp, sign });
  }
  const pkg = `prepay_id=${prepayId}`;
  const paySign = rsaSign(joinLines(c.appid, timestamp, nonce, pkg), c.privateKeyPem);
  return JSON.stringify({ appId: c.appid, timeStamp: timestamp, nonceStr: nonce, package: pkg, signType: 'RSA', paySign });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A paid trade as the gateway records it. */
function paidFrom(t: WxTransaction): Extract<QueryResult, { outcome: 'paid' }> | undefined {
  const amountFen = fenFromWire(t.amount?.total);
  if (amountFen === undefined) return undefined;
  return {
    outcome: 'paid',
    amountFen,
    channelTradeNo: str(t.transaction_id),
    paidAt: compactBeijingFromRfc3339(t.success_time),
    bankType: str(t.bank_type),
  };
}

function pass(a: { kind: 'unreached' | 'unknown'; reason: string }) {
  return { outcome: a.kind, reason: a.reason } as const;
}

async function query(orderId: string, c: WxpayCredentials, ctx: ChannelContext): Promise<QueryResult> {
  const a = await call('GET', WX_PATHS.query(orderId, c.mchid), undefined, c, ctx);
  if (a.kind === 'unreached' || a.kind === 'unknown') return pass(a);
  if (a.kind === 'error') {
    if (a.status === 404 && a.code === 'ORDER_NOT_EXIST') return { outcome: 'not_found' };
    return { outcome: 'unknown', reason: `wxpay query: ${a.code} ${a.message}` };
  }
  const t = (a.json ?? {}) as WxTransaction;
  // An answer about another trade (or another merchant) is no answer about this one.
  if (t.out_trade_no !== orderId || (t.mchid !== undefined && t.mchid !== c.mchid)) {
    return { outcome: 'unknown', reason: 'wxpay query answered about a different trade' };
  }
  switch (t.trade_state) {
    case 'SUCCESS':
    case 'REFUND': // paid, then (partly) refunded: the payment itself is real
      return paidFrom(t) ?? { outcome: 'unknown', reason: 'wxpay query: paid trade without amount.total' };
    case 'NOTPAY':
    case 'USERPAYING':
      return { outcome: 'open' };
    case 'CLOSED':
    case 'REVOKED':
      return { outcome: 'closed' };
    case 'PAYERROR':
      return { outcome: 'failed' };
    default:
      return { outcome: 'unknown', reason: `wxpay query: trade_state ${String(t.trade_state)}` };
  }
}

function refundState(r: WxRefund): RefundQueryResult {
  switch (r.status) {
    case 'SUCCESS':
      return { outcome: 'succeeded', channelRefundNo: str(r.refund_id), refundedAt: compactBeijingFromRfc3339(r.success_time) };
    case 'PROCESSING':
      return { outcome: 'processing' };
    // ABNORMAL: the money could not go back (the payer's card is gone…); it takes the merchant's
    // hand in WeChat's console. CLOSED: WeChat gave up. Neither will end by itself.
    case 'ABNORMAL':
      return { outcome: 'failed', code: 'ABNORMAL', message: 'refund abnormal: needs handling in the WeChat Pay merchant platform' };
    case 'CLOSED':
      return { outcome: 'failed', code: 'CLOSED', message: 'refund closed by WeChat Pay' };
    default:
      return { outcome: 'unknown', reason: `wxpay refund status ${String(r.status)}` };
  }
}

/** Throws CallbackRejected for anything that is not a verified, decryptable payment or transfer notification of this merchant. */
export function parseWxpayCallback(raw: RawCallback, c: WxpayCredentials, nowMs: number = Date.now()): CallbackOutcome | PayoutCallbackOutcome {
  const v = verifyWechatpaySignature(raw.headers, raw.rawBody, c, nowMs);
  if (!v.ok) throw new CallbackRejected(`wxpay callback: ${v.reason}`);
  const n = parseJson(raw.rawBody.toString('utf8')) as WxNotification | undefined;
  if (!n || n.resource_type !== 'encrypt-resource' || !asObject(n.resource)) throw new CallbackRejected('wxpay callback: not an encrypted notification');
  if (n.event_type === WX_TRANSFER_EVENT) return parseTransferNotification(n, c);
  // Refund results are resolved by queryRefund; only payment and transfer notifications come through here.
  if (n.event_type !== 'TRANSACTION.SUCCESS') throw new CallbackIgnored(`wxpay callback: event ${String(n.event_type)} is not handled`);
  let t: WxTransaction | undefined;
  try {
    t = parseJson(decryptResource(n.resource!, c.apiv3Key)) as WxTransaction | undefined;
  } catch (err) {
    throw new CallbackRejected(`wxpay callback: ${(err as Error).message}`);
  }
  if (!t) throw new CallbackRejected('wxpay callback: resource is not a JSON object');
  if (t.mchid !== c.mchid || t.appid !== c.appid) throw new CallbackRejected('wxpay callback: mchid/appid are not this merchant’s');
  const orderId = str(t.out_trade_no);
  if (!orderId) throw new CallbackRejected('wxpay callback: no out_trade_no');
  const amountFen = fenFromWire(t.amount?.total);
  if (amountFen === undefined) throw new CallbackRejected('wxpay callback: no integer amount.total');
  if (t.trade_state !== 'SUCCESS' && t.trade_state !== 'PAYERROR') throw new CallbackRejected(`wxpay callback: trade_state ${String(t.trade_state)}`);
  // The amount is returned as WeChat wrote it: comparing it with the order is the gateway's job.
  return {
    orderId,
    result: t.trade_state === 'SUCCESS' ? 'paid' : 'failed',
    amountFen,
    channelTradeNo: str(t.transaction_id),
    paidAt: compactBeijingFromRfc3339(t.success_time),
    bankType: str(t.bank_type),
  };
}

const inRange = (fen: bigint) => fen >= 1n && fen <= WX_MAX_TOTAL_FEN;

export const wxpayDriver: ChannelDriver<WxpayCredentials> = {
  name: 'wxpay',
  ...wxpayPayouts(call),

  async createPayment(input, c, ctx): Promise<CreateResult> {
    const path = CELL_PATH[input.scene];
    if (!path) return { outcome: 'refused', code: 'UNSUPPORTED_SCENE', message: `wxpay does not serve ${input.scene}` };
    // Decided locally: WeChat's amount.total is int32 fen, so WeChat could only answer PARAM_ERROR.
    if (!inRange(input.amountFen)) {
      return { outcome: 'refused', code: 'PARAM_ERROR', message: `amount must be 1..${WX_MAX_TOTAL_FEN} fen for WeChat Pay` };
    }
    if (input.scene === 'jspay' && !input.openId) return { outcome: 'refused', code: 'PARAM_ERROR', message: 'JSAPI needs the payer openid' };

    const a = await call('POST', path, orderBody(input, c), c, ctx);
    if (a.kind === 'unreached' || a.kind === 'unknown') return pass(a);
    if (a.kind === 'error') return { outcome: 'refused', code: a.code, message: a.message, raw: { code: a.code, message: a.message } };
    const j = a.json ?? {};
    let action: PayAction | undefined;
    if (input.scene === 'scan' && str(j.code_url)) action = { kind: 'qrCode', content: j.code_url as string };
    else if (input.scene === 'h5' && str(j.h5_url)) action = { kind: 'redirect', url: j.h5_url as string };
    else if ((input.scene === 'app' || input.scene === 'jspay') && str(j.prepay_id)) {
      action = { kind: 'sdkParams', payInfo: clientParams(input.scene, j.prepay_id as string, c, ctx.now()) };
    }
    // A 200 without the field the payer needs: WeChat may hold an order we cannot show; ask later.
    if (!action) return { outcome: 'unknown', reason: `wxpay ${input.scene} answer lacks its pay field` };
    return { outcome: 'accepted', action, raw: j };
  },

  queryPayment: (ref, c, ctx) => query(ref.orderId, c, ctx),

  async closePayment(ref, c, ctx): Promise<CloseResult> {
    const a = await call('POST', WX_PATHS.close(ref.orderId), { mchid: c.mchid }, c, ctx);
    if (a.kind === 'unreached' || a.kind === 'unknown') return pass(a);
    if (a.kind === 'ok') return { outcome: 'closed' };
    // Too late: the payer paid first. The gateway wants the payment's facts, so ask for them.
    if (a.code === 'ORDERPAID') {
      const q = await query(ref.orderId, c, ctx);
      if (q.outcome === 'paid' || q.outcome === 'unreached' || q.outcome === 'unknown') return q;
      return { outcome: 'unknown', reason: `wxpay close said ORDERPAID, query says ${q.outcome}` };
    }
    // No trade at WeChat (the create never got there): nothing can be paid, which is what close means.
    if (a.code === 'ORDER_NOT_EXIST') return { outcome: 'closed' };
    return { outcome: 'unknown', reason: `wxpay close: ${a.code} ${a.message}` };
  },

  async refund(input, c, ctx): Promise<RefundResult> {
    if (!inRange(input.refundFen) || !inRange(input.totalFen)) {
      return { outcome: 'refused', code: 'PARAM_ERROR', message: `amounts must be 1..${WX_MAX_TOTAL_FEN} fen for WeChat Pay` };
    }
    // notify_url is left out on purpose: CallbackOutcome cannot carry a refund yet, so refunds end
    // through queryRefund. (Send input.callbackUrl here once the contract has refund callbacks.)
    const body: WxRefundBody = {
      out_trade_no: input.orderId,
      out_refund_no: input.refundId,
      ...(input.reason ? { reason: clip(input.reason, 80) } : {}),
      amount: { refund: Number(input.refundFen), total: Number(input.totalFen), currency: 'CNY' },
    };
    const a = await call('POST', WX_PATHS.refund, body, c, ctx);
    if (a.kind === 'unreached' || a.kind === 'unknown') return pass(a);
    if (a.kind === 'error') return { outcome: 'refused', code: a.code, message: a.message };
    const r = (a.json ?? {}) as WxRefund;
    if (r.out_refund_no !== undefined && r.out_refund_no !== input.refundId) return { outcome: 'unknown', reason: 'wxpay refund answered about a different refund' };
    switch (r.status) {
      case 'SUCCESS':
        return { outcome: 'succeeded', channelRefundNo: str(r.refund_id), refundedAt: compactBeijingFromRfc3339(r.success_time) };
      case 'PROCESSING':
      case 'ABNORMAL': // it exists at WeChat and needs a hand; queryRefund reports it as failed
        return { outcome: 'accepted', channelRefundNo: str(r.refund_id) };
      case 'CLOSED':
        return { outcome: 'refused', code: 'CLOSED', message: 'refund closed by WeChat Pay' };
      default:
        return { outcome: 'unknown', reason: `wxpay refund status ${String(r.status)}` };
    }
  },

  async queryRefund(ref, c, ctx): Promise<RefundQueryResult> {
    const a = await call('GET', WX_PATHS.refundQuery(ref.refundId), undefined, c, ctx);
    if (a.kind === 'unreached' || a.kind === 'unknown') return pass(a);
    if (a.kind === 'error') {
      if (a.status === 404) return { outcome: 'not_found' };
      return { outcome: 'unknown', reason: `wxpay refund query: ${a.code} ${a.message}` };
    }
    const r = (a.json ?? {}) as WxRefund;
    if (r.out_refund_no !== ref.refundId) return { outcome: 'unknown', reason: 'wxpay refund query answered about a different refund' };
    return refundState(r);
  },

  // parseCallback has no context, so the 300 s window is measured against Date.now() here;
  // parseWxpayCallback takes the clock explicitly for tests and for a gateway that passes one.
  parseCallback: (raw, c) => parseWxpayCallback(raw, c),

  downloadTradeBill: downloadWxpayBill,

  // Current v3 docs: success is 200 or 204 with no body; failure is 4xx/5xx with {code:"FAIL", message}.
  acknowledge(accepted: boolean): Ack {
    return accepted
      ? { status: 200, contentType: 'text/plain; charset=utf-8', body: '' }
      : { status: 400, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ code: 'FAIL', message: 'notification rejected' }) };
  },
};
