import t from 'tap';
import { createOrder, responseVerifies, sandboxPay, startGateway, type TestGateway } from '../helper.js';
import { startReceiver } from '../receiver.js';
import { FakeClock } from '../fake-clock.js';
import { sign } from '../../src/domain/sign.js';
import { createMerchant } from '../../src/services/merchants.js';

// POST /api/refund and /api/refund/query over HTTP against a real gateway and the sandbox channel,
// whose refunds end two seconds (of the fake clock) after they are taken.

async function paidOrder(gw: TestGateway, over: Record<string, string> = {}): Promise<string> {
  const id = await createOrder(gw, over);
  await sandboxPay(gw, id);
  return id;
}

const refund = (gw: TestGateway, fields: Record<string, string>) => gw.post('/api/refund', { mercNo: gw.merchant.mercNo, ...fields });
const refundQuery = (gw: TestGateway, fields: Record<string, string>) =>
  gw.post('/api/refund/query', { mercNo: gw.merchant.mercNo, ...fields });

t.test('partial refunds, then what is left, then nothing more', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  const orderId = await paidOrder(gw); // 12.34
  const a = await refund(gw, { orderId, mercRefundNo: 'RF-1', refundAmt: '2.00', refundReason: 'one cup broken' });
  t.equal(a.status, 200);
  t.match(a.body, { respCode: '000000', interfaceCode: 'refund', orderId, mercRefundNo: 'RF-1', refundAmt: '2.00', refundStatus: 'r0001', tradeAmt: '12.34' });
  t.match(a.body.refundId, /^\d{22}$/);
  t.ok(responseVerifies(a.body, gw.merchant.key), 'signed');

  clock.advance(2_000);
  const q = await refundQuery(gw, { refundId: a.body.refundId! });
  t.match(q.body, { respCode: '000000', interfaceCode: 'refundQuery', refundStatus: 'r0000', refundedAmt: '2.00', refundReason: 'one cup broken' });
  t.match(q.body.refundEndTime, /^\d{14}$/);
  const byNo = await refundQuery(gw, { mercRefundNo: 'RF-1' });
  t.equal(byNo.body.refundId, a.body.refundId);

  const rest = await refund(gw, { orderId, mercRefundNo: 'RF-2', refundAmt: '10.34' });
  t.equal(rest.body.respCode, '000000', 'the rest can be refunded');
  const more = await refund(gw, { orderId, mercRefundNo: 'RF-3', refundAmt: '0.01' });
  t.equal(more.status, 409);
  t.equal(more.body.respCode, '100007');
  t.match(more.body.respDesc, /exceeds what is left to refund .*: 0\.00/);

  const order = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId });
  t.equal(order.body.refundedAmt, '2.00', 'query shows what has been refunded so far');
  clock.advance(2_000);
  await gw.gateway.watcher.runOnce();
  clock.advance(3_000);
  await gw.gateway.watcher.runOnce();
  const after = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId });
  t.equal(after.body.refundedAmt, '12.34', 'and all of it once the second refund has ended (found by polling)');
});

t.test('refunds that cannot be: unpaid order, over the amount, unknown order, bad fields', async (t) => {
  const gw = await startGateway(t);
  const unpaid = await createOrder(gw);
  const a = await refund(gw, { orderId: unpaid, mercRefundNo: 'U-1', refundAmt: '1.00' });
  t.equal(a.body.respCode, '100007');
  t.match(a.body.respDesc, /only a paid order can be refunded.*p0001/);
  const paid = await paidOrder(gw);
  const over = await refund(gw, { orderId: paid, mercRefundNo: 'O-1', refundAmt: '12.35' });
  t.equal(over.body.respCode, '100007');
  t.match(over.body.respDesc, /12\.34/);
  const none = await refund(gw, { orderId: '2099010100000000000001', mercRefundNo: 'N-1', refundAmt: '1.00' });
  t.equal(none.body.respCode, '100005');
  for (const [fields, field] of [
    [{ orderId: paid, refundAmt: '1.00' }, 'mercRefundNo'],
    [{ orderId: paid, mercRefundNo: 'X', refundAmt: '0.00' }, 'refundAmt'],
    [{ orderId: paid, mercRefundNo: 'X', refundAmt: '1.001' }, 'refundAmt'],
    [{ mercRefundNo: 'X', refundAmt: '1.00' }, 'orderId'],
    [{ orderId: paid, mercRefundNo: 'X', refundAmt: '1.00', notifyUrl: 'ftp://x' }, 'notifyUrl'],
    [{ orderId: paid, mercRefundNo: 'X', refundAmt: '1.00', extra: '1' }, 'extra'],
  ] as [Record<string, string>, string][]) {
    const r = await refund(gw, fields);
    t.equal(r.status, 400, `${field}: 400`);
    t.equal(r.body.respCode, '100001');
    t.match(r.body.respDesc, field, `names ${field}`);
  }
  const unknownRefund = await refundQuery(gw, { refundId: '2099010100000000000009' });
  t.equal(unknownRefund.body.respCode, '100005');
  const neither = await refundQuery(gw, {});
  t.equal(neither.body.respCode, '100001');
});

