import { signSandboxBody, sandboxBankType, sandboxTradeNo, SANDBOX_SIGNATURE_HEADER, type SandboxCallbackBody, type SandboxTradeAnswer } from '../channels/sandbox/driver.js';
import { SANDBOX_MAGIC_FEN, SANDBOX_PAYOUT_DELAY_MS, SANDBOX_PAYOUT_MAGIC_FEN, SANDBOX_REFUND_DELAY_MS, SANDBOX_REFUND_MAGIC_FEN } from '../channels/sandbox/magic.js';
import type { SandboxPayoutAnswer, SandboxPayoutCallbackBody, SandboxRefundAnswer } from '../channels/sandbox/driver.js';
import type { SandboxPayoutRow } from '../db/payout-ops.js';
import { isPayout } from './payouts.js';
import { formatBeijing } from '../domain/time.js';
import type { OrderRow } from '../db/rows.js';
import type { Services } from './context.js';
import { applyTransition } from './transitions.js';
import { writeSandboxBill } from '../channels/sandbox/bill.js';
import { sandboxBillLines } from './sandbox-bill.js';

// The sandbox channel's side: the page a QR code or redirect leads to, the payer's Pay / Fail,
// which the sandbox records as its own trade and reports to the gateway as a signed callback,
// and the channel API (query, close) that the sandbox driver calls like a live driver calls its
// channel. Its own record is the sandbox_trades table; it learns of orders from the orders it
// accepted.

export type CallbackSender = (body: string, headers: Record<string, string>) => Promise<{ status: number; body: string }>;

export class SandboxPayments {
  constructor(
    private readonly s: Services,
    private readonly sendCallback: CallbackSender,
  ) {}

  async secret(): Promise<string> {
    return ((await this.s.credentialsFor({ mode: 'sandbox', merc_no: '' }, 'sandbox')) as { secret: string }).secret;
  }

  /** A sandbox order, or undefined for unknown ids and orders of live channels. */
  async find(orderId: string): Promise<OrderRow | undefined> {
    const order = await this.s.reads.order(orderId);
    if (!order) return undefined;
    return (await this.s.reads.merchant(order.merc_no))?.mode === 'sandbox' ? order : undefined;
  }

  async isSandboxMerchant(mercNo: string): Promise<boolean> {
    return (await this.s.reads.merchant(mercNo))?.mode === 'sandbox';
  }

  /** The payer opened the page: submitted → paying. A payee opening a payout's page changes nothing. */
  async open(order: OrderRow): Promise<OrderRow> {
    if (order.pay_status === 'p0001' && order.channel_state !== 'refused' && !isPayout(order)) {
      await applyTransition(this.s, {
        orderId: order.order_id,
        event: 'payer_opened',
        source: 'payer opened the sandbox page',
        at: this.s.now(),
      });
      return (await this.s.reads.order(order.order_id))!;
    }
    return order;
  }

