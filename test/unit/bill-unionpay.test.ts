import t from 'tap';
import { unzipSync, zipSync } from 'fflate';
import { deflateRawSync } from 'node:zlib';
import { acpFileContentToZip, ACP_RECORD_MIN_BYTES, parseAcpTradeBill } from '../../src/channels/unionpay/bill.js';
import { billFile, bj, crashesOnDamage } from '../fixtures/bill-files.js';

// UnionPay ACP file transfer (txnType 76, fileType 00): the INN…ZM file of fixed-width GBK records
// (fixtures: test/fixtures/bills/make-fixtures.py, the 全渠道 ZM layout of UnionPay's file interface spec).

const billDate = '2026-11-30';
const zip = billFile('unionpay-20261130.zip');
const INN = 'INN26113088ZM_777290058110097';

t.test('the clearing day\'s zip: payments, a refund, a payout, over 23:00 to 23:00', async (t) => {
  const bill = parseAcpTradeBill(zip, { billDate });
  t.equal(bill.source, 'unionpay');
  t.same(bill.window, { fromMs: bj('2026-11-29 23:00:00'), toMs: bj('2026-11-30 23:00:00') });
  t.equal(bill.summary, undefined, 'the INN file has no summary lines');
  t.strictSame(bill.lines, [
    { kind: 'trade', orderId: '2026112923300000000021', channelTradeNo: '792611292330000000001', amountFen: 1200n, settledFen: 1200n, feeFen: 7n, endedAt: bj('2026-11-29 23:30:00'), status: 'success', lineNo: 1 },
    { kind: 'trade', orderId: '2026113022595900000022', channelTradeNo: '792611302259590000002', amountFen: 5000n, settledFen: 5000n, feeFen: 30n, endedAt: bj('2026-11-30 22:59:59'), status: 'success', lineNo: 2 },
    { kind: 'refund', refundId: '2026113012000000000021', channelRefundNo: '792611301200000000003', amountFen: 500n, settledFen: 500n, feeFen: -3n, endedAt: bj('2026-11-30 12:00:00'), status: 'success', lineNo: 3, orderId: '2026112923300000000021', channelTradeNo: '792611292330000000001' },
    { kind: 'payout', orderId: '2026113016000000000031', channelTradeNo: '792611301600000000004', amountFen: 10000n, settledFen: 10000n, feeFen: 200n, endedAt: bj('2026-11-30 16:00:00'), status: 'success', lineNo: 4 },
  ]);
  t.ok(bill.lines[0]!.endedAt >= bill.window.fromMs, 'paid 23:30 the evening before: in this clearing day');
  t.equal(bill.lines[1]!.endedAt, bill.window.toMs - 1000, '22:59:59 is its last second');
});

t.test('the fileContent of the txnType 76 answer: base64 of zlib data of the zip', async (t) => {
  const fileContent = new TextDecoder().decode(billFile('unionpay-20261130.fileContent'));
  const z = acpFileContentToZip(fileContent);
  t.same(Buffer.from(z), Buffer.from(zip));
  t.throws(() => acpFileContentToZip('not base64!'), { name: 'BillError', code: 'archive' });
  t.throws(() => acpFileContentToZip(Buffer.from(zip).toString('base64')), { code: 'archive', message: /zlib/ }, 'a zip not deflated first');
  t.throws(() => acpFileContentToZip(deflateRawSync(zip).toString('base64')), { code: 'archive' }, 'raw deflate without the zlib header');
});

t.test('records that cannot be read, archives without the day\'s file', async (t) => {
  t.throws(() => parseAcpTradeBill(billFile('unionpay-20261130-short-record.zip'), { billDate }), { name: 'BillError', code: 'line', message: new RegExp(`record 2 has 300 bytes.*${ACP_RECORD_MIN_BYTES}`) });
  t.throws(() => parseAcpTradeBill(billFile('unionpay-20261130-no-inn.zip'), { billDate }), { code: 'archive', message: /ZME/ });
  t.throws(() => parseAcpTradeBill(zip, { billDate: '2026-12-01' }), { code: 'day', message: /INN26113088ZM/ });
  t.throws(() => parseAcpTradeBill(zip.slice(0, 100), { billDate }), { code: 'archive' });
  t.throws(() => parseAcpTradeBill(billFile('alipay-20261130.zip'), { billDate }), { code: 'archive' });

  const records = Buffer.from(unzipSync(zip)[INN]!);
  const patched = (f: (b: Buffer) => void, name = INN) => {
    const b = Buffer.from(records);
    f(b);
    return zipSync({ [name]: new Uint8Array(b) });
  };
  // where record 1's fields sit, found by their values in the fixture
  const at = (s: string) => records.indexOf(s);
  t.throws(() => parseAcpTradeBill(patched((b) => b.write('00000000012X', at('000000001200'))), { billDate }), { code: 'line', message: /record 1: 交易金额/ });
  t.throws(() => parseAcpTradeBill(patched((b) => b.write('X', at('D000000000007'))), { billDate }), { code: 'line', message: /商户手续费/ });
  t.throws(() => parseAcpTradeBill(patched((b) => b.write('02', at('01 01 000201'))), { billDate }), { code: 'line', message: /交易类型 "02"/ });
  t.throws(() => parseAcpTradeBill(patched((b) => b.write('1332', at('1129233000'))), { billDate }), { code: 'line', message: /交易传输时间/ });
  t.same(crashesOnDamage(zip, (b) => parseAcpTradeBill(b, { billDate }), 76), [], 'damaged zip');
  t.same(crashesOnDamage(new Uint8Array(records), (b) => parseAcpTradeBill(zipSync({ [INN]: b }), { billDate }), 77), [], 'damaged records');
});

t.test('MMDDhhmmss takes its year from the clearing day, across New Year', async (t) => {
  const records = Buffer.from(unzipSync(zip)[INN]!);
  const b = Buffer.from(records.subarray(0, records.indexOf(0x0a) + 1));
  const time = b.indexOf('1129233000');
  b.write('1231233000', time); // paid 23:30 on New Year's Eve: the clearing day of 2027-01-01
  const z = zipSync({ 'INN27010188ZM_777290058110097': new Uint8Array(b) });
  const bill = parseAcpTradeBill(z, { billDate: '2027-01-01' });
  t.equal(bill.lines[0]!.endedAt, bj('2026-12-31 23:30:00'));
  b.write('0101225959', time);
  t.equal(parseAcpTradeBill(zipSync({ 'INN27010188ZM_777290058110097': new Uint8Array(b) }), { billDate: '2027-01-01' }).lines[0]!.endedAt, bj('2027-01-01 22:59:59'));
});
