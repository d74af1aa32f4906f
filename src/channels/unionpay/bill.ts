import iconv from 'iconv-lite';
import { BillError, unionpayClearingDay, type Bill, type BillLine, type RefundLine } from '../../reconcile/bill.js';
import { beijingParts, inflateBill, unzipFiles } from '../../reconcile/bill-text.js';

// UnionPay ACP 5.1.0 file transfer (fileTransRequest, txnType 76, fileType 00, settleDate MMDD):
// the answer's fileContent is base64 of zlib-deflated bytes, which are a zip holding the
// clearing day's files; the merchant's transaction file is INN<yyMMdd><nn>ZM_<merId> (the ZME
// beside it holds error records and is not read here).
//
// The INN…ZM file: GBK, one fixed-width record a line, fields separated by one space, widths in
// bytes as published in 《全渠道平台接入接口规范 第3部分 文件接口》 6.1 (全渠道商户对账文件 ZM 文件), and
// as UnionPay's SDK demo parses it (SDKUtil.parseZMFile). Amounts X+n12: C (credit to the merchant)
// or D (debit), then 12 digits of fen. A record may carry more after 原始交易订单号 (保留使用, and
// fields later versions add there); that tail is not read.
const FIELDS = [
  // name,            bytes, read as
  ['交易代码', 3],
  ['代理机构标识码', 11],
  ['发送机构标识码', 11],
  ['系统跟踪号', 6],
  ['交易传输时间', 10], //       MMDDhhmmss, Beijing: when the transaction was made
  ['帐号', 19], //               masked card number
  ['交易金额', 12], //           fen: the amount of the payment, refund or payout
  ['商户类别', 4],
  ['终端类型', 2],
  ['查询流水号', 21], //         queryId: the channel's number of this transaction
  ['支付方式（旧）', 2],
  ['商户订单号', 32], //         orderId as sent: dtpay's orderId, or its refundId for a refund
  ['支付卡类型', 2],
  ['原始交易的系统跟踪号', 6],
  ['原始交易日期时间', 10],
  ['商户手续费', 13], //         X+n12: D charged, C given back
  ['结算金额', 13], //           X+n12: what is settled with the merchant before the fee
  ['支付方式', 4],
  ['集团商户代码', 15],
  ['交易类型', 2], //            txnType: 01 consume, 04 refund (退货), 31 consume cancel, 12 payout (代付)
  ['交易子类', 2],
  ['业务类型', 6],
  ['帐号类型', 2],
  ['账单类型', 4],
  ['账单号码', 32],
  ['交互方式', 1],
  ['原交易查询流水号', 21], //   origQryId: the refunded payment's queryId
  ['商户代码', 15], //           merId
  ['分账入账方式', 1],
  ['二级商户代码', 15],
  ['二级商户简称', 32], //       GBK text, so 16 Chinese characters at most
  ['二级商户分账入账金额', 13],
  ['清算净额', 13], //           X+n12: 结算金额 less 商户手续费
  ['终端号', 8],
  ['商户自定义域', 32],
  ['优惠金额', 13],
  ['发票金额', 13],
  ['分期付款附加手续费', 12],
  ['分期付款期数', 2],
  ['交易介质', 1],
  ['原始交易订单号', 32], //     the refunded order's orderId
] as const satisfies readonly (readonly [string, number])[];

type Field = (typeof FIELDS)[number][0];

const OFFSETS: ReadonlyMap<Field, readonly [number, number]> = (() => {
  const m = new Map<Field, readonly [number, number]>();
  let at = 0;
  for (const [name, width] of FIELDS) {
    m.set(name, [at, at + width]);
    at += width + 1;
  }
  return m;
})();

/** The bytes a record must have to hold every field read (the last one's end). */
export const ACP_RECORD_MIN_BYTES = OFFSETS.get('原始交易订单号')![1];

const WHAT = 'unionpay trade bill';

/** The fileContent of a txnType 76 answer (base64 of zlib data) → the zip it carries. */
export function acpFileContentToZip(fileContent: string): Uint8Array {
  const b64 = fileContent.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new BillError('archive', `${WHAT}: fileContent is not base64`);
  return inflateBill(Buffer.from(b64, 'base64'), WHAT);
}

export interface AcpBillOptions {
  /** the clearing day asked for (settleDate), YYYY-MM-DD */
  billDate: string;
}

