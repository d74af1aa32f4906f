import t from 'tap';
import { payFields, sandboxPay, startGateway, tempDir, type TestGateway } from '../helper.js';
import { orderRow } from '../fixtures/orders.js';
import { createMerchant } from '../../src/services/merchants.js';

// Order ids are a timestamp and a counter, so anyone can list them. The payer's pages of an order
// (cashier, its status, the channel form, the QR image) answer only a link carrying the order's
// token; without it, with a wrong one or with another order's, the same 404 as for no order at all.

const local = (gw: TestGateway, url: string) => {
  const u = new URL(url);
  return `${gw.url}${u.pathname}${u.search}`;
};

async function answer(url: string) {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()).toString('base64') };
}

/** Every way of asking for `path` of `orderId` without its token, each answered like an order that does not exist. */
function untokened(gw: TestGateway, orderId: string, path: (id: string) => string, token: string, otherToken: string): string[] {
  const base = `${gw.url}${path(orderId)}`;
  const flipped = token.replace(/[a-zA-Z]/g, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()));
  return [
    base,
    `${base}?t=`,
    `${base}?t=${otherToken}`,
    `${base}?t=${flipped}`,
    `${base}?t=${token.slice(0, -1)}`,
    `${base}?t=${token}x`,
    `${base}?t=${otherToken}&t=${token}`,
    `${base}?token=${token}`,
  ];
}

t.test('cashier, status, form and QR answer only a link with the order token', async (t) => {
  const gw = await startGateway(t, {}, { merchantName: 'Secret Tea House' });
  const pay = async (over: Record<string, string>) => {
    const a = await gw.post('/api/pay', payFields(gw.merchant.mercNo, { subject: 'oolong 250 g', tradeAmt: '88.00', ...over }));
    t.equal(a.body.respCode, '000000', a.text);
    return a.body;
  };
  const scan = await pay({ returnUrl: 'https://shop.example.com/done' });
  const form = await pay({ paywayCode: 'unionpay', sceneCode: 'h5' });
  const tokenOf = (cashierUrl: string) => new URL(cashierUrl).searchParams.get('t')!;
  const scanToken = tokenOf(scan.cashierUrl!);
  const formToken = tokenOf(form.cashierUrl!);
  t.match(scanToken, /^[\w-]{22}$/, 'the cashierUrl carries a 128-bit token');
  t.not(scanToken, formToken, 'one per order');
  t.equal(new URL(scan.imgUrl!).searchParams.get('t'), scanToken, 'imgUrl carries it too');

  // With the token, each page opens.
  const page = await fetch(local(gw, scan.cashierUrl!));
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(html, 'Secret Tea House');
  t.match(html, `/cashier/${scan.orderId}/status?t=${scanToken}`, "the page polls its status with the token");
  t.match(html, `/qr/${scan.orderId}.png?t=${scanToken}`, 'and shows the QR image with it');
  t.equal((await fetch(local(gw, scan.imgUrl!))).status, 200);
  t.equal((await fetch(`${gw.url}/cashier/${scan.orderId}/status?t=${scanToken}`)).status, 200);
  const formPage = await (await fetch(local(gw, form.cashierUrl!))).text();
  t.match(formPage, `/cashier/${form.orderId}/form?t=${formToken}`, 'the bank form is linked with the token');
  t.equal((await fetch(`${gw.url}/cashier/${form.orderId}/form?t=${formToken}`)).status, 200);

  // Without it: the answer for an order that does not exist, byte for byte.
  const nobody = '20990101000000000000001';
  const paths: [string, (id: string) => string, string, string, string][] = [
    ['cashier page', (id) => `/cashier/${id}`, scan.orderId!, scanToken, formToken],
    ['status', (id) => `/cashier/${id}/status`, scan.orderId!, scanToken, formToken],
    ['QR image', (id) => `/qr/${id}.png`, scan.orderId!, scanToken, formToken],
    ['bank form', (id) => `/cashier/${id}/form`, form.orderId!, formToken, scanToken],
  ];
  for (const [name, path, orderId, token, other] of paths) {
    const missing = await answer(`${gw.url}${path(nobody)}`);
    t.equal(missing.status, 404, `${name} of no order: 404`);
    for (const url of untokened(gw, orderId, path, token, other)) {
      t.same(await answer(url), missing, `${name}: ${url.slice(gw.url.length)} is answered as no order`);
    }
  }

  // Paid: the signed front notification (the returnUrl the page is sent to) needs the token too.
  await sandboxPay(gw, scan.orderId!);
  const guessed = await fetch(`${gw.url}/cashier/${scan.orderId}/status`);
  t.equal(guessed.status, 404);
  t.notMatch(await guessed.text(), /signature|shop\.example\.com/, 'no signed returnUrl without the token');
  const status = (await (await fetch(`${gw.url}/cashier/${scan.orderId}/status?t=${scanToken}`)).json()) as Record<string, string>;
  t.match(status, { payStatus: 'p0000', returnUrl: /^https:\/\/shop\.example\.com\/done\?.*signature=/ });
});

