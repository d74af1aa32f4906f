import type { UnionpayCredentials } from '../credentials.js';
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
} from '../types.js';
import { checkSignerCert, defaultSignerNames } from './certs.js';
import { verifyFields } from './sign.js';
import { TXN_PAYOUT, payoutNotification, unionpayPayouts } from './payout.js';
import type { PayoutCallbackOutcome } from '../payout-types.js';
import { downloadAcpBill } from './bill-download.js';
import {
  PATHS,
  autoSubmitForm,
  bankTypeOf,
  beijing,
  commonFields,
  endpoint,
  fenOf,
  isAcpOrderId,
  neverConnected,
  paidAtOf,
  parseAnswer,
  parseNotification,
  payCardTypeOf,
  serverRequest,
  signed,
  txnTimeOf,
  type Fields,
} from './wire.js';

// The UnionPay ACP 5.1.0 driver (全渠道, signMethod 01, certificates). Thin: it signs a request,
// sends it through ctx.http (or hands it to the payer's browser as a form), believes an answer
// only once its signer's certificate chains to the configured UnionPay CAs and its signature
// verifies, and sorts every failure three ways — refused (UnionPay said no), unreached (nothing
// left this machine), unknown (anything else: ask again later, never send again).

export interface UnionpayDriverOptions {
  /**
   * Signer names (third `@` part of signPubKeyCert's CN) to accept. Default: 中国银联股份有限公司,
   * plus 00040000:SIGN when the base URL is UnionPay's test host.
   */
  signerNames?: readonly string[];
  /** The clock for certificate validity in parseCallback, which gets no context. */
  now?: () => number;
}

type Answer = { ok: true; data: Fields } | { ok: false; outcome: 'unreached' | 'unknown'; reason: string };

/** 00 success (or "accepted" for refunds); 03/04/05 UnionPay itself does not know yet. */
const SUCCESS = '00';
const UNCERTAIN = new Set(['03', '04', '05']);
/** 查无此交易: the trade was never created (or the payer never got as far as UnionPay). */
const NO_SUCH_TRADE = '34';

const nameOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** Verifies a message UnionPay signed: its certificate first, then the signature. */
function verifyUnionpay(f: Fields, credentials: UnionpayCredentials, nowMs: number, signerNames: readonly string[]): string | undefined {
  if (f.signMethod !== '01') return `signMethod ${JSON.stringify(f.signMethod ?? '')} is not 01`;
  if (!f.signature) return 'no signature';
  if (!f.signPubKeyCert) return 'no signPubKeyCert';
  const signer = checkSignerCert(f.signPubKeyCert, credentials, nowMs, signerNames);
  if (!signer.ok) return signer.reason;
  if (!verifyFields(f, signer.publicKey)) return 'the signature does not verify';
  return undefined;
}

