import t from 'tap';
import { createOrder, payFields, sandboxPay, type TestGateway } from '../helper.js';
import { PASSWORD, TEST_MASTER_KEY, auditRows, setupConsole as setup } from '../console-client.js';

// The console's payouts (CONTRACT §4, §6) over HTTP: the payouts page with the orders page's
// filters, the masked payee (never the clear one), failCode/failReason on a failed payout's page,
// and the merchant's payout settings, admin's, through the code `dtpay merchant payouts` runs.

const CARD = '6222021234567890123';
const NAME = '张小明';
const XSS = '<img src=x onerror=alert(1)>"\'&';

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

async function sendPayout(gw: TestGateway, over: Record<string, string> = {}): Promise<string> {
  const a = await gw.post('/api/pay', payout(gw, over));
  if (!a.body.orderId) throw new Error(`payout not made: ${a.text}`);
  return a.body.orderId;
}

const idsIn = (html: string) => [...html.matchAll(/href="\/console\/orders\/(\d{22})"/g)].map((m) => m[1]);

t.test('payouts: newest first, filters, masked payee, failCode on the order page; payments left out', async (t) => {
  const { gw, client } = await setup(t);
  await gw.gateway.writer.run('setPayoutSettings', { mercNo: gw.merchant.mercNo, enabled: true, dailyLimitFen: 100_000n, perPayoutLimitFen: null, at: Date.now() });
  const payment = await createOrder(gw);
  await sandboxPay(gw, payment);
  const first = await sendPayout(gw, { subject: XSS });
  const oddName = await sendPayout(gw, { payeeName: '王<b>' });
  const refused = await sendPayout(gw, { tradeAmt: '0.91' });
  const union = await sendPayout(gw, { paywayCode: 'unionpay', tradeType: '03', tradeAmt: '3.00' });
  const c = client();
  await c.login('viewer@shop.test', PASSWORD);

  const page = await c.get('/console/payouts');
  t.equal(page.status, 200);
  t.same(idsIn(page.text), [union, refused, oddName, first], 'payouts only, newest first');
  t.notOk(page.text.includes(CARD), 'no clear account on the page');
  t.notOk(page.text.includes(NAME), 'no clear name on the page');
  t.ok(page.text.includes('6222***********0123'), 'the masked account');
  t.ok(page.text.includes('**明'), 'the masked name');
  t.ok(page.text.includes('**&gt;') && !page.text.includes('**>'), 'a masked name is escaped');
  const detail = await c.get(`/console/orders/${first}`);
  t.notOk(detail.text.includes('<img src=x'), 'a merchant-given subject is escaped on the payout page');
  t.ok(detail.text.includes('&lt;img src=x'));
  t.match(page.text, /id="nav"[^]*href="\/console\/payouts"/, 'in the navigation');

  t.same(idsIn((await c.get('/console/payouts?tradeType=03')).text), [union], 'by trade type');
  t.same(idsIn((await c.get('/console/payouts?status=p0004')).text), [refused], 'by status');
  t.same(idsIn((await c.get('/console/payouts?payway=alipay')).text), [refused, oddName, first], 'by payway');
  t.same(idsIn((await c.get(`/console/payouts?before=${union}`)).text), [refused, oddName, first], 'a page after a given payout');
  t.same(idsIn((await c.get(`/console/payouts?q=${payment}`)).text), [], 'a payment is not a payout');
  t.same(idsIn((await c.get(`/console/payouts?q=${refused}`)).text), [refused], 'search');
  for (const [query, field] of [['tradeType=01', 'tradeType'], ['status=p9', 'status'], ['from=2026-02-30', 'from']] as const) {
    const r = await c.get(`/console/payouts?${query}`);
    t.equal(r.status, 400, query);
    t.match(r.text, new RegExp(`${field}: must`), `${query}: names the field and the rule`);
  }

  const failed = await c.get(`/console/orders/${refused}`);
  t.equal(failed.status, 200);
  t.match(failed.text, /SANDBOX_REFUSED/, 'failCode');
  t.match(failed.text, /0\.91 by design/, 'failReason');
  t.ok(failed.text.includes('6222***********0123') && !failed.text.includes(CARD), 'the order page shows the payee masked');
  t.notOk((await c.get(`/console/orders/${payment}`)).text.includes('failCode'), 'a paid payment has no failCode');

  // Paging: past one page, the next page from the last payout's id.
  for (let i = 0; i < 50; i++) await sendPayout(gw, { tradeAmt: '0.01' });
  const p1 = await c.get('/console/payouts');
  t.equal(idsIn(p1.text).length, 50);
  const next = /id="next-page" href="([^"]+)"/.exec(p1.text)![1]!.replaceAll('&amp;', '&');
  t.same(idsIn((await c.get(next)).text), [union, refused, oddName, first], 'the rest on the second page');

  // Support sees a paid-out payout with no refund form: a payout cannot be refunded.
  const s = client();
  await s.login('support@shop.test', PASSWORD);
  t.notMatch((await s.get(`/console/orders/${union}`)).text, /refund-form/, 'no refund of a payout');
});

