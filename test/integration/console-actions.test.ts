import t from 'tap';
import { createOrder, sandboxPay, startGateway } from '../helper.js';
import { ConsoleClient, PASSWORD, TEST_MASTER_KEY, auditRows, makeOperators, setupConsole as setup } from '../console-client.js';

// The console over HTTP: the server's role checks on every action (whatever a page shows, the
// server decides), the actions through the API's services, the order list, search, pages and CSV.

t.test('every action is refused by the server to a role that may not do it, and changes nothing', async (t) => {
  const { gw, client } = await setup(t);
  const orderId = await createOrder(gw);
  const paid = await createOrder(gw);
  await sandboxPay(gw, paid);
  const viewer = client();
  await viewer.login('viewer@shop.test', PASSWORD);
  const support = client();
  await support.login('support@shop.test', PASSWORD);
  const mercNo = gw.merchant.mercNo;
  const alertId = Number(
    await gw.sql.value("INSERT INTO alerts (kind, channel, order_id, merc_no, detail, at, count, last_at) VALUES ('bad-signature', 'sandbox', ?, ?, 'x', 1, 1, 1) RETURNING id", orderId, mercNo),
  );
  const support_: [string, Record<string, string>][] = [
    [`/console/orders/${orderId}/query`, {}],
    [`/console/orders/${orderId}/close`, {}],
    [`/console/orders/${orderId}/resend`, {}],
    [`/console/orders/${paid}/refund/confirm`, { refundAmt: '0.01' }],
    [`/console/orders/${paid}/refund`, { refundAmt: '0.01', mercRefundNo: `C${'a'.repeat(24)}` }],
    [`/console/alerts/${alertId}/handle`, {}],
    ['/console/notifications/1/resend', {}],
  ];
  const admin_: [string, Record<string, string>][] = [
    ['/console/merchants', { name: 'Evil', mode: 'sandbox' }],
    [`/console/merchants/${mercNo}/rotate-key`, {}],
    [`/console/merchants/${mercNo}/disable`, {}],
    ['/console/operators', { email: 'evil@shop.test', role: 'admin', password: PASSWORD }],
    ['/console/operators/viewer%40shop.test/disable', {}],
  ];
  const snapshot = async () =>
    JSON.stringify([
      await gw.sql.all('SELECT order_id, pay_status, updated_at FROM orders ORDER BY order_id'),
      await gw.sql.value('SELECT count(*) FROM refunds'),
      await gw.sql.value('SELECT count(*) FROM notifications'),
      await gw.sql.all('SELECT * FROM merchants ORDER BY merc_no'),
      await gw.sql.all('SELECT email, status FROM console_operators ORDER BY email'),
      await gw.sql.all('SELECT handled_at FROM alerts ORDER BY id'),
    ]);
  const before = await snapshot();
  for (const [path, form] of [...support_, ...admin_]) {
    await viewer.get('/console');
    const r = await viewer.post(path, form);
    t.equal(r.status, 403, `viewer: ${path}`);
  }
  for (const [path, form] of admin_) {
    await support.get('/console');
    const r = await support.post(path, form);
    t.equal(r.status, 403, `support: ${path}`);
  }
  t.equal(await snapshot(), before, 'nothing changed');
  const denied = (await auditRows(gw)).filter((a) => a.outcome === 'denied');
  t.equal(denied.length, support_.length + admin_.length * 2, 'each refusal is in the audit log');
  for (const path of ['/console/operators', '/console/audit']) {
    t.equal((await support.get(path)).status, 403, `support may not read ${path}`);
  }
  // The pages show no button the role may not use.
  const page = await viewer.get(`/console/orders/${paid}`);
  t.notMatch(page.text, /action-refund|action-query|action-close|action-resend/, 'a viewer sees no action');
  const merchants = await support.get('/console/merchants');
  t.notMatch(merchants.text, /rotate-key|create-merchant/, 'support sees no merchant action');
});