export function createUnionpayDriver(opts: UnionpayDriverOptions = {}): ChannelDriver<UnionpayCredentials> {
  const namesFor = (c: UnionpayCredentials) => opts.signerNames ?? defaultSignerNames(c.baseUrl);
  const clock = opts.now ?? Date.now;

  async function call(path: string, fields: Fields, credentials: UnionpayCredentials, ctx: ChannelContext): Promise<Answer> {
    const what = nameOf(path);
    if (!ctx.http) return { ok: false, outcome: 'unreached', reason: 'no HTTP transport for the UnionPay channel' };
    if (ctx.signal?.aborted) return { ok: false, outcome: 'unreached', reason: `${what}: aborted before sending` };
    const req = serverRequest(endpoint(credentials, path), signed({ ...commonFields(credentials), ...fields }, credentials));
    let res;
    try {
      res = await ctx.http(req);
    } catch (err) {
      const reason = `${what}: ${(err as Error)?.message ?? String(err)}`;
      return { ok: false, outcome: neverConnected(err) ? 'unreached' : 'unknown', reason };
    }
    if (res.status !== 200) return { ok: false, outcome: 'unknown', reason: `${what}: HTTP ${res.status}` };
    const data = parseAnswer(res.body);
    if (!data || !data.respCode) return { ok: false, outcome: 'unknown', reason: `${what}: unparseable answer` };
    // Every answer must be signed by UnionPay, refusals too: an unsigned "no" could come from
    // anyone on the path, and believing it would make the gateway give up on a live trade.
    const bad = verifyUnionpay(data, credentials, ctx.now(), namesFor(credentials));
    if (bad) return { ok: false, outcome: 'unknown', reason: `${what}: answer rejected: ${bad}` };
    if (data.merId !== undefined && data.merId !== credentials.merId) {
      return { ok: false, outcome: 'unknown', reason: `${what}: answer for merId ${data.merId}` };
    }
    if (data.orderId !== undefined && data.orderId !== fields.orderId) {
      return { ok: false, outcome: 'unknown', reason: `${what}: answer for orderId ${data.orderId}` };
    }
    return { ok: true, data };
  }

  /** The create answer's respCode, sorted; undefined when it is 00. */
  function unsuccessful(d: Fields, what: string): CreateResult | undefined {
    if (d.respCode === SUCCESS) return undefined;
    if (UNCERTAIN.has(d.respCode!)) return { outcome: 'unknown', reason: `${what}: respCode ${d.respCode} ${d.respMsg ?? ''}`.trim() };
    return { outcome: 'refused', code: d.respCode!, message: d.respMsg ?? '', raw: d };
  }

  function consumeFields(input: PaymentInput, txnTime: string, ctx: ChannelContext): Fields {
    return {
      txnType: '01',
      currencyCode: '156',
      orderId: input.orderId,
      txnTime,
      txnAmt: input.amountFen.toString(),
      backUrl: input.callbackUrl,
      // UnionPay refuses to take the payment after this: how the order expires there (no close API).
      payTimeout: beijing(Math.max(input.expireAt, ctx.now() + 60_000)),
    };
  }

  /** Where a query answer leaves a payment. */
  function paymentState(d: Fields, what: string): QueryResult {
    if (d.respCode === NO_SUCH_TRADE) return { outcome: 'not_found' };
    if (d.respCode !== SUCCESS) return { outcome: 'unknown', reason: `${what}: respCode ${d.respCode} ${d.respMsg ?? ''}`.trim() };
    const orig = d.origRespCode ?? '';
    if (orig === SUCCESS) {
      const amountFen = fenOf(d.txnAmt);
      if (amountFen === undefined) return { outcome: 'unknown', reason: `${what}: paid without a readable txnAmt` };
      return { outcome: 'paid', amountFen, channelTradeNo: d.queryId, paidAt: paidAtOf(d), bankType: bankTypeOf(d) };
    }
    if (UNCERTAIN.has(orig)) return { outcome: 'open' };
    if (!orig) return { outcome: 'unknown', reason: `${what}: answer without origRespCode` };
    return { outcome: 'failed' };
  }

  const driver: ChannelDriver<UnionpayCredentials> = {
    name: 'unionpay',
    ...unionpayPayouts(call),

    async createPayment(input, credentials, ctx): Promise<CreateResult> {
      if (!isAcpOrderId(input.orderId)) return { outcome: 'refused', code: 'ORDER_ID', message: 'UnionPay orderId must be 8–32 letters and digits' };
      const txnTime = txnTimeOf(input.orderId) ?? beijing(input.createdAt);
      const base = consumeFields(input, txnTime, ctx);
      switch (input.scene) {
        case 'gateway':
        case 'h5':
        case 'ebank': {
          // A front transaction: the payer's browser carries the signed form to UnionPay, so
          // nothing is sent from here and UnionPay first hears of the trade when the form arrives.
          const fields: Fields = {
            ...commonFields(credentials),
            ...base,
            txnSubType: '01',
            bizType: '000201',
            channelType: input.scene === 'h5' ? '08' : '07',
            // Without a returnUrl the payer comes back to the hosted cashier page of the order.
            frontUrl: input.returnUrl || input.cashierUrl,
          };
          if (input.scene === 'ebank') {
            if (!input.bankCode) return { outcome: 'refused', code: 'BANK_CODE', message: 'ebank needs bankCode' };
            fields.issInsCode = input.bankCode; // straight to that bank's online banking
            fields.payCardType = payCardTypeOf(input.payType);
          }
          const html = autoSubmitForm(endpoint(credentials, PATHS.front), signed(fields, credentials));
          return { outcome: 'accepted', action: { kind: 'form', html } };
        }
        case 'app': {
          const a = await call(PATHS.app, { ...base, txnSubType: '01', bizType: '000201', channelType: '08' }, credentials, ctx);
          if (!a.ok) return { outcome: a.outcome, reason: a.reason };
          const no = unsuccessful(a.data, 'appTransReq');
          if (no) return no;
          if (!a.data.tn) return { outcome: 'unknown', reason: 'appTransReq: accepted without a tn' };
          return { outcome: 'accepted', action: { kind: 'sdkParams', payInfo: a.data.tn }, raw: a.data };
        }
        case 'scan': {
          // 云闪付 QR, 主扫 (the payer scans the merchant's code): txnSubType 07 applies for a code.
          const a = await call(PATHS.back, { ...base, txnSubType: '07', bizType: '000000', channelType: '08' }, credentials, ctx);
          if (!a.ok) return { outcome: a.outcome, reason: a.reason };
          const no = unsuccessful(a.data, 'backTransReq');
          if (no) return no;
          if (!a.data.qrCode) return { outcome: 'unknown', reason: 'backTransReq: accepted without a qrCode' };
          return { outcome: 'accepted', action: { kind: 'qrCode', content: a.data.qrCode }, raw: a.data };
        }
        default:
          return { outcome: 'refused', code: 'SCENE', message: `UnionPay does not serve ${input.scene}` };
      }
    },

    async queryPayment(ref, credentials, ctx): Promise<QueryResult> {
      const txnTime = txnTimeOf(ref.orderId);
      if (!txnTime) return { outcome: 'unknown', reason: `cannot name the txnTime of order ${ref.orderId}` };
      const a = await call(PATHS.query, { txnType: '00', txnSubType: '00', bizType: '000000', orderId: ref.orderId, txnTime }, credentials, ctx);
      if (!a.ok) return { outcome: a.outcome, reason: a.reason };
      return paymentState(a.data, 'queryTrans');
    },

    // UnionPay has no close for an unpaid consumer trade (reference §3: "No close API: rely on
    // payTimeout"). createPayment set payTimeout to the order's expireAt, after which UnionPay
    // will not take the payment. So a close queries: paid → paid (the close came too late); a
    // payment UnionPay is still processing → unknown (ask again, do not race it); anything else
    // → closed. For a merchant's close before expireAt this is a promise UnionPay cannot keep to
    // the second — a payer holding the form could still pay until payTimeout — and that is safe:
    // the back notification still arrives, and CONTRACT §2.4 moves a cancelled order that the
    // channel confirms to p0000, flagged, so the money is never lost, only recorded late.
    async closePayment(ref, credentials, ctx): Promise<CloseResult> {
      const q = await driver.queryPayment(ref, credentials, ctx);
      switch (q.outcome) {
        case 'paid':
          return q;
        case 'unreached':
        case 'unknown':
          return q;
        case 'open':
          return { outcome: 'unknown', reason: 'UnionPay is still processing a payment of this order' };
        default:
          return { outcome: 'closed' };
      }
    },

    async refund(input, credentials, ctx): Promise<RefundResult> {
      if (!input.channelTradeNo) return { outcome: 'refused', code: 'ORIG_QRY_ID', message: 'a UnionPay refund needs the payment queryId' };
      if (!isAcpOrderId(input.refundId)) return { outcome: 'refused', code: 'ORDER_ID', message: 'UnionPay orderId must be 8–32 letters and digits' };
      const txnTime = txnTimeOf(input.refundId) ?? beijing(ctx.now());
      const a = await call(
        PATHS.back,
        {
          txnType: '04',
          txnSubType: '00',
          bizType: '000201',
          channelType: '07',
          orderId: input.refundId,
          origQryId: input.channelTradeNo,
          txnTime,
          txnAmt: input.refundFen.toString(),
          currencyCode: '156',
          backUrl: input.callbackUrl,
        },
        credentials,
        ctx,
      );
      if (!a.ok) return { outcome: a.outcome, reason: a.reason };
      const d = a.data;
      // 00 is "accepted" only: the refund ends later (back notification, or queryTrans).
      if (d.respCode === SUCCESS) return { outcome: 'accepted', channelRefundNo: d.queryId };
      if (UNCERTAIN.has(d.respCode!)) return { outcome: 'unknown', reason: `refund: respCode ${d.respCode} ${d.respMsg ?? ''}`.trim() };
      return { outcome: 'refused', code: d.respCode!, message: d.respMsg ?? '' };
    },

    async queryRefund(ref, credentials, ctx): Promise<RefundQueryResult> {
      const txnTime = txnTimeOf(ref.refundId);
      if (!txnTime) return { outcome: 'unknown', reason: `cannot name the txnTime of refund ${ref.refundId}` };
      const a = await call(PATHS.query, { txnType: '00', txnSubType: '00', bizType: '000000', orderId: ref.refundId, txnTime }, credentials, ctx);
      if (!a.ok) return { outcome: a.outcome, reason: a.reason };
      const d = a.data;
      if (d.respCode === NO_SUCH_TRADE) return { outcome: 'not_found' };
      if (d.respCode !== SUCCESS) return { outcome: 'unknown', reason: `queryTrans: respCode ${d.respCode} ${d.respMsg ?? ''}`.trim() };
      const orig = d.origRespCode ?? '';
      if (orig === SUCCESS) return { outcome: 'succeeded', channelRefundNo: d.queryId, refundedAt: paidAtOf(d) };
      if (UNCERTAIN.has(orig)) return { outcome: 'processing' };
      if (!orig) return { outcome: 'unknown', reason: 'queryTrans: answer without origRespCode' };
      return { outcome: 'failed', code: orig, message: d.origRespMsg ?? '' };
    },

    parseCallback(raw: RawCallback, credentials): CallbackOutcome | PayoutCallbackOutcome {
      const f = parseNotification(raw.rawBody);
      if (!f) throw new CallbackRejected('UnionPay notification names a field twice');
      const bad = verifyUnionpay(f, credentials, clock(), namesFor(credentials));
      if (bad) throw new CallbackRejected(`UnionPay notification rejected: ${bad}`);
      if (f.merId !== credentials.merId) throw new CallbackRejected(`UnionPay notification for merId ${f.merId ?? '(none)'}`);
      if (f.txnType === TXN_PAYOUT) return payoutNotification(f);
      // Refund results (txnType 04) come back here too. They verified, so they are acknowledged
      // (UnionPay would otherwise keep resending them); the refund itself is settled by queryRefund.
      if (f.txnType !== '01') throw new CallbackIgnored(`UnionPay notification of txnType ${f.txnType ?? '(none)'} is not a payment`);
      if (!f.orderId || !isAcpOrderId(f.orderId)) throw new CallbackRejected('UnionPay notification without a valid orderId');
      const amountFen = fenOf(f.txnAmt);
      if (amountFen === undefined) throw new CallbackRejected('UnionPay notification without a valid txnAmt');
      if (UNCERTAIN.has(f.respCode ?? '') || !f.respCode) throw new CallbackRejected(`UnionPay notification with respCode ${f.respCode ?? '(none)'} is not a result`);
      return {
        orderId: f.orderId,
        result: f.respCode === SUCCESS ? 'paid' : 'failed',
        amountFen,
        channelTradeNo: f.queryId || undefined,
        paidAt: paidAtOf(f),
        bankType: bankTypeOf(f),
      };
    },

    downloadTradeBill: (date, credentials, ctx) => downloadAcpBill(date, credentials, ctx, { signerNames: namesFor(credentials) }),

    // UnionPay wants HTTP 200 (the body is not read); anything else makes it retry.
    acknowledge(accepted: boolean): Ack {
      return { status: accepted ? 200 : 400, contentType: 'text/plain; charset=utf-8', body: accepted ? 'ok' : 'fail' };
    },
  };
  return driver;
}

/** The driver with UnionPay's own rules: production signer name (test name only on the test host). */
export const unionpayDriver = createUnionpayDriver();
