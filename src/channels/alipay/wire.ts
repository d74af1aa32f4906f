import type { AlipayCredentials } from '../credentials.js';
import type { HttpRequest } from '../types.js';
import { escapeHtml } from '../../domain/escape-html.js';
import { formatBeijing } from '../../domain/time.js';
import { YUAN_PATTERN, yuanToFen } from '../../domain/money.js';
import { signRequest } from './sign.js';

// Alipay OpenAPI on the wire: the common parameters, the four ways a signed request leaves
// (server POST, browser GET URL, browser POST form, app order string), and the small parsers
// for what comes back. Pure functions: no I/O, the clock passed in.

export const DEFAULT_GATEWAY_URL = 'https://openapi.alipay.com/gateway.do';

/** `yyyy-MM-dd HH:mm:ss`, Beijing time, as Alipay's `timestamp`, `gmt_payment`… are written. */
export function alipayTimestamp(epochMs: number): string {
  return formatBeijing(epochMs).replace(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/, '$1-$2-$3 $4:$5:$6');
}

/** `yyyy-MM-dd HH:mm:ss` → `yyyyMMddHHmmss`; undefined for anything else. */
export function compactTime(alipayTime: string | undefined): string | undefined {
  const m = alipayTime === undefined ? null : /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(alipayTime);
  return m ? m.slice(1).join('') : undefined;
}

/** A yuan string from Alipay (`"0.01"`, `"12"`, `"3.5"`) as fen; undefined if it is not one. */
export function parseYuan(v: unknown): bigint | undefined {
  return typeof v === 'string' && YUAN_PATTERN.test(v) ? yuanToFen(v) : undefined;
}

export interface CallOptions {
  notifyUrl?: string;
  returnUrl?: string;
}

/** The signed parameter set of one call: common parameters plus `biz_content`. */
export function signedParams(
  method: string,
  biz: Record<string, unknown>,
  credentials: AlipayCredentials,
  nowMs: number,
  opts: CallOptions = {},
): Record<string, string> {
  const params: Record<string, string> = {
    app_id: credentials.appId,
    method,
    format: 'JSON',
    // utf-8 here also makes Alipay send the notifications of this trade in UTF-8.
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: alipayTimestamp(nowMs),
    version: '1.0',
    biz_content: JSON.stringify(biz),
  };
  // 公钥证书 mode names the certificates on every request, browser and app ones included.
  if (credentials.cert) {
    params.app_cert_sn = credentials.cert.appCertSn;
    params.alipay_root_cert_sn = credentials.cert.alipayRootCertSn;
  }
  if (opts.notifyUrl) params.notify_url = opts.notifyUrl;
  if (opts.returnUrl) params.return_url = opts.returnUrl;
  return signRequest(params, credentials.privateKeyPem);
}

/**
 * A server-to-server call as the official SDKs send it: common parameters (and `sign`) in the
 * query string, `biz_content` in the form body.
 */
export function serverRequest(params: Record<string, string>, gatewayUrl: string): HttpRequest {
  const url = new URL(gatewayUrl);
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (k === 'biz_content') body.set(k, v);
    else url.searchParams.set(k, v);
  }
  return {
    method: 'POST',
    url: url.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8', accept: 'application/json' },
    body: body.toString(),
  };
}

const encodeAll = (params: Record<string, string>) =>
  Object.keys(params)
    .sort()
    .map((k) => `${k}=${encodeURIComponent(params[k]!)}`)
    .join('&');

/** wap.pay: the whole signed request as a GET URL the payer's browser opens. */
export function pageUrl(params: Record<string, string>, gatewayUrl: string): string {
  const sep = gatewayUrl.includes('?') ? '&' : '?';
  return `${gatewayUrl}${sep}${encodeAll(params)}`;
}

/** page.pay: an auto-submitting form POSTing the signed request to the gateway. */
export function pageForm(params: Record<string, string>, gatewayUrl: string): string {
  const url = new URL(gatewayUrl);
  url.searchParams.set('charset', 'utf-8');
  const inputs = Object.keys(params)
    .sort()
    .map((k) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(params[k]!)}">`)
    .join('');
  return (
    `<form id="alipaysubmit" name="alipaysubmit" action="${escapeHtml(url.toString())}" method="post">${inputs}` +
    `<input type="submit" value="Pay" style="display:none"></form>` +
    `<script>document.forms['alipaysubmit'].submit();</script>`
  );
}

/** app.pay: the order string the Alipay app SDK takes — `k=v&…`, each value URL-encoded. */
export const orderString = encodeAll;

/**
 * Decodes an `application/x-www-form-urlencoded` body (UTF-8, `+` is a space). Undefined if a
 * name repeats: which of two `total_amount`s was signed is not a question worth answering.
 */
export function parseForm(body: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (Object.hasOwn(out, k)) return undefined;
    out[k] = v;
  }
  return out;
}

/** The JSON member an answer to `method` comes under. */
export const responseKey = (method: string) => `${method.replaceAll('.', '_')}_response`;

/** Where the payer's money came from, as `bankType`: the first funding channel, else ALIPAY. */
export function bankTypeOf(fundBillList: unknown): string {
  let list = fundBillList;
  if (typeof list === 'string') {
    try {
      list = JSON.parse(list);
    } catch {
      return 'ALIPAY';
    }
  }
  if (Array.isArray(list) && list.length > 0) {
    const first = list[0] as Record<string, unknown>;
    // notifications spell it fundChannel, query answers fund_channel
    const ch = first?.fundChannel ?? first?.fund_channel;
    if (typeof ch === 'string' && /^[A-Z_]{1,16}$/.test(ch)) return ch;
  }
  return 'ALIPAY';
}
