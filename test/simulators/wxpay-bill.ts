import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { BillLine } from '../../src/reconcile/bill.js';
import { writeWxTradeBill } from '../../src/channels/wxpay/bill.js';
import type { SimRefund, SimTrade } from './wxpay.js';

// WeChat Pay's trade bill, as the simulator serves it. Both GETs pass through the simulator's
// check of our Authorization first (as every call does), so an unsigned or badly signed download
// is refused 401 SIGN_ERROR, as WeChat refuses it:
//   GET /v3/bill/tradebill?bill_date&bill_type=ALL[&tar_type=GZIP]  signed answer {hash_type SHA1, hash_value, download_url}
//   GET /v3/billdownload/file?token=…                               the bill (gzip if asked), unsigned
// The bill is built from the simulator's own trades (by success_time) and refunds (by the time
// they were taken, as WeChat bills them) with writeWxTradeBill.

const FEE_PER_MILLE = 6n;
const fee = (fen: bigint) => (fen * FEE_PER_MILLE + 500n) / 1000n;

/** What the simulator does with a request: a signed JSON answer, or the bytes of a file. */
export type BillAnswer = { status: number; json: unknown } | { file: Uint8Array };

export class WxpayBills {
  /** Days over but not billed yet (STATEMENT_CREATING); a day not over is always so. */
  readonly creating = new Set<string>();
  /** How many coming downloads are announced with a hash that is not the file's. */
  wrongHash = 0;
  /** How many coming downloads serve bytes that are not gzip. */
  damaged = 0;
  readonly downloads: string[] = [];
  /** The clock for "not billed yet" (the simulator's own by default). */
  now: () => number = () => this.account.now();
  /** Trades (by out_trade_no) the bill leaves out, and trades it bills at another amount (fen) than was paid. */
  readonly leftOut = new Set<string>();
  readonly billedAs = new Map<string, bigint>();
  private readonly files = new Map<string, { bytes: Uint8Array; date: string }>();

  constructor(
    private readonly trades: ReadonlyMap<string, SimTrade>,
    private readonly refunds: ReadonlyMap<string, SimRefund>,
    private readonly account: { appid: string; mchid: string; now: () => number },
  ) {}

  lines(date: string): BillLine[] {
    const out: BillLine[] = [];
    let n = 0;
    for (const t of this.trades.values()) {
      if (!t.successTime?.startsWith(date) || !t.transactionId || this.leftOut.has(t.outTradeNo)) continue;
      const total = this.billedAs.get(t.outTradeNo) ?? BigInt(t.request.amount.total as number);
      out.push({ kind: 'trade', orderId: t.outTradeNo, channelTradeNo: t.transactionId, amountFen: total, feeFen: fee(total), endedAt: Date.parse(t.successTime), status: 'success', lineNo: ++n });
    }
    for (const r of this.refunds.values()) {
      if (!r.createTime.startsWith(date)) continue;
      const amount = BigInt(r.refundFen);
      out.push({
        kind: 'refund', refundId: r.outRefundNo, orderId: r.outTradeNo, channelTradeNo: this.trades.get(r.outTradeNo)?.transactionId, channelRefundNo: r.refundId,
        amountFen: amount, feeFen: -fee(amount), endedAt: Date.parse(r.createTime), status: r.status === 'SUCCESS' ? 'success' : 'processing', lineNo: ++n,
      });
    }
    return out.sort((a, b) => a.endedAt - b.endedAt);
  }

  /** The answer to a bill request, or undefined when `url` is not one. */
  answer(method: string, url: URL, baseUrl: string): BillAnswer | undefined {
    if (method !== 'GET') return undefined;
    if (url.pathname === '/v3/bill/tradebill') return this.tradebill(url, baseUrl);
    if (url.pathname === '/v3/billdownload/file') {
      const f = this.files.get(url.searchParams.get('token') ?? '');
      if (!f) return { status: 404, json: { code: 'RESOURCE_NOT_EXISTS', message: '下载链接已失效' } };
      this.downloads.push(f.date);
      if (this.damaged > 0) {
        this.damaged--;
        return { file: f.bytes.slice(10) };
      }
      return { file: f.bytes };
    }
    return undefined;
  }

  private tradebill(url: URL, baseUrl: string): BillAnswer {
    const date = url.searchParams.get('bill_date') ?? '';
    const type = url.searchParams.get('bill_type') ?? 'ALL';
    const tar = url.searchParams.get('tar_type');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || type !== 'ALL' || (tar !== null && tar !== 'GZIP')) {
      return { status: 400, json: { code: 'PARAM_ERROR', message: '参数错误' } };
    }
    const dayOver = Date.parse(`${date}T00:00:00+08:00`) + 86_400_000 <= this.now();
    if (!dayOver || this.creating.has(date)) return { status: 400, json: { code: 'STATEMENT_CREATING', message: '账单生成中' } };
    const lines = this.lines(date);
    if (lines.length === 0) return { status: 400, json: { code: 'NO_STATEMENT_EXIST', message: '账单文件不存在' } };
    const csv = writeWxTradeBill(lines, { appId: this.account.appid, mchId: this.account.mchid, rate: '0.60%' });
    let hash = createHash('sha1').update(csv).digest('hex');
    if (this.wrongHash > 0) {
      this.wrongHash--;
      hash = createHash('sha1').update(csv).update('x').digest('hex');
    }
    const token = randomBytes(12).toString('hex');
    this.files.set(token, { bytes: tar === 'GZIP' ? new Uint8Array(gzipSync(csv)) : csv, date });
    return { status: 200, json: { hash_type: 'SHA1', hash_value: hash, download_url: `${baseUrl}/v3/billdownload/file?token=${token}` } };
  }
}
