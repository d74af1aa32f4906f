import { beijingDay, BillError, type Bill, type BillLine } from '../../reconcile/bill.js';
import { beijingDateTime, cell, decimalUnits, decodeGbk, signedYuan, splitCsv, textLines, unzipFiles } from '../../reconcile/bill-text.js';

// Alipay's trade bill (alipay.data.dataservice.bill.downloadurl.query, bill_type trade): the
// bill_download_url serves a zip of GBK CSV files whose names are GBK without the zip's UTF-8 flag:
//   <pid>0156_<yyyyMMdd>_业务明细.csv          one line per trade and per refund  ← read here
//   <pid>0156_<yyyyMMdd>_业务明细(汇总).csv    totals per store                   (not read)
//
// The 业务明细 file, as Alipay publishes it (开放平台 对账说明, and the layout the SDK demos parse):
//   #支付宝业务明细查询
//   #账号：[<pid>0156]
//   #起始日期：[2026年11月30日 00:00:00]   终止日期：[2026年12月01日 00:00:00]
//   #-----------------------------------------业务明细列表----------------------------------------
//   支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,
//   订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,
//   券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注
//   <data rows: not quoted; long ids end with a tab so spreadsheets keep them as text>
//   #-----------------------------------------业务明细列表结束------------------------------------
//   #交易合计：3笔，商家实收共57.01元，商家优惠共5.00元
//   #退款合计：1笔，商家实收退款共-5.00元，商家优惠退款共0.00元
//   #导出时间：[2026年12月01日 09:12:45]
//
// Columns read (by name; newer bills append columns such as 实收净额（元）, 商户识别号, which are ignored):
//   支付宝交易号        the channel's trade number (the refunded trade's, on a refund line)
//   商户订单号          out_trade_no = dtpay's orderId (the refunded order's, on a refund line)
//   业务类型            交易 (a payment) or 退款 (a refund); anything else fails the bill
//   完成时间            yyyy-MM-dd HH:mm:ss, Beijing: when it was paid or refunded
//   订单金额（元）      the order amount; negative on a refund line, where it is the refunded amount
//   商家实收（元）      what the merchant received (订单金额 less discounts the merchant funded); negative on refunds
//   商家优惠（元）      discounts the merchant funded, summed in the summary lines
//   退款批次号/请求号  out_request_no = dtpay's refundId
//   服务费（元）        Alipay's fee: negative on a trade (charged), positive on a refund (given back)
// Summary lines checked: the count of 交易 and 退款 lines and their sums of 商家实收 and 商家优惠.

const WHAT = 'alipay trade bill';

const COLUMNS = {
  tradeNo: '支付宝交易号',
  orderId: '商户订单号',
  type: '业务类型',
  endedAt: '完成时间',
  amount: '订单金额(元)',
  received: '商家实收(元)',
  merchantDiscount: '商家优惠(元)',
  requestNo: '退款批次号/请求号',
  fee: '服务费(元)',
} as const;

// Full-width and half-width brackets both occur in the wild; they name the same column.
const normalizeHeader = (h: string) => cell(h).replace(/（/g, '(').replace(/）/g, ')');

const TRADE_TOTAL = /^#交易合计[：:]\s*(\d+)笔[，,]\s*商家实收共\s*(-?\d+(?:\.\d+)?)元[，,]\s*商家优惠共\s*(-?\d+(?:\.\d+)?)元/;
const REFUND_TOTAL = /^#退款合计[：:]\s*(\d+)笔[，,]\s*商家实收退款共\s*(-?\d+(?:\.\d+)?)元[，,]\s*商家优惠退款共\s*(-?\d+(?:\.\d+)?)元/;
const PERIOD = /^#起始日期[：:]\s*\[(\d{4})年(\d{2})月(\d{2})日 (\d{2}):(\d{2}):(\d{2})\]\s*终止日期[：:]\s*\[(\d{4})年(\d{2})月(\d{2})日 (\d{2}):(\d{2}):(\d{2})\]/;

export interface AlipayBillOptions {
  /** the day asked for, YYYY-MM-DD */
  billDate: string;
}

