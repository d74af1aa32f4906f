import type { StoragePort } from '../db/port.js';
import type { ItemRow, RunRow } from '../db/reconcile-reads.js';
import { fenToYuan } from '../domain/money.js';
import { signedYuan } from '../reconcile/bill-text.js';

// A day's report as CONTRACT §5 gives it (`dtpay reconcile … --json`, the console): amounts as yuan
// strings with two decimals, and a field that does not apply left out, not null.

export interface ReportItem {
  kind: string;
  orderId?: string;
  mercOrderNo?: string;
  refundId?: string;
  channelTradeNo?: string;
  localAmt?: string;
  channelAmt?: string;
}

export interface RunReport {
  mercNo: string;
  payway: string;
  status: 'ok' | 'not_ready' | 'failed';
  error?: string;
  counts: { matched: number; healed: number; missing_at_channel: number; amount_mismatch: number; unknown_trade: number };
  totals?: { tradeAmt: string; refundAmt: string; feeAmt: string; netAmt: string };
  items: ReportItem[];
}

export interface DayReport {
  date: string;
  runs: RunReport[];
}

export function itemReport(i: ItemRow): ReportItem {
  const out: ReportItem = { kind: i.kind };
  // unknown_trade names no dtpay order; a trade line has no refundId.
  if (i.kind !== 'unknown_trade' && i.order_id) out.orderId = i.order_id;
  if (i.kind !== 'unknown_trade' && i.merc_order_no) out.mercOrderNo = i.merc_order_no;
  if (i.line === 'refund' && i.refund_id) out.refundId = i.refund_id;
  if (i.channel_trade_no) out.channelTradeNo = i.channel_trade_no;
  if (i.kind !== 'unknown_trade' && i.local_fen !== null) out.localAmt = fenToYuan(BigInt(i.local_fen));
  if (i.kind !== 'missing_at_channel' && i.channel_fen !== null) out.channelAmt = fenToYuan(BigInt(i.channel_fen));
  return out;
}

export async function runReport(reads: StoragePort['reads'], r: RunRow): Promise<RunReport> {
  // In the contract's order: mercNo, payway, status, error, counts, totals, items.
  return {
    mercNo: r.merc_no,
    payway: r.payway,
    status: r.status,
    ...(r.status === 'failed' ? { error: r.error ?? 'failed' } : {}),
    counts: { matched: r.matched, healed: r.healed, missing_at_channel: r.missing_at_channel, amount_mismatch: r.amount_mismatch, unknown_trade: r.unknown_trade },
    ...(r.status === 'ok' && r.trade_fen !== null
      ? {
          totals: {
            tradeAmt: signedYuan(BigInt(r.trade_fen)),
            refundAmt: signedYuan(BigInt(r.refund_fen ?? 0n)),
            feeAmt: signedYuan(BigInt(r.fee_fen ?? 0n)),
            netAmt: signedYuan(BigInt(r.net_fen ?? 0n)),
          },
        }
      : {}),
    items: (await reads.itemsOfRun(r.id)).map(itemReport),
  };
}

/** The stored runs of a day, of one merchant or all, optionally only those `keep` accepts. */
export async function dayReport(reads: StoragePort['reads'], date: string, opts: { mercNo?: string; keep?: (r: RunRow) => boolean } = {}): Promise<DayReport> {
  const runs = (await reads.runsOfDay(date, opts.mercNo)).filter((r) => opts.keep?.(r) ?? true);
  const reports: RunReport[] = [];
  for (const r of runs) reports.push(await runReport(reads, r));
  return { date, runs: reports };
}

/** 0 when every run compared, 1 when one failed or was not ready (CONTRACT §5). */
export const reportExitCode = (report: DayReport) => (report.runs.every((r) => r.status === 'ok') ? 0 : 1);
