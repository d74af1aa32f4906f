import t from 'tap';
import { createHash } from 'node:crypto';
import { parseWxTradeBill, readWxTradeBill, verifyWxBillHash, writeWxTradeBill, WX_ALL_COLUMNS } from '../../src/channels/wxpay/bill.js';
import { parseSandboxBill, sandboxFeeFen, writeSandboxBill } from '../../src/channels/sandbox/bill.js';
import type { BillLine } from '../../src/reconcile/bill.js';
import { billFile, bj, crashesOnDamage } from '../fixtures/bill-files.js';

// WeChat Pay's trade bill, bill_type ALL (fixtures: test/fixtures/bills/make-fixtures.py, WeChat's
// published 交易账单 layout), and the sandbox's bill in the same layout.

const billDate = '2026-11-30';
const csv = billFile('wxpay-20261130-ALL.csv');
const gz = billFile('wxpay-20261130-ALL.csv.gz');
const sha1 = new TextDecoder().decode(billFile('wxpay-20261130-ALL.sha1')).trim();

const EXPECTED: BillLine[] = [
  { kind: 'trade', orderId: '2026112923581000000011', channelTradeNo: '4200000001202611300000000011', amountFen: 1200n, settledFen: 1200n, feeFen: 7n, endedAt: bj('2026-11-30 00:00:00'), status: 'success', lineNo: 2 },
  { kind: 'trade', orderId: '2026113010150000000012', channelTradeNo: '4200000002202611300000000012', amountFen: 5000n, settledFen: 4500n, feeFen: 27n, endedAt: bj('2026-11-30 10:15:30'), status: 'success', lineNo: 3 },
  { kind: 'trade', orderId: '2026113023595000000013', channelTradeNo: '4200000003202611300000000013', amountFen: 1n, settledFen: 1n, feeFen: 0n, endedAt: bj('2026-11-30 23:59:59'), status: 'success', lineNo: 4 },
  { kind: 'refund', refundId: '2026113014000000000011', amountFen: 500n, settledFen: 500n, feeFen: -3n, endedAt: bj('2026-11-30 14:00:05'), status: 'success', lineNo: 5, orderId: '2026112923581000000011', channelTradeNo: '4200000001202611300000000011', channelRefundNo: '50300000012026113000000000011' },
  { kind: 'refund', refundId: '2026113020000000000012', amountFen: 1000n, settledFen: 1000n, feeFen: -6n, endedAt: bj('2026-11-30 20:00:00'), status: 'processing', lineNo: 6, orderId: '2026113010150000000012', channelTradeNo: '4200000002202611300000000012', channelRefundNo: '50300000022026113000000000012' },
];

t.test('the gzip download: inflated, hash checked, parsed', async (t) => {
  const bill = readWxTradeBill(gz, { billDate, gzip: true, hashType: 'SHA1', hashValue: sha1 });
  t.equal(bill.source, 'wxpay');
  t.strictSame(bill.lines, EXPECTED);
  t.same(bill.summary, { 总交易单数: '5', 应结订单总金额: '57.01', 退款总金额: '15.00', 充值券退款总金额: '0.00', 手续费总金额: '0.25000', 订单总金额: '62.01', 申请退款总金额: '15.00' });
  t.equal(bill.lines[0]!.endedAt, bill.window.fromMs, '00:00:00 +08:00 opens the day');
  t.equal(bill.lines[2]!.endedAt, bill.window.toMs - 1000, '23:59:59 +08:00 closes it');
  t.strictSame(readWxTradeBill(csv, { billDate, gzip: false, hashType: 'SHA1', hashValue: sha1.toUpperCase() }).lines, EXPECTED, 'uncompressed, either hex case');
});