/** The bill_download_url's zip → one normalized Bill. Throws BillError, never anything else for bad input. */
export function parseAlipayTradeBill(zip: Uint8Array, opts: AlipayBillOptions): Bill {
  const window = beijingDay(opts.billDate);
  const files = unzipFiles(zip, (n) => /业务明细\.csv$/.test(n) && !n.includes('汇总'), WHAT);
  if (files.size > 1) throw new BillError('archive', `${WHAT}: the archive holds more than one 业务明细 file: ${[...files.keys()].join(', ')}`);
  const [name, bytes] = [...files][0]!;
  const compactDate = opts.billDate.replaceAll('-', '');
  const named = /_(\d{8})_业务明细\.csv$/.exec(name)?.[1];
  if (named !== undefined && named !== compactDate) {
    throw new BillError('day', `${WHAT}: ${name} is the bill of ${named}, not of ${compactDate}`);
  }
  const lines = textLines(decodeGbk(bytes, `${WHAT} ${name}`));

  let i = 0;
  for (; i < lines.length && (lines[i]!.startsWith('#') || cell(lines[i]) === ''); i++) {
    const p = PERIOD.exec(lines[i]!);
    if (!p) continue;
    const n = p.slice(1).map(Number);
    const from = Date.UTC(n[0]!, n[1]! - 1, n[2]!, n[3]!, n[4]!, n[5]!) - 8 * 3600_000;
    const to = Date.UTC(n[6]!, n[7]! - 1, n[8]!, n[9]!, n[10]!, n[11]!) - 8 * 3600_000;
    if (from !== window.fromMs || to !== window.toMs) {
      throw new BillError('day', `${WHAT}: line ${i + 1} says the bill covers ${lines[i]!.slice(1)}, not ${opts.billDate}`);
    }
  }
  if (i >= lines.length) throw new BillError('layout', `${WHAT}: no column header row`);
  const header = splitCsv(lines[i]!)?.map(normalizeHeader) ?? [];
  const at: Record<keyof typeof COLUMNS, number> = {} as never;
  const missing: string[] = [];
  for (const [key, col] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
    at[key] = header.indexOf(col);
    if (at[key] < 0) missing.push(col);
  }
  if (missing.length > 0) {
    throw new BillError('layout', `${WHAT}: unknown column layout at line ${i + 1} (no ${missing.join(', ')})`);
  }

  const out: BillLine[] = [];
  const sums = { trades: 0, tradeReceived: 0n, tradeDiscount: 0n, refunds: 0, refundReceived: 0n, refundDiscount: 0n };
  for (i++; i < lines.length && !lines[i]!.startsWith('#'); i++) {
    if (cell(lines[i]) === '') continue;
    const lineNo = i + 1;
    const fields = splitCsv(lines[i]!);
    if (!fields || fields.length !== header.length) {
      throw new BillError('line', `${WHAT}: line ${lineNo} has ${fields?.length ?? 'unreadable'} fields, the header ${header.length}`);
    }
    const text = (k: keyof typeof COLUMNS) => cell(fields[at[k]]);
    const money = (k: keyof typeof COLUMNS) => {
      const v = decimalUnits(text(k), 2);
      if (v === undefined) throw new BillError('line', `${WHAT}: line ${lineNo}: ${COLUMNS[k]} ${JSON.stringify(text(k))} is not an amount`);
      return v;
    };
    const type = text('type');
    const endedAt = beijingDateTime(text('endedAt'));
    if (endedAt === undefined) throw new BillError('line', `${WHAT}: line ${lineNo}: 完成时间 ${JSON.stringify(text('endedAt'))} is not a time`);
    const [amount, received, discount, fee] = [money('amount'), money('received'), money('merchantDiscount'), money('fee')];
    const orderId = text('orderId');
    const channelTradeNo = text('tradeNo');
    if (!orderId || !channelTradeNo) throw new BillError('line', `${WHAT}: line ${lineNo} names no 商户订单号 or 支付宝交易号`);
    if (type === '交易') {
      if (amount <= 0n) throw new BillError('line', `${WHAT}: line ${lineNo}: a trade of ${text('amount')}`);
      out.push({ kind: 'trade', orderId, channelTradeNo, amountFen: amount, settledFen: received, feeFen: -fee, endedAt, status: 'success', lineNo });
      sums.trades++;
      sums.tradeReceived += received;
      sums.tradeDiscount += discount;
    } else if (type === '退款') {
      if (amount >= 0n) throw new BillError('line', `${WHAT}: line ${lineNo}: a refund line's 订单金额 is negative, not ${text('amount')}`);
      // A refund asked for without out_request_no is numbered after the trade by Alipay; such a
      // refund was not made by dtpay, and the comparison reports it as one no dtpay refund matches.
      const refundId = text('requestNo') || orderId;
      out.push({ kind: 'refund', refundId, orderId, channelTradeNo, amountFen: -amount, settledFen: -received, feeFen: -fee, endedAt, status: 'success', lineNo });
      sums.refunds++;
      sums.refundReceived += received;
      sums.refundDiscount += discount;
    } else {
      throw new BillError('line', `${WHAT}: line ${lineNo}: 业务类型 ${JSON.stringify(type)} is neither 交易 nor 退款`);
    }
  }

  let trade: RegExpExecArray | null = null;
  let refund: RegExpExecArray | null = null;
  for (; i < lines.length; i++) {
    trade ??= TRADE_TOTAL.exec(lines[i]!);
    refund ??= REFUND_TOTAL.exec(lines[i]!);
  }
  if (!trade || !refund) throw new BillError('summary', `${WHAT}: the bill ends without its #交易合计 and #退款合计 lines`);
  const check = (label: string, stated: string, fromLines: bigint | number) => {
    const v = typeof fromLines === 'number' ? BigInt(stated) : decimalUnits(stated, 2);
    if (v !== BigInt(fromLines)) {
      throw new BillError('summary', `${WHAT}: the summary says ${label} ${stated}, the lines add up to ${typeof fromLines === 'number' ? fromLines : signedYuan(fromLines)}`);
    }
  };
  check('交易合计笔数', trade[1]!, sums.trades);
  check('交易商家实收', trade[2]!, sums.tradeReceived);
  check('交易商家优惠', trade[3]!, sums.tradeDiscount);
  check('退款合计笔数', refund[1]!, sums.refunds);
  check('退款商家实收', refund[2]!, sums.refundReceived);
  check('退款商家优惠', refund[3]!, sums.refundDiscount);

  return {
    source: 'alipay',
    billDate: opts.billDate,
    window,
    lines: out,
    summary: {
      交易合计笔数: trade[1]!,
      交易商家实收: trade[2]!,
      交易商家优惠: trade[3]!,
      退款合计笔数: refund[1]!,
      退款商家实收: refund[2]!,
      退款商家优惠: refund[3]!,
    },
  };
}
