import { createHash, timingSafeEqual } from 'node:crypto';
import { beijingDay, BillError, type Bill, type BillLine, type BillSource, type RefundLine, type TradeLine } from '../../reconcile/bill.js';
import { beijingDateTime, decimalUnits, decodeUtf8, gunzipBill, signedYuan, textLines, unitsToFen } from '../../reconcile/bill-text.js';
import { formatBeijing } from '../../domain/time.js';

// WeChat Pay's trade bill (GET /v3/bill/tradebill?bill_date=…&bill_type=ALL[&tar_type=GZIP] →
// {hash_type: SHA1, hash_value, download_url}; the download is a signed GET answered unsigned).
// UTF-8 with a BOM, CRLF lines (pay.weixin.qq.com 交易账单详细说明, bill_type ALL):
//   交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,
//   货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,
//   商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
//   `2026-11-30 10:00:00,`wx…,`1900000109,`0,`,`4200…,`2026113000000000000001,`o…,`NATIVE,`SUCCESS,…
//   总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
//   `5,`57.01,`15.00,`0.00,`0.25000,`62.01,`15.00
// Every field of a data or summary row starts with a backtick (so spreadsheets keep long numbers),
// which is also how a row is split: a comma inside 商品名称 is not followed by one.
//
// Columns read:
//   交易时间        yyyy-MM-dd HH:mm:ss Beijing: when it was paid, or when the refund was taken (not when it ended)
//   微信订单号      transaction_id (of the refunded payment, on a refund row)
//   商户订单号      out_trade_no = dtpay's orderId
//   交易状态        SUCCESS (paid), REFUND (a refund row), REVOKED (paid, then revoked)
//   应结订单金额    what is settled: 订单金额 less coupons WeChat funded (免充值券 stay with the merchant); 0.00 on refund rows
//   微信退款单号    refund_id; 商户退款单号: out_refund_no = dtpay's refundId
//   退款金额        what left the merchant for the refund (申请退款金额 less 充值券退款金额)
//   退款状态        SUCCESS, or PROCESSING / ABNORMAL while the money had not reached the payer when billed
//   手续费          WeChat's fee, five decimals: positive on payments, negative on refunds (given back)
//   订单金额        the order amount (0.00 on refund rows); 申请退款金额: the refund amount asked for
// Summary checked: the row count and every total against the sum of its column (fees to five decimals).
// Bills in WeChat's early layout (总金额 instead of 应结订单金额/订单金额) are refused, naming what is missing.

const WHAT = 'wxpay trade bill';

/** The ALL layout's columns, in WeChat's order (the writer writes exactly these). */
export const WX_ALL_COLUMNS = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态',
  '付款银行', '货币种类', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型',
  '退款状态', '商品名称', '商户数据包', '手续费', '费率', '订单金额', '申请退款金额', '费率备注',
] as const;
type Column = (typeof WX_ALL_COLUMNS)[number];

export const WX_SUMMARY_COLUMNS = ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'] as const;
type SummaryColumn = (typeof WX_SUMMARY_COLUMNS)[number];

const REQUIRED: readonly Column[] = ['交易时间', '微信订单号', '商户订单号', '交易状态', '应结订单金额', '微信退款单号', '商户退款单号', '退款金额', '退款状态', '手续费', '订单金额', '申请退款金额'];

/** Which column each summary total sums, and at what scale (WeChat prints fees to five decimals). */
const SUMS: Partial<Record<SummaryColumn, { column: Column; scale: number }>> = {
  应结订单总金额: { column: '应结订单金额', scale: 2 },
  退款总金额: { column: '退款金额', scale: 2 },
  充值券退款总金额: { column: '充值券退款金额', scale: 2 },
  手续费总金额: { column: '手续费', scale: 5 },
  订单总金额: { column: '订单金额', scale: 2 },
  申请退款总金额: { column: '申请退款金额', scale: 2 },
};

const FEE_SCALE = 5;