t.test('eight concurrent refunds never exceed the paid amount', async (t) => {
  const gw = await startGateway(t);
  for (let round = 0; round < 3; round++) {
    const orderId = await paidOrder(gw, { tradeAmt: '10.00' });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => refund(gw, { orderId, mercRefundNo: `C${round}-${i}`, refundAmt: '3.00' })),
    );
    const ok = answers.filter((a) => a.body.respCode === '000000');
    const refused = answers.filter((a) => a.body.respCode === '100007');
    t.equal(ok.length, 3, `round ${round}: three of 3.00 fit in 10.00`);
    t.equal(refused.length, 5, 'the other five are refused');
    // bigint: PostgreSQL's sum of a BIGINT column is a numeric
    const reserved = await gw.sql.bigint(`SELECT sum(amount_fen) FROM refunds WHERE order_id = ? AND refund_status IN ('r0001', 'r0000')`, orderId);
    t.equal(reserved, 900n);
  }
});

t.test('replay: the same refund again is the same refund; other parameters are a conflict', async (t) => {
  const gw = await startGateway(t);
  const orderId = await paidOrder(gw);
  const mercOrderNo = (await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId })).body.mercOrderNo!;
  const fields = { orderId, mercRefundNo: 'R-REPLAY', refundAmt: '1.00' };
  const answers = await Promise.all(Array.from({ length: 6 }, () => refund(gw, fields)));
  const ids = new Set(answers.map((a) => a.body.refundId));
  t.equal(ids.size, 1, 'six identical requests at once: one refund');
  t.ok(answers.every((a) => a.body.respCode === '000000'));
  const byNo = await refund(gw, { mercOrderNo, mercRefundNo: 'R-REPLAY', refundAmt: '1.00' });
  t.equal(byNo.body.refundId, [...ids][0], 'naming the order by mercOrderNo is the same request');
  const other = await refund(gw, { ...fields, refundAmt: '2.00' });
  t.equal(other.status, 409);
  t.equal(other.body.respCode, '100004');
  t.match(other.body.respDesc, /: refundAmt differs from the first request$/, 'names the field that differs');
  t.equal(await gw.sql.value('SELECT count(*) FROM refunds'), 1);
});

t.test('replay: the same amount spelt otherwise is the same refund; 100004 names each field that differs', async (t) => {
  const gw = await startGateway(t);
  const orderId = await paidOrder(gw); // 12.34
  const first = await refund(gw, { orderId, mercRefundNo: 'R-SPELT', refundAmt: '1.50', refundReason: 'broken' });
  t.equal(first.body.respCode, '000000');
  for (const refundAmt of ['1.5', '1.50']) {
    const again = await refund(gw, { orderId, mercRefundNo: 'R-SPELT', refundAmt, refundReason: 'broken' });
    t.equal(again.body.respCode, '000000', `${refundAmt} is 1.50 (${again.body.respDesc})`);
    t.equal(again.body.refundId, first.body.refundId, 'the same refund');
    t.equal(again.body.refundAmt, '1.50');
  }
  const whole = await refund(gw, { orderId, mercRefundNo: 'R-WHOLE', refundAmt: '2' });
  t.equal(whole.body.respCode, '000000');
  t.equal((await refund(gw, { orderId, mercRefundNo: 'R-WHOLE', refundAmt: '2.00' })).body.refundId, whole.body.refundId, '2 is 2.00');
  const reason = await refund(gw, { orderId, mercRefundNo: 'R-SPELT', refundAmt: '1.5', refundReason: 'lost' });
  t.equal(reason.body.respCode, '100004');
  t.match(reason.body.respDesc, /^mercRefundNo R-SPELT was already used with different parameters: refundReason differs from the first request$/);
  const two = await refund(gw, { orderId, mercRefundNo: 'R-SPELT', refundAmt: '1.51' });
  t.match(two.body.respDesc, /: refundAmt, refundReason differ from the first request$/, 'both named, one left out is a difference too');
  t.equal(await gw.sql.value('SELECT count(*) FROM refunds'), 2);
});

