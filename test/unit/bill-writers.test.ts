import t from 'tap';
import { parseAlipayTradeBill } from '../../src/channels/alipay/bill.js';
import { acpFileContentToZip, parseAcpTradeBill } from '../../src/channels/unionpay/bill.js';
import type { BillLine } from '../../src/reconcile/bill.js';
import { billFile } from '../fixtures/bill-files.js';
import { acpFileContent, writeAcpTradeBill, writeAlipayTradeBill } from '../fixtures/bill-writers.js';

// The simulators' bill writers against the fixtures make-fixtures.py wrote with other tools: the
// lines read from a fixture, written again and read back, are the same lines.

const essence = (lines: BillLine[]) =>
  lines.map((l) => {
    const { lineNo: _n, ...rest } = l;
    return rest;
  });

t.test('Alipay: the fixture’s lines survive the writer', async (t) => {
  const fixture = parseAlipayTradeBill(billFile('alipay-20261130.zip'), { billDate: '2026-11-30' });
  t.equal(fixture.lines.length, 4);
  const again = parseAlipayTradeBill(writeAlipayTradeBill(fixture.lines, { pid: '20881021234567890156', billDate: '2026-11-30' }), { billDate: '2026-11-30' });
  t.same(essence(again.lines), essence(fixture.lines));
  t.same(again.summary, fixture.summary, 'the same summary figures (counts, 商家实收, 商家优惠)');
});

t.test('UnionPay: the fixture’s records survive the writer, through fileContent', async (t) => {
  const fixture = parseAcpTradeBill(billFile('unionpay-20261130.zip'), { billDate: '2026-11-30' });
  t.same(fixture.lines.map((l) => l.kind), ['trade', 'trade', 'refund', 'payout']);
  const zip = acpFileContentToZip(acpFileContent(writeAcpTradeBill(fixture.lines, { merId: '777290058110097', billDate: '2026-11-30' })));
  const again = parseAcpTradeBill(zip, { billDate: '2026-11-30' });
  t.same(essence(again.lines), essence(fixture.lines));
});
