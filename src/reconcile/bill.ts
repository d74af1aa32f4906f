// The one shape every channel's trade bill is turned into, whatever it looked like on the wire.
// Parsers (src/channels/<payway>/bill.ts) produce it; the comparison (./compare.ts) reads it.

/** Which bill a Bill came from. The sandbox writes the WeChat layout, but its bill is its own. */
export type BillSource = 'alipay' | 'wxpay' | 'unionpay' | 'sandbox';

interface LineBase {
  /**
   * The order amount as the channel bills it (Alipay 订单金额, WeChat 订单金额 / 申请退款金额, UnionPay
   * 交易金额): what dtpay's own amount is compared with. Always positive, integer fen.
   */
  amountFen: bigint;
  /** What was settled with the merchant before fees, where the bill says (after coupons the channel funded). */
  settledFen?: bigint;
  /**
   * The fee the channel charged on this line, integer fen: positive on a trade, negative where a
   * refund gives some back, zero where the channel charged nothing.
   */
  feeFen: bigint;
  /** When the channel says the line happened, epoch ms (the bill's own time, read as Beijing time). */
  endedAt: number;
  /** 1-based line (or record) number in the bill file, for messages about it. */
  lineNo: number;
}

/** A payment. `revoked`: WeChat lists a payment it later revoked (撤销) under its own status; no money stayed. */
export interface TradeLine extends LineBase {
  kind: 'trade';
  /** dtpay's orderId as the channel knows it (out_trade_no / ACP orderId). */
  orderId: string;
  channelTradeNo: string;
  status: 'success' | 'revoked';
}

/**
 * A refund. `processing`: WeChat bills a refund once it is taken (money has left the merchant's
 * balance) and never updates the line, so a refund that had not reached the payer shows processing.
 */
export interface RefundLine extends LineBase {
  kind: 'refund';
  /** dtpay's refundId as the channel knows it (out_request_no / out_refund_no / the refund's ACP orderId). */
  refundId: string;
  /** the refunded order, where the bill names it */
  orderId?: string;
  /** the refunded payment's channel number, where the bill names it */
  channelTradeNo?: string;
  channelRefundNo?: string;
  status: 'success' | 'processing';
}

/** A payout (代付) the channel lists in its trade bill. Not compared: payouts are reconciled from fund bills. */
export interface PayoutLine extends LineBase {
  kind: 'payout';
  orderId: string;
  channelTradeNo: string;
  status: 'success';
}

export type BillLine = TradeLine | RefundLine | PayoutLine;

/** The span of time a bill covers, [fromMs, toMs). */
export interface BillWindow {
  fromMs: number;
  toMs: number;
}

export interface Bill {
  source: BillSource;
  /** the Beijing calendar day asked for, YYYY-MM-DD */
  billDate: string;
  /**
   * What the bill covers: the Beijing day for Alipay, WeChat and the sandbox; UnionPay's clearing day
   * (清算日), which runs from 23:00 the day before to 23:00.
   */
  window: BillWindow;
  lines: BillLine[];
  /**
   * The bill's own summary figures as it printed them (name → text), already checked against the
   * lines; absent where the format has none (UnionPay's INN file).
   */
  summary?: Record<string, string>;
}

export type BillErrorCode =
  /** the zip or gzip cannot be read, is too large, or lacks the file it must hold */
  | 'archive'
  /** the download's digest is not the one the channel announced */
  | 'hash'
  /** not the layout dtpay reads: a header row, a file name or an encoding it does not know */
  | 'layout'
  /** a line that cannot be read (a bad amount, time, status, a short record…) */
  | 'line'
  /** the bill's summary is missing or disagrees with its lines */
  | 'summary'
  /** the bill is for another day than the one asked for */
  | 'day';

/** Why a bill could not be read. The message says what and where, for the run's `error`. */
export class BillError extends Error {
  override name = 'BillError';
  constructor(
    readonly code: BillErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const BEIJING_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

/** [00:00, 24:00) Beijing of a YYYY-MM-DD day; RangeError for anything that is not a real date. */
export function beijingDay(billDate: string): BillWindow {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(billDate);
  if (!m) throw new RangeError(`not a YYYY-MM-DD date: ${billDate}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const utc = Date.UTC(y, mo - 1, d);
  const back = new Date(utc);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    throw new RangeError(`not a real date: ${billDate}`);
  }
  const fromMs = utc - BEIJING_OFFSET_MS;
  return { fromMs, toMs: fromMs + DAY_MS };
}

/** Whether `s` is a real YYYY-MM-DD date (what beijingDay takes). */
export function isBillDate(s: string): boolean {
  try {
    beijingDay(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * UnionPay's clearing day T (清算日) runs from 23:00 Beijing on T−1 to 23:00 on T: a payment at
 * 23:30 is in the next day's file.
 */
export function unionpayClearingDay(billDate: string): BillWindow {
  const day = beijingDay(billDate);
  return { fromMs: day.fromMs - 3600_000, toMs: day.toMs - 3600_000 };
}

/** The window a payway's bill for `billDate` covers, so the caller can select dtpay's records for it. */
export function billWindow(source: BillSource, billDate: string): BillWindow {
  return source === 'unionpay' ? unionpayClearingDay(billDate) : beijingDay(billDate);
}

export const inWindow = (w: BillWindow, ms: number) => ms >= w.fromMs && ms < w.toMs;
