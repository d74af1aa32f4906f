// UnionPay payouts (CONTRACT §4): ACP 代付 — a back transaction `txnType` 12, `bizType` 000401 to a
// personal bank card, the card number and the payee's name encrypted with UnionPay's encryption
// certificate (encrypt.ts). UnionPay's answer 00 means "taken"; the result comes in the back
// notification (txnType 12) or by query (origRespCode), both read by `payoutState` below.
//
// The signed exchange is the driver's `call`, handed in, so payouts share its verification.

import { CallbackIgnored, CallbackRejected, type ChannelContext, type ChannelDriver } from '../types.js';
import type { PayoutCallbackOutcome, PayoutQueryResult, PayoutResult } from '../payout-types.js';
import type { UnionpayCredentials } from '../credentials.js';
import { encryptData, encryptedCustomerInfo, type EncryptCert } from './encrypt.js';
import { PATHS, beijing, fenOf, isAcpOrderId, paidAtOf, txnTimeOf, type Fields } from './wire.js';

type Answer = { ok: true; data: Fields } | { ok: false; outcome: 'unreached' | 'unknown'; reason: string };
export type UnionpayCall = (path: string, fields: Fields, credentials: UnionpayCredentials, ctx: ChannelContext) => Promise<Answer>;

type PayoutMethods = Required<Pick<ChannelDriver<UnionpayCredentials>, 'payeeAccountTypes' | 'payoutUnavailable' | 'transfer' | 'queryTransfer'>>;

export const TXN_PAYOUT = '12';
const BIZ_PAYOUT = '000401';
const SUCCESS = '00';
/** UnionPay itself does not know yet: ask again. */
const UNCERTAIN = new Set(['03', '04', '05']);
const NO_SUCH_TRADE = '34';
const DUPLICATE = '12';

const encryptCertOf = (c: UnionpayCredentials): EncryptCert | undefined =>
  c.encryptCertPem && c.encryptCertId ? { pem: c.encryptCertPem, certId: c.encryptCertId } : undefined;

const reason = (what: string, d: Fields) => `${what}: respCode ${d.respCode} ${d.respMsg ?? ''}`.trim();

/** A query answer about a payout: the payout's own result is origRespCode. */
function payoutState(d: Fields): PayoutQueryResult {
  if (d.respCode === NO_SUCH_TRADE) return { outcome: 'not_found' };
  if (d.respCode !== SUCCESS) return { outcome: 'unknown', reason: reason('queryTrans', d) };
  const orig = d.origRespCode ?? '';
  const channelTradeNo = d.queryId || undefined;
  if (orig === SUCCESS) {
    const paidAt = paidAtOf(d);
    return { outcome: 'succeeded', ...(channelTradeNo ? { channelTradeNo } : {}), ...(paidAt ? { paidAt } : {}) };
  }
  if (UNCERTAIN.has(orig)) return { outcome: 'processing', ...(channelTradeNo ? { channelTradeNo } : {}) };
  if (!orig) return { outcome: 'unknown', reason: 'queryTrans: answer without origRespCode' };
  return { outcome: 'failed', code: orig, message: d.origRespMsg ?? '' };
}

export function unionpayPayouts(call: UnionpayCall): PayoutMethods {
  return {
    payeeAccountTypes: ['BANK_CARD'],

    payoutUnavailable(c) {
      if (encryptCertOf(c)) return undefined;
      return "UnionPay payouts need UnionPay's sensitive-data encryption certificate: dtpay channel set MERCNO unionpay … --encrypt-cert-file F";
    },

    async transfer(input, c, ctx): Promise<PayoutResult> {
      const cert = encryptCertOf(c);
      if (!cert) return { outcome: 'refused', code: 'ENCRYPT_CERT', message: 'no UnionPay encryption certificate is configured' };
      if (input.payeeAccountType !== 'BANK_CARD') return { outcome: 'refused', code: 'ACC_TYPE', message: 'UnionPay pays out to BANK_CARD only' };
      if (!isAcpOrderId(input.orderId)) return { outcome: 'refused', code: 'ORDER_ID', message: 'UnionPay orderId must be 8–32 letters and digits' };
      if (!/^[0-9]{12,19}$/.test(input.payeeAccount)) return { outcome: 'refused', code: 'ACC_NO', message: 'the card number must be 12–19 digits' };
      if (!input.payeeName) return { outcome: 'refused', code: 'CUSTOMER_NM', message: 'a UnionPay payout needs the payee name' };
      if (input.amountFen < 1n || input.amountFen > 999_999_999_999n) return { outcome: 'refused', code: 'TXN_AMT', message: 'txnAmt must be 1..999999999999 fen' };
      const a = await call(
        PATHS.back,
        {
          txnType: TXN_PAYOUT,
          txnSubType: '00',
          bizType: BIZ_PAYOUT,
          channelType: '07',
          currencyCode: '156',
          orderId: input.orderId,
          txnTime: txnTimeOf(input.orderId) ?? beijing(input.createdAt),
          txnAmt: input.amountFen.toString(),
          backUrl: input.callbackUrl,
          accType: '01',
          accNo: encryptData(input.payeeAccount, cert),
          customerInfo: encryptedCustomerInfo({ customerNm: input.payeeName }, cert),
          encryptCertId: cert.certId,
        },
        c,
        ctx,
      );
      if (!a.ok) return { outcome: a.outcome, reason: a.reason };
      const d = a.data;
      // 00 is "taken": the money moves later and the result is notified (or queried).
      if (d.respCode === SUCCESS) return { outcome: 'accepted', ...(d.queryId ? { channelTradeNo: d.queryId } : {}) };
      // 12 重复交易: UnionPay already holds a transaction under this orderId, so this is no refusal.
      if (UNCERTAIN.has(d.respCode!) || d.respCode === DUPLICATE) return { outcome: 'unknown', reason: reason('backTransReq', d) };
      return { outcome: 'refused', code: d.respCode!, message: d.respMsg ?? '' };
    },

    async queryTransfer(ref, c, ctx): Promise<PayoutQueryResult> {
      const txnTime = txnTimeOf(ref.orderId);
      if (!txnTime) return { outcome: 'unknown', reason: `cannot name the txnTime of payout ${ref.orderId}` };
      const a = await call(PATHS.query, { txnType: '00', txnSubType: '00', bizType: '000000', orderId: ref.orderId, txnTime }, c, ctx);
      if (!a.ok) return { outcome: a.outcome, reason: a.reason };
      return payoutState(a.data);
    },
  };
}

/** A verified back notification of txnType 12 (the caller checked signature and merId). */
export function payoutNotification(f: Fields): PayoutCallbackOutcome {
  if (!f.orderId || !isAcpOrderId(f.orderId)) throw new CallbackRejected('UnionPay payout notification without a valid orderId');
  const amountFen = fenOf(f.txnAmt);
  if (amountFen === undefined) throw new CallbackRejected('UnionPay payout notification without a valid txnAmt');
  if (!f.respCode) throw new CallbackRejected('UnionPay payout notification without respCode');
  if (UNCERTAIN.has(f.respCode)) throw new CallbackIgnored(`UnionPay payout notification with respCode ${f.respCode} is not a result`);
  const base = { kind: 'payout' as const, orderId: f.orderId, amountFen, ...(f.queryId ? { channelTradeNo: f.queryId } : {}) };
  if (f.respCode === SUCCESS) {
    const paidAt = paidAtOf(f);
    return { ...base, result: 'succeeded', ...(paidAt ? { paidAt } : {}) };
  }
  return { ...base, result: 'failed', failCode: f.respCode, failReason: f.respMsg ?? '' };
}