/** The zip of a clearing day → Bill over UnionPay's clearing day (23:00 the day before to 23:00). */
export function parseAcpTradeBill(zip: Uint8Array, opts: AcpBillOptions): Bill {
  const window = unionpayClearingDay(opts.billDate);
  const files = unzipFiles(zip, (n) => /^(?:.*\/)?INN\d{8}ZM_/.test(n), WHAT);
  const yymmdd = opts.billDate.slice(2).replaceAll('-', '');
  const mine = [...files].filter(([n]) => /INN(\d{6})\d{2}ZM_/.exec(n)?.[1] === yymmdd);
  if (mine.length === 0) {
    throw new BillError('day', `${WHAT}: the archive's ${[...files.keys()].join(', ')} is not the INN file of ${opts.billDate}`);
  }
  if (mine.length > 1) throw new BillError('archive', `${WHAT}: more than one INN file for ${opts.billDate}`);
  const [name, bytes] = mine[0]!;

  const out: BillLine[] = [];
  let lineNo = 0;
  let start = 0;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    const record = buf.subarray(start, end > start && buf[end - 1] === 0x0d ? end - 1 : end);
    start = end + 1;
    lineNo++;
    if (record.every((b) => b === 0x20)) continue;
    out.push(readRecord(record, lineNo, name, window.fromMs));
  }
  return { source: 'unionpay', billDate: opts.billDate, window, lines: out };
}

function readRecord(record: Buffer, lineNo: number, file: string, dayStartMs: number): BillLine {
  const where = `${WHAT}: ${file} record ${lineNo}`;
  if (record.length < ACP_RECORD_MIN_BYTES) {
    throw new BillError('line', `${where} has ${record.length} bytes, a record at least ${ACP_RECORD_MIN_BYTES}`);
  }
  const text = (f: Field) => {
    const [a, b] = OFFSETS.get(f)!;
    const s = iconv.decode(record.subarray(a, b), 'gbk');
    if (s.includes('\ufffd')) throw new BillError('line', `${where}: ${f} is not GBK text`);
    return s.trim();
  };
  const fen = (f: Field) => {
    const s = text(f);
    if (!/^\d{1,12}$/.test(s)) throw new BillError('line', `${where}: ${f} ${JSON.stringify(s)} is not an amount of fen`);
    return BigInt(s);
  };
  /** X+n12, signed toward the merchant: C positive, D negative; blank is nothing. */
  const signed = (f: Field) => {
    const s = text(f);
    if (s === '') return 0n;
    const m = /^([CD])(\d{12})$/.exec(s);
    if (!m) throw new BillError('line', `${where}: ${f} ${JSON.stringify(s)} is not C/D and 12 digits`);
    return m[1] === 'C' ? BigInt(m[2]!) : -BigInt(m[2]!);
  };
  const endedAt = clearingDayTime(text('交易传输时间'), dayStartMs);
  if (endedAt === undefined) throw new BillError('line', `${where}: 交易传输时间 ${JSON.stringify(text('交易传输时间'))} is not MMDDhhmmss`);
  const orderId = text('商户订单号');
  const queryId = text('查询流水号');
  if (!orderId || !queryId) throw new BillError('line', `${where} names no 商户订单号 or 查询流水号`);
  const amountFen = fen('交易金额');
  // The fee is a debit to the merchant when charged: as a fee, D is positive.
  const feeFen = -signed('商户手续费');
  const settled = signed('结算金额');
  const settledFen = settled < 0n ? -settled : settled;
  const txnType = text('交易类型');
  switch (txnType) {
    case '01':
      return { kind: 'trade', orderId, channelTradeNo: queryId, amountFen, settledFen, feeFen, endedAt, status: 'success', lineNo };
    case '04':
    case '31': {
      // 04 refund (退货) and 31 cancel (撤销) both give the payment back; dtpay makes only 04.
      const line: RefundLine = { kind: 'refund', refundId: orderId, channelRefundNo: queryId, amountFen, settledFen, feeFen, endedAt, status: 'success', lineNo };
      const origOrder = text('原始交易订单号');
      const origQuery = text('原交易查询流水号');
      if (origOrder) line.orderId = origOrder;
      if (origQuery) line.channelTradeNo = origQuery;
      return line;
    }
    case '12':
      return { kind: 'payout', orderId, channelTradeNo: queryId, amountFen, settledFen, feeFen, endedAt, status: 'success', lineNo };
    default:
      throw new BillError('line', `${where}: 交易类型 ${JSON.stringify(txnType)} is not a payment (01), refund (04, 31) or payout (12)`);
  }
}

/**
 * MMDDhhmmss carries no year. A clearing day spans at most two calendar days (23:00 the day
 * before to 23:00), so the year is the one that puts the time nearest the day: a 12-31 23:30
 * payment on the clearing day of 01-01 belongs to the year before.
 */
function clearingDayTime(mmddhhmmss: string, dayStartMs: number): number | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(mmddhhmmss);
  if (!m) return undefined;
  const [mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number];
  const year = new Date(dayStartMs + 8 * 3600_000 + 3600_000).getUTCFullYear();
  let best: number | undefined;
  for (const y of [year - 1, year, year + 1]) {
    const t = beijingParts([y, mo, d, h, mi, s]);
    if (t !== undefined && (best === undefined || Math.abs(t - dayStartMs) < Math.abs(best - dayStartMs))) best = t;
  }
  return best;
}