t.test('the token is an HMAC under a secret kept in the database', async (t) => {
  const dir = tempDir(t);
  const first = await startGateway(t, {}, { dir });
  const fields = payFields(first.merchant.mercNo);
  const made = await first.post('/api/pay', fields);
  const secret = await first.sql.value<string>("SELECT value FROM settings WHERE name = 'cashier_secret'");
  t.match(secret, /^[0-9a-f]{64}$/, '32 random bytes in the settings table');
  await first.close();

  // The same database after a restart: the same secret, so links already handed out keep working.
  const again = await startGateway(t, {}, { dir });
  t.equal((await fetch(local(again, made.body.cashierUrl!))).status, 200, 'the link still opens after a restart');
  const replay = await again.post('/api/pay', fields, { key: first.merchant.key });
  t.equal(replay.body.cashierUrl, made.body.cashierUrl, 'a replay answers the same link');

  // Another installation does not take this one's token for the same order id.
  const other = await startGateway(t);
  t.not(await other.sql.value("SELECT value FROM settings WHERE name = 'cashier_secret'"), secret);
  t.not(other.gateway.services.links.cashierUrl(made.body.orderId!), again.gateway.services.links.cashierUrl(made.body.orderId!));
});

t.test("a live merchant's order: nothing of it served by order id alone, not even on the sandbox page", async (t) => {
  const gw = await startGateway(t);
  const live = await createMerchant(gw.gateway.services, 'Live Jewellers', 'live');
  const row = orderRow(live.mercNo, Date.now(), {
    response_json: JSON.stringify({ respCode: '000000', respDesc: 'ok', fields: { codeUrl: 'https://qr.alipay.com/bax00000000000000000000' } }),
  });
  await gw.gateway.services.writer.run('insertOrder', row);
  const id = row.order_id;
  const missing = await answer(`${gw.url}/sandbox/pay/20990101000000000000001`);
  t.same(await answer(`${gw.url}/sandbox/pay/${id}`), missing, 'the sandbox page does not show a live order');
  const post = await fetch(`${gw.url}/sandbox/pay/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  t.equal(post.status, 404, 'nor pays it');
  for (const path of [`/cashier/${id}`, `/cashier/${id}/status`, `/qr/${id}.png`]) {
    t.equal((await fetch(gw.url + path)).status, 404, `${path} without the token`);
  }
  const page = await fetch(gw.url + gw.gateway.services.links.cashierPath(id));
  t.equal(page.status, 200);
  t.match(await page.text(), 'Live Jewellers', 'with it, the payer sees whom they pay');
  t.equal(await gw.sql.value('SELECT pay_status FROM orders WHERE order_id = ?', id), 'p0001', 'untouched');
});
