import t from 'tap';
import { FakeClock } from '../fake-clock.js';
import { payFields, responseVerifies, startGateway, type TestGateway } from '../helper.js';

// CONTRACT §4, end to end over HTTP against the sandbox channel: payouts off until turned on,
// the checks in their order, limits, masking, states, close, refund, notifications and the
// sandbox's magic amounts. Time is a fake clock: a sandbox payout ends two seconds of it after
// the channel took it.

const CARD = '6222021234567890123';
const NAME = '张小明';

async function enable(gw: TestGateway, dailyYuan = '5000.00', perYuan?: string) {
  const fen = (y: string) => BigInt(Math.round(Number(y) * 100));
  await gw.gateway.writer.run('setPayoutSettings', {
    mercNo: gw.merchant.mercNo,
    enabled: true,
    dailyLimitFen: fen(dailyYuan),
    perPayoutLimitFen: perYuan ? fen(perYuan) : null,
    at: Date.now(),
  });
}

function payout(gw: TestGateway, over: Record<string, string> = {}) {
  return payFields(gw.merchant.mercNo, {
    tradeType: '02',
    paywayCode: 'alipay',
    sceneCode: 'transfer',
    tradeAmt: '10.00',
    payeeAccountType: 'BANK_CARD',
    payeeAccount: CARD,
    payeeName: NAME,
    signType: 'HMAC-SHA256',
    ...over,
  });
}

const send = (gw: TestGateway, fields: Record<string, string>) => gw.post('/api/pay', fields);
const query = (gw: TestGateway, orderId: string) => gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId, signType: 'HMAC-SHA256' });
const row = async (gw: TestGateway, id: string) => (await gw.sql.get<Record<string, unknown>>('SELECT * FROM orders WHERE order_id = ?', id))!;
const notices = async (gw: TestGateway, id: string) =>
  (await gw.sql.values<string>('SELECT fields_json FROM notifications WHERE order_id = ? ORDER BY id', id)).map(
    (j) => JSON.parse(j) as Record<string, string>,
  );

t.test('payouts are off until the operator turns them on: 100006 whatever the signature type', async (t) => {
  const gw = await startGateway(t);
  for (const signType of ['MD5', 'HMAC-SHA256']) {
    const a = await send(gw, payout(gw, { signType }));
    t.equal(a.status, 422);
    t.equal(a.body.respCode, '100006');
    t.match(a.body.respDesc, /payouts .* are off for this merchant.*merchant payouts MERCNO --enable/);
  }
  t.equal(await gw.sql.value('SELECT count(*) FROM orders'), 0, 'nothing stored');
});

t.test('the checks run in the contract order', async (t) => {
  const gw = await startGateway(t);
  // signature first
  const badSig = await gw.post('/api/pay', payout(gw), { key: 'not-the-key-0123456789abcdefXYZ' });
  t.equal(badSig.body.respCode, '100002', 'signature before anything');
  // fields before "payouts on"
  const badField = await send(gw, payout(gw, { payeeAccount: '12ab' }));
  t.equal(badField.body.respCode, '100001', 'fields before payouts-on');
  t.match(badField.body.respDesc, /payeeAccount: must be 12 to 19 digits for payeeAccountType BANK_CARD/);
  // payouts on before HMAC-SHA256
  const md5Off = await send(gw, payout(gw, { signType: 'MD5' }));
  t.equal(md5Off.body.respCode, '100006', 'payouts off before the signature type');
  await enable(gw, '15.00');
  const md5 = await send(gw, payout(gw, { signType: 'MD5' }));
  t.equal(md5.status, 401);
  t.equal(md5.body.respCode, '100002');
  t.match(md5.body.respDesc, /HMAC-SHA256/);
  // replay before limits: the first payout takes 10.00 of 15.00; sent again it is the original answer
  const first = payout(gw);
  const a = await send(gw, first);
  t.equal(a.body.respCode, '000000');
  const over = await send(gw, payout(gw));
  t.equal(over.body.respCode, '100007', 'a second 10.00 is over what is left today');
  t.match(over.body.respDesc, /5\.00 left/);
  const again = await send(gw, first);
  t.equal(again.body.respCode, '000000', 'the replay comes before the limits');
  t.equal(again.body.orderId, a.body.orderId);
  const changed = await send(gw, { ...first, payeeAccount: '6222021234567890124' });
  t.equal(changed.body.respCode, '100004', 'another payee under the same mercOrderNo is not the same request');
  t.match(changed.body.respDesc, /payeeAccount differs/);
});