t.test('a payout\'s query and close from its order page go the payout\'s way, as /api/query and /api/close do', async (t) => {
  const { gw, client } = await setup(t);
  await gw.gateway.writer.run('setPayoutSettings', { mercNo: gw.merchant.mercNo, enabled: true, dailyLimitFen: 100_000n, perPayoutLimitFen: null, at: Date.now() });
  const wx = await sendPayout(gw, { paywayCode: 'wxpay', tradeType: '03', orderPeriod: '5', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '' });
  const c = client();
  await c.login('support@shop.test', PASSWORD);
  await c.get(`/console/orders/${wx}`);
  t.equal((await c.post(`/console/orders/${wx}/query`)).status, 303);
  const queried = (await auditRows(gw)).find((a) => a.action === 'orders/query') as unknown as { outcome: string; detail: string };
  t.equal(queried.outcome, 'ok');
  t.match((await gw.gateway.services.reads.order(wx))!.pay_status, /^p000[12]$/, 'still waiting for the payee');
  await c.get(`/console/orders/${wx}`);
  t.equal((await c.post(`/console/orders/${wx}/close`)).status, 303);
  const closed = (await auditRows(gw)).find((a) => a.action === 'orders/close') as unknown as { outcome: string };
  t.match(closed.outcome, /^(done|cancelling)$/, 'cancelled at the channel as /api/close cancels it');
  t.equal((await gw.gateway.services.reads.order(wx))!.cancel_reason, 'merchant', 'the cancel asked by the merchant side');

  // An Alipay payout cannot be cancelled once the channel has it: said so, nothing changed.
  const ali = await sendPayout(gw, { tradeAmt: '0.92' });
  const before = (await gw.gateway.services.reads.order(ali))!;
  await c.get(`/console/orders/${ali}`);
  t.equal((await c.post(`/console/orders/${ali}/close`)).status, 303);
  t.match((await c.get(`/console/orders/${ali}`)).text, /class="flash bad"[^]*这笔代付无法撤销/);
  t.equal((await gw.gateway.services.reads.order(ali))!.pay_status, before.pay_status, 'its state unchanged');
});

