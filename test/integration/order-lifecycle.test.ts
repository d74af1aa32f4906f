import t from 'tap';
import { createOrder, payFields, responseVerifies, sandboxPay, startGateway, tempDir, until, type TestGateway } from '../helper.js';
import { startReceiver } from '../receiver.js';
import { FakeClock } from '../fake-clock.js';
import type { NotificationRow } from '../../src/db/rows.js';

// CONTRACT §2.2–§2.5 for orders that do not go the happy way: query, close, expiry and
// reconciliation with the (sandbox) channel, over HTTP against a real gateway.

const status = async (gw: TestGateway, id: string) => (await gw.sql.value<string>('SELECT pay_status FROM orders WHERE order_id = ?', id))!;
const notified = async (gw: TestGateway, id: string) =>
  (await gw.sql.all<NotificationRow>('SELECT * FROM notifications WHERE order_id = ? ORDER BY id', id)).map(
    (n) => JSON.parse(n.fields_json).payStatus as string,
  );
const events = async (gw: TestGateway, id: string) =>
  (await gw.sql.all<{ from_status: string; to_status: string }>('SELECT from_status, to_status FROM order_events WHERE order_id = ? ORDER BY id', id)).map(
    (e) => `${e.from_status}→${e.to_status}`,
  );
const sandboxPage = async (gw: TestGateway, id: string) => (await fetch(`${gw.url}/sandbox/pay/${id}`)).text();

t.test('query: by orderId, by mercOrderNo, unknown, another merchant', async (t) => {
  const gw = await startGateway(t);
  const { mercNo, key } = gw.merchant;
  const id = await createOrder(gw);
  const byId = await gw.post('/api/query', { mercNo, orderId: id });
  t.equal(byId.body.respCode, '000000');
  t.ok(responseVerifies(byId.body, key));
  const byNo = await gw.post('/api/query', { mercNo, mercOrderNo: byId.body.mercOrderNo! });
  t.equal(byNo.body.orderId, id);
  t.equal(byNo.body.payStatus, 'p0001');
  const unknown = await gw.post('/api/query', { mercNo, orderId: '2099010100000000000001' });
  t.equal(unknown.status, 404);
  t.equal(unknown.body.respCode, '100005');
  const unknownNo = await gw.post('/api/query', { mercNo, mercOrderNo: 'NOPE' });
  t.equal(unknownNo.body.respCode, '100005');
});

