// WeChat Pay API v3 as it travels: paths, the JSON shapes we read and write, and the two time
// formats (RFC 3339 +08:00 on the wire, yyyyMMddHHmmss Beijing inside the gateway).
// Reference: shared/reference/channel-protocols.md §2.

import { formatBeijing } from '../../domain/time.js';

export const WX_DEFAULT_BASE_URL = 'https://api.mch.weixin.qq.com';

export const WX_PATHS = {
  native: '/v3/pay/transactions/native',
  h5: '/v3/pay/transactions/h5',
  app: '/v3/pay/transactions/app',
  jsapi: '/v3/pay/transactions/jsapi',
  query: (outTradeNo: string, mchid: string) =>
    `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(mchid)}`,
  close: (outTradeNo: string) => `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`,
  refund: '/v3/refund/domestic/refunds',
  refundQuery: (outRefundNo: string) => `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`,
} as const;

/**
 * `amount.total` is an int32 on WeChat's side. The gateway keeps fen as BigInt (16 integer digits of
 * yuan), so an order above 21,474,836.47 yuan cannot be expressed to WeChat at all: the driver
 * refuses it locally, as WeChat would (PARAM_ERROR), without a call.
 */
export const WX_MAX_TOTAL_FEN = 2_147_483_647n;

/** WeChat's description is string[1,127]. */
export const WX_DESCRIPTION_MAX = 127;

export interface WxAmountOut {
  total: number;
  currency: 'CNY';
}

/** The body common to Native, H5, APP and JSAPI orders. */
export interface WxOrderBody {
  appid: string;
  mchid: string;
  description: string;
  out_trade_no: string;
  time_expire?: string;
  notify_url: string;
  amount: WxAmountOut;
  payer?: { openid: string };
  scene_info?: {
    payer_client_ip: string;
    h5_info?: { type: 'iOS' | 'Android' | 'Wap'; app_name?: string; app_url?: string; bundle_id?: string; package_name?: string };
  };
}

/** A transaction as query answers and TRANSACTION.SUCCESS notifications carry it. */
export interface WxTransaction {
  appid?: string;
  mchid?: string;
  out_trade_no?: string;
  transaction_id?: string;
  trade_type?: string;
  trade_state?: string;
  trade_state_desc?: string;
  bank_type?: string;
  attach?: string;
  success_time?: string;
  payer?: { openid?: string };
  amount?: { total?: number; payer_total?: number; currency?: string; payer_currency?: string };
}

export interface WxRefundBody {
  out_trade_no: string;
  out_refund_no: string;
  reason?: string;
  notify_url?: string;
  amount: { refund: number; total: number; currency: 'CNY' };
}

export interface WxRefund {
  refund_id?: string;
  out_refund_no?: string;
  transaction_id?: string;
  out_trade_no?: string;
  channel?: string;
  user_received_account?: string;
  success_time?: string;
  create_time?: string;
  /** SUCCESS | CLOSED | PROCESSING | ABNORMAL */
  status?: string;
  amount?: { total?: number; refund?: number; payer_total?: number; payer_refund?: number; currency?: string };
}

/** Every 4xx/5xx answer. */
export interface WxError {
  code: string;
  message: string;
  detail?: unknown;
}

export interface WxResource {
  original_type?: string;
  algorithm?: string;
  ciphertext?: string;
  associated_data?: string;
  nonce?: string;
}

export interface WxNotification {
  id?: string;
  create_time?: string;
  event_type?: string;
  resource_type?: string;
  summary?: string;
  resource?: WxResource;
}

/** 2018-06-08T10:34:56+08:00 — WeChat's RFC 3339, always written in Beijing time. */
export function rfc3339Beijing(epochMs: number): string {
  const c = formatBeijing(epochMs);
  return `${c.slice(0, 4)}-${c.slice(4, 6)}-${c.slice(6, 8)}T${c.slice(8, 10)}:${c.slice(10, 12)}:${c.slice(12, 14)}+08:00`;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** success_time (any offset) → yyyyMMddHHmmss Beijing; undefined when it is not RFC 3339. */
export function compactBeijingFromRfc3339(s: unknown): string | undefined {
  if (typeof s !== 'string' || !RFC3339.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? formatBeijing(ms) : undefined;
}

/** A header by name, case-insensitively; the first one when it came more than once. */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== want) continue;
    return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

/** A non-negative safe integer from the wire, as fen. */
export function fenFromWire(n: unknown): bigint | undefined {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? BigInt(n) : undefined;
}
