// The contract between the gateway and a channel driver for payouts (代付 02, 提现 03; CONTRACT §4).
// As for payments, a driver is thin: one object in, one out, no database. A payout moves money
// out of the merchant's channel account, so an answer the driver cannot read is `unknown` and is
// settled by queryTransfer with the same orderId, never by sending again.

export const PAYEE_ACCOUNT_TYPES = ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID', 'ALIPAY_OPEN_ID', 'WX_OPENID', 'BANK_CARD'] as const;
export type PayeeAccountType = (typeof PAYEE_ACCOUNT_TYPES)[number];

export interface PayoutInput {
  /** dtpay's orderId: the channel's idempotency key (out_biz_no / out_bill_no / ACP orderId). */
  orderId: string;
  tradeType: '02' | '03';
  amountFen: bigint;
  /** the order's subject: the remark the payee sees (cut by the driver to the channel's limit) */
  subject: string;
  payeeAccountType: PayeeAccountType;
  /** in the clear, only in memory on the way to the channel */
  payeeAccount: string;
  payeeName?: string;
  bankCode?: string;
  ip: string;
  termType: string;
  createdAt: number;
  /** when a payee who has to confirm (wxpay) no longer may */
  expireAt: number;
  /** where the channel should send its asynchronous result */
  callbackUrl: string;
}

export interface PayoutRef {
  orderId: string;
  channelTradeNo?: string;
  amountFen: bigint;
  tradeType: '02' | '03';
}

/**
 * `accepted`: the channel took it and ends it later (payInfo: for wxpay, the JSON
 * {"mchId","appId","package"} the payee's confirmation needs); `succeeded`: already paid out;
 * `refused`: the channel said no (final, nothing moved); `unreached`: never got there (safe to
 * send again with the same orderId); `unknown`: ask with queryTransfer.
 */
export type PayoutResult =
  | { outcome: 'accepted'; channelTradeNo?: string; payInfo?: string }
  | { outcome: 'succeeded'; channelTradeNo?: string; paidAt?: string }
  | { outcome: 'refused'; code: string; message: string }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

/** Where a payout stands at the channel. `waiting_for_payee`: wxpay, the payee has not confirmed. */
export type PayoutQueryResult =
  | { outcome: 'succeeded'; channelTradeNo?: string; paidAt?: string }
  | { outcome: 'processing'; channelTradeNo?: string }
  | { outcome: 'waiting_for_payee'; channelTradeNo?: string; payInfo?: string }
  | { outcome: 'failed'; code: string; message: string }
  | { outcome: 'cancelling' }
  | { outcome: 'cancelled' }
  | { outcome: 'not_found' }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

/** A cancel (wxpay, before the payee confirms) either ended it, is on its way, or came too late. */
export type PayoutCancelResult =
  | { outcome: 'cancelled' }
  | { outcome: 'cancelling' }
  | { outcome: 'refused'; code: string; message: string }
  | { outcome: 'unreached'; reason: string }
  | { outcome: 'unknown'; reason: string };

/** A verified payout result from the channel's notification, normalized. */
export interface PayoutCallbackOutcome {
  kind: 'payout';
  orderId: string;
  result: 'succeeded' | 'failed' | 'cancelled';
  amountFen: bigint;
  channelTradeNo?: string;
  /** yyyyMMddHHmmss, Beijing time */
  paidAt?: string;
  failCode?: string;
  failReason?: string;
}
