import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  CallbackRejected,
  type Ack,
  type CallbackOutcome,
  type ChannelContext,
  type BillDownloadResult,
  type ChannelDriver,
  type CloseResult,
  type CreateResult,
  type QueryResult,
  type RawCallback,
  type RefundQueryResult,
  type RefundResult,
  type TradeRef,
} from '../types.js';
import { sandboxAction } from './actions.js';
import { SANDBOX_MAGIC_FEN, SANDBOX_PAYOUT_MAGIC_FEN } from './magic.js';
import { PAYEE_ACCOUNT_TYPES, type PayoutCallbackOutcome, type PayoutCancelResult, type PayoutQueryResult, type PayoutRef, type PayoutResult } from '../payout-types.js';
import { isCompactDateTime } from '../../domain/time.js';
import { BillError } from '../../reconcile/bill.js';
import { parseSandboxBill } from './bill.js';

/** The sandbox channel's one secret: it signs the callbacks the sandbox sends the gateway. */
export interface SandboxCredentials {
  secret: string;
  /**
   * Whose day bill downloadTradeBill asks for: the sandbox keeps one account per merchant and
   * payway, as a live merchant has one per channel. Only bill downloads need it.
   */
  account?: { mercNo: string; payway: string };
}

export const SANDBOX_SIGNATURE_HEADER = 'x-sandbox-signature';

/** The sandbox channel's asynchronous result, as it travels to /channel/sandbox/notify. */
export interface SandboxCallbackBody {
  orderId: string;
  tradeNo: string;
  result: 'paid' | 'failed';
  /** fen, as a decimal string */
  amount: string;
  paidAt: string;
  bankType: string;
}

export function signSandboxBody(rawBody: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

export const sandboxTradeNo = (orderId: string) => `S${orderId}`;

/**
 * The signature of a sandbox bill: over its text without the byte-order mark the WeChat layout
 * starts with, which many HTTP clients drop as they decode (fetch, undici's text()).
 */
export const signSandboxBill = (body: string, secret: string) => signSandboxBody(body.startsWith('\ufeff') ? body.slice(1) : body, secret);

/** The query string of GET /sandbox/api/bill, which is what its request signature covers. */
export const sandboxBillQuery = (date: string, mercNo: string, payway: string) => new URLSearchParams({ date, mercNo, payway }).toString();

const BANK_TYPE: Record<string, string> = { alipay: 'ALIPAYACCOUNT', wxpay: 'OTHERS', unionpay: 'UNIONPAY' };
export const sandboxBankType = (payway: string) => BANK_TYPE[payway] ?? 'SANDBOX';

/** What the sandbox channel's API answers about a trade (POST /sandbox/api/query and /close). */
export interface SandboxTradeAnswer {
  result: 'paid' | 'failed' | 'open' | 'closed' | 'not_found';
  tradeNo?: string;
  /** fen, as a decimal string, when paid */
  amount?: string;
  paidAt?: string;
  bankType?: string;
}

// Calls the sandbox channel's API the way a live driver calls its channel: a signed request, a
// signed answer that is verified before anything in it is believed.
async function callSandbox<A = SandboxTradeAnswer>(
  path: 'query' | 'close' | 'refund' | 'refund-query' | 'transfer' | 'transfer-query' | 'transfer-cancel',
  fields: Record<string, string>,
  credentials: SandboxCredentials,
  ctx: ChannelContext,
): Promise<A | { outcome: 'unreached' | 'unknown'; reason: string }> {
  if (!ctx.http) return { outcome: 'unreached', reason: 'no HTTP transport for the sandbox channel' };
  const body = JSON.stringify(fields);
  let res;
  try {
    res = await ctx.http({
      method: 'POST',
      url: `${ctx.publicBaseUrl}/sandbox/api/${path}`,
      headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(body, credentials.secret) },
      body,
    });
  } catch (err) {
    return { outcome: 'unknown', reason: `sandbox ${path} failed: ${(err as Error).message}` };
  }
  const sig = res.headers[SANDBOX_SIGNATURE_HEADER];
  const expected = signSandboxBody(res.body, credentials.secret);
  if (res.status !== 200 || typeof sig !== 'string' || sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) {
    return { outcome: 'unknown', reason: `sandbox ${path} answered ${res.status} without a valid signature` };
  }
  return JSON.parse(res.body) as A;
}

