import type { AlipayCredentials } from '../credentials.js';
import { CallbackIgnored, CallbackRejected, type ChannelContext, type ChannelDriver } from '../types.js';
import type { PayeeAccountType, PayoutCallbackOutcome, PayoutInput, PayoutQueryResult, PayoutRef, PayoutResult } from '../payout-types.js';
import { fenToYuan } from '../../domain/money.js';
import { SUCCESS, call, refusal, type Fields } from './client.js';
import { compactTime, parseYuan } from './wire.js';

// Alipay fund transfers (单笔转账, CONTRACT §4): alipay.fund.trans.uni.transfer to an Alipay
// account or a personal bank card, alipay.fund.trans.common.query for where it stands, and the
// 消息服务 message alipay.fund.trans.order.changed. Alipay only takes these in 公钥证书 mode.
// out_biz_no is dtpay's orderId, so a transfer sent twice is one transfer; but a transfer whose
// answer was lost is settled by query, never sent again.

export const TRANSFER = 'alipay.fund.trans.uni.transfer';
export const TRANSFER_QUERY = 'alipay.fund.trans.common.query';
export const FUND_MESSAGE = 'alipay.fund.trans.order.changed';

const ACCOUNT_PRODUCT = 'TRANS_ACCOUNT_NO_PWD';
const CARD_PRODUCT = 'TRANS_BANKCARD_NO_PWD';
const BIZ_SCENE = 'DIRECT_TRANSFER';

export const ALIPAY_PAYEE_ACCOUNT_TYPES: readonly PayeeAccountType[] = ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID', 'ALIPAY_OPEN_ID', 'BANK_CARD'];

/** dtpay's account types as Alipay's payee_info.identity_type. */
const IDENTITY_TYPE: Partial<Record<PayeeAccountType, string>> = {
  ALIPAY_USER_ID: 'ALIPAY_USER_ID',
  ALIPAY_LOGON_ID: 'ALIPAY_LOGON_ID',
  ALIPAY_OPEN_ID: 'ALIPAY_OPEN_ID',
  BANK_CARD: 'BANKCARD_ACCOUNT',
};

/** Alipay checks the payee's real name against the account for these. */
const NAME_REQUIRED: readonly PayeeAccountType[] = ['ALIPAY_LOGON_ID', 'BANK_CARD'];

/**
 * Every fund order status Alipay writes, in one place. SUCCESS is paid out; FAIL and CLOSED
 * (never paid) and REFUND (a card transfer the bank sent back: the money is the merchant's again)
 * are failures; the rest are on their way.
 */
const FUND_STATES: Readonly<Record<string, 'succeeded' | 'processing' | 'failed'>> = {
  SUCCESS: 'succeeded',
  INIT: 'processing',
  WAIT_PAY: 'processing',
  DEALING: 'processing',
  FAIL: 'failed',
  CLOSED: 'failed',
  REFUND: 'failed',
};

const fundState = (status: unknown) => (typeof status === 'string' ? FUND_STATES[status] : undefined);

/** The channel's code and words for a failed transfer. */
const failure = (d: Fields) => ({
  code: String(d.error_code || d.sub_status || d.status || 'FAIL'),
  message: String(d.fail_reason || d.error_msg || `status ${String(d.status)}`),
});

/** A system error behind any code: Alipay does not know either, so neither do we. */
const isUncertain = (d: Fields) => d.code === '20000' || d.code === '20001' || (typeof d.sub_code === 'string' && /SYSTEM_ERROR$/.test(d.sub_code));

/** 128 characters for order_title at Alipay; cut by code point. */
const cut = (s: string, max: number) => [...s].slice(0, max).join('');

export function payoutUnavailable(credentials: AlipayCredentials): string | undefined {
  if (credentials.cert) return undefined;
  return (
    'Alipay fund transfers need certificate mode (公钥证书); this merchant is in public-key mode. ' +
    'Store its alipay credentials again with --app-cert-file, --alipay-cert-file and --alipay-root-cert-file'
  );
}

