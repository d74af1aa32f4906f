import t from 'tap';
import { zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { parseAlipayTradeBill } from '../../src/channels/alipay/bill.js';
import { billFile, bj, crashesOnDamage } from '../fixtures/bill-files.js';

// Alipay's trade bill zip (fixtures: test/fixtures/bills/make-fixtures.py, Alipay's published 业务明细 layout).

const billDate = '2026-11-30';
const parse = (zip: Uint8Array, date = billDate) => parseAlipayTradeBill(zip, { billDate: date });

t.test('the day\'s zip: trades, a refund, fees and discounts, both ends of the Beijing day', async (t) => {
  const bill = parse(billFile('alipay-20261130.zip'));
  t.equal(bill.source, 'alipay');
  t.same(bill.window, { fromMs: bj('2026-11-30 00:00:00'), toMs: bj('2026-12-01 00:00:00') });
  t.strictSame(bill.lines, [
    { kind: 'trade', orderId: '2026112923581000000001', channelTradeNo: '2026112922001400011000000001', amountFen: 1200n, settledFen: 1200n, feeFen: 7n, endedAt: bj('2026-11-30 00:00:00'), status: 'success', lineNo: 6 },
    { kind: 'trade', orderId: '2026113010150000000002', channelTradeNo: '2026113022001400011000000002', amountFen: 5000n, settledFen: 4500n, feeFen: 27n, endedAt: bj('2026-11-30 10:15:30'), status: 'success', lineNo: 7 },
    { kind: 'trade', orderId: '2026113023595000000003', channelTradeNo: '2026113022001400011000000003', amountFen: 1n, settledFen: 1n, feeFen: 0n, endedAt: bj('2026-11-30 23:59:59'), status: 'success', lineNo: 8 },
    { kind: 'refund', refundId: '2026113014000000000001', orderId: '2026112923581000000001', channelTradeNo: '2026112922001400011000000001', amountFen: 500n, settledFen: 500n, feeFen: -3n, endedAt: bj('2026-11-30 14:00:05'), status: 'success', lineNo: 9 },
  ]);
  t.equal(bill.lines[0]!.endedAt, bill.window.fromMs, 'paid at 00:00:00 +08:00: the first instant of the day');
  t.equal(bill.lines[2]!.endedAt, bill.window.toMs - 1000, 'paid at 23:59:59 +08:00: the last second of the day');
  t.same(bill.summary, { 交易合计笔数: '3', 交易商家实收: '57.01', 交易商家优惠: '5.00', 退款合计笔数: '1', 退款商家实收: '-5.00', 退款商家优惠: '0.00' });
});

t.test('a bill of another day is refused', async (t) => {
  t.throws(() => parse(billFile('alipay-20261130.zip'), '2026-12-01'), { name: 'BillError', code: 'day', message: /20261130/ });
});

t.test('a summary that disagrees with the lines, or none at all', async (t) => {
  t.throws(() => parse(billFile('alipay-20261130-summary-mismatch.zip')), { name: 'BillError', code: 'summary', message: /57\.02.*57\.01/ });
  t.throws(() => parse(billFile('alipay-20261130-no-summary.zip')), { name: 'BillError', code: 'summary', message: /交易合计/ });
});

t.test('an unknown column layout names the columns it lacks', async (t) => {
  t.throws(() => parse(billFile('alipay-20261130-unknown-layout.zip')), { name: 'BillError', code: 'layout', message: /支付宝交易号.*订单金额\(元\)/ });
});

t.test('archives that are not the bill', async (t) => {
  const zip = billFile('alipay-20261130.zip');
  t.throws(() => parse(zip.slice(0, zip.length / 2)), { name: 'BillError', code: 'archive' }, 'a truncated zip');
  t.throws(() => parse(new Uint8Array(0)), { name: 'BillError', code: 'archive' }, 'nothing');
  t.throws(() => parse(new TextEncoder().encode('<html>error</html>')), { name: 'BillError', code: 'archive' }, 'an error page');
  t.throws(() => parse(billFile('unionpay-20261130.zip')), { name: 'BillError', code: 'archive', message: /INN26113088ZM/ }, 'another channel\'s zip');
});

t.test('lines that cannot be read fail the bill, naming the line', async (t) => {
  const zipOf = (rows: string[], totals = ['#交易合计：1笔，商家实收共12.00元，商家优惠共0.00元', '#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元']) => {
    const text = [
      '#支付宝业务明细查询',
      '#-----------------------------------------业务明细列表----------------------------------------',
      '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注',
      ...rows,
      '#-----------------------------------------业务明细列表结束------------------------------------',
      ...totals,
    ].join('\r\n');
    return zipSync({ '2088_20261130_业务明细.csv': iconv.encode(text, 'gbk') });
  };
  const row = (o: Partial<Record<'type' | 'ended' | 'amount' | 'fee', string>> = {}) =>
    `2026113022001400011000000009\t,2026113000000000000009\t,${o.type ?? '交易'},商品,2026-11-30 10:00:00,${o.ended ?? '2026-11-30 10:00:05'},,,,,a***@b.c,${o.amount ?? '12.00'},${o.amount ?? '12.00'},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,${o.fee ?? '-0.07'},0.00,`;
  t.equal(parse(zipOf([row()])).lines.length, 1, 'the row itself reads');
  t.throws(() => parse(zipOf([row({ type: '冻结' })])), { code: 'line', message: /line 4.*业务类型 "冻结"/ });
  t.throws(() => parse(zipOf([row({ ended: '2026/11/30 10:00:05' })])), { code: 'line', message: /完成时间/ });
  t.throws(() => parse(zipOf([row({ amount: '12,00' })])), { code: 'line' });
  t.throws(() => parse(zipOf([row({ fee: '-0.0７' })])), { code: 'line', message: /服务费/ });
  t.throws(() => parse(zipOf([row({ type: '退款' })], ['#交易合计：0笔，商家实收共0.00元，商家优惠共0.00元', '#退款合计：1笔，商家实收退款共12.00元，商家优惠退款共0.00元'])), { code: 'line', message: /negative/ }, 'a refund line with a positive amount');
  t.throws(() => parse(zipOf([row() + ',extra'])), { code: 'line', message: /fields/ });
});

t.test('damaged archives never crash the parser', async (t) => {
  const crashes = crashesOnDamage(billFile('alipay-20261130.zip'), (b) => parse(b), 20261130);
  t.same(crashes, [], 'every failure is a BillError');
});