const tradeFields = (ref: TradeRef) => ({ orderId: ref.orderId, tradeNo: ref.channelTradeNo ?? sandboxTradeNo(ref.orderId) });

/** What the sandbox channel's API answers about a refund (POST /sandbox/api/refund and /refund-query). */
export interface SandboxRefundAnswer {
  result: 'processing' | 'succeeded' | 'failed' | 'refused' | 'not_found';
  code?: string;
  message?: string;
  refundNo?: string;
  refundedAt?: string;
}

/** What the sandbox channel's API answers about a payout (POST /sandbox/api/transfer, /transfer-query, /transfer-cancel). */
export interface SandboxPayoutAnswer {
  result: 'waiting' | 'processing' | 'succeeded' | 'failed' | 'cancelled' | 'refused' | 'not_found';
  tradeNo?: string;
  /** for a payout waiting for its payee: what wx.requestMerchantTransfer takes */
  payInfo?: string;
  paidAt?: string;
  code?: string;
  message?: string;
}

/** The sandbox channel's asynchronous payout result, as it travels to /channel/sandbox/notify. */
export interface SandboxPayoutCallbackBody {
  kind: 'payout';
  orderId: string;
  tradeNo: string;
  result: 'succeeded' | 'failed' | 'cancelled';
  /** fen, as a decimal string */
  amount: string;
  paidAt?: string;
  code?: string;
  message?: string;
}

const payoutRefFields = (ref: PayoutRef) => ({ orderId: ref.orderId });

function payoutQueryResult(a: SandboxPayoutAnswer): PayoutQueryResult {
  switch (a.result) {
    case 'succeeded':
      return { outcome: 'succeeded', channelTradeNo: a.tradeNo, paidAt: a.paidAt };
    case 'failed':
      return { outcome: 'failed', code: a.code ?? 'SANDBOX_FAILED', message: a.message ?? 'failed' };
    case 'waiting':
      return { outcome: 'waiting_for_payee', channelTradeNo: a.tradeNo, payInfo: a.payInfo };
    case 'processing':
      return { outcome: 'processing', channelTradeNo: a.tradeNo };
    case 'cancelled':
      return { outcome: 'cancelled' };
    case 'not_found':
      return { outcome: 'not_found' };
    default:
      return { outcome: 'unknown', reason: `sandbox transfer query answered ${a.result}` };
  }
}

function parsePayoutCallback(body: Record<string, unknown>): PayoutCallbackOutcome {
  if (
    typeof body.orderId !== 'string' ||
    typeof body.tradeNo !== 'string' ||
    (body.result !== 'succeeded' && body.result !== 'failed' && body.result !== 'cancelled') ||
    typeof body.amount !== 'string' ||
    !/^[0-9]{1,19}$/.test(body.amount) ||
    (body.paidAt !== undefined && (typeof body.paidAt !== 'string' || !isCompactDateTime(body.paidAt))) ||
    (body.code !== undefined && typeof body.code !== 'string') ||
    (body.message !== undefined && typeof body.message !== 'string')
  ) {
    throw new CallbackRejected('sandbox payout callback body does not have the expected fields');
  }
  return {
    kind: 'payout',
    orderId: body.orderId,
    result: body.result,
    amountFen: BigInt(body.amount),
    channelTradeNo: body.tradeNo,
    paidAt: body.paidAt as string | undefined,
    failCode: body.code as string | undefined,
    failReason: body.message as string | undefined,
  };
}

const paidFrom = (a: SandboxTradeAnswer) => ({
  outcome: 'paid' as const,
  amountFen: BigInt(a.amount ?? '0'),
  channelTradeNo: a.tradeNo,
  paidAt: a.paidAt,
  bankType: a.bankType,
});