function transferBiz(input: PayoutInput): { biz: Fields } | { refused: string } {
  const identityType = IDENTITY_TYPE[input.payeeAccountType];
  if (!identityType) return { refused: `alipay does not pay out to ${input.payeeAccountType}; it takes ${ALIPAY_PAYEE_ACCOUNT_TYPES.join(', ')}` };
  if (NAME_REQUIRED.includes(input.payeeAccountType) && !input.payeeName) return { refused: `a payee name is required for ${input.payeeAccountType}` };
  const payee: Fields = { identity: input.payeeAccount, identity_type: identityType };
  if (input.payeeName) payee.name = input.payeeName;
  // dtpay pays out to personal cards (account_type 2); Alipay finds the bank from the card number.
  if (input.payeeAccountType === 'BANK_CARD') payee.bankcard_ext_info = { account_type: '2' };
  const biz: Fields = {
    out_biz_no: input.orderId,
    trans_amount: fenToYuan(input.amountFen),
    product_code: input.payeeAccountType === 'BANK_CARD' ? CARD_PRODUCT : ACCOUNT_PRODUCT,
    biz_scene: BIZ_SCENE,
    order_title: cut(input.subject, 128),
    payee_info: payee,
  };
  return { biz };
}

async function transfer(input: PayoutInput, credentials: AlipayCredentials, ctx: ChannelContext): Promise<PayoutResult> {
  const unavailable = payoutUnavailable(credentials);
  if (unavailable) return { outcome: 'refused', code: 'dtpay.alipay-key-mode', message: unavailable };
  const built = transferBiz(input);
  if ('refused' in built) return { outcome: 'refused', code: 'dtpay.invalid-payee', message: built.refused };

  const a = await call(TRANSFER, built.biz, credentials, ctx, { notifyUrl: input.callbackUrl });
  if (!a.ok) return { outcome: a.outcome, reason: a.reason };
  const d = a.data;
  if (d.code !== SUCCESS) {
    if (isUncertain(d)) return { outcome: 'unknown', reason: `${TRANSFER}: ${refusal(d).code}` };
    return { outcome: 'refused', ...refusal(d) };
  }
  if (d.out_biz_no !== input.orderId) return { outcome: 'unknown', reason: `${TRANSFER} answered for out_biz_no ${String(d.out_biz_no)}` };
  const channelTradeNo = typeof d.order_id === 'string' && d.order_id ? d.order_id : undefined;
  switch (fundState(d.status)) {
    case 'succeeded':
      return { outcome: 'succeeded', channelTradeNo, paidAt: compactTime(typeof d.trans_date === 'string' ? d.trans_date : undefined) };
    case 'processing':
      return { outcome: 'accepted', channelTradeNo };
    case 'failed': {
      // Failed at once: nothing moved (a REFUND here would mean it came straight back).
      const f = failure(d);
      return { outcome: 'refused', code: f.code, message: f.message };
    }
    default:
      return { outcome: 'unknown', reason: `${TRANSFER}: status ${String(d.status)}` };
  }
}

async function queryOnce(biz: Fields, ref: PayoutRef, credentials: AlipayCredentials, ctx: ChannelContext): Promise<PayoutQueryResult> {
  const a = await call(TRANSFER_QUERY, biz, credentials, ctx);
  if (!a.ok) return { outcome: a.outcome, reason: a.reason };
  const d = a.data;
  if (d.code !== SUCCESS) {
    if (a.signed && d.sub_code === 'ORDER_NOT_EXIST') return { outcome: 'not_found' };
    const r = refusal(d);
    return { outcome: 'unknown', reason: `${TRANSFER_QUERY}: ${r.code} ${r.message}` };
  }
  if (d.out_biz_no !== undefined && d.out_biz_no !== ref.orderId) return { outcome: 'unknown', reason: `${TRANSFER_QUERY} answered for out_biz_no ${String(d.out_biz_no)}` };
  const amount = parseYuan(d.trans_amount);
  if (amount !== undefined && amount !== ref.amountFen) {
    return { outcome: 'unknown', reason: `${TRANSFER_QUERY}: trans_amount ${String(d.trans_amount)} is not the payout's ${fenToYuan(ref.amountFen)}` };
  }
  const channelTradeNo = typeof d.order_id === 'string' && d.order_id ? d.order_id : ref.channelTradeNo;
  switch (fundState(d.status)) {
    case 'succeeded':
      return { outcome: 'succeeded', channelTradeNo, paidAt: compactTime(typeof d.pay_date === 'string' ? d.pay_date : undefined) };
    case 'processing':
      return { outcome: 'processing', channelTradeNo };
    case 'failed':
      return { outcome: 'failed', ...failure(d) };
    default:
      return { outcome: 'unknown', reason: `${TRANSFER_QUERY}: status ${String(d.status)}` };
  }
}