t.test('the SHA1 check: of the bill itself, with the announced digest', async (t) => {
  t.doesNotThrow(() => verifyWxBillHash(csv, 'SHA1', sha1));
  const wrong = sha1.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  t.throws(() => verifyWxBillHash(csv, 'SHA1', wrong), { name: 'BillError', code: 'hash', message: new RegExp(wrong) });
  t.throws(() => readWxTradeBill(gz, { billDate, gzip: true, hashType: 'SHA1', hashValue: createHash('sha1').update(gz).digest('hex') }), { code: 'hash' }, 'a digest of the gzip is not the bill\'s');
  t.throws(() => verifyWxBillHash(csv, 'MD5', sha1), { code: 'hash', message: /SHA1/ });
  t.throws(() => verifyWxBillHash(csv, 'SHA1', 'nothex'), { code: 'hash' });
  const tampered = csv.slice();
  tampered[tampered.length - 5] = 0x39;
  t.throws(() => verifyWxBillHash(tampered, 'SHA1', sha1), { code: 'hash' }, 'one byte changed');
});

t.test('archives and layouts that are not the bill', async (t) => {
  t.throws(() => readWxTradeBill(gz.slice(0, 200), { billDate, gzip: true, hashType: 'SHA1', hashValue: sha1 }), { code: 'archive' }, 'a truncated gzip');
  t.throws(() => readWxTradeBill(csv, { billDate, gzip: true, hashType: 'SHA1', hashValue: sha1 }), { code: 'archive' }, 'not gzip at all');
  t.throws(() => parseWxTradeBill(billFile('wxpay-20261130-summary-mismatch.csv'), { billDate }), { code: 'summary', message: /手续费总金额 0\.26000.*0\.25000/ });
  t.throws(() => parseWxTradeBill(billFile('wxpay-20261130-old-layout.csv'), { billDate }), { code: 'layout', message: /应结订单金额.*订单金额.*申请退款金额/ });
  const text = new TextDecoder().decode(csv);
  const bytes = (s: string) => new TextEncoder().encode(s);
  t.throws(() => parseWxTradeBill(bytes(text.split('\r\n').slice(0, 6).join('\r\n')), { billDate }), { code: 'summary' }, 'cut before the summary');
  t.throws(() => parseWxTradeBill(bytes(text.replace('`5,`57.01', '`4,`57.01')), { billDate }), { code: 'summary', message: /总交易单数 4/ });
  t.throws(() => parseWxTradeBill(bytes(text.replace('`NATIVE,`SUCCESS', '`NATIVE,`CLOSED')), { billDate }), { code: 'line', message: /line 2.*CLOSED/ });
  t.throws(() => parseWxTradeBill(bytes(text.replace('`0.07000', '`0.07x')), { billDate }), { code: 'line', message: /手续费/ });
  t.throws(() => parseWxTradeBill(bytes(text.replace('`2026-11-30 10:15:30', '2026-11-30 10:15:30')), { billDate }), { code: 'line', message: /line 3/ }, 'a row without backticks');
  t.throws(() => parseWxTradeBill(bytes(text + 'trailing\r\n'), { billDate }), { code: 'layout' });
  t.throws(() => parseWxTradeBill(Uint8Array.from([0xff, 0xfe, 0x00]), { billDate }), { code: 'layout' }, 'not UTF-8');
  t.same(crashesOnDamage(gz, (b) => readWxTradeBill(b, { billDate, gzip: true, hashType: 'SHA1', hashValue: sha1 }), 1130), [], 'damaged gzip');
  t.same(crashesOnDamage(csv, (b) => parseWxTradeBill(b, { billDate }), 2026), [], 'damaged text');
});

