import t from 'tap';
import { SANDBOX_SIGNATURE_HEADER, sandboxBillQuery, sandboxDriver, signSandboxBill, signSandboxBody } from '../../src/channels/sandbox/driver.js';
import { parseSandboxBill } from '../../src/channels/sandbox/bill.js';
import { SandboxPayments } from '../../src/services/sandbox-payment.js';
import type { HttpRequest } from '../../src/channels/types.js';
import { FakeClock } from '../fake-clock.js';
import { createOrder, sandboxPay, startGateway, type TestGateway } from '../helper.js';

// GET /sandbox/api/bill: the sandbox channel's day bill of one merchant and payway, written from
// its own book in WeChat Pay's layout, signed like the rest of the sandbox API; and the magic
// amounts that make the bill (and, for 0.97, the channel's API) disagree with dtpay on purpose.

const DAY = '2026-01-01'; // the fake clock starts at 12:00 Beijing that day

async function paid(gw: TestGateway, amount: string, payway = 'wxpay'): Promise<string> {
  const orderId = await createOrder(gw, { tradeAmt: amount, paywayCode: payway });
  await sandboxPay(gw, orderId);
  return orderId;
}

const secretOf = (gw: TestGateway) => new SandboxPayments(gw.gateway.services, async () => ({ status: 200, body: 'success' })).secret();

async function getBill(gw: TestGateway, query: string, signature?: string) {
  const res = await fetch(`${gw.url}/sandbox/api/bill?${query}`, { headers: { [SANDBOX_SIGNATURE_HEADER]: signature ?? signSandboxBody(query, (await secretOf(gw))) } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

t.test('the bill lists the day\'s paid trades and ended refunds, with the 0.6 % fee, and bends for 0.95 and 0.96', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  const normal = await paid(gw, '12.34');
  const left = await paid(gw, '0.95');
  const more = await paid(gw, '0.96');
  const silent = await paid(gw, '0.97');
  const otherPayway = await paid(gw, '2.00', 'alipay');
  const unpaid = await createOrder(gw, { tradeAmt: '3.00', paywayCode: 'wxpay' });
  const r = await gw.post('/api/refund', { mercNo: gw.merchant.mercNo, orderId: normal, mercRefundNo: 'RF-1', refundAmt: '2.00' });
  t.equal(r.body.respCode, '000000', r.text);
  const query = sandboxBillQuery(DAY, gw.merchant.mercNo, 'wxpay');

  const before = await getBill(gw, query);
  t.equal(before.status, 200, before.text);
  t.notMatch(before.text, r.body.refundId!, 'a refund that has not ended yet is not billed');
  clock.advance(3_000); // the sandbox ends a refund two seconds after taking it

  const got = await getBill(gw, query);
  t.equal(got.status, 200);
  t.equal(got.headers.get('content-type'), 'text/csv; charset=utf-8');
  t.equal(got.headers.get(SANDBOX_SIGNATURE_HEADER), signSandboxBill(got.text, (await secretOf(gw))), 'the answer is signed');
  const bill = parseSandboxBill(Buffer.from(got.text, 'utf8'), DAY);
  t.equal(bill.source, 'sandbox');
  const trades = new Map(bill.lines.filter((l) => l.kind === 'trade').map((l) => [l.kind === 'trade' ? l.orderId : '', l]));
  t.same([...trades.keys()].sort(), [normal, more, silent].sort(), 'paid wxpay trades, without 0.95, the unpaid one or the alipay one');
  t.notOk(trades.has(left) || trades.has(unpaid) || trades.has(otherPayway));
  t.match(trades.get(normal), { amountFen: 1234n, feeFen: 7n, status: 'success', channelTradeNo: `S${normal}` }, '12.34 × 0.6 % = 0.074 → 0.07');
  t.match(trades.get(more), { amountFen: 97n, feeFen: 1n }, '0.96 is billed one fen more');
  t.match(trades.get(silent), { amountFen: 97n, feeFen: 1n }, '0.97 is billed as paid');
  const refunds = bill.lines.filter((l) => l.kind === 'refund');
  t.equal(refunds.length, 1);
  t.match(refunds[0], { refundId: r.body.refundId, orderId: normal, amountFen: 200n, feeFen: 0n, status: 'success' }, 'the sandbox gives no fee back');

  const alipay = parseSandboxBill(Buffer.from((await getBill(gw, sandboxBillQuery(DAY, gw.merchant.mercNo, 'alipay'))).text, 'utf8'), DAY);
  t.same(alipay.lines.map((l) => (l.kind === 'trade' ? l.orderId : '')), [otherPayway], 'each payway has a bill of its own');
  const dayAfter = parseSandboxBill(Buffer.from((await getBill(gw, sandboxBillQuery('2026-01-02', gw.merchant.mercNo, 'wxpay'))).text, 'utf8'), '2026-01-02');
  t.same(dayAfter.lines, [], 'another day: an empty bill');
});

t.test('refused: no or a wrong signature, a bad date or payway, a merchant that is not a sandbox one', async (t) => {
  const gw = await startGateway(t);
  const ok = sandboxBillQuery(DAY, gw.merchant.mercNo, 'wxpay');
  t.equal((await getBill(gw, ok, 'nope')).status, 401);
  t.equal((await getBill(gw, ok, signSandboxBody(sandboxBillQuery('2026-01-02', gw.merchant.mercNo, 'wxpay'), (await secretOf(gw))))).status, 401, 'the signature covers the query');
  const bad = await getBill(gw, sandboxBillQuery('2026-02-30', gw.merchant.mercNo, 'wxpay'));
  t.equal(bad.status, 400);
  t.match(bad.text, /date/);
  t.match((await getBill(gw, sandboxBillQuery(DAY, gw.merchant.mercNo, 'paypal'))).text, /payway/);
  t.equal((await getBill(gw, sandboxBillQuery(DAY, 'M000000000000000', 'wxpay'))).status, 404);
});

t.test('0.97: paid at the sandbox, no callback, and its query says not paid, its close closed', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  const orderId = await paid(gw, '0.97');
  const order = (await gw.gateway.services.reads.order(orderId))!;
  t.equal(order.pay_status, 'p0001', 'no callback: the gateway still waits');
  t.equal((await gw.gateway.services.reads.sandboxTrade(orderId))?.status, 'paid', 'the sandbox has it paid');
  const q = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId });
  t.equal(q.body.payStatus, 'p0001', 'and asking the channel changes nothing');
  const closed = await gw.post('/api/close', { mercNo: gw.merchant.mercNo, orderId });
  t.equal(closed.body.payStatus, 'p0005', closed.text);
  t.equal((await gw.gateway.services.reads.sandboxTrade(orderId))?.status, 'paid', 'still paid in the sandbox\'s book, which the bill is written from');
});