t.test('fields: payee rules, payment-only fields refused by name, unsupported cells and account types', async (t) => {
  const gw = await startGateway(t);
  await enable(gw);
  const cases: [Record<string, string>, RegExp][] = [
    [{ openId: 'o123' }, /openId: is not used by payouts/],
    [{ deviceInfo: 'IOS_SDK' }, /deviceInfo: is not used by payouts/],
    [{ payType: '1' }, /payType: is not used by payouts/],
    [{ payeeName: '' }, /payeeName: is required for payeeAccountType BANK_CARD/],
    [{ payeeAccountType: 'ALIPAY_LOGON_ID', payeeAccount: 'a@example.com', payeeName: '' }, /payeeName: is required for payeeAccountType ALIPAY_LOGON_ID/],
    [{ paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '', tradeAmt: '2000.00' }, /payeeName: is required for payeeAccountType WX_OPENID from 2000\.00/],
    [{ payeeAccountType: 'PAYPAL' }, /payeeAccountType: must be one of ALIPAY_USER_ID, ALIPAY_LOGON_ID, ALIPAY_OPEN_ID, WX_OPENID, BANK_CARD/],
    [{ payeeAccount: 'x'.repeat(65), payeeAccountType: 'ALIPAY_USER_ID' }, /payeeAccount: must be at most 64 characters/],
    [{ payeeName: '名'.repeat(65) }, /payeeName: must be at most 64 characters/],
    [{ sceneCode: 'scan' }, /sceneCode: must be one of transfer/],
    [{ bankCode: 'ICBC', payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088123412341234' }, /bankCode: is only for payeeAccountType BANK_CARD/],
    [{ tradeType: '02', payee: 'x' }, /unknown field: payee/],
  ];
  for (const [over, rule] of cases) {
    const a = await send(gw, payout(gw, over));
    t.equal(a.body.respCode, '100001', JSON.stringify(over));
    t.match(a.body.respDesc, rule);
  }
  const okSmallWx = await send(gw, payout(gw, { paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '', tradeAmt: '1999.99' }));
  t.equal(okSmallWx.body.respCode, '000000', 'below 2000.00 a WeChat payee needs no name');
  const wrongType = await send(gw, payout(gw, { payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }));
  t.equal(wrongType.body.respCode, '100006');
  t.match(wrongType.body.respDesc, /payeeAccountType WX_OPENID is not taken by alipay\.transfer; it takes ALIPAY_USER_ID, ALIPAY_LOGON_ID, ALIPAY_OPEN_ID, BANK_CARD/);
  t.match(wrongType.body.respDesc, /supported payouts: alipay\.transfer \(.*\); wxpay\.transfer \(WX_OPENID\); unionpay\.transfer \(BANK_CARD\)/);
  const payment = await send(gw, payFields(gw.merchant.mercNo, { payeeAccount: CARD }));
  t.equal(payment.body.respCode, '100001', 'a payment still takes no payee');
  t.match(payment.body.respDesc, /unknown field: payeeAccount/);
});

t.test('alipay and unionpay: p0002, paid out two seconds later; masked everywhere, sealed at rest; notified with tradeType', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  await enable(gw);
  for (const [paywayCode, tradeType] of [['alipay', '02'], ['unionpay', '03']] as const) {
    const a = await send(gw, payout(gw, { paywayCode, tradeType }));
    t.equal(a.status, 200);
    t.match(a.body, { respCode: '000000', tradeType, payStatus: 'p0002', payeeAccountType: 'BANK_CARD', payeeAccount: '6222***********0123', payeeName: '**明', tradeAmt: '10.00' });
    t.ok(responseVerifies(a.body, gw.merchant.key));
    t.notOk(a.text.includes(CARD) || a.text.includes(NAME), 'the answer never holds the clear payee');
    t.notOk('cashierUrl' in a.body || 'expireTime' in a.body, 'no cashier and no expiry for a payout nobody confirms');
    const id = a.body.orderId!;
    const stored = await row(gw, id);
    t.notOk(JSON.stringify(stored, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).includes(CARD), 'the clear card number is nowhere in the row');
    t.notOk(String(stored.request_json).includes(NAME));
    t.ok(Buffer.isBuffer(stored.payee_sealed) && !(stored.payee_sealed as Buffer).includes(Buffer.from(CARD)), 'sealed');

    clock.advance(1_000);
    const early = await query(gw, id);
    t.equal(early.body.payStatus, 'p0002', 'not yet');
    clock.advance(1_000);
    await gw.gateway.watcher.runOnce();
    clock.advance(5_000);
    await gw.gateway.watcher.runOnce();
    const q = await query(gw, id);
    t.match(q.body, { payStatus: 'p0000', payeeAccount: '6222***********0123', payeeName: '**明' });
    t.notOk('refundedAmt' in q.body, 'nothing to refund on a payout');
    t.match(q.body.tradeEndTime, /^\d{14}$/);
    const n = await notices(gw, id);
    t.equal(n.length, 1, 'one notification, of p0000');
    t.match(n[0], { tradeType, payStatus: 'p0000', payeeAccount: '6222***********0123', payeeName: '**明' });
  }
});

t.test('wxpay: payInfo for the payee, confirmed on the sandbox page by a real form POST', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  await enable(gw);
  const a = await send(gw, payout(gw, { paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '' }));
  t.match(a.body, { respCode: '000000', payStatus: 'p0002', payeeAccount: 'oUp**********************S6o' });
  t.match(a.body.expireTime, /^\d{14}$/);
  const info = JSON.parse(a.body.payInfo!) as Record<string, string>;
  t.same(Object.keys(info).sort(), ['appId', 'mchId', 'package']);
  const id = a.body.orderId!;
  clock.advance(10_000);
  await gw.gateway.watcher.runOnce();
  t.equal((await query(gw, id)).body.payStatus, 'p0002', 'waits for its payee');
  const page = await fetch(`${gw.url}/sandbox/pay/${id}`);
  const html = await page.text();
  t.match(html, /Confirm receipt/);
  t.notOk(html.includes('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'), 'the page shows the payee masked');
  const fail = await fetch(`${gw.url}/sandbox/pay/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=fail',
  });
  t.equal(fail.status, 409, 'a payee does not fail a payout');
  const res = await fetch(`${gw.url}/sandbox/pay/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
    body: 'result=success',
  });
  t.equal(res.status, 200);
  t.match(await res.text(), /Payout received/);
  t.equal((await query(gw, id)).body.payStatus, 'p0000', 'applied from the channel callback');
  const events = await gw.sql.values('SELECT source FROM order_events WHERE order_id = ? ORDER BY id', id);
  t.same(events, ['wxpay transfer answer', 'sandbox callback']);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /payway="wxpay",scene="transfer",operation="transfer",outcome="accepted"/, 'payout calls are counted');
  t.notOk(metrics.includes('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'), 'no payee in any metric label');
});

