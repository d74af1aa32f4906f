import t from 'tap';
import { createHash } from 'node:crypto';
import { createOrder, responseVerifies, sandboxPay, startGateway, type TestGateway } from '../helper.js';
import { FakeClock } from '../fake-clock.js';
import { MERCHANT_BILL_COLUMNS } from '../../src/domain/merchant-bill.js';

// POST /api/bill against a real gateway and the sandbox channel, on a fake clock: a day with paid,
// failed, open and refunded orders (a refund that succeeded, one that failed), fees stored by
// reconciliation; the CSV fetched from billUrl, parsed back as RFC 4180, totals and SHA-256
// checked against the signed answer; an empty day; a future day; a bad signature; the link expired
// and tampered with.

const BJ = (s: string) => Date.parse(s.replace(' ', 'T') + '+08:00');
const clock = new FakeClock(BJ('2026-01-01 23:59:00'));
const gw = await startGateway(t, {}, { clock });
const M = gw.merchant;
const bill = (billDate: string, over: Record<string, string> = {}, opts: { key?: string } = {}) => gw.post('/api/bill', { mercNo: M.mercNo, billDate, ...over }, opts);
const fetchLink = async (url: string) => {
  // billUrl is built from PUBLIC_BASE_URL; the server listens on gw.url.
  const res = await fetch(gw.url + new URL(url).pathname);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type'), cache: res.headers.get('cache-control') };
};