t.test('refund notifications: signed, through the outbox, for refunds that end either way', async (t) => {
  const clock = new FakeClock();
  const rcv = await startReceiver(t);
  const gw = await startGateway(t, {}, { clock });
  const { key, mercNo } = gw.merchant;
  const orderId = await paidOrder(gw);
  const ok = await refund(gw, { orderId, mercRefundNo: 'N-OK', refundAmt: '1.00', notifyUrl: `${rcv.url}/refunds` });
  t.equal(ok.body.refundStatus, 'r0001');
  clock.advance(3_000);
  await gw.gateway.watcher.runOnce();
  await rcv.waitFor((r) => r.some((x) => x.path === '/refunds'));
  const got = rcv.received.find((x) => x.path === '/refunds')!;
  t.match(got.json, { mercNo, orderId, mercRefundNo: 'N-OK', refundId: ok.body.refundId, refundAmt: '1.00', refundStatus: 'r0000', tradeAmt: '12.34', signType: 'MD5' });
  t.match(got.json.refundEndTime, /^\d{14}$/);
  t.equal(sign(got.json, key, 'MD5'), got.json.signature, 'the body signature verifies');
  t.ok(got.headers['webhook-id'], 'with the Standard Webhooks headers');

  // Refused at once (0.91): r0004, answered 200001, notified, and the amount is free again.
  const refused = await refund(gw, { orderId, mercRefundNo: 'N-NO', refundAmt: '0.91', notifyUrl: `${rcv.url}/refunds` });
  t.equal(refused.status, 502);
  t.match(refused.body, { respCode: '200001', refundStatus: 'r0004' });
  t.match(refused.body.respDesc, /SANDBOX_REFUSED/);
  await rcv.waitFor((r) => r.some((x) => x.json.mercRefundNo === 'N-NO'));
  t.equal(rcv.received.find((x) => x.json.mercRefundNo === 'N-NO')!.json.refundStatus, 'r0004');

  // Taken, then failing when it ends (0.94): found by polling.
  const later = await refund(gw, { orderId, mercRefundNo: 'N-LATER', refundAmt: '0.94', notifyUrl: `${rcv.url}/refunds` });
  t.equal(later.body.refundStatus, 'r0001');
  clock.advance(3_000);
  await gw.gateway.watcher.runOnce();
  const q = await refundQuery(gw, { mercRefundNo: 'N-LATER' });
  t.equal(q.body.refundStatus, 'r0004');
  await rcv.waitFor((r) => r.some((x) => x.json.mercRefundNo === 'N-LATER'));

  const rest = await refund(gw, { orderId, mercRefundNo: 'N-REST', refundAmt: '11.34' });
  t.equal(rest.body.respCode, '000000', 'failed refunds do not count against the paid amount');
  const orderNotes = rcv.received.filter((x) => x.path !== '/refunds');
  t.ok(orderNotes.every((x) => x.json.payStatus === 'p0000'), 'order notifications are untouched by refunds');
});

t.test("another merchant's refund is not found", async (t) => {
  const gw = await startGateway(t);
  const orderId = await paidOrder(gw);
  const mine = await refund(gw, { orderId, mercRefundNo: 'MINE', refundAmt: '1.00' });
  const other = await createMerchant(gw.gateway.services, 'Other', 'sandbox');
  const q = await gw.post('/api/refund/query', { mercNo: other.mercNo, refundId: mine.body.refundId! }, { key: other.key });
  t.equal(q.body.respCode, '100005');
  const r = await gw.post('/api/refund', { mercNo: other.mercNo, orderId, mercRefundNo: 'THEIRS', refundAmt: '1.00' }, { key: other.key });
  t.equal(r.body.respCode, '100005', "nor can it refund someone else's order");
});