t.test('close: an unpaid order → p0005, not notified; twice answers the same; then it cannot be paid', async (t) => {
  const rcv = await startReceiver(t);
  const gw = await startGateway(t);
  const { mercNo, key } = gw.merchant;
  const id = await createOrder(gw, { notifyUrl: `${rcv.url}/n` });
  await sandboxPage(gw, id); // the payer opened it: p0002
  const a = await gw.post('/api/close', { mercNo, orderId: id });
  t.equal(a.status, 200);
  t.match(a.body, { respCode: '000000', interfaceCode: 'close', payStatus: 'p0005', orderId: id });
  t.ok(responseVerifies(a.body, key));
  const again = await gw.post('/api/close', { mercNo, orderId: id });
  t.match(again.body, { respCode: '000000', payStatus: 'p0005' }, 'idempotent');
  t.same(await events(gw, id), ['p0001→p0002', 'p0002→p0005']);
  t.same(await notified(gw, id), [], 'a close the merchant asked for is not notified');

  const pay = await fetch(`${gw.url}/sandbox/pay/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  t.equal(pay.status, 409, 'the channel no longer takes the payment');
  t.match(await pay.text(), /closed/);
  t.equal(await status(gw, id), 'p0005');
  t.match(await sandboxPage(gw, id), /closed this order/);
  t.equal(rcv.received.length, 0);
});

t.test('close: a paid order answers 100007 with p0000', async (t) => {
  const gw = await startGateway(t);
  const { mercNo } = gw.merchant;
  const id = await createOrder(gw);
  await sandboxPay(gw, id);
  const a = await gw.post('/api/close', { mercNo, orderId: id });
  t.equal(a.status, 409);
  t.match(a.body, { respCode: '100007', payStatus: 'p0000', orderId: id });
  t.match(a.body.respDesc, /paid/);
  const missing = await gw.post('/api/close', { mercNo, orderId: '2099010100000000000001' });
  t.equal(missing.body.respCode, '100005');
  const bad = await gw.post('/api/close', { mercNo });
  t.equal(bad.body.respCode, '100001');
});

t.test('close finds a payment whose callback was lost: p0000 and 100007', async (t) => {
  const rcv = await startReceiver(t);
  const gw = await startGateway(t);
  const { mercNo } = gw.merchant;
  const id = await createOrder(gw, { tradeAmt: '0.93', notifyUrl: `${rcv.url}/n` });
  await sandboxPay(gw, id);
  t.equal(await status(gw, id), 'p0001', 'the callback never came');
  const a = await gw.post('/api/close', { mercNo, orderId: id });
  t.match(a.body, { respCode: '100007', payStatus: 'p0000' });
  await rcv.waitFor((r) => r.length === 1);
  t.equal(rcv.received[0]!.json.payStatus, 'p0000', 'and the merchant is notified of the payment');
});

t.test('a lost callback is healed by the query the merchant makes', async (t) => {
  const gw = await startGateway(t);
  const { mercNo } = gw.merchant;
  const id = await createOrder(gw, { tradeAmt: '0.93' });
  await sandboxPay(gw, id);
  t.equal(await status(gw, id), 'p0001');
  const q = await gw.post('/api/query', { mercNo, orderId: id });
  t.equal(q.body.payStatus, 'p0000', 'the gateway asked the channel before answering');
  t.match(q.body.tradeEndTime, /^\d{14}$/);
  t.same(await notified(gw, id), ['p0000']);
});

t.test('a lost callback is healed by reconciliation polling, on a fake clock', async (t) => {
  const clock = new FakeClock();
  const rcv = await startReceiver(t);
  const gw = await startGateway(t, {}, { clock });
  const id = await createOrder(gw, { tradeAmt: '0.93', notifyUrl: `${rcv.url}/n` });
  await sandboxPay(gw, id);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0001', 'not asked before its first check is due');
  clock.advance(5_000);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0000', 'asked 5 s after creation, and paid');
  t.same(await events(gw, id), ['p0001→p0000']);
  await rcv.waitFor((r) => r.length === 1);
});

t.test('polling backs off and stops at expiry; an order nobody pays is asked a bounded number of times', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  const id = await createOrder(gw, { orderPeriod: '10' });
  const checks = async () => (await gw.sql.get<{ checks: number; next_check_at: number | null }>('SELECT checks, next_check_at FROM orders WHERE order_id = ?', id))!;
  const created = clock.now();
  const askedAt: number[] = [];
  for (let s = 0; s < 599; s++) {
    clock.advance(1_000);
    const before = (await checks()).checks;
    await gw.gateway.watcher.runOnce();
    if ((await checks()).checks > before) askedAt.push((clock.now() - created) / 1000);
  }
  t.same(askedAt, [5, 15, 35, 65, 125, 245, 545], 'after 5, 10, 20, 30, 60, 120 and 300 s');
  t.equal((await checks()).next_check_at, null, 'no check scheduled after the expiry');
  t.equal(await status(gw, id), 'p0001');
  clock.advance(1_000);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0006', 'at 600 s the order expires');
});

t.test('an outcome unknown at creation (200002) is settled by asking the channel, never by sending again', async (t) => {
  const gw = await startGateway(t);
  const { mercNo } = gw.merchant;
  const made = await gw.post('/api/pay', payFields(mercNo, { tradeAmt: '0.92' }));
  t.equal(made.body.respCode, '200002');
  const id = made.body.orderId!;
  t.equal(await gw.sql.value('SELECT channel_state FROM orders WHERE order_id = ?', id), 'unknown');
  const q = await gw.post('/api/query', { mercNo, orderId: id });
  t.equal(q.body.payStatus, 'p0001');
  t.equal(await gw.sql.value('SELECT channel_state FROM orders WHERE order_id = ?', id), 'accepted', 'the channel has it');
  await sandboxPay(gw, id);
  t.equal(await status(gw, id), 'p0000');
});

t.test('expiry on a fake clock: p0006, notified, shown to the payer, no longer payable', async (t) => {
  const clock = new FakeClock();
  const rcv = await startReceiver(t);
  const gw = await startGateway(t, {}, { clock });
  const id = await createOrder(gw, { orderPeriod: '1', notifyUrl: `${rcv.url}/n`, tradeTime: '20000101000000' });
  clock.advance(59_999);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0001', 'not before orderPeriod has run out (counted from creation, not tradeTime)');
  clock.advance(1);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0006');
  await rcv.waitFor((r) => r.length === 1);
  t.equal(rcv.received[0]!.json.payStatus, 'p0006', 'the expiry is notified');
  t.match(await sandboxPage(gw, id), /expired and can no longer be paid/);
  const trade = await gw.gateway.services.reads.sandboxTrade(id);
  t.equal(trade?.status, 'closed', 'the channel order was closed too');
  const q = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId: id });
  t.equal(q.body.payStatus, 'p0006');
});

t.test('expiry across a restart: an order that ran out while the gateway was down is expired at start-up', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const gw1 = await startGateway(t, {}, { clock, dir });
  const id = await createOrder(gw1, { orderPeriod: '1' });
  await gw1.close();
  clock.advance(120_000);
  const gw2 = await startGateway(t, {}, { clock, dir });
  // The first round runs as the gateway starts.
  clock.advance(0);
  await until(async () => (await status(gw2, id)) === 'p0006', 'expired at start-up', 5_000);
  t.same(await notified(gw2, id), ['p0006']);
});

t.test('pay and close racing, many times: one winner, and the notifications agree with it', async (t) => {
  const rcv = await startReceiver(t);
  const gw = await startGateway(t);
  const { mercNo } = gw.merchant;
  const outcomes = new Map<string, number>();
  const ids: string[] = [];
  for (let round = 0; round < 30; round++) {
    const id = await createOrder(gw, { notifyUrl: `${rcv.url}/n` });
    ids.push(id);
    const pay = () =>
      fetch(`${gw.url}/sandbox/pay/${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: 'result=success',
      }).then((r) => r.status);
    const close = () => gw.post('/api/close', { mercNo, orderId: id });
    // Alternate which one sets off first.
    let c: Awaited<ReturnType<typeof close>>;
    if (round % 2) [c] = await Promise.all([close(), pay()]);
    else [, c] = await Promise.all([pay(), close()]);
    const final = await status(gw, id);
    t.ok(final === 'p0000' || final === 'p0005', `round ${round}: ${final}`);
    if (final === 'p0000') {
      t.equal(c.body.respCode, '100007', 'the close lost: 100007');
      t.same(await notified(gw, id), ['p0000'], 'the payment is notified');
    } else {
      t.equal(c.body.respCode, '000000', 'the close won');
      t.same(await notified(gw, id), [], 'nothing to notify');
    }
    t.equal((await events(gw, id)).filter((e) => e.endsWith('p0000') || e.endsWith('p0005')).length, 1, 'exactly one final change');
    outcomes.set(final, (outcomes.get(final) ?? 0) + 1);
  }
  t.comment(`winners: ${[...outcomes].map(([k, v]) => `${k}×${v}`).join(', ')}`);
  const paid: string[] = [];
  for (const id of ids) if ((await status(gw, id)) === 'p0000') paid.push(id);
  await rcv.waitFor((r) => new Set(r.map((x) => x.json.orderId)).size === paid.length);
  t.ok(rcv.received.every((r) => r.json.payStatus === 'p0000' && paid.includes(r.json.orderId!)), 'only paid orders were announced, as paid');
});