/** RFC 4180, written again here: records end in CRLF, a quoted field may hold anything. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  let field = '';
  while (i < text.length) {
    if (text[i] === '"' && field === '') {
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
        else if (text[i] === '"') {
          i++;
          break;
        } else field += text[i++];
      }
    } else if (text[i] === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (text.startsWith('\r\n', i)) {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else field += text[i++];
  }
  if (field !== '' || row.length > 0) throw new Error('the last record does not end in CRLF');
  return rows;
}

async function refund(orderId: string, refundAmt: string) {
  const a = await gw.post('/api/refund', { mercNo: M.mercNo, orderId, mercRefundNo: `RF${Date.now()}${Math.random().toString(36).slice(2, 8)}`, refundAmt });
  if (a.body.respCode !== '000000') throw new Error(a.text);
  return a.body.refundId!;
}

// 2026-01-01: one payment that must stay out of the 2nd's bill.
const yesterday = await createOrder(gw, { tradeAmt: '5.00' });
await sandboxPay(gw, yesterday);
clock.advance(2 * 60_000); // 2026-01-02 00:01

const paid = await createOrder(gw, { tradeAmt: '12.34' });
await sandboxPay(gw, paid);
const failed = await createOrder(gw, { tradeAmt: '3.00' });
await sandboxPay(gw, failed, 'fail');
const open = await createOrder(gw, { tradeAmt: '4.00' });
const refunded = await createOrder(gw, { tradeAmt: '100.00' });
await sandboxPay(gw, refunded);
const goodRefund = await refund(refunded, '30.00');
const badRefund = await refund(refunded, '0.94'); // the sandbox fails this refund later
clock.advance(5_000);
for (const id of [goodRefund, badRefund]) await gw.post('/api/refund/query', { mercNo: M.mercNo, refundId: id });
// What reconciliation stores from the channel's bill.
await gw.sql.run('UPDATE orders SET fee_fen = 7 WHERE order_id = ?', paid);
await gw.sql.run('UPDATE refunds SET fee_fen = -18 WHERE refund_id = ?', goodRefund);

t.test('a day with paid, failed, open and refunded orders', async (t) => {
  const a = await bill('20260102');
  t.equal(a.status, 200);
  t.match(a.body, { respCode: '000000', interfaceCode: 'bill', mercNo: M.mercNo, billDate: '20260102', count: '5', totalTradeAmt: '112.34', totalRefundAmt: '30.00' });
  t.ok(responseVerifies(a.body, M.key), 'the answer is signed');
  t.match(a.body.billSha256, /^[0-9a-f]{64}$/);
  t.match(a.body.billUrl, /^http:\/\/dtpay\.test\/bills\/[A-Za-z0-9_-]{43}$/);

  const f = await fetchLink(a.body.billUrl!);
  t.equal(f.status, 200);
  t.match(f.type, /^text\/csv; charset=utf-8/);
  t.equal(f.cache, 'no-store');
  t.equal(createHash('sha256').update(f.bytes).digest('hex'), a.body.billSha256, 'the bytes served are the ones signed');
  t.not(f.bytes[0], 0xef, 'no BOM');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(f.bytes);
  t.ok(text.endsWith('\r\n'));
  t.notOk(/[^\r]\n/.test(text), 'every line ends in CRLF');

  const [header, ...rows] = parseCsv(text);
  t.same(header, [...MERCHANT_BILL_COLUMNS]);
  t.equal(rows.length, 5, 'count is the data rows');
  const recs = rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
  for (const r of recs) t.equal(Object.keys(r).length, 16);
  const byOrder = (id: string) => recs.filter((r) => r.recordType === 'order' && r.orderId === id);
  t.same(byOrder(yesterday), [], 'the day before stays out');
  t.same(byOrder(open), [], 'an open order has not ended');
  const q = (await gw.gateway.services.reads.order(paid))!;
  t.same(byOrder(paid), [
    {
      recordType: 'order', orderId: paid, mercOrderNo: q.merc_order_no, refundId: '', mercRefundNo: '', tradeType: '01', paywayCode: q.payway, sceneCode: q.scene,
      tradeAmt: '12.34', refundAmt: '', payStatus: 'p0000', refundStatus: '', tradeTime: q.trade_time, tradeEndTime: q.trade_end_time!, channelTradeNo: q.channel_trade_no!, feeAmt: '0.07',
    },
  ]);
  t.match(q.trade_end_time, /^20260102/);
  t.match(byOrder(failed), [{ payStatus: 'p0004', tradeAmt: '3.00', feeAmt: '' }]);
  t.match(byOrder(refunded), [{ payStatus: 'p0000', tradeAmt: '100.00' }]);
  const refunds = recs.filter((r) => r.recordType === 'refund');
  t.match(refunds, [
    { refundId: goodRefund, orderId: refunded, tradeAmt: '100.00', refundAmt: '30.00', refundStatus: 'r0000', payStatus: '', feeAmt: '-0.18' },
    { refundId: badRefund, orderId: refunded, refundAmt: '0.94', refundStatus: 'r0004', feeAmt: '' },
  ]);
  t.match(refunds[0]!.tradeEndTime, /^20260102\d{6}$/, 'a refund row’s tradeEndTime is when the refund ended');

  const sum = (kind: string, status: string, col: string, st: string) =>
    recs.filter((r) => r.recordType === kind && r[status] === st).reduce((s, r) => s + Math.round(Number(r[col]) * 100), 0);
  t.equal(sum('order', 'payStatus', 'tradeAmt', 'p0000'), 11234, 'totalTradeAmt is the p0000 rows');
  t.equal(sum('refund', 'refundStatus', 'refundAmt', 'r0000'), 3000, 'totalRefundAmt is the r0000 rows');

  const query = await gw.post('/api/query', { mercNo: M.mercNo, orderId: paid });
  t.equal(query.body.feeAmt, '0.07', '/api/query shows the fee');
  const noFee = await gw.post('/api/query', { mercNo: M.mercNo, orderId: failed });
  t.notOk('feeAmt' in noFee.body, 'and leaves it out while there is none');
});

t.test('HMAC-SHA256, and a bill asked again gives the same bytes under a new link', async (t) => {
  const a = await bill('20260102');
  const b = await bill('20260102', { signType: 'HMAC-SHA256' });
  t.equal(b.body.respCode, '000000');
  t.equal(b.body.signType, 'HMAC-SHA256');
  t.ok(responseVerifies(b.body, M.key));
  t.equal(b.body.billSha256, a.body.billSha256);
  t.not(b.body.billUrl, a.body.billUrl);
});

t.test('an empty day: count 0, totals 0.00, the header alone', async (t) => {
  const a = await bill('20251231');
  t.match(a.body, { respCode: '000000', count: '0', totalTradeAmt: '0.00', totalRefundAmt: '0.00' });
  const f = await fetchLink(a.body.billUrl!);
  t.equal(f.bytes.toString('utf8'), MERCHANT_BILL_COLUMNS.join(',') + '\r\n');
  t.equal(createHash('sha256').update(f.bytes).digest('hex'), a.body.billSha256);
  t.match((await bill('20260101')).body, { count: '1', totalTradeAmt: '5.00' }, 'the day before has its own payment');
});

t.test('today is served as far as it goes; a future day names billDate', async (t) => {
  t.equal((await bill('20260102')).body.respCode, '000000', 'today (Beijing) is allowed');
  const a = await bill('20260103');
  t.equal(a.status, 400);
  t.match(a.body, { respCode: '100001', respDesc: /^billDate: must not be in the future \(today is 20260102, Beijing time\)$/ });
  t.ok(responseVerifies(a.body, M.key), 'signed: the merchant was proven');
  t.notOk('billUrl' in a.body);
  for (const [billDate, rule] of [['2026-01-02', /billDate: .*yyyyMMdd/], ['20260230', /billDate: must be a real date/], ['', /billDate: is required/]] as const) {
    const b = await bill(billDate);
    t.match(b.body, { respCode: '100001', respDesc: rule }, JSON.stringify(billDate));
  }
  t.match((await bill('20260102', { orderId: '1' })).body, { respCode: '100001', respDesc: /unknown field: orderId/ });
});

t.test('a bad signature makes no link', async (t) => {
  const a = await bill('20260102', {}, { key: 'not-the-key' });
  t.equal(a.status, 401);
  t.match(a.body, { respCode: '100002' });
  t.notOk('billUrl' in a.body);
  t.notOk('signature' in a.body, 'not signed for a stranger');
});

t.test('links: tampered or expired → 404', async (t) => {
  const a = await bill('20260102');
  const url = new URL(a.body.billUrl!);
  const token = url.pathname.split('/').pop()!;
  const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  for (const bad of [flipped, token.slice(1), `${token}x`, 'x', '..%2F..%2Fetc%2Fpasswd']) {
    const f = await fetchLink(`http://dtpay.test/bills/${bad}`);
    t.equal(f.status, 404, `tampered: ${bad.slice(0, 12)}…`);
    t.notOk(f.bytes.includes('recordType'));
  }
  clock.advance(10 * 60_000 - 1);
  t.equal((await fetchLink(a.body.billUrl!)).status, 200, 'still served just before ten minutes');
  clock.advance(1);
  const f = await fetchLink(a.body.billUrl!);
  t.equal(f.status, 404, 'gone at ten minutes');
  t.match(f.bytes.toString(), /expired/);
});