/**
 * Checks the downloaded bill against the hash_value the tradebill answer announced. WeChat hashes
 * the bill itself, so a GZIP download is checked after it is inflated.
 */
export function verifyWxBillHash(bill: Uint8Array, hashType: string, hashValue: string): void {
  if (hashType.toUpperCase() !== 'SHA1') throw new BillError('hash', `${WHAT}: hash_type ${JSON.stringify(hashType)} is not SHA1`);
  if (!/^[0-9a-fA-F]{40}$/.test(hashValue)) throw new BillError('hash', `${WHAT}: hash_value ${JSON.stringify(hashValue)} is not a SHA1 digest`);
  const actual = createHash('sha1').update(bill).digest();
  if (!timingSafeEqual(actual, Buffer.from(hashValue, 'hex'))) {
    throw new BillError('hash', `${WHAT}: the download's SHA1 is ${actual.toString('hex')}, the channel announced ${hashValue.toLowerCase()}`);
  }
}

export interface WxBillDownload {
  /** the day asked for, YYYY-MM-DD */
  billDate: string;
  /** asked with tar_type=GZIP */
  gzip: boolean;
  hashType: string;
  hashValue: string;
}

/** The download_url's bytes → Bill: inflated if asked for gzip, hash checked, then parsed. */
export function readWxTradeBill(download: Uint8Array, opts: WxBillDownload): Bill {
  const bill = opts.gzip ? gunzipBill(download, WHAT) : download;
  verifyWxBillHash(bill, opts.hashType, opts.hashValue);
  return parseWxTradeBill(bill, { billDate: opts.billDate });
}

export interface WxBillOptions {
  billDate: string;
  /** `sandbox` for the sandbox channel's bill, which is written in this layout */
  source?: Extract<BillSource, 'wxpay' | 'sandbox'>;
}