  /**
   * The payer pressed Pay or Fail. Returns the order as the gateway holds it once the callback
   * was acknowledged, or why the sandbox channel would not take the payment.
   */
  async complete(order: OrderRow, result: 'success' | 'fail'): Promise<{ ok: true; order: OrderRow } | { ok: false; reason: string }> {
    if (isPayout(order)) return this.confirmPayout(order, result);
    if (order.channel_state === 'refused') return { ok: false, reason: 'the sandbox channel refused this order, so it cannot be paid' };
    const tradeNo = order.channel_trade_no ?? sandboxTradeNo(order.order_id);
    const paidAt = formatBeijing(this.s.now());
    const bankType = sandboxBankType(order.payway);
    const wanted = result === 'success' ? 'paid' : 'failed';
    const status = await this.s.writer.run('sandboxSettle', {
      orderId: order.order_id,
      tradeNo,
      amountFen: order.amount_fen,
      status: wanted,
      paidAt: wanted === 'paid' ? paidAt : null,
      bankType: wanted === 'paid' ? bankType : null,
      at: this.s.now(),
    });
    if (status === 'closed') return { ok: false, reason: 'the order was closed, so it can no longer be paid' };
    // Fail after Pay keeps the payment: the callback below reports the trade as it stands (paid).
    if (order.amount_fen === SANDBOX_MAGIC_FEN.LOSE_CALLBACK || order.amount_fen === SANDBOX_MAGIC_FEN.ONLY_IN_BILL) {
      // Rehearses a lost channel callback: the trade is settled at the channel, the gateway is not
      // told, and finds out by asking (a query, or its own reconciliation).
      return { ok: true, order: (await this.s.reads.order(order.order_id))! };
    }
    const trade = (await this.s.reads.sandboxTrade(order.order_id))!;
    const body: SandboxCallbackBody = {
      orderId: order.order_id,
      tradeNo,
      result: trade.status === 'paid' ? 'paid' : 'failed',
      amount: order.amount_fen.toString(),
      paidAt: trade.paid_at ?? paidAt,
      bankType,
    };
    const raw = JSON.stringify(body);
    const ack = await this.sendCallback(raw, {
      'content-type': 'application/json',
      [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(raw, await this.secret()),
    });
    if (ack.status !== 200 || ack.body !== 'success') {
      return { ok: false, reason: `the gateway did not acknowledge the callback (${ack.status} ${ack.body})` };
    }
    return { ok: true, order: (await this.s.reads.order(order.order_id))! };
  }

  /** POST /sandbox/api/query: where the trade stands at the channel. */
  async query(orderId: string): Promise<SandboxTradeAnswer> {
    const order = await this.find(orderId);
    if (!order || order.channel_state === 'refused') return { result: 'not_found' };
    return this.answer(order);
  }

  /** POST /sandbox/api/close: closes the trade unless the payer has paid. */
  async close(orderId: string): Promise<SandboxTradeAnswer> {
    const order = await this.find(orderId);
    if (!order || order.channel_state === 'refused') return { result: 'not_found' };
    await this.s.writer.run('sandboxClose', {
      orderId,
      tradeNo: order.channel_trade_no ?? sandboxTradeNo(orderId),
      amountFen: order.amount_fen,
      at: this.s.now(),
    });
    return this.answer(order, 'close');
  }

  /** POST /sandbox/api/refund: takes a refund of a paid trade; it ends SANDBOX_REFUND_DELAY_MS later. */
  async refund(orderId: string, refundId: string, amountFen: bigint): Promise<SandboxRefundAnswer> {
    const order = await this.find(orderId);
    if (!order) return { result: 'refused', code: 'TRADE_NOT_EXIST', message: 'no such trade' };
    if (amountFen === SANDBOX_REFUND_MAGIC_FEN.REFUSE) {
      return { result: 'refused', code: 'SANDBOX_REFUSED', message: 'the sandbox refuses refunds of 0.91 by design' };
    }
    const at = this.s.now();
    const r = await this.s.writer.run('sandboxRefund', {
      refundId,
      orderId,
      amountFen,
      outcome: amountFen === SANDBOX_REFUND_MAGIC_FEN.FAIL_LATER ? 'failed' : 'succeeded',
      at,
      endsAt: at + SANDBOX_REFUND_DELAY_MS,
    });
    return r.result === 'refused' ? r : { result: r.result, refundNo: `SR${refundId}` };
  }

  /** POST /sandbox/api/refund-query: a refund ends when its time has come; nothing needs to run for it. */
  async refundQuery(refundId: string): Promise<SandboxRefundAnswer> {
    const r = await this.s.reads.sandboxRefund(refundId);
    if (!r) return { result: 'not_found' };
    if (this.s.now() < r.ends_at) return { result: 'processing', refundNo: `SR${refundId}` };
    if (r.outcome === 'failed') return { result: 'failed', code: 'SANDBOX_REFUND_FAILED', message: 'the sandbox fails refunds of 0.94 by design' };
    return { result: 'succeeded', refundNo: `SR${refundId}`, refundedAt: formatBeijing(r.ends_at) };
  }

  isPayout(order: OrderRow): boolean {
    return isPayout(order);
  }

  /** Whether the sandbox holds this payout waiting for its payee to confirm. */
  async waitingForPayee(orderId: string): Promise<boolean> {
    const row = await this.s.reads.sandboxPayout(orderId);
    return row !== undefined && this.payoutAnswer(row).result === 'waiting';
  }

  /** POST /sandbox/api/transfer: takes a payout (idempotent by orderId). */
  async transfer(orderId: string, amountFen: bigint, confirm: boolean): Promise<SandboxPayoutAnswer> {
    const order = await this.find(orderId);
    if (!order || !isPayout(order) || order.amount_fen !== amountFen) {
      return { result: 'refused', code: 'SANDBOX_NO_SUCH_PAYOUT', message: 'no payout of this amount was stored under this orderId' };
    }
    const at = this.s.now();
    const row = await this.s.writer.run('sandboxTransfer', {
      orderId,
      tradeNo: sandboxTradeNo(orderId),
      amountFen,
      confirm,
      outcome: amountFen === SANDBOX_PAYOUT_MAGIC_FEN.FAIL_LATER ? 'failed' : 'succeeded',
      at,
      endsAt: confirm ? null : at + SANDBOX_PAYOUT_DELAY_MS,
    });
    return this.payoutAnswer(row);
  }

  /** POST /sandbox/api/transfer-query: a payout ends when its time has come; nothing needs to run for it. */
  async transferQuery(orderId: string): Promise<SandboxPayoutAnswer> {
    const row = await this.s.reads.sandboxPayout(orderId);
    return row ? this.payoutAnswer(row) : { result: 'not_found' };
  }

  /** POST /sandbox/api/transfer-cancel: only a payout still waiting for its payee can be cancelled. */
  async transferCancel(orderId: string): Promise<SandboxPayoutAnswer> {
    const row = await this.s.writer.run('sandboxCancelTransfer', { orderId, at: this.s.now() });
    if (!row) return { result: 'not_found' };
    const a = this.payoutAnswer(row);
    if (a.result === 'cancelled') return a;
    const why = row.confirm ? `the payout is ${a.result}` : 'this payout does not wait for its payee, so it cannot be cancelled';
    return { result: 'refused', code: 'SANDBOX_NOT_CANCELLABLE', message: why, tradeNo: row.trade_no };
  }

  /** The payee confirms a wxpay payout on the sandbox page; the sandbox reports its end to the gateway. */
  private async confirmPayout(order: OrderRow, result: 'success' | 'fail'): Promise<{ ok: true; order: OrderRow } | { ok: false; reason: string }> {
    if (result !== 'success') return { ok: false, reason: 'a payee confirms a payout (result=success); one left unconfirmed expires' };
    const before = await this.s.reads.sandboxPayout(order.order_id);
    if (!before) return { ok: false, reason: 'the sandbox channel has no such payout' };
    if (!before.confirm) return { ok: false, reason: 'this payout does not wait for its payee: the channel pays it out by itself' };
    const row = await this.s.writer.run('sandboxConfirmTransfer', { orderId: order.order_id, at: this.s.now() });
    const a = row && this.payoutAnswer(row);
    if (!a || (a.result !== 'succeeded' && a.result !== 'failed')) return { ok: false, reason: `the payout can no longer be confirmed (${a?.result ?? 'gone'})` };
    const body: SandboxPayoutCallbackBody = {
      kind: 'payout',
      orderId: order.order_id,
      tradeNo: row!.trade_no,
      result: a.result,
      amount: row!.amount_fen.toString(),
      ...(a.paidAt ? { paidAt: a.paidAt } : {}),
      ...(a.code ? { code: a.code, message: a.message } : {}),
    };
    const raw = JSON.stringify(body);
    const ack = await this.sendCallback(raw, { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(raw, await this.secret()) });
    if (ack.status !== 200 || ack.body !== 'success') {
      return { ok: false, reason: `the gateway did not acknowledge the callback (${ack.status} ${ack.body})` };
    }
    return { ok: true, order: (await this.s.reads.order(order.order_id))! };
  }

  /** Where a sandbox payout stands now: its end is a time, so the clock decides. */
  private payoutAnswer(row: SandboxPayoutRow): SandboxPayoutAnswer {
    const tradeNo = row.trade_no;
    if (row.cancelled) return { result: 'cancelled', tradeNo };
    if (row.ends_at === null) {
      if (!row.confirm) return { result: 'processing', tradeNo };
      const payInfo = JSON.stringify({ mchId: 'sandbox', appId: 'wxsandbox', package: `sandbox_transfer_${tradeNo}` });
      return { result: 'waiting', tradeNo, payInfo };
    }
    if (this.s.now() < row.ends_at) return { result: 'processing', tradeNo };
    if (row.outcome === 'failed') return { result: 'failed', tradeNo, code: 'SANDBOX_PAYOUT_FAILED', message: 'the sandbox fails payouts of 0.94 by design' };
    return { result: 'succeeded', tradeNo, paidAt: formatBeijing(row.ends_at) };
  }

  /** GET /sandbox/api/bill: the sandbox channel's trade bill of one merchant, payway and Beijing day. */
  async bill(mercNo: string, payway: string, billDate: string): Promise<Uint8Array> {
    return writeSandboxBill(await sandboxBillLines(this.s.reads, mercNo, payway, billDate, this.s.now()));
  }

  private async answer(order: OrderRow, asking: 'query' | 'close' = 'query'): Promise<SandboxTradeAnswer> {
    const trade = await this.s.reads.sandboxTrade(order.order_id);
    const tradeNo = order.channel_trade_no ?? sandboxTradeNo(order.order_id);
    // 0.97: the sandbox's API does not admit the payment (only its bill does), so the order stays open, or closes.
    if (trade?.status === 'paid' && order.amount_fen === SANDBOX_MAGIC_FEN.ONLY_IN_BILL) {
      return asking === 'close' ? { result: 'closed', tradeNo } : { result: 'open', tradeNo };
    }
    if (!trade) return { result: 'open', tradeNo };
    if (trade.status !== 'paid') return { result: trade.status, tradeNo };
    return { result: 'paid', tradeNo, amount: trade.amount_fen.toString(), paidAt: trade.paid_at ?? undefined, bankType: trade.bank_type ?? undefined };
  }
}