export const sandboxDriver: ChannelDriver<SandboxCredentials> = {
  name: 'sandbox',

  async createPayment(input, credentials, ctx): Promise<CreateResult> {
    if (input.amountFen === SANDBOX_MAGIC_FEN.REFUSE) {
      return { outcome: 'refused', code: 'SANDBOX_REFUSED', message: 'the sandbox refuses 0.91 by design' };
    }
    if (input.amountFen === SANDBOX_MAGIC_FEN.TIMEOUT) {
      return { outcome: 'unknown', reason: 'the sandbox does not answer 0.92 in time, by design' };
    }
    const channelTradeNo = sandboxTradeNo(input.orderId);
    const action = sandboxAction(input, credentials.secret, ctx.publicBaseUrl, channelTradeNo);
    return { outcome: 'accepted', action, channelTradeNo };
  },

  async queryPayment(ref, credentials, ctx): Promise<QueryResult> {
    const a = await callSandbox('query', tradeFields(ref), credentials, ctx);
    if ('outcome' in a) return a;
    return a.result === 'paid' ? paidFrom(a) : { outcome: a.result };
  },

  async closePayment(ref, credentials, ctx): Promise<CloseResult> {
    const a = await callSandbox('close', tradeFields(ref), credentials, ctx);
    if ('outcome' in a) return a;
    if (a.result === 'paid') return paidFrom(a);
    if (a.result === 'closed') return { outcome: 'closed' };
    return { outcome: 'unknown', reason: `sandbox close answered ${a.result}` };
  },

  async refund(input, credentials, ctx): Promise<RefundResult> {
    const a = await callSandbox<SandboxRefundAnswer>(
      'refund',
      { orderId: input.orderId, refundId: input.refundId, amount: input.refundFen.toString() },
      credentials,
      ctx,
    );
    if ('outcome' in a) return a;
    switch (a.result) {
      case 'processing':
        return { outcome: 'accepted', channelRefundNo: a.refundNo };
      case 'succeeded':
        return { outcome: 'succeeded', channelRefundNo: a.refundNo, refundedAt: a.refundedAt };
      case 'refused':
        return { outcome: 'refused', code: a.code ?? 'SANDBOX_REFUSED', message: a.message ?? 'refused' };
      default:
        return { outcome: 'unknown', reason: `sandbox refund answered ${a.result}` };
    }
  },

  async queryRefund(ref, credentials, ctx): Promise<RefundQueryResult> {
    const a = await callSandbox<SandboxRefundAnswer>('refund-query', { orderId: ref.orderId, refundId: ref.refundId }, credentials, ctx);
    if ('outcome' in a) return a;
    switch (a.result) {
      case 'succeeded':
        return { outcome: 'succeeded', channelRefundNo: a.refundNo, refundedAt: a.refundedAt };
      case 'failed':
        return { outcome: 'failed', code: a.code, message: a.message };
      case 'processing':
        return { outcome: 'processing' };
      case 'not_found':
        return { outcome: 'not_found' };
      default:
        return { outcome: 'unknown', reason: `sandbox refund query answered ${a.result}` };
    }
  },

  // Payouts: every payee account type of the contract (the sandbox stands in for every payway).
  payeeAccountTypes: PAYEE_ACCOUNT_TYPES,

  async transfer(input, credentials, ctx): Promise<PayoutResult> {
    if (input.amountFen === SANDBOX_PAYOUT_MAGIC_FEN.REFUSE) {
      return { outcome: 'refused', code: 'SANDBOX_REFUSED', message: 'the sandbox refuses payouts of 0.91 by design' };
    }
    // A WeChat payee confirms the transfer bill; Alipay and UnionPay pay out without asking.
    const confirm = input.payeeAccountType === 'WX_OPENID' ? '1' : '0';
    const a = await callSandbox<SandboxPayoutAnswer>('transfer', { orderId: input.orderId, amount: input.amountFen.toString(), confirm }, credentials, ctx);
    if ('outcome' in a) return a;
    if (input.amountFen === SANDBOX_PAYOUT_MAGIC_FEN.TIMEOUT) {
      return { outcome: 'unknown', reason: 'the sandbox does not answer payouts of 0.92 in time, by design (it did take it)' };
    }
    switch (a.result) {
      case 'waiting':
      case 'processing':
        return { outcome: 'accepted', channelTradeNo: a.tradeNo, payInfo: a.payInfo };
      case 'succeeded':
        return { outcome: 'succeeded', channelTradeNo: a.tradeNo, paidAt: a.paidAt };
      case 'refused':
        return { outcome: 'refused', code: a.code ?? 'SANDBOX_REFUSED', message: a.message ?? 'refused' };
      default:
        return { outcome: 'unknown', reason: `sandbox transfer answered ${a.result}` };
    }
  },

  async queryTransfer(ref, credentials, ctx): Promise<PayoutQueryResult> {
    const a = await callSandbox<SandboxPayoutAnswer>('transfer-query', payoutRefFields(ref), credentials, ctx);
    return 'outcome' in a ? a : payoutQueryResult(a);
  },

  async cancelTransfer(ref, credentials, ctx): Promise<PayoutCancelResult> {
    const a = await callSandbox<SandboxPayoutAnswer>('transfer-cancel', payoutRefFields(ref), credentials, ctx);
    if ('outcome' in a) return a;
    if (a.result === 'cancelled') return { outcome: 'cancelled' };
    return { outcome: 'refused', code: a.code ?? 'SANDBOX_NOT_CANCELLABLE', message: a.message ?? `the payout is ${a.result}` };
  },

  async downloadTradeBill(date, credentials, ctx): Promise<BillDownloadResult> {
    if (!credentials.account) return { outcome: 'failed', error: 'the sandbox bill is kept per merchant and payway, and none was named' };
    if (!ctx.http) return { outcome: 'unreached', reason: 'no HTTP transport for the sandbox channel' };
    const query = sandboxBillQuery(date, credentials.account.mercNo, credentials.account.payway);
    let res;
    try {
      res = await ctx.http({ method: 'GET', url: `${ctx.publicBaseUrl}/sandbox/api/bill?${query}`, headers: { [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(query, credentials.secret) } });
    } catch (err) {
      // A download changes nothing at the channel: asking again is always safe.
      return { outcome: 'unreached', reason: `sandbox bill download failed: ${(err as Error).message}` };
    }
    if (res.status !== 200) return { outcome: 'failed', error: `sandbox bill answered ${res.status}: ${res.body.slice(0, 200)}` };
    const sig = res.headers[SANDBOX_SIGNATURE_HEADER];
    const expected = signSandboxBill(res.body, credentials.secret);
    if (typeof sig !== 'string' || sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) {
      return { outcome: 'failed', error: 'sandbox bill came without a valid signature' };
    }
    try {
      return { outcome: 'bill', bill: parseSandboxBill(Buffer.from(res.body, 'utf8'), date) };
    } catch (err) {
      if (err instanceof BillError) return { outcome: 'failed', error: err.message };
      throw err;
    }
  },

  parseCallback(raw: RawCallback, credentials): CallbackOutcome | PayoutCallbackOutcome {
    const header = raw.headers[SANDBOX_SIGNATURE_HEADER];
    const given = Buffer.from(typeof header === 'string' ? header : '', 'utf8');
    const expected = Buffer.from(signSandboxBody(raw.rawBody, credentials.secret), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new CallbackRejected('sandbox callback signature does not verify');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.rawBody.toString('utf8'));
    } catch {
      throw new CallbackRejected('sandbox callback body is not JSON');
    }
    const body = parsed as Partial<Record<keyof SandboxCallbackBody, unknown>> | null;
    if (body !== null && typeof body === 'object' && (body as { kind?: unknown }).kind === 'payout') {
      return parsePayoutCallback(body as Record<string, unknown>);
    }
    if (
      body === null ||
      typeof body !== 'object' ||
      typeof body.orderId !== 'string' ||
      typeof body.tradeNo !== 'string' ||
      (body.result !== 'paid' && body.result !== 'failed') ||
      typeof body.amount !== 'string' ||
      !/^[0-9]{1,19}$/.test(body.amount) ||
      typeof body.paidAt !== 'string' ||
      !isCompactDateTime(body.paidAt) ||
      typeof body.bankType !== 'string' ||
      body.bankType.length > 16
    ) {
      throw new CallbackRejected('sandbox callback body does not have the expected fields');
    }
    return {
      orderId: body.orderId,
      result: body.result,
      amountFen: BigInt(body.amount),
      channelTradeNo: body.tradeNo,
      paidAt: body.paidAt,
      bankType: body.bankType,
    };
  },

  acknowledge(accepted: boolean): Ack {
    return { status: accepted ? 200 : 400, contentType: 'text/plain; charset=utf-8', body: accepted ? 'success' : 'fail' };
  },
};