t.test('magic amounts: 0.91 refused, 0.92 unknown then settled by query, 0.94 fails later', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  await enable(gw, '5000.00');
  const refused = await send(gw, payout(gw, { tradeAmt: '0.91' }));
  t.equal(refused.status, 502);
  t.match(refused.body, { respCode: '200001', payStatus: 'p0004' });
  const rq = await query(gw, refused.body.orderId!);
  t.match(rq.body, { payStatus: 'p0004', failCode: 'SANDBOX_REFUSED', failReason: /0\.91/ });

  const lost = await send(gw, payout(gw, { tradeAmt: '0.92' }));
  t.equal(lost.status, 504);
  t.match(lost.body, { respCode: '200002', payStatus: 'p0001' });
  t.match(lost.body.orderId, /^\d{22}$/);
  const lostId = lost.body.orderId!;
  const transfers = () => gw.sql.value('SELECT count(*) FROM sandbox_payouts WHERE order_id = ?', lostId);
  clock.advance(5_000);
  await gw.gateway.watcher.runOnce();
  t.equal((await row(gw, lostId)).pay_status, 'p0000', 'the watcher asked the channel about the same orderId');
  t.equal(await transfers(), 1, 'and never sent it again');
  t.match((await notices(gw, lostId))[0], { payStatus: 'p0000', tradeType: '02' });

  const later = await send(gw, payout(gw, { tradeAmt: '0.94' }));
  t.match(later.body, { respCode: '000000', payStatus: 'p0002' });
  clock.advance(5_000);
  await gw.gateway.watcher.runOnce();
  const lq = await query(gw, later.body.orderId!);
  t.match(lq.body, { payStatus: 'p0004', failCode: 'SANDBOX_PAYOUT_FAILED' });
  t.match((await notices(gw, later.body.orderId!)).at(-1), { payStatus: 'p0004', tradeType: '02' });
});