/** A bill in the ALL layout (uncompressed, already checked) → Bill. Throws BillError for bad input. */
export function parseWxTradeBill(bytes: Uint8Array, opts: WxBillOptions): Bill {
  const what = opts.source === 'sandbox' ? 'sandbox bill' : WHAT;
  const window = beijingDay(opts.billDate);
  const lines = textLines(decodeUtf8(bytes, what));
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (i >= lines.length) throw new BillError('layout', `${what}: empty`);
  const header = lines[i]!.split(',').map((h) => h.trim());
  const missing = REQUIRED.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new BillError('layout', `${what}: unknown column layout at line ${i + 1} (no ${missing.join(', ')})`);
  const at = (c: Column) => header.indexOf(c);

  const out: BillLine[] = [];
  const sums = new Map<SummaryColumn, bigint>();
  let rows = 0;
  for (i++; i < lines.length && !lines[i]!.startsWith('总交易单数'); i++) {
    if (lines[i]!.trim() === '') continue;
    const lineNo = i + 1;
    const fields = backtickFields(lines[i]!);
    if (!fields || fields.length !== header.length) {
      throw new BillError('line', `${what}: line ${lineNo} is not ${header.length} backtick fields`);
    }
    const text = (c: Column) => (at(c) < 0 ? '' : fields[at(c)]!.trim());
    const units = (c: Column, scale: number) => {
      const v = decimalUnits(text(c), scale);
      if (v === undefined) throw new BillError('line', `${what}: line ${lineNo}: ${c} ${JSON.stringify(text(c))} is not an amount`);
      return v;
    };
    for (const [name, sum] of Object.entries(SUMS) as [SummaryColumn, { column: Column; scale: number }][]) {
      if (at(sum.column) >= 0) sums.set(name, (sums.get(name) ?? 0n) + units(sum.column, sum.scale));
    }
    rows++;
    const endedAt = beijingDateTime(text('交易时间'));
    if (endedAt === undefined) throw new BillError('line', `${what}: line ${lineNo}: 交易时间 ${JSON.stringify(text('交易时间'))} is not a time`);
    const orderId = text('商户订单号');
    const channelTradeNo = text('微信订单号');
    const feeFen = unitsToFen(units('手续费', FEE_SCALE), FEE_SCALE);
    const state = text('交易状态');
    if (state === 'SUCCESS' || state === 'REVOKED') {
      const amountFen = units('订单金额', 2);
      if (!orderId || !channelTradeNo) throw new BillError('line', `${what}: line ${lineNo} names no 商户订单号 or 微信订单号`);
      if (state === 'SUCCESS' && amountFen <= 0n) throw new BillError('line', `${what}: line ${lineNo}: a payment of ${text('订单金额')}`);
      const line: TradeLine = {
        kind: 'trade', orderId, channelTradeNo, amountFen, settledFen: units('应结订单金额', 2), feeFen, endedAt,
        status: state === 'SUCCESS' ? 'success' : 'revoked', lineNo,
      };
      out.push(line);
    } else if (state === 'REFUND') {
      const refundId = text('商户退款单号');
      const amountFen = units('申请退款金额', 2);
      if (!refundId) throw new BillError('line', `${what}: line ${lineNo}: a refund without 商户退款单号`);
      if (amountFen <= 0n) throw new BillError('line', `${what}: line ${lineNo}: a refund of ${text('申请退款金额')}`);
      const status = refundStatus(text('退款状态'));
      if (!status) throw new BillError('line', `${what}: line ${lineNo}: 退款状态 ${JSON.stringify(text('退款状态'))} is not SUCCESS, PROCESSING or ABNORMAL`);
      const line: RefundLine = { kind: 'refund', refundId, amountFen, settledFen: units('退款金额', 2), feeFen, endedAt, status, lineNo };
      if (orderId) line.orderId = orderId;
      if (channelTradeNo) line.channelTradeNo = channelTradeNo;
      if (text('微信退款单号')) line.channelRefundNo = text('微信退款单号');
      out.push(line);
    } else {
      throw new BillError('line', `${what}: line ${lineNo}: 交易状态 ${JSON.stringify(state)} is not SUCCESS, REFUND or REVOKED`);
    }
  }

  if (i >= lines.length) throw new BillError('summary', `${what}: the bill ends without its summary (总交易单数,…)`);
  const names = lines[i]!.split(',').map((h) => h.trim());
  const values = lines[i + 1] === undefined ? undefined : backtickFields(lines[i + 1]!);
  if (!values || values.length !== names.length) throw new BillError('summary', `${what}: line ${i + 2} is not the summary row of line ${i + 1}`);
  for (let j = i + 2; j < lines.length; j++) {
    if (lines[j]!.trim() !== '') throw new BillError('layout', `${what}: line ${j + 1} follows the summary row`);
  }
  const summary: Record<string, string> = {};
  names.forEach((n, k) => (summary[n] = values[k]!.trim()));
  const count = summary['总交易单数'];
  if (count === undefined || !/^\d+$/.test(count) || Number(count) !== rows) {
    throw new BillError('summary', `${what}: the summary says 总交易单数 ${count ?? '(none)'}, the bill has ${rows} rows`);
  }
  for (const [name, sum] of Object.entries(SUMS) as [SummaryColumn, { column: Column; scale: number }][]) {
    const stated = summary[name];
    if (stated === undefined || !sums.has(name)) continue;
    const v = decimalUnits(stated, sum.scale);
    if (v !== sums.get(name)) {
      throw new BillError('summary', `${what}: the summary says ${name} ${stated}, the rows add up to ${signedYuan(sums.get(name)!, sum.scale)}`);
    }
  }
  return { source: opts.source ?? 'wxpay', billDate: opts.billDate, window, lines: out, summary };
}

function refundStatus(s: string): RefundLine['status'] | undefined {
  if (s === 'SUCCESS') return 'success';
  // Billed when taken; ABNORMAL (the payer's account refused it) still had the money leave the merchant.
  if (s === 'PROCESSING' || s === 'ABNORMAL') return 'processing';
  return undefined;
}

/** A data or summary row: every field starts with a backtick. Undefined for any other line. */
function backtickFields(line: string): string[] | undefined {
  if (!line.startsWith('`')) return undefined;
  return line.slice(1).split(',`');
}