t.test('orders: filters, search by any of the three numbers, keyset pages, CSV export, bad filters named', async (t) => {
  const { gw, client } = await setup(t);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await createOrder(gw, { paywayCode: i % 2 ? 'wxpay' : 'alipay', tradeAmt: `${i + 1}.00`, subject: i === 0 ? '=HYPERLINK("http://x")' : 'item' }));
  await sandboxPay(gw, ids[1]!);
  const c = client();
  await c.login('viewer@shop.test', PASSWORD);
  const idsIn = (html: string) => [...html.matchAll(/href="\/console\/orders\/(\d{22})"/g)].map((m) => m[1]);

  t.same(idsIn((await c.get('/console/orders')).text), [...ids].reverse(), 'newest first');
  t.same(idsIn((await c.get('/console/orders?payway=wxpay')).text), [ids[3], ids[1]]);
  t.same(idsIn((await c.get('/console/orders?payway=wxpay&status=p0000')).text), [ids[1]]);
  t.same(idsIn((await c.get(`/console/orders?merc=${gw.merchant.mercNo}&before=${ids[2]}`)).text), [ids[1], ids[0]], 'a page after a given order');
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
  t.equal(idsIn((await c.get(`/console/orders?from=${today}&to=${today}`)).text).length, 5, "today's orders");
  t.equal(idsIn((await c.get('/console/orders?from=2020-01-01&to=2020-01-31')).text).length, 0, 'none in another month');

  const row = (await gw.gateway.services.reads.order(ids[1]!))!;
  const byMercOrderNo = await c.get(`/console/orders?q=${row.merc_order_no}`);
  t.same(idsIn(byMercOrderNo.text), [ids[1]!], 'by mercOrderNo');
  t.same(idsIn((await c.get(`/console/orders?q=${row.channel_trade_no}`)).text), [ids[1]], 'by channel trade number');
  const byId = await c.get(`/console/orders?q=${ids[1]}`);
  t.equal(byId.status, 303, 'an exact orderId goes to the order');
  t.equal(byId.location, `/console/orders/${ids[1]}`);

  for (const [query, field] of [['status=p9999', 'status'], ['payway=paypal', 'payway'], ['from=2026-02-30', 'from'], ['before=123', 'before'], ['tradeType=09', 'tradeType']] as const) {
    const r = await c.get(`/console/orders?${query}`);
    t.equal(r.status, 400, query);
    t.match(r.text, new RegExp(`${field}: must`), `${query}: names the field and the rule`);
  }
  t.equal((await c.get('/console/orders/20260101000000000000001')).status, 404, 'an order that does not exist');

  // Paging: 50 a page, the next page from the last one's id.
  const more: string[] = [];
  for (let i = 0; i < 52; i++) more.push(await createOrder(gw));
  const first = await c.get('/console/orders');
  t.equal(idsIn(first.text).length, 50);
  const next = /id="next-page" href="([^"]+)"/.exec(first.text)![1]!.replaceAll('&amp;', '&');
  const second = idsIn((await c.get(next)).text);
  t.equal(second.length, 7, 'the rest on the second page');
  t.equal(second.at(-1), ids[0]);

  const csv = await c.get('/console/orders.csv?payway=alipay');
  t.equal(csv.status, 200);
  t.match(csv.headers.get('content-type'), /^text\/csv/);
  t.match(csv.headers.get('content-disposition'), /attachment/);
  const lines = csv.text.replace(/^\ufeff/, '').trim().split('\r\n');
  t.equal(lines[0], 'orderId,mercNo,mercOrderNo,payway,scene,tradeType,tradeAmt,payStatus,channelTradeNo,createdAt');
  t.equal(lines.length, 1 + 55, 'every alipay order, past one page');
  t.ok(lines.slice(1).every((l) => l.includes('"alipay"')));
  t.ok((await auditRows(gw)).some((a) => a.action === 'orders/export' && a.operator === 'viewer@shop.test'), 'an export is audited');
  t.equal((await c.get('/console/orders.csv?status=bad')).status, 400);
});

