// The contract between the gateway and a channel driver. A driver is thin: it never touches the
// database; it gets one object in and returns one object out. HTTP and the clock come in through
// the context, so drivers can be exercised offline.

import type { Bill } from '../reconcile/bill.js';
import type { PayeeAccountType, PayoutCallbackOutcome, PayoutCancelResult, PayoutInput, PayoutQueryResult, PayoutRef, PayoutResult } from './payout-types.js';

export const PAYWAYS = ['alipay', 'wxpay', 'unionpay'] as const;
export type Payway = (typeof PAYWAYS)[number];
export const SCENES = ['scan', 'h5', 'app', 'jspay', 'gateway', 'ebank'] as const;
export type Scene = (typeof SCENES)[number];

export interface PaymentInput {
  orderId: string;
  payway: Payway;
  scene: Scene;
  amountFen: bigint;
  subject: string;
  body: string;
  ip: string;
  termType: string;
  createdAt: number;
  expireAt: number;
  /** Where the channel should send its asynchronous result. */
  callbackUrl: string;
  /** Where the payer's browser goes after paying, if the merchant gave one. */
  returnUrl?: string;
  /** The order's hosted cashier page (with its token), for channels that need somewhere to send the payer back to. */
  cashierUrl: string;
  openId?: string;
  deviceInfo?: string;
  mchAppName?: string;
  mchAppId?: string;
  bankCode?: string;
  payType?: string;
  attach?: string;
}

/** What the payer does next. */
export type PayAction =
  | { kind: 'qrCode'; content: string }
  | { kind: 'redirect'; url: string }
  | { kind: 'form'; html: string }
  | { kind: 'sdkParams'; payInfo: string };

/** Errors sort three ways: the channel said no, the call never reached it, or nobody knows. */
export type CreateResult =
  | { outcome: 'accepted'; action: PayAction; channelTradeNo?: string; raw?: unknown }
  | { outcome: 'refused'; code: string; message: string; raw?: unknown }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

/** One HTTP exchange, as a driver makes it; live drivers get undici behind this, the sandbox the gateway itself. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** `bytes`: the answer is a file (a bill), wanted as the bytes that came, in HttpResponse.bytes. */
  responseType?: 'bytes';
  /** An answer longer than this is refused (the transport throws HttpBodyTooLarge) rather than read on. */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** the body as UTF-8 text; empty when the request asked for `bytes` */
  body: string;
  bytes?: Uint8Array;
}

export interface ChannelContext {
  now(): number;
  publicBaseUrl: string;
  signal?: AbortSignal;
  http?: (req: HttpRequest) => Promise<HttpResponse>;
}

/** The order as a query or close names it to the channel. */
export interface TradeRef {
  orderId: string;
  channelTradeNo?: string;
  amountFen: bigint;
}

/** What the channel says about a trade. `open`: it exists and nobody has paid yet. */
export type QueryResult =
  | { outcome: 'paid'; amountFen: bigint; channelTradeNo?: string; paidAt?: string; bankType?: string }
  | { outcome: 'failed' }
  | { outcome: 'open' }
  | { outcome: 'closed' }
  | { outcome: 'not_found' }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

/** A close either worked, or came too late because the payer had paid, or did not get through. */
export type CloseResult =
  | { outcome: 'closed' }
  | { outcome: 'paid'; amountFen: bigint; channelTradeNo?: string; paidAt?: string; bankType?: string }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