t.test('limits: per payout, the Beijing day, and amounts given back by payouts that end unpaid', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 15, 59, 0)); // 23:59 in Beijing
  const gw = await startGateway(t, {}, { clock });
  await enable(gw, '20.00', '12.00');
  const big = await send(gw, payout(gw, { tradeAmt: '12.01' }));
  t.equal(big.body.respCode, '100007');
  t.match(big.body.respDesc, /over the per-payout limit of 12\.00/);
  t.equal((await send(gw, payout(gw, { tradeAmt: '12.00' }))).body.respCode, '000000', 'exactly the limit is not over it');
  const failed = await send(gw, payout(gw, { tradeAmt: '0.91' }));
  t.equal(failed.body.payStatus, 'p0004');
  const rest = await send(gw, payout(gw, { tradeAmt: '8.00' }));
  t.equal(rest.body.respCode, '000000', 'the refused 0.91 gave its amount back: 12.00 + 8.00 = 20.00');
  const none = await send(gw, payout(gw, { tradeAmt: '0.01' }));
  t.equal(none.body.respCode, '100007');
  t.match(none.body.respDesc, /0\.00 left of 20\.00/);
  clock.advance(60_000); // 00:00 the next Beijing day
  t.equal((await send(gw, payout(gw, { tradeAmt: '10.00' }))).body.respCode, '000000', 'a new day, a new limit');
});