t.test('the language switch: a cookie, and only a way back into the console', async (t) => {
  const { client } = await setup(t);
  const c = client();
  const r = await c.get('/console/lang?to=en&back=%2Fconsole%2Flogin');
  t.equal(r.status, 303);
  t.equal(r.location, '/console/login');
  t.match(r.headers.getSetCookie().join(), /dtpay_lang=en; .*HttpOnly; SameSite=Strict/);
  const login = await c.get('/console/login');
  t.match(login.text, /<html lang="en">/);
  t.match(login.text, /Log in/);
  t.match(login.text, /id="lang-switch" href="\/console\/lang\?to=zh/, 'the switch back is on the login page');
  for (const back of ['//evil.example', 'https://evil.example/console', '/consolex', '/console\\@evil']) {
    t.equal((await c.get(`/console/lang?to=zh&back=${encodeURIComponent(back)}`)).location, '/console', `no way out: ${back}`);
  }
});

t.test('support acts through the API services: query, close, resend, refund; an alert marked handled', async (t) => {
  const { gw, client } = await setup(t);
  const open = await createOrder(gw);
  const paid = await createOrder(gw, { tradeAmt: '10.00' });
  await sandboxPay(gw, paid);
  const c = client();
  await c.login('support@shop.test', PASSWORD);
  await c.get(`/console/orders/${open}`);
  t.equal((await c.post(`/console/orders/${open}/query`)).status, 303);
  t.equal((await c.post(`/console/orders/${open}/close`)).status, 303);
  t.equal((await gw.gateway.services.reads.order(open))!.pay_status, 'p0005', 'closed as /api/close closes');
  const before = (await gw.gateway.services.reads.notificationsOfOrder(paid)).length;
  await c.get(`/console/orders/${paid}`);
  t.equal((await c.post(`/console/orders/${paid}/resend`)).status, 303);
  t.equal((await gw.gateway.services.reads.notificationsOfOrder(paid)).length, before + 1, 'a fresh notification');

  // A refund beyond what is left is refused before any confirmation; the confirmation made twice is one refund.
  await c.get(`/console/orders/${paid}`);
  const tooMuch = await c.post(`/console/orders/${paid}/refund/confirm`, { refundAmt: '10.01' });
  t.equal(tooMuch.status, 303);
  const confirm = await c.post(`/console/orders/${paid}/refund/confirm`, { refundAmt: '4.00', refundReason: 'r' });
  t.equal(confirm.status, 200);
  t.match(confirm.text, /¥4\.00/);
  const mercRefundNo = /name="mercRefundNo" value="([^"]+)"/.exec(confirm.text)![1]!;
  const form = { refundAmt: '4.00', refundReason: 'r', mercRefundNo };
  t.equal((await c.post(`/console/orders/${paid}/refund`, form)).status, 303);
  await c.get(`/console/orders/${paid}`);
  t.equal((await c.post(`/console/orders/${paid}/refund`, form)).status, 303);
  t.equal(await gw.sql.value('SELECT count(*) FROM refunds WHERE order_id = ?', paid), 1, 'sent twice, refunded once');
  const forged = await c.post(`/console/orders/${paid}/refund`, { refundAmt: '7.00', mercRefundNo: `C${'c'.repeat(24)}` });
  t.equal(forged.status, 303);
  t.equal(await gw.sql.value('SELECT count(*) FROM refunds WHERE order_id = ?', paid), 1, 'beyond what is left: refused, no refund');

  const alertId = Number(await gw.sql.value("INSERT INTO alerts (kind, channel, detail, at, count, last_at) VALUES ('bad-signature', 'alipay', 'x', 1, 1, 1) RETURNING id"));
  await c.get('/console/alerts');
  t.equal((await c.post(`/console/alerts/${alertId}/handle`)).status, 303);
  t.match(await gw.sql.get('SELECT handled_by FROM alerts WHERE id = ?', alertId), { handled_by: 'support@shop.test' });
  const actions = (await auditRows(gw)).filter((a) => a.operator === 'support@shop.test').map((a) => `${a.action}:${a.outcome}`);
  t.same(actions.slice(0, 4), ['login:ok', 'orders/query:ok', 'orders/close:closed', 'orders/resend:ok'], 'each action is recorded');
  t.same(actions.slice(4, 6).map((a) => a.split(':')[0]), ['orders/refund', 'orders/refund'], 'the refund, and its replay');
  t.same(actions.slice(6), ['orders/refund:refused', 'alerts/handle:ok']);
});

t.test('channels: configured payways, the callback URL to register, certificate expiry marked 30 days before', async (t) => {
  const { gw, client } = await setup(t);
  const { createMerchant } = await import('../../src/services/merchants.js');
  const { storeLiveCredentials } = await import('../../src/services/live-credentials.js');
  const { rsaKeyPair, certificatePem } = await import('../fixtures/channel-credentials.js');
  const live = await createMerchant(gw.gateway.services, '正式商户', 'live');
  const platformKey = rsaKeyPair();
  const soon = new Date(Date.now() + 10 * 86_400_000);
  await storeLiveCredentials(gw.gateway.writer, TEST_MASTER_KEY, live.mercNo, 'wxpay', {
    mchid: '1900000001',
    appid: 'wx0000000000000001',
    serialNo: '5d7af7b4c2b0e8f1a3c9d2e4f60718293a4b5c6d',
    privateKeyPem: rsaKeyPair().privateKeyPem,
    apiv3Key: 'APIv3keyForTests0123456789abcdXY',
    platformCertPem: certificatePem({ subjectCn: 'Tenpay test platform', key: platformKey, notAfter: soon }),
    baseUrl: 'https://api.mch.weixin.qq.com',
  });
  const c = client();
  await c.login('viewer@shop.test', PASSWORD);
  const page = await c.get('/console/channels');
  t.equal(page.status, 200);
  const row = page.text.split('<tr>').find((r) => r.includes(live.mercNo))!;
  t.match(row, /wxpay/);
  t.ok(row.includes(`${gw.config.PUBLIC_BASE_URL}/channel/wxpay/notify/${live.mercNo}`), 'the callback URL to register');
  t.ok(row.includes(`platformCert: ${soon.toISOString().slice(0, 10)}`), 'the expiry date');
  t.match(row, /30 天内到期/, 'marked: it runs out within 30 days');
  t.notOk(page.text.includes('APIv3keyForTests'), 'no secret on the page');
});