t.test('the sandbox driver downloads and verifies the bill over HTTP', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  const orderId = await paid(gw, '5.00');
  const secret = (await secretOf(gw));
  const http = async (req: HttpRequest) => {
    const res = await fetch(req.url, { method: req.method, headers: req.headers });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  };
  const ctx = { now: clock.now, publicBaseUrl: gw.url, http };
  const account = { mercNo: gw.merchant.mercNo, payway: 'wxpay' };
  const r = await sandboxDriver.downloadTradeBill!(DAY, { secret, account }, ctx);
  t.equal(r.outcome, 'bill');
  if (r.outcome === 'bill') t.match(r.bill.lines, [{ kind: 'trade', orderId, amountFen: 500n, feeFen: 3n }]);
  t.match(await sandboxDriver.downloadTradeBill!(DAY, { secret: 'x'.repeat(64), account }, ctx), { outcome: 'failed', error: /401/ }, 'another secret is refused');
  const tampered = async (req: HttpRequest) => ({ ...(await http(req)), body: 'x' });
  t.match(await sandboxDriver.downloadTradeBill!(DAY, { secret, account }, { ...ctx, http: tampered }), { outcome: 'failed', error: /signature/ }, 'an answer that does not verify is not believed');
  t.match(await sandboxDriver.downloadTradeBill!(DAY, { secret }, ctx), { outcome: 'failed' }, 'no account named');
  const down = async () => {
    throw new Error('ECONNREFUSED');
  };
  t.match(await sandboxDriver.downloadTradeBill!(DAY, { secret, account }, { ...ctx, http: down }), { outcome: 'unreached' });
});
