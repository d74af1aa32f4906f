import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { BillLine } from '../../src/reconcile/bill.js';
import { writeAlipayTradeBill } from '../fixtures/bill-writers.js';
import type { SimTrade } from './alipay.js';

// Alipay's trade bill, as the simulator serves it: alipay.data.dataservice.bill.downloadurl.query
// (its RSA2 signature checked by the simulator with every other call) answers a bill_download_url
// valid 30 s; a GET of it serves the zip of the day's 业务明细, built from the simulator's own
// trades (by gmt_payment) and refunds (by their time), with the fixture writer.

const FEE_PER_MILLE = 6n;
const URL_TTL_MS = 30_000;

/** 0.6 % of an amount, half up to the fen. */
const fee = (fen: bigint) => (fen * FEE_PER_MILLE + 500n) / 1000n;

const bjMs = (text: string) => Date.parse(text.replace(' ', 'T') + '+08:00');

export class AlipayBills {
  /** The simulator's clock for "not billed yet": a day is billable once it is over. */
  now: () => number = Date.now;
  /** Days whose bill is not made yet although they are over (isp.bill_not_exist). */
  readonly notMade = new Set<string>();
  /** How many coming downloads serve a cut-off zip. */
  damaged = 0;
  /** How many coming downloads serve a bill whose summary disagrees with its lines. */
  tampered = 0;
  readonly downloads: string[] = [];
  /** Trades (by out_trade_no) the bill leaves out, and trades it bills at another amount (fen) than was paid. */
  readonly leftOut = new Set<string>();
  readonly billedAs = new Map<string, bigint>();
  private readonly urls = new Map<string, { date: string; expiresAt: number }>();
  private baseUrl = '';

  constructor(
    private readonly trades: ReadonlyMap<string, SimTrade>,
    private readonly pid = '20881021234567890156',
  ) {}

  listen(gatewayUrl: string): void {
    this.baseUrl = new URL(gatewayUrl).origin;
  }

  /** The day's lines, from the simulator's trades and refunds. */
  lines(date: string): BillLine[] {
    const out: BillLine[] = [];
    let n = 0;
    for (const t of this.trades.values()) {
      if (t.gmtPayment?.startsWith(date) && !this.leftOut.has(t.outTradeNo)) {
        const billed = this.billedAs.get(t.outTradeNo) ?? t.totalFen;
        out.push({ kind: 'trade', orderId: t.outTradeNo, channelTradeNo: t.tradeNo, amountFen: billed, feeFen: fee(billed), endedAt: bjMs(t.gmtPayment), status: 'success', lineNo: ++n });
      }
      for (const [reqNo, r] of t.refunds) {
        if (!r.at.startsWith(date)) continue;
        out.push({ kind: 'refund', refundId: reqNo, orderId: t.outTradeNo, channelTradeNo: t.tradeNo, amountFen: r.amountFen, feeFen: -fee(r.amountFen), endedAt: bjMs(r.at), status: 'success', lineNo: ++n });
      }
    }
    return out.sort((a, b) => a.endedAt - b.endedAt);
  }

  /** The query's answer fields. */
  query(biz: Record<string, unknown>): Record<string, unknown> {
    const date = biz.bill_date;
    if (biz.bill_type !== 'trade' && biz.bill_type !== 'signcustomer') {
      return { code: '40004', msg: 'Business Failed', sub_code: 'invalid_arguments', sub_msg: '入参不合法' };
    }
    if (typeof date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
      return { code: '40004', msg: 'Business Failed', sub_code: 'invalid_arguments', sub_msg: '入参不合法' };
    }
    // T+1: a day is billed once it is over in Beijing.
    if (bjMs(`${date} 00:00:00`) + 86_400_000 > this.now()) {
      return { code: '40004', msg: 'Business Failed', sub_code: 'invalid_arguments', sub_msg: '入参不合法' };
    }
    if (this.notMade.has(date)) return { code: '40004', msg: 'Business Failed', sub_code: 'isp.bill_not_exist', sub_msg: '账单不存在' };
    const token = randomBytes(12).toString('hex');
    this.urls.set(token, { date, expiresAt: Date.now() + URL_TTL_MS });
    const url = `${this.baseUrl}/bill/downloadBillFile.resource?bizType=trade&fileType=csv.zip&downloadFileName=${date.replaceAll('-', '')}.csv.zip&token=${token}`;
    return { code: '10000', msg: 'Success', bill_download_url: url };
  }

  /** GET of a download URL; false when `url` is not one (the gateway answers it). */
  serve(url: URL, res: ServerResponse): boolean {
    if (url.pathname !== '/bill/downloadBillFile.resource') return false;
    const entry = this.urls.get(url.searchParams.get('token') ?? '');
    if (!entry || entry.expiresAt < Date.now()) {
      res.writeHead(404, { 'content-type': 'text/html;charset=utf-8' }).end('<html>链接已失效</html>');
      return true;
    }
    this.urls.delete(url.searchParams.get('token')!);
    this.downloads.push(entry.date);
    const tamperSummary = this.tampered > 0;
    if (tamperSummary) this.tampered--;
    let zip = writeAlipayTradeBill(this.lines(entry.date), { pid: this.pid, billDate: entry.date, tamperSummary });
    if (this.damaged > 0) {
      this.damaged--;
      zip = zip.slice(0, Math.floor(zip.length / 2));
    }
    res.writeHead(200, { 'content-type': 'application/oct-stream', 'content-disposition': `attachment; filename="${entry.date}.csv.zip"` }).end(zip);
    return true;
  }
}
