import { step, type PayStatus } from '../domain/order-states.js';
import { formatBeijing } from '../domain/time.js';
import type { REFUND_STATUS } from '../domain/refund-states.js';
import { inWindow, type Bill, type RefundLine, type TradeLine } from './bill.js';

// CONTRACT §5: one merchant's bill for one payway and day against dtpay's own records. Pure: the
// records come in as data (the caller reads them first, see billNames), the outcome goes out as
// data; healing is an instruction the caller applies through the conditional state change.

type RefundStatus = (typeof REFUND_STATUS)[keyof typeof REFUND_STATUS];

export const OUTCOMES = ['matched', 'healed', 'missing_at_channel', 'amount_mismatch', 'unknown_trade'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** A payment order of the merchant and payway, as dtpay has it (payouts never: they are not compared). */
export interface LocalOrder {
  orderId: string;
  mercOrderNo: string;
  amountFen: bigint;
  payStatus: PayStatus;
  channelTradeNo?: string;
  /** when it ended (tradeEndTime), epoch ms; absent while it is open */
  endedAt?: number;
}

export interface LocalRefund {
  refundId: string;
  mercRefundNo: string;
  orderId: string;
  amountFen: bigint;
  refundStatus: RefundStatus;
  /** when it ended (refundEndTime), epoch ms; absent while it is processing */
  endedAt?: number;
}

/**
 * dtpay's side: the payment orders and refunds that ended in the bill's window, plus every order
 * and refund the bill names (billNames), wherever they stand and whenever they ended. Records
 * beyond that are harmless: a record takes part only when it ended in the window or a line names it.
 */
export interface LocalRecords {
  orders: readonly LocalOrder[];
  refunds: readonly LocalRefund[];
}

/** What the caller applies for a `healed` line, through the same conditional change a callback takes. */
export type Heal =
  | {
      line: 'trade';
      orderId: string;
      /** the state the order was read in; the conditional update must still find it there */
      fromStatus: PayStatus;
      channelTradeNo: string;
      amountFen: bigint;
      /** yyyyMMddHHmmss Beijing, as the channel bills the payment: the order's tradeEndTime */
      paidAt: string;
      /** the order had failed, been closed or expired: flag latePayment */
      late: boolean;
    }
  | {
      line: 'refund';
      refundId: string;
      orderId: string;
      channelRefundNo?: string;
      /** yyyyMMddHHmmss Beijing: the refund's refundEndTime */
      refundedAt: string;
    };

export interface CompareItem {
  kind: Outcome;
  line: 'trade' | 'refund';
  /** dtpay's order (for a refund line, the refunded order), when dtpay knows it */
  orderId?: string;
  mercOrderNo?: string;
  refundId?: string;
  mercRefundNo?: string;
  channelTradeNo?: string;
  /** the order number the bill gives for a trade dtpay does not know (unknown_trade) */
  billOrderId?: string;
  /** dtpay's amount; absent for unknown_trade */
  localFen?: bigint;
  /** the bill's amount; absent for missing_at_channel */
  channelFen?: bigint;
  /** the bill's fee on the line (negative where a refund gives it back); absent for missing_at_channel */
  feeFen?: bigint;
  heal?: Heal;
}

export interface CompareTotals {
  /** successful trades' order amounts */
  tradeFen: bigint;
  refundFen: bigint;
  /** net fee: charged on trades less given back on refunds */
  feeFen: bigint;
  /** tradeFen − refundFen − feeFen */
  netFen: bigint;
}

export interface CompareResult {
  /** one per trade or refund named on either side; `matched` included (the report leaves those out) */
  items: CompareItem[];
  counts: Record<Outcome, number>;
  /** the bill's own figures (its trade and refund lines, not its payouts) */
  totals: CompareTotals;
}

/** The orders and refunds a bill names, for the caller to read before comparing. */
export function billNames(bill: Bill): { orderIds: string[]; refundIds: string[] } {
  const orderIds = new Set<string>();
  const refundIds = new Set<string>();
  for (const l of bill.lines) {
    if (l.kind === 'trade') orderIds.add(l.orderId);
    else if (l.kind === 'refund') {
      refundIds.add(l.refundId);
      if (l.orderId) orderIds.add(l.orderId);
    }
  }
  return { orderIds: [...orderIds], refundIds: [...refundIds] };
}

export function compareDay(bill: Bill, local: LocalRecords): CompareResult {
  const orders = new Map(local.orders.map((o) => [o.orderId, o]));
  const refunds = new Map(local.refunds.map((r) => [r.refundId, r]));
  const trades = new Map<string, TradeLine[]>();
  const refundLines = new Map<string, RefundLine[]>();
  const totals: CompareTotals = { tradeFen: 0n, refundFen: 0n, feeFen: 0n, netFen: 0n };
  for (const l of bill.lines) {
    if (l.kind === 'payout') continue;
    totals.feeFen += l.feeFen;
    if (l.kind === 'trade') {
      if (l.status === 'success') totals.tradeFen += l.amountFen;
      push(trades, l.orderId, l);
    } else {
      totals.refundFen += l.amountFen;
      push(refundLines, l.refundId, l);
    }
  }
  totals.netFen = totals.tradeFen - totals.refundFen - totals.feeFen;

  const items: CompareItem[] = [];
  for (const [orderId, lines] of trades) items.push(tradeItem(orderId, lines, orders.get(orderId)));
  for (const o of orders.values()) {
    if (o.payStatus !== 'p0000' || trades.has(o.orderId) || o.endedAt === undefined || !inWindow(bill.window, o.endedAt)) continue;
    items.push({ kind: 'missing_at_channel', line: 'trade', orderId: o.orderId, mercOrderNo: o.mercOrderNo, ...opt('channelTradeNo', o.channelTradeNo), localFen: o.amountFen });
  }
  for (const [refundId, lines] of refundLines) items.push(refundItem(refundId, lines, refunds.get(refundId), orders));
  for (const r of refunds.values()) {
    if (r.refundStatus !== 'r0000' || refundLines.has(r.refundId) || r.endedAt === undefined || !inWindow(bill.window, r.endedAt)) continue;
    items.push({
      kind: 'missing_at_channel', line: 'refund', orderId: r.orderId, ...opt('mercOrderNo', orders.get(r.orderId)?.mercOrderNo),
      refundId: r.refundId, mercRefundNo: r.mercRefundNo, localFen: r.amountFen,
    });
  }

  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const it of items) counts[it.kind]++;
  return { items, counts, totals };
}

