import type { UnionpayCredentials } from '../credentials.js';
import type { HttpRequest } from '../types.js';
import { escapeHtml } from '../../domain/escape-html.js';
import { formatBeijing, isCompactDateTime } from '../../domain/time.js';
import { signFields } from './sign.js';

// UnionPay ACP 5.1.0 on the wire (reference §3): the common fields, the two ways a signed
// request leaves (a browser form to frontTransReq.do, a server POST to the others), the parsers
// for what comes back, and the small translations (times, card types). Pure functions, no I/O.

export const DEFAULT_BASE_URL = 'https://gateway.95516.com';

export const PATHS = {
  front: '/gateway/api/frontTransReq.do',
  back: '/gateway/api/backTransReq.do',
  query: '/gateway/api/queryTrans.do',
  app: '/gateway/api/appTransReq.do',
} as const;

export const endpoint = (credentials: UnionpayCredentials, path: string) => `${credentials.baseUrl.replace(/\/+$/, '')}${path}`;

export type Fields = Record<string, string>;

/** What every request carries, ahead of the transaction's own fields. */
export function commonFields(credentials: UnionpayCredentials): Fields {
  return {
    version: '5.1.0',
    encoding: 'UTF-8',
    signMethod: '01',
    certId: credentials.certId,
    merId: credentials.merId,
    accessType: '0',
  };
}

/** Adds `signature`; empty fields are dropped first (they would not be signed, so they are not sent). */
export function signed(fields: Fields, credentials: UnionpayCredentials): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) if (v !== '') out[k] = v;
  out.signature = signFields(out, credentials.signKeyPem);
  return out;
}

export function serverRequest(url: string, fields: Fields): HttpRequest {
  return {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', accept: '*/*' },
    body: new URLSearchParams(fields).toString(),
  };
}

/**
 * The auto-submitting form of a front transaction, one hidden input per signed field, as the
 * SDKs' createAutoFormHtml writes it. Every name and value is escaped: subject-like values come
 * from merchants and must not be able to close the attribute.
 */
export function autoSubmitForm(action: string, fields: Fields): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return (
    `<form id="pay_form" name="pay_form" action="${escapeHtml(action)}" method="post" accept-charset="UTF-8">${inputs}` +
    `<input type="submit" value="Pay" style="display:none"></form>` +
    `<script>document.forms['pay_form'].submit();</script>`
  );
}

/**
 * A synchronous answer: `k=v&k=v` with values NOT URL-encoded, where a value in `{…}` or `[…]`
 * may itself hold `&` and `=` (reserved, riskRateInfo…). Brace-aware, as the SDKs'
 * convertResultStringToMap. Undefined for anything that is not such a string, or names a field twice.
 */
export function parseAnswer(body: string): Fields | undefined {
  const out: Fields = {};
  let i = 0;
  // Nothing is trimmed: a last value may end in the certificate's line break, and it is signed.
  const text = body.replace(/^\uFEFF/, '');
  if (!text) return undefined;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq <= i) return undefined;
    const key = text.slice(i, eq);
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(key) || Object.hasOwn(out, key)) return undefined;
    let j = eq + 1;
    let depth = 0;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '{' || c === '[') depth++;
      else if ((c === '}' || c === ']') && depth > 0) depth--;
      else if (c === '&' && depth === 0) break;
    }
    out[key] = text.slice(eq + 1, j);
    i = j + 1;
  }
  return out;
}

/** A back notification: an ordinary urlencoded form. Undefined if a field comes twice. */
export function parseNotification(rawBody: Buffer): Fields | undefined {
  const out: Fields = {};
  for (const [k, v] of new URLSearchParams(rawBody.toString('utf8'))) {
    if (Object.hasOwn(out, k)) return undefined;
    out[k] = v;
  }
  return out;
}

/**
 * `txnTime` of a platform id (an order or refund number): its first 14 digits are the Beijing
 * time it was made. A query must name the original txnTime, and TradeRef/RefundRef carry only the
 * id, so the driver derives txnTime from the id both when it creates and when it queries.
 */
export function txnTimeOf(id: string): string | undefined {
  return /^\d{22}$/.test(id) && isCompactDateTime(id.slice(0, 14)) ? id.slice(0, 14) : undefined;
}

export const beijing = formatBeijing;

/** ACP orderId: 8–32 letters and digits. */
export const isAcpOrderId = (s: string) => /^[A-Za-z0-9]{8,32}$/.test(s);

/**
 * When the payment happened, yyyyMMddHHmmss Beijing: `traceTime` (MMddHHmmss, the system trace
 * time of the payment itself) with its year taken from `txnTime` — the next year if the payment
 * falls in a month before the order's (paid over New Year); else `txnTime` (the order's time).
 */
export function paidAtOf(f: Fields): string | undefined {
  const txnTime = f.txnTime && isCompactDateTime(f.txnTime) ? f.txnTime : undefined;
  if (txnTime && f.traceTime && /^\d{10}$/.test(f.traceTime)) {
    let year = Number(txnTime.slice(0, 4));
    if (f.traceTime.slice(0, 4) < txnTime.slice(4, 8)) year += 1;
    const at = `${year}${f.traceTime}`;
    if (isCompactDateTime(at)) return at;
  }
  return txnTime;
}

// payCardType (5.1.0): 01 debit, 02 credit, 03 quasi-credit, 04 debit/credit in one, 05/06 prepaid.
const CARD_TYPES: Record<string, string> = { '01': 'UNIONPAY_DEBIT', '02': 'UNIONPAY_CREDIT', '03': 'UNIONPAY_CREDIT', '04': 'UNIONPAY_DEBIT', '05': 'UNIONPAY_PREPAID', '06': 'UNIONPAY_PREPAID' };

/** bankType for the merchant (≤ 16 characters): the card type UnionPay reports, else UNIONPAY. */
export const bankTypeOf = (f: Fields): string => CARD_TYPES[f.payCardType ?? ''] ?? 'UNIONPAY';

/**
 * The seed spec's ebank payType (1 debit, 2 credit, 3 either) as ACP's payCardType, which
 * restricts the cards the payer may use; 3 (or nothing) sends no restriction. Spec default is 1.
 */
export function payCardTypeOf(payType: string | undefined): string {
  switch (payType ?? '1') {
    case '1':
      return '01';
    case '2':
      return '02';
    default:
      return '';
  }
}

/** Integer fen as ACP writes txnAmt: digits, no leading zeros, at most 12. */
export function fenOf(v: string | undefined): bigint | undefined {
  return v !== undefined && /^(0|[1-9][0-9]{0,11})$/.test(v) ? BigInt(v) : undefined;
}

export { neverConnected } from '../net-errors.js';
