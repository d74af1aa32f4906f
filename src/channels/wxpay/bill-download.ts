import type { WxpayCredentials } from '../credentials.js';
import type { BillDownloadResult, ChannelContext, HttpRequest, HttpResponse } from '../types.js';
import { neverConnected } from '../net-errors.js';
import { HttpBodyTooLarge } from '../http-body.js';
import { billWindow, BillError, isBillDate } from '../../reconcile/bill.js';
import { MAX_BILL_BYTES } from '../../reconcile/bill-text.js';
import { readWxTradeBill } from './bill.js';
import { authorizationHeader, newNonce, verifyWechatpaySignature } from './sign.js';
import { WX_DEFAULT_BASE_URL, headerValue } from './wire.js';

// A day's trade bill from WeChat Pay (CONTRACT §5):
//   GET /v3/bill/tradebill?bill_date=…&bill_type=ALL&tar_type=GZIP   signed; its answer verified
//     → {hash_type, hash_value, download_url}
//   GET download_url                                                  signed; answered unsigned
//     → gzip of the bill → readWxTradeBill (inflated, SHA1 checked against hash_value, parsed)
//
//   STATEMENT_CREATING (before about 10:00 for the day before, or a day not over)   not_ready
//   NO_STATEMENT_EXIST (a day without trades)                                       an empty Bill
//   a download that does not inflate or hash (archive, hash)   asked and downloaded again, then failed
//   any other BillError, a refusal, an answer not believed                          failed
//   no connection, a timeout, 429, 5xx                                              unreached

const USER_AGENT = 'dtpay-wxpay/0.1 (+WECHATPAY2-SHA256-RSA2048)';
const ATTEMPTS = 3;
const WHAT = 'wxpay trade bill';

type Step<T> = { ok: true; value: T } | { ok: false; result: BillDownloadResult };
const stop = (result: BillDownloadResult): { ok: false; result: BillDownloadResult } => ({ ok: false, result });

function signedGet(url: URL, c: WxpayCredentials, ctx: ChannelContext, extra: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method: 'GET',
    url: url.toString(),
    headers: {
      accept: 'application/json',
      'user-agent': USER_AGENT,
      // The message names the path and query exactly as sent, with an empty body line.
      authorization: authorizationHeader({
        mchid: c.mchid,
        serialNo: c.serialNo,
        privateKeyPem: c.privateKeyPem,
        method: 'GET',
        pathWithQuery: url.pathname + url.search,
        body: '',
        timestamp: Math.floor(ctx.now() / 1000),
        nonce: newNonce(),
      }),
    },
    ...extra,
  };
}

async function send(ctx: ChannelContext, req: HttpRequest, what: string): Promise<Step<HttpResponse>> {
  if (!ctx.http) return stop({ outcome: 'unreached', reason: 'no HTTP transport for wxpay' });
  try {
    return { ok: true, value: await ctx.http(req) };
  } catch (err) {
    if (err instanceof HttpBodyTooLarge) return stop({ outcome: 'failed', error: `${WHAT}: ${what}: ${err.message}` });
    const how = neverConnected(err) ? 'not reached' : 'no answer';
    return stop({ outcome: 'unreached', reason: `wxpay ${what}: ${how} (${(err as Error)?.message ?? String(err)})` });
  }
}

function json(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

interface Announced {
  hashType: string;
  hashValue: string;
  downloadUrl: string;
}

async function announce(date: string, c: WxpayCredentials, ctx: ChannelContext): Promise<Step<Announced | 'empty'>> {
  const url = new URL(`${(c.baseUrl || WX_DEFAULT_BASE_URL).replace(/\/+$/, '')}/v3/bill/tradebill`);
  url.search = `bill_date=${date}&bill_type=ALL&tar_type=GZIP`;
  const sent = await send(ctx, signedGet(url, c, ctx), 'GET /v3/bill/tradebill');
  if (!sent.ok) return sent;
  const res = sent.value;
  const signed = headerValue(res.headers, 'wechatpay-signature') !== undefined;
  if ((res.status >= 200 && res.status < 300) || signed) {
    const v = verifyWechatpaySignature(res.headers, res.body, c, ctx.now());
    if (!v.ok) return stop({ outcome: 'failed', error: `${WHAT}: the tradebill answer (${res.status}) is not believed: ${v.reason}` });
  }
  const j = json(res.body);
  if (res.status === 200) {
    const hashType = j?.hash_type;
    const hashValue = j?.hash_value;
    const downloadUrl = j?.download_url;
    if (typeof hashType !== 'string' || typeof hashValue !== 'string' || typeof downloadUrl !== 'string' || !/^https?:\/\//.test(downloadUrl)) {
      return stop({ outcome: 'failed', error: `${WHAT}: the tradebill answer lacks hash_type, hash_value or download_url` });
    }
    return { ok: true, value: { hashType, hashValue, downloadUrl } };
  }
  const code = typeof j?.code === 'string' ? j.code : '';
  const message = `${code} ${typeof j?.message === 'string' ? j.message : ''}`.trim() || `HTTP ${res.status}`;
  if (code === 'STATEMENT_CREATING') return stop({ outcome: 'not_ready', reason: `wxpay tradebill: ${message}` });
  // Signed or not: an unsigned "no bill" can only make a day look empty, which the comparison then
  // reports against dtpay's own records (missing_at_channel), never heals.
  if (code === 'NO_STATEMENT_EXIST') return { ok: true, value: 'empty' };
  if (res.status === 429 || res.status >= 500 || !code) return stop({ outcome: 'unreached', reason: `wxpay tradebill: ${message}` });
  return stop({ outcome: 'failed', error: `wxpay tradebill: ${message}` });
}

export async function downloadWxpayBill(date: string, c: WxpayCredentials, ctx: ChannelContext): Promise<BillDownloadResult> {
  if (!isBillDate(date)) return { outcome: 'failed', error: `${WHAT}: ${JSON.stringify(date)} is not a YYYY-MM-DD date` };
  let last: BillError | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const a = await announce(date, c, ctx);
    if (!a.ok) return a.result;
    if (a.value === 'empty') return { outcome: 'bill', bill: { source: 'wxpay', billDate: date, window: billWindow('wxpay', date), lines: [] } };
    const { downloadUrl, hashType, hashValue } = a.value;
    const got = await send(ctx, signedGet(new URL(downloadUrl), c, ctx, { responseType: 'bytes', maxBytes: MAX_BILL_BYTES }), 'bill download');
    if (!got.ok) return got.result;
    const res = got.value;
    if (res.status !== 200 || !res.bytes) {
      const j = res.bytes ? json(Buffer.from(res.bytes).toString('utf8')) : undefined;
      const why = `${typeof j?.code === 'string' ? j.code : ''} ${typeof j?.message === 'string' ? j.message : ''}`.trim();
      const reason = `wxpay bill download: HTTP ${res.status}${why ? ` ${why}` : ''}`;
      if (res.status >= 400 && res.status < 500 && res.status !== 429) return { outcome: 'failed', error: reason };
      return { outcome: 'unreached', reason };
    }
    try {
      return { outcome: 'bill', bill: readWxTradeBill(res.bytes, { billDate: date, gzip: true, hashType, hashValue }) };
    } catch (err) {
      if (!(err instanceof BillError)) throw err;
      last = err;
      if (err.code !== 'archive' && err.code !== 'hash') break;
    }
  }
  return { outcome: 'failed', error: last!.message };
}
