import { sandboxFeeFen } from '../channels/sandbox/bill.js';
import { SANDBOX_MAGIC_FEN } from '../channels/sandbox/magic.js';
import { sandboxTradeNo } from '../channels/sandbox/driver.js';
import type { StoragePort } from '../db/port.js';
import { formatBeijing, parseBeijing } from '../domain/time.js';
import { beijingDay, type BillLine } from '../reconcile/bill.js';

// The sandbox channel's day bill, from its own book (sandbox_trades, sandbox_refunds), never from
// dtpay's orders: what the channel says happened, for reconciliation to compare with what dtpay
// recorded. The magic amounts 0.95 and 0.96 make the bill disagree with the book on purpose.

/** The lines of one merchant's sandbox account for one payway and Beijing day, as far as `now` has come. */
export async function sandboxBillLines(reads: StoragePort['reads'], mercNo: string, payway: string, billDate: string, now: number): Promise<BillLine[]> {
  const day = beijingDay(billDate);
  const lines: BillLine[] = [];
  const trades = await reads.sandboxBilledTrades(mercNo, payway, formatBeijing(day.fromMs), formatBeijing(day.toMs));
  for (const t of trades) {
    if (t.amount_fen === SANDBOX_MAGIC_FEN.BILL_LEAVES_OUT) continue;
    const billed = t.amount_fen === SANDBOX_MAGIC_FEN.BILL_ONE_FEN_MORE ? t.amount_fen + 1n : t.amount_fen;
    lines.push({
      kind: 'trade',
      orderId: t.order_id,
      channelTradeNo: t.trade_no,
      amountFen: billed,
      feeFen: sandboxFeeFen(billed),
      endedAt: parseBeijing(t.paid_at)!,
      status: 'success',
      lineNo: 0,
    });
  }
  // A refund is billed once it has ended; the sandbox gives no fee back on it (CONTRACT §5).
  for (const r of await reads.sandboxBilledRefunds(mercNo, payway, day.fromMs, Math.min(day.toMs, now + 1))) {
    lines.push({
      kind: 'refund',
      refundId: r.refund_id,
      orderId: r.order_id,
      channelTradeNo: r.trade_no ?? sandboxTradeNo(r.order_id),
      channelRefundNo: `SR${r.refund_id}`,
      amountFen: r.amount_fen,
      feeFen: 0n,
      endedAt: r.ends_at,
      status: 'success',
      lineNo: 0,
    });
  }
  return lines;
}