async function queryTransfer(ref: PayoutRef, credentials: AlipayCredentials, ctx: ChannelContext): Promise<PayoutQueryResult> {
  if (ref.channelTradeNo) return queryOnce({ order_id: ref.channelTradeNo }, ref, credentials, ctx);
  // By out_biz_no Alipay asks for the product as well, which the reference does not carry: an
  // account transfer first, then a card one. Both are the same out_biz_no, so at most one exists.
  const account = await queryOnce({ out_biz_no: ref.orderId, product_code: ACCOUNT_PRODUCT, biz_scene: BIZ_SCENE }, ref, credentials, ctx);
  if (account.outcome !== 'not_found') return account;
  return queryOnce({ out_biz_no: ref.orderId, product_code: CARD_PRODUCT, biz_scene: BIZ_SCENE }, ref, credentials, ctx);
}

/** A 消息服务 message (`msg_method`, `biz_content`) rather than a trade notification. */
export const isFundMessage = (f: Record<string, string>) => f.msg_method !== undefined;

/**
 * A verified 消息服务 message (the caller has checked its signature and app_id) as a payout's
 * outcome. Messages that end nothing (DEALING) and other messages are acknowledged and ignored.
 */
export function parseFundMessage(f: Record<string, string>): PayoutCallbackOutcome {
  if (f.msg_method !== FUND_MESSAGE) throw new CallbackIgnored(`alipay message ${f.msg_method} is not a fund transfer result`);
  let biz: Fields;
  try {
    const parsed: unknown = JSON.parse(f.biz_content ?? '');
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    biz = parsed as Fields;
  } catch {
    throw new CallbackRejected(`alipay ${FUND_MESSAGE}: biz_content is not a JSON object`);
  }
  const orderId = biz.out_biz_no;
  if (typeof orderId !== 'string' || !orderId) throw new CallbackRejected(`alipay ${FUND_MESSAGE}: no out_biz_no`);
  const state = fundState(biz.status);
  if (state === 'processing') throw new CallbackIgnored(`alipay ${FUND_MESSAGE} status ${String(biz.status)} ends nothing`);
  if (state === undefined) throw new CallbackIgnored(`alipay ${FUND_MESSAGE} status ${String(biz.status)} is not one dtpay knows`);
  const amountFen = parseYuan(biz.trans_amount);
  if (amountFen === undefined) throw new CallbackRejected(`alipay ${FUND_MESSAGE}: trans_amount is not an amount`);
  const out: PayoutCallbackOutcome = { kind: 'payout', orderId, result: state, amountFen };
  if (typeof biz.order_id === 'string' && biz.order_id) out.channelTradeNo = biz.order_id;
  if (state === 'succeeded') {
    const paidAt = compactTime(typeof biz.pay_date === 'string' ? biz.pay_date : undefined);
    if (paidAt) out.paidAt = paidAt;
  } else {
    const fl = failure(biz);
    out.failCode = fl.code;
    out.failReason = fl.message;
  }
  return out;
}

/** The payout half of the Alipay driver. */
export const fundMethods = {
  payeeAccountTypes: ALIPAY_PAYEE_ACCOUNT_TYPES,
  payoutUnavailable,
  transfer,
  queryTransfer,
} satisfies Partial<ChannelDriver<AlipayCredentials>>;