export interface WxBillWriterOptions {
  appId: string;
  mchId: string;
  /** 费率 as WeChat prints it, e.g. `0.60%` */
  rate: string;
  /** 商品名称 of a line; none by default */
  subject?: (line: TradeLine | RefundLine) => string;
}

/**
 * The ALL layout, from lines: what the sandbox serves at /sandbox/api/bill, and what simulators
 * serve as WeChat. Payout lines have no place in it (RangeError), nor can a text field hold a line
 * break or ",`" (RangeError): the layout cannot carry them.
 */
export function writeWxTradeBill(lines: readonly BillLine[], opts: WxBillWriterOptions): Uint8Array {
  const rows: string[] = [WX_ALL_COLUMNS.join(',')];
  const totals = { settled: 0n, refund: 0n, voucherRefund: 0n, fee: 0n, order: 0n, asked: 0n };
  for (const line of lines) {
    if (line.kind === 'payout') throw new RangeError('a WeChat trade bill has no payout lines');
    const trade = line.kind === 'trade';
    const settled = line.settledFen ?? line.amountFen;
    const v: Record<Column, string> = {
      交易时间: beijingText(line.endedAt),
      公众账号ID: opts.appId,
      商户号: opts.mchId,
      特约商户号: '0',
      设备号: '',
      微信订单号: line.channelTradeNo ?? '',
      商户订单号: line.orderId ?? '',
      用户标识: '',
      交易类型: 'NATIVE',
      交易状态: trade ? (line.status === 'success' ? 'SUCCESS' : 'REVOKED') : 'REFUND',
      付款银行: 'OTHERS',
      货币种类: 'CNY',
      应结订单金额: signedYuan(trade ? settled : 0n),
      代金券金额: signedYuan(trade ? line.amountFen - settled : 0n),
      微信退款单号: trade ? '0' : (line.channelRefundNo ?? ''),
      商户退款单号: trade ? '0' : line.refundId,
      退款金额: signedYuan(trade ? 0n : settled),
      充值券退款金额: signedYuan(trade ? 0n : line.amountFen - settled),
      退款类型: trade ? '' : 'ORIGINAL',
      退款状态: trade ? '' : line.status === 'success' ? 'SUCCESS' : 'PROCESSING',
      商品名称: opts.subject?.(line) ?? '',
      商户数据包: '',
      手续费: signedYuan(line.feeFen * 1000n, FEE_SCALE),
      费率: opts.rate,
      订单金额: signedYuan(trade ? line.amountFen : 0n),
      申请退款金额: signedYuan(trade ? 0n : line.amountFen),
      费率备注: '',
    };
    for (const [k, s] of Object.entries(v)) {
      if (/[\r\n]/.test(s) || s.includes(',`')) throw new RangeError(`${k} ${JSON.stringify(s)} cannot be written in a WeChat bill`);
    }
    rows.push(WX_ALL_COLUMNS.map((c) => '`' + v[c]).join(','));
    totals.settled += trade ? settled : 0n;
    totals.refund += trade ? 0n : settled;
    totals.voucherRefund += trade ? 0n : line.amountFen - settled;
    totals.fee += line.feeFen;
    totals.order += trade ? line.amountFen : 0n;
    totals.asked += trade ? 0n : line.amountFen;
  }
  rows.push(WX_SUMMARY_COLUMNS.join(','));
  rows.push(
    [
      String(lines.length),
      signedYuan(totals.settled),
      signedYuan(totals.refund),
      signedYuan(totals.voucherRefund),
      signedYuan(totals.fee * 1000n, FEE_SCALE),
      signedYuan(totals.order),
      signedYuan(totals.asked),
    ]
      .map((s) => '`' + s)
      .join(','),
  );
  return new TextEncoder().encode('\ufeff' + rows.join('\r\n') + '\r\n');
}

const beijingText = (ms: number) => formatBeijing(ms).replace(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/, '$1-$2-$3 $4:$5:$6');