t.test('payout settings: admin turns payouts on with limits and off, audited; lower roles refused and nothing changes', async (t) => {
  const { gw, client } = await setup(t);
  const mercNo = gw.merchant.mercNo;
  const settings = () => gw.gateway.services.reads.payoutSettings(mercNo);
  const viewer = client();
  await viewer.login('viewer@shop.test', PASSWORD);
  const support = client();
  await support.login('support@shop.test', PASSWORD);
  const admin = client();
  await admin.login('admin@shop.test', PASSWORD);
  const path = `/console/merchants/${mercNo}/payouts`;
  const initial = await settings();

  for (const [who, c] of [['viewer', viewer], ['support', support]] as const) {
    t.equal((await c.get(path)).status, 403, `${who} may not read the settings page`);
    await c.get('/console');
    const r = await c.post(path, { payouts: 'on', dailyLimit: '5000.00' });
    t.equal(r.status, 403, `${who} may not set them`);
  }
  t.same((await settings()), initial, 'nothing changed');
  t.notOk((await settings())?.enabled);
  t.equal((await auditRows(gw)).filter((a) => a.action === 'merchants/payouts' && a.outcome === 'denied').length, 2, 'the refusals are audited');
  t.notMatch((await support.get('/console/merchants')).text, /merchants\/M\d+\/payouts/, 'support sees no link to the settings');

  const form = await admin.get(path);
  t.equal(form.status, 200);
  t.match(form.text, /id="payouts-state">关/);
  // Refused as the CLI refuses them, naming the field.
  for (const [body, rule] of [
    [{ payouts: 'on' }, /dailyLimit AMOUNT/],
    [{ payouts: 'on', dailyLimit: '0' }, /dailyLimit must be yuan greater than zero/],
    [{ payouts: 'on', dailyLimit: '1.234' }, /dailyLimit must be yuan/],
    [{ payouts: 'on', dailyLimit: '100.00', perPayoutLimit: '200.00' }, /perPayoutLimit cannot be over dailyLimit/],
    [{ payouts: 'maybe' }, /payouts: must be on or off/],
  ] as const) {
    await admin.get(path);
    const r = await admin.post(path, body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.text, rule);
  }
  t.same((await settings()), initial, 'nothing written by a refused form');

  await admin.get(path);
  const on = await admin.post(path, { payouts: 'on', dailyLimit: '5000.00', perPayoutLimit: '200' });
  t.equal(on.status, 303);
  t.same((await settings()), { enabled: true, dailyLimitFen: 500_000n, perPayoutLimitFen: 20_000n });
  const after = await admin.get(path);
  t.match(after.text, /代付设置已保存/);
  t.match(after.text, /5000\.00/);
  t.equal((await gw.post('/api/pay', payout(gw, { tradeAmt: '200.01' }))).body.respCode !== '000000', true, 'the per-payout limit holds at the API');
  const ok = await gw.post('/api/pay', payout(gw, { tradeAmt: '2.00' }));
  t.match(ok.body, { respCode: '000000' }, 'a payout within the limits goes through');

  await admin.get(path);
  t.equal((await admin.post(path, { payouts: 'off' })).status, 303);
  t.same((await settings()), { enabled: false, dailyLimitFen: 500_000n, perPayoutLimitFen: 20_000n }, 'off keeps the limits, as the CLI does');
  const rows = (await auditRows(gw)).filter((a) => a.action === 'merchants/payouts' && a.operator === 'admin@shop.test');
  t.same(rows.map((a) => a.outcome), ['refused', 'refused', 'refused', 'refused', 'refused', 'on', 'off']);
  const onRow = rows.find((a) => a.outcome === 'on')! as unknown as { amount_fen: number; detail: string };
  t.equal(onRow.amount_fen, 500_000, 'the daily limit is the audited amount');
  t.match(onRow.detail, /daily limit 5000\.00, per payout 200\.00/);
  t.match((await admin.get('/console/merchants')).text, /href="\/console\/merchants\/M\d+\/payouts"/, 'the merchants page links to them');
});

t.test('payout settings of a live merchant: the warnings of dtpay merchant payouts (Alipay in key mode)', async (t) => {
  const { gw, client } = await setup(t);
  const { createMerchant } = await import('../../src/services/merchants.js');
  const { storeLiveCredentials } = await import('../../src/services/live-credentials.js');
  const { rsaKeyPair } = await import('../fixtures/channel-credentials.js');
  const live = await createMerchant(gw.gateway.services, `正式${XSS}`, 'live');
  const admin = client();
  await admin.login('admin@shop.test', PASSWORD);
  const path = `/console/merchants/${live.mercNo}/payouts`;
  const none = await admin.get(path);
  t.match(none.text, /no live channel is configured/, 'no channel yet');
  t.notOk(none.text.includes('<img src=x'), 'the merchant name is escaped');
  await storeLiveCredentials(gw.gateway.writer, TEST_MASTER_KEY, live.mercNo, 'alipay', {
    appId: '2021000000000001',
    privateKeyPem: rsaKeyPair().privateKeyPem,
    alipayPublicKeyPem: rsaKeyPair().publicKeyPem,
    gatewayUrl: 'https://openapi.alipay.com/gateway.do',
  });
  const page = await admin.get(path);
  t.match(page.text, /id="payout-warnings"[^]*alipay payouts \(tradeType 02\) answer 100006/, 'Alipay in key mode cannot pay out');
  const r = await admin.post(path, { payouts: 'on', dailyLimit: '100.00' });
  t.equal(r.status, 303);
  const shown = await admin.get(path);
  t.match(shown.text, /class="flash bad"[^]*alipay payouts/, 'the warning after turning them on');
  const row = (await auditRows(gw)).find((a) => a.action === 'merchants/payouts' && a.outcome === 'on') as unknown as { detail: string };
  t.match(row.detail, /warnings: alipay payouts/);
});