t.test('close: a wxpay payout before confirmation is cancelled (p0005, not notified); alipay cannot be; refund is 100007', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  await enable(gw);
  const wx = await send(gw, payout(gw, { paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '' }));
  const close = await gw.post('/api/close', { mercNo: gw.merchant.mercNo, orderId: wx.body.orderId!, signType: 'MD5' });
  t.match(close.body, { respCode: '000000', payStatus: 'p0005' });
  t.same(await notices(gw, wx.body.orderId!), [], 'a close the merchant asked for is not notified');
  const confirm = await fetch(`${gw.url}/sandbox/pay/${wx.body.orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  t.equal(confirm.status, 409, 'a cancelled bill can no longer be confirmed');

  const ali = await send(gw, payout(gw));
  const no = await gw.post('/api/close', { mercNo: gw.merchant.mercNo, orderId: ali.body.orderId! });
  t.equal(no.body.respCode, '100007');
  t.match(no.body.respDesc, /cannot close: an? alipay payout cannot be cancelled/);
  clock.advance(5_000);
  await gw.gateway.watcher.runOnce();
  const refund = await gw.post('/api/refund', { mercNo: gw.merchant.mercNo, orderId: ali.body.orderId!, mercRefundNo: 'R1', refundAmt: '1.00' });
  t.equal(refund.body.respCode, '100007');
  t.match(refund.body.respDesc, /a payout cannot be refunded/);
});

t.test('an unconfirmed wxpay payout past orderPeriod is cancelled by the watcher and ends p0006, notified', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  await enable(gw, '10.00');
  const wx = await send(gw, payout(gw, { paywayCode: 'wxpay', tradeType: '03', orderPeriod: '1', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '' }));
  const id = wx.body.orderId!;
  clock.advance(61_000);
  await gw.gateway.watcher.runOnce();
  t.equal((await row(gw, id)).pay_status, 'p0006');
  t.equal((await row(gw, id)).cancel_reason, 'expiry');
  t.match((await notices(gw, id)).at(-1), { payStatus: 'p0006', tradeType: '03' });
  t.equal((await send(gw, payout(gw))).body.respCode, '000000', 'the expired payout gave its 10.00 back');
});

t.test('concurrent payouts never pass the daily limit together', async (t) => {
  const gw = await startGateway(t);
  await enable(gw, '10.00');
  const answers = await Promise.all(Array.from({ length: 24 }, () => send(gw, payout(gw, { tradeAmt: '1.00' }))));
  const codes = answers.map((a) => a.body.respCode);
  t.equal(codes.filter((c) => c === '000000').length, 10, 'exactly what the limit holds');
  t.equal(codes.filter((c) => c === '100007').length, 14, 'the others over it');
  // bigint: PostgreSQL's sum of a BIGINT column is a numeric
  const counted = await gw.sql.bigint("SELECT sum(amount_fen) FROM orders WHERE trade_type IN ('02','03') AND pay_status IN ('p0001','p0002','p0000')");
  t.equal(counted, 1000n);
});

t.test('a payout result from a channel callback is checked against the order like a payment', async (t) => {
  const gw = await startGateway(t);
  await enable(gw);
  const { signSandboxBody, SANDBOX_SIGNATURE_HEADER } = await import('../../src/channels/sandbox/driver.js');
  const secret = (await gw.sql.value<string>("select value from settings where name='sandbox_secret'"))!;
  const callback = async (body: Record<string, string>) => {
    const raw = JSON.stringify({ kind: 'payout', ...body });
    const res = await fetch(`${gw.url}/channel/sandbox/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxBody(raw, secret) },
      body: raw,
    });
    return { status: res.status, text: await res.text() };
  };
  const a = await send(gw, payout(gw));
  const id = a.body.orderId!;
  const tradeNo = (await row(gw, id)).channel_trade_no as string;
  const wrong = await callback({ orderId: id, tradeNo, result: 'succeeded', amount: '1001', paidAt: '20260101120000' });
  t.same(wrong, { status: 400, text: 'fail' }, 'another amount is refused');
  t.equal((await row(gw, id)).pay_status, 'p0002', 'and not applied');
  t.equal(await gw.sql.value("SELECT count(*) FROM alerts WHERE kind = 'callback_amount_mismatch'"), 1, 'and flagged');
  const failed = await callback({ orderId: id, tradeNo, result: 'failed', amount: '1000', code: 'PAYEE_ACCOUNT_ABNORMAL', message: '收款账户异常' });
  t.same(failed, { status: 200, text: 'success' });
  const q = await query(gw, id);
  t.match(q.body, { payStatus: 'p0004', failCode: 'PAYEE_ACCOUNT_ABNORMAL', failReason: '收款账户异常' });
  const dup = await callback({ orderId: id, tradeNo, result: 'succeeded', amount: '1000', paidAt: '20260101120000' });
  t.equal(dup.status, 200, 'acknowledged');
  t.equal((await row(gw, id)).pay_status, 'p0000', 'money the channel confirms wins, as for payments');
});

t.test('a failed payment says why too: failCode and failReason in /api/query for any p0004', async (t) => {
  const gw = await startGateway(t);
  const refused = await gw.post('/api/pay', payFields(gw.merchant.mercNo, { tradeAmt: '0.91' }));
  t.equal(refused.body.payStatus, 'p0004');
  const q = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId: refused.body.orderId! });
  t.match(q.body, { payStatus: 'p0004', failCode: 'SANDBOX_REFUSED', failReason: 'the sandbox refuses 0.91 by design' });
  const open = await gw.post('/api/pay', payFields(gw.merchant.mercNo));
  const failed = await fetch(`${gw.url}/sandbox/pay/${open.body.orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=fail',
  });
  t.equal(failed.status, 200);
  const f = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId: open.body.orderId! });
  t.match(f.body, { payStatus: 'p0004', failCode: 'CHANNEL_FAILED', failReason: /failed/ });
  const paid = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId: open.body.orderId! });
  t.ok(paid.body.failCode, 'still there on the next query');
  const ok = await gw.post('/api/pay', payFields(gw.merchant.mercNo));
  t.notOk('failCode' in (await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId: ok.body.orderId! })).body, 'only for p0004');
});
