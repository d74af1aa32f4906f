import { randomBytes } from 'node:crypto';
import type { BillLine } from '../../src/reconcile/bill.js';
import { acpFileContent, writeAcpTradeBill } from '../fixtures/bill-writers.js';
import type { SimRefund, SimTrade } from './unionpay.js';

// UnionPay's clearing-day file, as the simulator serves it: the ACP file transfer (txnType 76,
// fileType 00, settleDate MMDD) arrives at the file host's root path and passes the simulator's
// check of the request's certId and signature first, as every ACP request; the signed answer
// carries fileContent = base64(zlib(zip)) with the INN file, built with the fixture writer from
// the simulator's own paid trades and succeeded refunds (by traceTime) and the payouts listed in
// `payouts`, over the clearing day (23:00 the day before to 23:00).

const FEE_PER_MILLE = 6n;
const fee = (fen: bigint) => (fen * FEE_PER_MILLE + 500n) / 1000n;

export interface SimPayout {
  orderId: string;
  queryId: string;
  amountFen: bigint;
  feeFen: bigint;
  /** epoch ms */
  at: number;
}

const HOUR = 3600_000;
const clearingDay = (date: string) => {
  const from = Date.parse(`${date}T00:00:00+08:00`) - HOUR;
  return { from, to: from + 24 * HOUR };
};

/** MMDDhhmmss (Beijing) as epoch ms, in the year that puts it nearest `nearMs`. */
function traceMs(mmddhhmmss: string, nearMs: number): number {
  const year = new Date(nearMs + 8 * HOUR).getUTCFullYear();
  const m = mmddhhmmss.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/)!;
  const at = (y: number) => Date.parse(`${y}-${m[1]}-${m[2]}T${m[3]}:${m[4]}:${m[5]}+08:00`);
  return [year - 1, year, year + 1].map(at).reduce((a, b) => (Math.abs(b - nearMs) < Math.abs(a - nearMs) ? b : a));
}

const traceMsDate = (mmddhhmmss: string, nearMs: number) => new Date(traceMs(mmddhhmmss, nearMs) + 8 * HOUR).toISOString().slice(0, 10);

export class UnionpayBills {
  now: () => number = Date.now;
  /** Clearing days over whose file is not made yet (respCode 98). */
  readonly notMade = new Set<string>();
  /** Payouts (代付) the clearing file lists. */
  readonly payouts: SimPayout[] = [];
  /** How many coming answers carry fileContent that does not inflate. */
  damaged = 0;
  /** How many coming answers carry a file whose last record is cut short. */
  tampered = 0;
  readonly transfers: string[] = [];
  /** Trades (by orderId) the bill leaves out, and trades it bills at another amount (fen) than was paid. */
  readonly leftOut = new Set<string>();
  readonly billedAs = new Map<string, bigint>();

  constructor(
    private readonly merId: string,
    private readonly trades: ReadonlyMap<string, SimTrade>,
    private readonly refunds: ReadonlyMap<string, SimRefund>,
  ) {}

  lines(date: string): BillLine[] {
    const { from, to } = clearingDay(date);
    const within = (ms: number) => ms >= from && ms < to;
    const out: BillLine[] = [];
    let n = 0;
    for (const t of this.trades.values()) {
      if (t.status !== 'paid' || !t.traceTime || !t.queryId || this.leftOut.has(t.orderId)) continue;
      const at = traceMs(t.traceTime, from);
      const billed = this.billedAs.get(t.orderId) ?? t.amountFen;
      if (within(at)) out.push({ kind: 'trade', orderId: t.orderId, channelTradeNo: t.queryId, amountFen: billed, feeFen: fee(billed), endedAt: at, status: 'success', lineNo: ++n });
    }
    for (const r of this.refunds.values()) {
      if (r.status !== 'succeeded') continue;
      const at = traceMs(r.traceTime, from);
      const orig = [...this.trades.values()].find((x) => x.queryId === r.origQryId);
      if (within(at)) {
        out.push({
          kind: 'refund', refundId: r.orderId, orderId: orig?.orderId, channelTradeNo: r.origQryId, channelRefundNo: r.queryId,
          amountFen: r.amountFen, feeFen: -fee(r.amountFen), endedAt: at, status: 'success', lineNo: ++n,
        });
      }
    }
    for (const p of this.payouts) {
      if (within(p.at)) out.push({ kind: 'payout', orderId: p.orderId, channelTradeNo: p.queryId, amountFen: p.amountFen, feeFen: p.feeFen, endedAt: p.at, status: 'success', lineNo: ++n });
    }
    return out.sort((a, b) => a.endedAt - b.endedAt);
  }

  /** The answer fields of a file transfer (signed by the simulator). */
  fileTransfer(f: Record<string, string>, echo: Record<string, string>): Record<string, string> {
    const base = { ...echo, settleDate: f.settleDate ?? '', fileType: f.fileType ?? '' };
    if (f.txnType !== '76' || f.txnSubType !== '01' || f.bizType !== '000000' || f.fileType !== '00' || !/^\d{4}$/.test(f.settleDate ?? '')) {
      return { ...base, respCode: '13', respMsg: '报文交易要素缺失' };
    }
    // MMDD names the nearest such day.
    const date = traceMsDate(`${f.settleDate}120000`, this.now());
    if (clearingDay(date).to > this.now() || this.notMade.has(date)) return { ...base, respCode: '98', respMsg: '文件不存在' };
    this.transfers.push(date);
    const cutLastRecord = this.tampered > 0;
    if (cutLastRecord) this.tampered--;
    let fileContent = acpFileContent(writeAcpTradeBill(this.lines(date), { merId: this.merId, billDate: date, cutLastRecord }));
    if (this.damaged > 0) {
      this.damaged--;
      fileContent = randomBytes(300).toString('base64');
    }
    return { ...base, respCode: '00', respMsg: '成功[0000000]', fileName: `${date.replaceAll('-', '').slice(2)}_${this.merId}.zip`, fileContent };
  }
}
