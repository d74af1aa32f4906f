import { signSandboxBody, sandboxBankType, sandboxTradeNo, SANDBOX_SIGNATURE_HEADER, type SandboxCallbackBody } from '../channels/sandbox/driver.js';
import { formatBeijing } from '../domain/time.js';
import type { OrderRow } from '../db/rows.js';
import type { Services } from './context.js';
import { applyTransition } from './transitions.js';

// The payer's side of the sandbox channel: the page a QR code or redirect leads to, and the
// Pay / Fail decision, which the sandbox reports to the gateway as a signed callback.

export type CallbackSender = (body: string, headers: Record<string, string>) => Promise<{ status: number; body: string }>;

export class SandboxPayments {
  constructor(
    private readonly s: Services,
    private readonly sendCallback: CallbackSender,
  ) {}

  private secret(): string {
    return (this.s.credentialsFor({ mode: 'sandbox', merc_no: '' }, 'sandbox') as { secret: string }).secret;
  }

  /** A sandbox order, or undefined for unknown ids and orders of live channels. */
  find(orderId: string): OrderRow | undefined {
    const order = this.s.reads.order(orderId);
    if (!order) return undefined;
    return this.s.reads.merchant(order.merc_no)?.mode === 'sandbox' ? order : undefined;
  }

  /** The payer opened the page: submitted → paying. */
  async open(order: OrderRow): Promise<OrderRow> {
    if (order.pay_status === 'p0001' && order.channel_state !== 'refused') {
      await applyTransition(this.s, {
        orderId: order.order_id,
        event: 'payer_opened',
        source: 'payer opened the sandbox page',
        at: this.s.now(),
      });
      return this.s.reads.order(order.order_id)!;
    }
    return order;
  }

  /**
   * The payer pressed Pay or Fail. Returns the order as the gateway holds it once the callback
   * was acknowledged, or why the sandbox channel would not take the payment.
   */
  async complete(order: OrderRow, result: 'success' | 'fail'): Promise<{ ok: true; order: OrderRow } | { ok: false; reason: string }> {
    if (order.channel_state === 'refused') return { ok: false, reason: 'the sandbox channel refused this order, so it cannot be paid' };
    const body: SandboxCallbackBody = {
      orderId: order.order_id,
      tradeNo: order.channel_trade_no ?? sandboxTradeNo(order.order_id),
      result: result === 'success' ? 'paid' : 'failed',
      amount: order.amount_fen.toString(),
      paidAt: formatBeijing(this.s.now()),
      bankType: sandboxBankType(order.payway),
    };
    const raw = JSON.stringify(body);
    const ack = await this.sendCallback(raw, {
      'content-type': 'application/json',
      [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(raw, this.secret()),
    });
    if (ack.status !== 200 || ack.body !== 'success') {
      return { ok: false, reason: `the gateway did not acknowledge the callback (${ack.status} ${ack.body})` };
    }
    return { ok: true, order: this.s.reads.order(order.order_id)! };
  }
}
