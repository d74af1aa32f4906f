import t from 'tap';
import { zipSync } from 'fflate';
import { beijingDay, billWindow, inWindow, unionpayClearingDay } from '../../src/reconcile/bill.js';
import { beijingDateTime, decimalUnits, decodeGbk, signedYuan, splitCsv, unitsToFen, unzipFiles } from '../../src/reconcile/bill-text.js';
import { bj } from '../fixtures/bill-files.js';

t.test('decimalUnits: signed, exact, at most `scale` decimals', async (t) => {
  t.equal(decimalUnits('12.00', 2), 1200n);
  t.equal(decimalUnits('-0.07', 2), -7n);
  t.equal(decimalUnits('-0.00', 2), 0n);
  t.equal(decimalUnits('3.5', 2), 350n);
  t.equal(decimalUnits('7', 2), 700n);
  t.equal(decimalUnits('0.25000', 5), 25000n);
  t.equal(decimalUnits('99999999999999.99', 2), 9999999999999999n, 'beyond 2^53 stays exact');
  for (const bad of ['', '-', '1.', '.5', '1.234', '1e3', ' 1', '1,00', '+1', '--1', '０.01', 'NaN']) {
    t.equal(decimalUnits(bad, 2), undefined, `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('unitsToFen rounds five-decimal fees half away from zero', async (t) => {
  t.equal(unitsToFen(7000n, 5), 7n);
  t.equal(unitsToFen(7499n, 5), 7n);
  t.equal(unitsToFen(7500n, 5), 8n);
  t.equal(unitsToFen(-7500n, 5), -8n);
  t.equal(unitsToFen(-3000n, 5), -3n);
  t.equal(unitsToFen(12n, 2), 12n);
  t.equal(signedYuan(-7n), '-0.07');
  t.equal(signedYuan(25000n, 5), '0.25000');
  t.equal(signedYuan(0n), '0.00');
});

t.test('Beijing wall-clock times, and the days bills cover', async (t) => {
  t.equal(beijingDateTime('2026-11-30 00:00:00'), bj('2026-11-30 00:00:00'));
  t.equal(beijingDateTime('2026-11-30 00:00:00'), Date.UTC(2026, 10, 29, 16, 0, 0), '00:00 +08:00 is 16:00Z the day before');
  t.equal(beijingDateTime('2026-11-30 23:59:59'), Date.UTC(2026, 10, 30, 15, 59, 59));
  for (const bad of ['2026-02-29 10:00:00', '2026-11-30 24:00:00', '2026-11-30T10:00:00', '2026-11-30', '2026-13-01 00:00:00']) {
    t.equal(beijingDateTime(bad), undefined, bad);
  }
  const day = beijingDay('2026-11-30');
  t.same(day, { fromMs: bj('2026-11-30 00:00:00'), toMs: bj('2026-12-01 00:00:00') });
  t.ok(inWindow(day, bj('2026-11-30 23:59:59')), '23:59:59 is in the day');
  t.notOk(inWindow(day, bj('2026-12-01 00:00:00')), '00:00:00 is the next day');
  t.same(unionpayClearingDay('2026-11-30'), { fromMs: bj('2026-11-29 23:00:00'), toMs: bj('2026-11-30 23:00:00') });
  t.same(billWindow('unionpay', '2026-11-30'), unionpayClearingDay('2026-11-30'));
  t.same(billWindow('sandbox', '2026-11-30'), day);
  t.throws(() => beijingDay('2026-02-30'), RangeError);
  t.throws(() => beijingDay('20261130'), RangeError);
});

t.test('splitCsv: plain and quoted fields', async (t) => {
  t.same(splitCsv('a,,b'), ['a', '', 'b']);
  t.same(splitCsv('a,"b,c","d""e"'), ['a', 'b,c', 'd"e']);
  t.same(splitCsv('x,'), ['x', '']);
  t.equal(splitCsv('a,"open'), undefined);
  t.equal(splitCsv('a,"b"c'), undefined);
});

t.test('GBK: the bytes Alipay writes for its column names decode; anything else is refused', async (t) => {
  // 支付宝交易号,商户订单号 in GBK, byte for byte
  const bytes = Uint8Array.from([0xd6, 0xa7, 0xb8, 0xb6, 0xb1, 0xa6, 0xbd, 0xbb, 0xd2, 0xd7, 0xba, 0xc5, 0x2c, 0xc9, 0xcc, 0xbb, 0xa7, 0xb6, 0xa9, 0xb5, 0xa5, 0xba, 0xc5]);
  t.equal(decodeGbk(bytes, 'x'), '支付宝交易号,商户订单号');
  t.equal(decodeGbk(new TextEncoder().encode('\ufeff支付宝'), 'x'), '支付宝', 'a UTF-8 BOM is honoured');
  t.throws(() => decodeGbk(Uint8Array.from([0xd6, 0x20, 0xff]), 'x'), { name: 'BillError', code: 'layout' });
});

t.test('zip entry names flagged UTF-8 are taken as they are (GBK names without the flag: the Alipay fixture)', async (t) => {
  const zip = zipSync({ '2088_20261130_业务明细.csv': new Uint8Array([0x61]), 'other.txt': new Uint8Array([0x62]) });
  t.same([...unzipFiles(zip, (n) => n.endsWith('.csv'), 'x').keys()], ['2088_20261130_业务明细.csv']);
  t.throws(() => unzipFiles(zip, (n) => n.endsWith('.xls'), 'x'), { name: 'BillError', code: 'archive', message: /other\.txt/ });
});

t.test('an archive entry larger than a bill can be is refused before it is inflated', async (t) => {
  const zip = Buffer.from(zipSync({ 'x_20261130_业务明细.csv': new Uint8Array(10) }));
  const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  zip.writeUInt32LE(0x7fffffff, central + 24); // what the central directory says it inflates to
  t.throws(() => unzipFiles(new Uint8Array(zip), () => true, 'x'), { name: 'BillError', code: 'archive', message: /would inflate to 2147483647 bytes/ });
});
