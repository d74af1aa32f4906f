import type { AlipayCredentials } from '../credentials.js';
import {
  CallbackIgnored,
  CallbackRejected,
  type Ack,
  type CallbackOutcome,
  type ChannelContext,
  type ChannelDriver,
  type CloseResult,
  type CreateResult,
  type PaymentInput,
  type QueryResult,
  type RawCallback,
  type RefundQueryResult,
  type RefundResult,
  type TradeRef,
} from '../types.js';
import { fenToYuan } from '../../domain/money.js';
import { notifySignContent, rsa2Verify } from './sign.js';
import { downloadAlipayBill } from './bill-download.js';
import {
  bankTypeOf,
  compactTime,
  orderString,
  pageForm,
  pageUrl,
  parseForm,
  parseYuan,
  signedParams,
  type CallOptions,
} from './wire.js';
import { SUCCESS, call, refusal, type Fields } from './client.js';
import type { PayoutCallbackOutcome } from '../payout-types.js';
import { fundMethods, isFundMessage, parseFundMessage } from './fund.js';

// The Alipay driver (OpenAPI, RSA2, public-key or 公钥证书 mode). Thin: builds a signed request, sends it
// through ctx.http (client.ts), believes an answer only once its signature verifies, and sorts every failure
// three ways — refused (Alipay said no), unreached (nothing left this machine), unknown (anything
// else: ask again later, never send again). Fund transfers are in fund.ts.

/** Alipay's own "I don't know": service unavailable, or a system error behind a business code. */
const isUncertain = (d: Fields) => d.code === '20000' || d.code === '20001' || d.sub_code === 'ACQ.SYSTEM_ERROR';

/** subject ≤ 256 characters and body ≤ 128 at Alipay; cut by code point, never mid-character. */
const cut = (s: string, max: number) => [...s].slice(0, max).join('');

function tradeBiz(input: PaymentInput, nowMs: number, productCode: string): Fields {
  // Relative expiry: every one of these methods accepts timeout_express (1m–15d).
  const minutes = Math.min(21600, Math.max(1, Math.ceil((input.expireAt - nowMs) / 60_000)));
  const biz: Fields = {
    out_trade_no: input.orderId,
    total_amount: fenToYuan(input.amountFen),
    subject: cut(input.subject || input.body, 256),
    product_code: productCode,
    timeout_express: `${minutes}m`,
  };
  if (input.body && input.subject) biz.body = cut(input.body, 128);
  return biz;
}

/** A 16-digit 2088… number is an Alipay user id (buyer_id); anything else an OpenID (buyer_open_id). */
export const isAlipayUserId = (id: string) => /^2088\d{12}$/.test(id);

/** What the trade query / close answer says, in the gateway's words. */
function tradeState(d: Fields, ref: TradeRef): QueryResult {
  if (d.out_trade_no !== undefined && d.out_trade_no !== ref.orderId) {
    return { outcome: 'unknown', reason: `alipay.trade.query answered for ${String(d.out_trade_no)}` };
  }
  switch (d.trade_status) {
    case 'WAIT_BUYER_PAY':
      return { outcome: 'open' };
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED': {
      const amountFen = parseYuan(d.total_amount);
      if (amountFen === undefined) return { outcome: 'unknown', reason: 'alipay.trade.query: no total_amount on a paid trade' };
      return {
        outcome: 'paid',
        amountFen,
        channelTradeNo: typeof d.trade_no === 'string' ? d.trade_no : undefined,
        paidAt: compactTime(typeof d.send_pay_date === 'string' ? d.send_pay_date : undefined),
        bankType: bankTypeOf(d.fund_bill_list),
      };
    }
    // Also what a paid trade turns into once fully refunded; the gateway keeps p0000 final.
    case 'TRADE_CLOSED':
      return { outcome: 'closed' };
    default:
      return { outcome: 'unknown', reason: `alipay.trade.query: trade_status ${String(d.trade_status)}` };
  }
}

async function query(ref: TradeRef, credentials: AlipayCredentials, ctx: ChannelContext): Promise<QueryResult> {
  const a = await call('alipay.trade.query', { out_trade_no: ref.orderId }, credentials, ctx);
  if (!a.ok) return { outcome: a.outcome, reason: a.reason };
  if (a.data.code === SUCCESS) return tradeState(a.data, ref);
  if (a.signed && a.data.sub_code === 'ACQ.TRADE_NOT_EXIST') return { outcome: 'not_found' };
  const r = refusal(a.data);
  return { outcome: 'unknown', reason: `alipay.trade.query: ${r.code} ${r.message}` };
}

