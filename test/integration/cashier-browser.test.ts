import t from 'tap';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { verify, type SignType } from '../../src/domain/sign.js';
import { payFields, sandboxPay, startGateway } from '../helper.js';
import { FRONT_NOTIFICATION_FIELDS } from '../../src/services/front-notification.js';

// The hosted cashier in a real browser (Debian's chromium, driven by playwright-core): the payer
// opens the cashier, pays on the sandbox page in a second tab, and the cashier tab goes to the
// merchant's returnUrl with the signed front notification.

const CHROMIUM = '/usr/bin/chromium';
const STEP_MS = 15_000;
// The project root, from dist*/test/integration/ (the compiled file) whatever the outDir.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const NO_BROWSER = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser test`;

t.test('cashier → sandbox pay → returnUrl with a signed front notification', { timeout: 60_000, skip: NO_BROWSER }, async (t) => {

  // The merchant's return page: records each query string.
  const returned: URLSearchParams[] = [];
  const receiver = createServer((req, res) => {
    returned.push(new URL(req.url ?? '/', 'http://x').searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>shop</title><h1>back at the shop</h1>');
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const returnUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/pay/done?cart=42`;

  const gw = await startGateway(t, {}, { reachable: true, merchantName: '测试商户 Test shop' });
  const a = await gw.post(
    '/api/pay',
    payFields(gw.merchant.mercNo, { subject: '测试商品 Test item', tradeAmt: '12.34', returnUrl, signType: 'HMAC-SHA256', paywayCode: 'wxpay', sceneCode: 'scan' }),
  );
  t.equal(a.body.respCode, '000000', a.text);
  const { orderId, cashierUrl, codeUrl } = a.body as Record<string, string>;
  t.match(cashierUrl, new RegExp(`^${gw.url}/cashier/${orderId}\\?t=[\\w-]{22}$`), "cashierUrl is on the listening address, with the order's token");
  t.equal(codeUrl, `${gw.url}/sandbox/pay/${orderId}`, "the QR code's content is the sandbox pay page");

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
    timeout: STEP_MS,
  });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 390, height: 720 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  // Nothing leaves 127.0.0.1.
  await context.route(/^(?!https?:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());

  const cashier = await context.newPage();
  const res = await cashier.goto(cashierUrl!);
  t.equal(res?.status(), 200);
  t.equal(await cashier.locator('#merchant').textContent(), '测试商户 Test shop', 'the merchant name');
  t.match(await cashier.locator('body').textContent(), /测试商品 Test item/);
  t.match(await cashier.locator('.amount').textContent(), /12\.34/);
  t.match(await cashier.locator('#status').textContent(), /待支付/);
  await cashier.waitForFunction("/^\\d\\d:\\d\\d$/.test(document.getElementById('countdown-value')?.textContent ?? '')");
  const left = (await cashier.locator('#countdown-value').textContent())!;
  const [mm, ss] = left.split(':').map(Number) as [number, number];
  t.ok(mm * 60 + ss > 29 * 60 && mm * 60 + ss <= 30 * 60, `the countdown shows about 30 minutes (${left})`);
  await cashier.waitForFunction("(() => { const img = document.querySelector('img.qr'); return !!img && img.complete && img.naturalWidth > 0; })()");
  const html = await cashier.content();
  t.notOk(html.includes(gw.merchant.key), 'the merchant key is not in the page');

  mkdirSync(`${ROOT}test-artifacts`, { recursive: true });
  await cashier.screenshot({ path: `${ROOT}test-artifacts/cashier.png`, fullPage: true });

  // The payer scans: the QR code's content opens the sandbox page in a second tab; press Pay.
  const payer = await context.newPage();
  await payer.goto(codeUrl!);
  const landed = cashier.waitForURL((u) => u.href.startsWith(returnUrl.split('?')[0]!), { timeout: STEP_MS });
  await payer.getByRole('button', { name: /^(支付|Pay)$/ }).click();
  await payer.waitForLoadState();
  await landed;

  t.equal(returned.length, 1, 'the return page was opened once');
  const q = returned[0]!;
  t.equal(q.get('cart'), '42', "the merchant's own parameter stays");
  const fields = Object.fromEntries(FRONT_NOTIFICATION_FIELDS.map((n) => [n, q.get(n) ?? ''])) as Record<string, string>;
  t.match(fields, {
    mercNo: gw.merchant.mercNo,
    mercOrderNo: a.body.mercOrderNo,
    orderId,
    payStatus: 'p0000',
    tradeAmt: '12.34',
    signType: 'HMAC-SHA256',
  });
  t.ok(verify(fields, gw.merchant.key, fields.signType as SignType, fields.signature!), 'the signature verifies with the merchant key');
  t.notOk(q.toString().includes(gw.merchant.key), 'the key is not in the URL');
});

t.test('cashier says so when the payment fails', { timeout: 60_000, skip: NO_BROWSER }, async (t) => {
  const gw = await startGateway(t, {}, { reachable: true, merchantName: '测试商户 Test shop' });
  const a = await gw.post('/api/pay', payFields(gw.merchant.mercNo, { returnUrl: 'http://127.0.0.1:9/never' }));
  t.equal(a.body.respCode, '000000', a.text);
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
    timeout: STEP_MS,
  });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_MS);
  await context.route(/^(?!https?:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
  const cashier = await context.newPage();
  await cashier.goto(a.body.cashierUrl!);
  await sandboxPay(gw, a.body.orderId!, 'fail');
  await cashier.locator('#status', { hasText: '支付失败' }).waitFor();
  t.ok(await cashier.locator('#step').isHidden(), 'the QR code is gone');
  t.ok(await cashier.locator('#countdown').isHidden(), 'so is the countdown');
  t.equal(new URL(cashier.url()).pathname, `/cashier/${a.body.orderId}`, 'the cashier stays');
});

t.test('unknown order, or an order without its token: the plain 404 page; status endpoint 404', async (t) => {
  const gw = await startGateway(t, {}, { reachable: true, merchantName: '测试商户 Test shop' });
  const a = await gw.post('/api/pay', payFields(gw.merchant.mercNo));
  const page = await fetch(`${gw.url}/cashier/20990101000000000000001`, { signal: AbortSignal.timeout(10_000) });
  t.equal(page.status, 404);
  const notFound = await page.text();
  t.match(notFound, /Not found/);
  const guessed = await fetch(`${gw.url}/cashier/${a.body.orderId}`, { signal: AbortSignal.timeout(10_000) });
  t.equal(guessed.status, 404, 'a real order id without its token');
  t.equal(await guessed.text(), notFound, 'the same page as for no order at all');
  const status = await fetch(`${gw.url}/cashier/nope/status`, { signal: AbortSignal.timeout(10_000) });
  t.equal(status.status, 404);
});

t.test('status endpoint: open, paid with returnUrl (signed), paid without', async (t) => {
  const gw = await startGateway(t, {}, { reachable: true, merchantName: '测试商户 Test shop' });
  const cashierUrls = new Map<string, string>();
  const get = async (id: string) => {
    const r = await fetch(`${cashierUrls.get(id)!.replace('?', '/status?')}`, { signal: AbortSignal.timeout(10_000) });
    t.equal(r.headers.get('cache-control'), 'no-store');
    return (await r.json()) as { payStatus: string; expireAt: number; returnUrl?: string };
  };
  const pay = async (over: Record<string, string>) => {
    const a = await gw.post('/api/pay', payFields(gw.merchant.mercNo, over));
    t.equal(a.body.respCode, '000000', a.text);
    cashierUrls.set(a.body.orderId!, a.body.cashierUrl!);
    return a.body.orderId!;
  };
  const withReturn = await pay({ returnUrl: 'https://shop.example.com/done' });
  const without = await pay({});
  const open = await get(withReturn);
  t.equal(open.payStatus, 'p0001');
  t.ok(open.expireAt > Date.now() + 29 * 60_000, 'expireAt is epoch ms');
  t.equal(open.returnUrl, undefined, 'no returnUrl before it is paid');

  for (const id of [withReturn, without]) await sandboxPay(gw, id);
  const paid = await get(withReturn);
  t.equal(paid.payStatus, 'p0000');
  const u = new URL(paid.returnUrl!);
  t.equal(u.origin + u.pathname, 'https://shop.example.com/done');
  const fields = Object.fromEntries(u.searchParams) as Record<string, string>;
  t.equal(fields.orderId, withReturn);
  t.ok(verify(fields, gw.merchant.key, 'MD5', fields.signature!), 'signed with the merchant key, MD5 by default');
  const noReturn = await get(without);
  t.equal(noReturn.payStatus, 'p0000');
  t.equal(noReturn.returnUrl, undefined, 'no returnUrl: the cashier says 支付成功 and stays');
  t.match(await (await fetch(cashierUrls.get(without)!)).text(), /支付成功/);
});