export interface RawCallback {
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

/** A verified channel callback, normalized. */
export interface CallbackOutcome {
  orderId: string;
  result: 'paid' | 'failed';
  amountFen: bigint;
  channelTradeNo?: string;
  /** yyyyMMddHHmmss, Beijing time. */
  paidAt?: string;
  bankType?: string;
}

export interface Ack {
  status: number;
  contentType: string;
  body: string;
}

/** A refund as the gateway asks the channel for it. `refundId` is the channel's idempotency key. */
export interface RefundInput {
  orderId: string;
  channelTradeNo?: string;
  refundId: string;
  /** the order's whole amount */
  totalFen: bigint;
  /** this refund's amount */
  refundFen: bigint;
  reason?: string;
  /** where the channel should report the refund's end, for channels that do */
  callbackUrl: string;
}

export interface RefundRef {
  orderId: string;
  channelTradeNo?: string;
  refundId: string;
}

/**
 * `accepted`: the channel took it and will end it later; `succeeded`: already done; `refused`:
 * the channel said no (final); `unreached`: never got there (safe to retry); `unknown`: ask later.
 */
export type RefundResult =
  | { outcome: 'accepted'; channelRefundNo?: string }
  | { outcome: 'succeeded'; channelRefundNo?: string; refundedAt?: string }
  | { outcome: 'refused'; code: string; message: string }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

export type RefundQueryResult =
  | { outcome: 'succeeded'; channelRefundNo?: string; refundedAt?: string }
  | { outcome: 'processing' }
  | { outcome: 'failed'; code?: string; message?: string }
  | { outcome: 'not_found' }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

/**
 * A day's trade bill (CONTRACT §5). `not_ready`: the channel has none yet (ask again later);
 * `failed`: the channel refused, or the file could not be read (BillError's message).
 */
export type BillDownloadResult =
  | { outcome: 'bill'; bill: Bill }
  | { outcome: 'not_ready'; reason: string }
  | { outcome: 'failed'; error: string }
  | { outcome: 'unreached'; reason: string };

export interface ChannelDriver<Credentials = unknown> {
  /** The key callbacks arrive under: /channel/{name}/notify. */
  readonly name: string;
  createPayment(input: PaymentInput, credentials: Credentials, ctx: ChannelContext): Promise<CreateResult>;
  /** Verifies the channel's signature on the raw bytes first; throws CallbackRejected if it fails. */
  /** Asks the channel where a trade stands (reconciliation, 补单). */
  queryPayment(ref: TradeRef, credentials: Credentials, ctx: ChannelContext): Promise<QueryResult>;
  /** Closes an unpaid trade so that it can no longer be paid. */
  closePayment(ref: TradeRef, credentials: Credentials, ctx: ChannelContext): Promise<CloseResult>;
  refund(input: RefundInput, credentials: Credentials, ctx: ChannelContext): Promise<RefundResult>;
  queryRefund(ref: RefundRef, credentials: Credentials, ctx: ChannelContext): Promise<RefundQueryResult>;
  /** A payment's result, or (for drivers that pay out) a payout's; payment outcomes carry no `kind`. */
  parseCallback(raw: RawCallback, credentials: Credentials): CallbackOutcome | PayoutCallbackOutcome;
  acknowledge(accepted: boolean): Ack;

  /** Payouts (CONTRACT §4), for drivers that make them: the payee account types this channel takes. */
  readonly payeeAccountTypes?: readonly PayeeAccountType[];
  /**
   * Why this merchant's credentials cannot pay out (Alipay in key mode, WeChat without a transfer
   * scene, UnionPay without the encryption certificate), or undefined when they can.
   */
  payoutUnavailable?(credentials: Credentials, tradeType: '02' | '03'): string | undefined;
  transfer?(input: PayoutInput, credentials: Credentials, ctx: ChannelContext): Promise<PayoutResult>;
  queryTransfer?(ref: PayoutRef, credentials: Credentials, ctx: ChannelContext): Promise<PayoutQueryResult>;
  /** Only where the channel lets a payout be cancelled (wxpay before the payee confirms). */
  cancelTransfer?(ref: PayoutRef, credentials: Credentials, ctx: ChannelContext): Promise<PayoutCancelResult>;

  /** Reconciliation (CONTRACT §5): the trade bill of one Beijing day, `date` as YYYY-MM-DD. */
  downloadTradeBill?(date: string, credentials: Credentials, ctx: ChannelContext): Promise<BillDownloadResult>;
}

/** Payment outcomes carry no `kind`; a payout's says so. */
export function isPayoutOutcome(o: CallbackOutcome | PayoutCallbackOutcome): o is PayoutCallbackOutcome {
  return 'kind' in o && o.kind === 'payout';
}

/** For callers that take only payments' results: a payout's is an error there. */
export function paymentOutcome(o: CallbackOutcome | PayoutCallbackOutcome): CallbackOutcome {
  if (isPayoutOutcome(o)) throw new Error(`a payout result for ${o.orderId} where a payment's was expected`);
  return o;
}

export class CallbackRejected extends Error {
  override name = 'CallbackRejected';
}

/**
 * A callback that verified, but that the gateway does not act on (a refund result, a status that
 * is not a payment). It is acknowledged, so that the channel stops resending it, and not flagged.
 * Throw it only after the signature has been checked.
 */
export class CallbackIgnored extends Error {
  override name = 'CallbackIgnored';
}