export const alipayDriver: ChannelDriver<AlipayCredentials> = {
  name: 'alipay',

  async createPayment(input, credentials, ctx): Promise<CreateResult> {
    const now = ctx.now();
    const notify: CallOptions = { notifyUrl: input.callbackUrl };
    switch (input.scene) {
      // Browser and app cells are signed requests handed to the payer; Alipay first hears of the
      // trade when the payer opens them, so there is no server call and no trade number yet.
      case 'h5': {
        const biz = tradeBiz(input, now, 'QUICK_WAP_WAY');
        if (input.returnUrl) biz.quit_url = input.returnUrl;
        const params = signedParams('alipay.trade.wap.pay', biz, credentials, now, { ...notify, returnUrl: input.returnUrl });
        return { outcome: 'accepted', action: { kind: 'redirect', url: pageUrl(params, credentials.gatewayUrl) } };
      }
      case 'gateway': {
        const biz = tradeBiz(input, now, 'FAST_INSTANT_TRADE_PAY');
        const params = signedParams('alipay.trade.page.pay', biz, credentials, now, { ...notify, returnUrl: input.returnUrl });
        return { outcome: 'accepted', action: { kind: 'form', html: pageForm(params, credentials.gatewayUrl) } };
      }
      case 'app': {
        const params = signedParams('alipay.trade.app.pay', tradeBiz(input, now, 'QUICK_MSECURITY_PAY'), credentials, now, notify);
        return { outcome: 'accepted', action: { kind: 'sdkParams', payInfo: orderString(params) } };
      }
      case 'scan':
      case 'jspay':
        break;
      default:
        return { outcome: 'refused', code: 'dtpay.unsupported-scene', message: `alipay does not serve ${input.scene}` };
    }

    let method: string;
    let biz: Fields;
    if (input.scene === 'scan') {
      method = 'alipay.trade.precreate';
      biz = tradeBiz(input, now, 'FACE_TO_FACE_PAYMENT');
    } else {
      if (!input.openId) return { outcome: 'refused', code: 'dtpay.missing-open-id', message: 'jspay needs the payer openId' };
      method = 'alipay.trade.create';
      biz = tradeBiz(input, now, 'JSAPI_PAY');
      biz[isAlipayUserId(input.openId) ? 'buyer_id' : 'buyer_open_id'] = input.openId;
    }
    const a = await call(method, biz, credentials, ctx, notify);
    if (!a.ok) return { outcome: a.outcome, reason: a.reason };
    const d = a.data;
    if (d.code !== SUCCESS) {
      if (isUncertain(d)) return { outcome: 'unknown', reason: `${method}: ${refusal(d).code}` };
      return { outcome: 'refused', ...refusal(d), raw: d };
    }
    if (d.out_trade_no !== input.orderId) return { outcome: 'unknown', reason: `${method} answered for another out_trade_no` };
    if (input.scene === 'scan') {
      if (typeof d.qr_code !== 'string' || !d.qr_code) return { outcome: 'unknown', reason: `${method}: no qr_code` };
      return { outcome: 'accepted', action: { kind: 'qrCode', content: d.qr_code }, raw: d };
    }
    if (typeof d.trade_no !== 'string' || !d.trade_no) return { outcome: 'unknown', reason: `${method}: no trade_no` };
    // my.tradePay({ tradeNO }) in the mini program / Alipay JSAPI starts from the trade number.
    return { outcome: 'accepted', action: { kind: 'sdkParams', payInfo: d.trade_no }, channelTradeNo: d.trade_no, raw: d };
  },

  queryPayment: query,

  async closePayment(ref, credentials, ctx): Promise<CloseResult> {
    const a = await call('alipay.trade.close', { out_trade_no: ref.orderId }, credentials, ctx);
    if (!a.ok) return { outcome: a.outcome, reason: a.reason };
    if (a.data.code === SUCCESS) return { outcome: 'closed' };
    if (a.signed && a.data.sub_code === 'ACQ.TRADE_NOT_EXIST') {
      // A wap/page/app trade nobody opened does not exist at Alipay: nothing is payable now. A
      // payer opening the old link later makes a payment the gateway records as late.
      return { outcome: 'closed' };
    }
    if (a.signed && a.data.sub_code === 'ACQ.TRADE_STATUS_ERROR') {
      // Paid (or already closed): ask which.
      const q = await query(ref, credentials, ctx);
      if (q.outcome === 'paid' || q.outcome === 'closed') return q;
      return { outcome: 'unknown', reason: `alipay.trade.close: TRADE_STATUS_ERROR, then the query said ${q.outcome}` };
    }
    const r = refusal(a.data);
    return { outcome: 'unknown', reason: `alipay.trade.close: ${r.code} ${r.message}` };
  },

  async refund(input, credentials, ctx): Promise<RefundResult> {
    const biz: Fields = {
      out_trade_no: input.orderId,
      refund_amount: fenToYuan(input.refundFen),
      // Alipay's idempotency key for one refund of a trade: the same number never refunds twice.
      out_request_no: input.refundId,
    };
    if (input.reason) biz.refund_reason = cut(input.reason, 256);
    const a = await call('alipay.trade.refund', biz, credentials, ctx);
    if (!a.ok) return { outcome: a.outcome, reason: a.reason };
    const d = a.data;
    if (d.code !== SUCCESS) {
      if (isUncertain(d)) return { outcome: 'unknown', reason: `alipay.trade.refund: ${refusal(d).code}` };
      return { outcome: 'refused', ...refusal(d) };
    }
    // fund_change N: this call moved no money (a repeat, or still in progress) — the refund query says.
    if (d.fund_change === 'Y') return { outcome: 'succeeded', refundedAt: compactTime(typeof d.gmt_refund_pay === 'string' ? d.gmt_refund_pay : undefined) };
    return { outcome: 'accepted' };
  },

  async queryRefund(ref, credentials, ctx): Promise<RefundQueryResult> {
    const biz = { out_trade_no: ref.orderId, out_request_no: ref.refundId, query_options: ['gmt_refund_pay'] };
    const a = await call('alipay.trade.fastpay.refund.query', biz, credentials, ctx);
    if (!a.ok) return { outcome: a.outcome, reason: a.reason };
    const d = a.data;
    if (d.code === SUCCESS) {
      if (d.refund_status === 'REFUND_SUCCESS') {
        return { outcome: 'succeeded', refundedAt: compactTime(typeof d.gmt_refund_pay === 'string' ? d.gmt_refund_pay : undefined) };
      }
      // No refund_status: Alipay never received this refund, or it failed. out_request_no keeps a
      // second attempt from refunding twice, so "not found" is the safe reading.
      if (d.refund_status === undefined) return { outcome: 'not_found' };
      return { outcome: 'unknown', reason: `alipay.trade.fastpay.refund.query: refund_status ${String(d.refund_status)}` };
    }
    if (a.signed && d.sub_code === 'ACQ.TRADE_NOT_EXIST') return { outcome: 'not_found' };
    const r = refusal(d);
    return { outcome: 'unknown', reason: `alipay.trade.fastpay.refund.query: ${r.code} ${r.message}` };
  },

  parseCallback(raw: RawCallback, credentials): CallbackOutcome | PayoutCallbackOutcome {
    const f = parseForm(raw.rawBody.toString('utf8'));
    if (!f) throw new CallbackRejected('alipay notification: a field appears twice');
    if (!f.sign) throw new CallbackRejected('alipay notification: no sign');
    if (f.sign_type !== undefined && f.sign_type !== 'RSA2') throw new CallbackRejected(`alipay notification: sign_type ${f.sign_type}`);
    if (!rsa2Verify(notifySignContent(f), f.sign, credentials.alipayPublicKeyPem)) {
      throw new CallbackRejected('alipay notification signature does not verify');
    }
    if (f.app_id !== credentials.appId) throw new CallbackRejected('alipay notification is for another app_id');
    // 消息服务 fund messages come to the same route as trade notifications.
    if (isFundMessage(f)) return parseFundMessage(f);
    if (!f.out_trade_no) throw new CallbackRejected('alipay notification: no out_trade_no');
    // Only a payment is an outcome the gateway applies. WAIT_BUYER_PAY, and TRADE_CLOSED (an
    // unpaid trade timing out, or a paid one fully refunded), verified, are acknowledged so that
    // Alipay stops resending them; the gateway learns of closes by query.
    if (f.trade_status !== 'TRADE_SUCCESS' && f.trade_status !== 'TRADE_FINISHED') {
      throw new CallbackIgnored(`alipay notification trade_status ${f.trade_status ?? '(none)'} is not a payment`);
    }
    const amountFen = parseYuan(f.total_amount);
    if (amountFen === undefined) throw new CallbackRejected('alipay notification: total_amount is not an amount');
    // The amount is returned as Alipay states it: the gateway compares it with the order's.
    return {
      orderId: f.out_trade_no,
      result: 'paid',
      amountFen,
      channelTradeNo: f.trade_no || undefined,
      paidAt: compactTime(f.gmt_payment),
      bankType: bankTypeOf(f.fund_bill_list),
    };
  },

  downloadTradeBill: downloadAlipayBill,

  acknowledge(accepted: boolean): Ack {
    // Alipay stops retrying on exactly "success"; anything else, whatever the status, is retried.
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: accepted ? 'success' : 'fail' };
  },

  ...fundMethods,
};