function tradeItem(orderId: string, lines: TradeLine[], order: LocalOrder | undefined): CompareItem {
  // A revoked payment left the merchant nothing: it counts as zero against the order.
  const channelFen = lines.reduce((s, l) => s + (l.status === 'success' ? l.amountFen : 0n), 0n);
  const feeFen = lines.reduce((s, l) => s + l.feeFen, 0n);
  const first = lines.find((l) => l.status === 'success') ?? lines[0]!;
  const base = { line: 'trade' as const, channelTradeNo: first.channelTradeNo, channelFen, feeFen };
  if (!order) return { kind: 'unknown_trade', ...base, billOrderId: orderId };
  const known = { ...base, orderId, mercOrderNo: order.mercOrderNo, localFen: order.amountFen };
  if (channelFen !== order.amountFen) return { kind: 'amount_mismatch', ...known };
  const move = step(order.payStatus, 'channel_paid');
  if (!move) return { kind: 'matched', ...known };
  return {
    kind: 'healed',
    ...known,
    heal: {
      line: 'trade',
      orderId,
      fromStatus: order.payStatus,
      channelTradeNo: first.channelTradeNo,
      amountFen: channelFen,
      paidAt: formatBeijing(first.endedAt),
      late: move.late,
    },
  };
}

function refundItem(refundId: string, lines: RefundLine[], refund: LocalRefund | undefined, orders: Map<string, LocalOrder>): CompareItem {
  const channelFen = lines.reduce((s, l) => s + l.amountFen, 0n);
  const feeFen = lines.reduce((s, l) => s + l.feeFen, 0n);
  const done = lines.find((l) => l.status === 'success');
  const first = done ?? lines[0]!;
  const base = { line: 'refund' as const, refundId, ...opt('channelTradeNo', first.channelTradeNo), channelFen, feeFen };
  // A refund dtpay recorded as failed is final there; the money the channel moved is accounted for by none.
  if (!refund || refund.refundStatus === 'r0004') {
    return { kind: 'unknown_trade', ...base, ...opt('billOrderId', first.orderId), ...(refund ? { mercRefundNo: refund.mercRefundNo } : {}) };
  }
  const known = {
    ...base,
    orderId: refund.orderId,
    ...opt('mercOrderNo', orders.get(refund.orderId)?.mercOrderNo),
    mercRefundNo: refund.mercRefundNo,
    localFen: refund.amountFen,
  };
  if (channelFen !== refund.amountFen) return { kind: 'amount_mismatch', ...known };
  // Billed as taken but not yet ended, while dtpay waits too: both sides agree; dtpay's own refund checks end it.
  if (refund.refundStatus === 'r0000' || !done) return { kind: 'matched', ...known };
  return {
    kind: 'healed',
    ...known,
    heal: { line: 'refund', refundId, orderId: refund.orderId, ...opt('channelRefundNo', done.channelRefundNo), refundedAt: formatBeijing(done.endedAt) },
  };
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** `{ [k]: v }` when v is set, else nothing: absent fields stay absent (CONTRACT §5 items). */
function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined || v === '' ? {} : { [k]: v }) as { [P in K]?: V };
}