const LINES: BillLine[] = [
  { kind: 'trade', orderId: '2026113000000000000001', channelTradeNo: 'SBX2026113000000000000001', amountFen: 1200n, settledFen: 1200n, feeFen: 7n, endedAt: bj('2026-11-30 00:00:00'), status: 'success', lineNo: 2 },
  { kind: 'trade', orderId: '2026113000000000000002', channelTradeNo: 'SBX2026113000000000000002', amountFen: 999999999999n, settledFen: 999999990000n, feeFen: 6000000000n, endedAt: bj('2026-11-30 12:34:56'), status: 'success', lineNo: 3 },
  { kind: 'trade', orderId: '2026113000000000000003', channelTradeNo: 'SBX2026113000000000000003', amountFen: 300n, settledFen: 300n, feeFen: 2n, endedAt: bj('2026-11-30 13:00:00'), status: 'revoked', lineNo: 4 },
  { kind: 'refund', refundId: '2026113000000000000004', amountFen: 500n, settledFen: 450n, feeFen: -3n, endedAt: bj('2026-11-30 23:59:59'), status: 'success', lineNo: 5, orderId: '2026113000000000000001', channelTradeNo: 'SBX2026113000000000000001', channelRefundNo: 'SBXR1' },
  { kind: 'refund', refundId: '2026113000000000000005', amountFen: 1n, settledFen: 1n, feeFen: 0n, endedAt: bj('2026-11-30 23:00:00'), status: 'processing', lineNo: 6, orderId: '2026113000000000000002', channelTradeNo: 'SBX2026113000000000000002', channelRefundNo: 'SBXR2' },
];

t.test('the writer: the layout WeChat publishes, read back line for line', async (t) => {
  const bytes = writeWxTradeBill(LINES, { appId: 'wx0', mchId: '1900000109', rate: '0.60%', subject: (l) => (l.kind === 'trade' ? '测试商品,含税' : '退款') });
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  t.ok(text.startsWith('\ufeff' + WX_ALL_COLUMNS.join(',') + '\r\n'), 'BOM, the ALL header, CRLF');
  const rows = text.slice(1).split('\r\n');
  t.equal(rows.length, 1 + LINES.length + 2 + 1, 'header, rows, summary header and row, final CRLF');
  t.ok(rows.slice(1, 1 + LINES.length).every((r) => r.startsWith('`') && r.split(',`').length === WX_ALL_COLUMNS.length), 'every field starts with a backtick');
  t.equal(rows[LINES.length + 2], '`5,`9999999915.00,`4.51,`0.50,`60000000.06000,`10000000014.99,`5.01', 'the summary is the rows\' sums');
  const back = parseWxTradeBill(bytes, { billDate });
  t.strictSame(back.lines, LINES, 'round trip');
});

t.test('the writer refuses what the layout cannot carry', async (t) => {
  const payout: BillLine = { kind: 'payout', orderId: '1', channelTradeNo: '1', amountFen: 1n, feeFen: 0n, endedAt: 0, status: 'success', lineNo: 1 };
  t.throws(() => writeWxTradeBill([payout], { appId: 'a', mchId: 'm', rate: '0.60%' }), RangeError);
  t.throws(() => writeWxTradeBill([LINES[0]!], { appId: 'a', mchId: 'm', rate: '0.60%', subject: () => 'a,`b' }), RangeError);
  t.throws(() => writeWxTradeBill([LINES[0]!], { appId: 'a', mchId: 'm', rate: '0.60%', subject: () => 'a\nb' }), RangeError);
});

t.test('the sandbox bill: the same layout and parser, its own source; its fee', async (t) => {
  const bill = parseSandboxBill(writeSandboxBill(LINES), billDate);
  t.equal(bill.source, 'sandbox');
  t.strictSame(bill.lines, LINES);
  t.strictSame(parseSandboxBill(writeSandboxBill([]), billDate).lines, [], 'a day without trades');
  t.throws(() => parseSandboxBill(new TextEncoder().encode('nonsense'), billDate), { code: 'layout', message: /sandbox bill/ });
  t.equal(sandboxFeeFen(1200n), 7n, '0.6 % of 12.00 is 0.072');
  t.equal(sandboxFeeFen(97n), 1n, '0.582 fen rounds up');
  t.equal(sandboxFeeFen(250n), 2n, '1.5 fen rounds half up');
  t.equal(sandboxFeeFen(83n), 0n, '0.498 fen rounds down');
  t.equal(sandboxFeeFen(1n), 0n);
});

