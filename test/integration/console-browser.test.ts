import t from 'tap';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createOrder, payFields, sandboxPay, startGateway, until } from '../helper.js';
import { reconcileDay } from '../../src/services/reconciliation.js';
import { startReceiver } from '../receiver.js';
import { PASSWORD, TEST_MASTER_KEY, makeOperators } from '../console-client.js';

// The console in a real browser (Debian's chromium, driven by playwright-core), as CONTRACT §6's
// "done when" lists it. CONSOLE_SCREENSHOTS=1 writes the dashboard and an order into docs/.

const CHROMIUM = '/usr/bin/chromium';
const STEP_MS = 15_000;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NO_BROWSER = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser test`;
const XSS = '<img src=x id=pwned onerror="window.__xss=1"><script>window.__xss=2</script>"\'&';

t.test('the operator console in a browser', { timeout: 240_000, skip: NO_BROWSER }, async (t) => {
  const receiver = await startReceiver(t);
  const gw = await startGateway(t, { MASTER_KEY: TEST_MASTER_KEY, NOTIFY_ALLOW_PRIVATE: 'true' }, { reachable: true, merchantName: '测试商户' });
  const ops = await makeOperators(gw.gateway.writer);
  const notifyUrl = `${receiver.url}/notify`;
  // A day of orders across the payways, some paid, one failed; the one under test has an XSS subject.
  const target = await createOrder(gw, { subject: XSS, tradeAmt: '88.00', paywayCode: 'wxpay', notifyUrl });
  await sandboxPay(gw, target);
  for (const [payway, amt, result] of [['alipay', '12.30', 'success'], ['alipay', '45.60', 'success'], ['alipay', '7.00', 'fail'], ['unionpay', '199.00', 'success'], ['wxpay', '3.50', 'success'], ['wxpay', '20.00', '']] as const) {
    const id = await createOrder(gw, { paywayCode: payway, tradeAmt: amt, notifyUrl });
    if (result) await sandboxPay(gw, id, result);
  }
  const open = await createOrder(gw, { paywayCode: 'alipay', tradeAmt: '5.00', notifyUrl });
  const mercOrderNo = ((await gw.gateway.services.reads.order(target))!).merc_order_no;
  await until(async () => (await gw.sql.value("SELECT count(*) FROM notifications WHERE order_id = ? AND status = 'delivered'", target)) === 1, 'the notification delivered');

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: STEP_MS,
  });
  t.teardown(() => browser.close());
  const newContext = async (opts: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> => {
    const c = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN', ...opts });
    c.setDefaultTimeout(STEP_MS);
    c.setDefaultNavigationTimeout(STEP_MS);
    await c.route(/^(?!https?:\/\/127\.0\.0\.1[:/])/, (route) => route.abort()); // nothing leaves 127.0.0.1
    return c;
  };
  const login = async (page: Page, email: string, code = '') => {
    await page.goto(`${gw.url}/console/login`);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    if (code) await page.fill('#totp', code);
    await page.click('#login-button');
    await page.waitForLoadState();
  };
  const auditRows = () => gw.sql.all('SELECT * FROM console_audit ORDER BY id');
  const shots = process.env.CONSOLE_SCREENSHOTS === '1' ? `${ROOT}docs` : `${ROOT}test-artifacts`;
  mkdirSync(shots, { recursive: true });

  await t.test('support logs in without TOTP, searches the order and reads its timeline', async (t) => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await login(page, 'support@shop.test');
    t.equal(new URL(page.url()).pathname, '/console', 'lands on the dashboard');
    t.match(await page.locator('header').textContent(), /support@shop\.test/);
    await page.click('a[href="/console/orders"]');
    await page.fill('#f-q', mercOrderNo);
    await page.click('#f-submit');
    const rows = page.locator('#orders tbody tr');
    t.equal(await rows.count(), 1, 'the search finds the order by mercOrderNo');
    await rows.locator('a').first().click();
    await page.waitForURL(`**/console/orders/${target}`);
    t.match(await page.locator('#order-status').textContent(), /支付成功/);
    const timeline = (await page.locator('#timeline').textContent())!;
    t.match(timeline, /状态变更/, 'the state changes');
    t.match(timeline, /sandbox callback/, 'the channel callback that paid it');
    t.match(timeline, /通知尝试/, 'the notification attempt');
    t.match(timeline, /HTTP 状态 200/, 'with its HTTP status');
    t.match(await page.locator('#timeline code.answer').first().textContent(), /^success$/, "and the answer's first bytes");

    // The subject is text, never markup.
    t.equal(await page.locator('#pwned').count(), 0, 'no element from the subject');
    t.equal(await page.evaluate('window.__xss'), undefined, 'no script from the subject ran');
    t.ok((await page.locator('#fields').textContent())!.includes(XSS), 'the subject is shown as it was sent');
    t.same(dialogs, []);

    // A refund: amount and reason, a confirmation showing the amount, then the refund.
    await page.fill('#refund-amount', '12.50');
    await page.fill('#refund-reason', '顾客退货 <b>x</b>');
    await page.click('#action-refund');
    t.match(await page.locator('#confirm-amount').textContent(), /¥12\.50/, 'the confirmation shows the amount');
    t.equal(await gw.sql.value('SELECT count(*) FROM refunds'), 0, 'nothing refunded before the confirmation');
    await page.click('#confirm-refund');
    await page.waitForURL(`**/console/orders/${target}`);
    t.match(await page.locator('.flash.ok').textContent(), /退款已提交/);
    const refund = (await gw.sql.get<{ merc_refund_no: string; refund_id: string }>('SELECT * FROM refunds'))!;
    const q = await gw.post('/api/refund/query', { mercNo: gw.merchant.mercNo, mercRefundNo: refund.merc_refund_no });
    t.equal(q.body.respCode, '000000', q.text);
    t.match(q.body, { orderId: target, refundId: refund.refund_id, refundAmt: '12.50', refundReason: '顾客退货 <b>x</b>' }, 'the refund is what the API shows');
    const audited = (await auditRows()).find((a) => a.action === 'orders/refund')!;
    t.match(audited, { operator: 'support@shop.test', target, amount_fen: 1250, address: '127.0.0.1' }, 'and it is in the audit log');
    t.match(await page.locator('#timeline').textContent(), /orders\/refund/, "the order's timeline shows the console action");

    // A request without the CSRF token is refused and changes nothing.
    const status = await page.evaluate(async (id) => {
      const r = await fetch(`/console/orders/${id}/close`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      return r.status;
    }, open);
    t.equal(status, 403, 'no CSRF token: 403');
    t.equal((await gw.gateway.services.reads.order(open))!.pay_status, 'p0001', 'the order is still open');

    // The language switch, remembered.
    await page.click('#lang-switch');
    t.match(await page.locator('#order-status').textContent(), /paid/);
    await page.goto(`${gw.url}/console/orders`);
    t.match(await page.locator('nav').textContent(), /Orders/, 'English stays on the next page');
    await page.click('#lang-switch');

    // Logout.
    await page.click('#logout');
    await page.waitForURL('**/console/login?out=1');
    await page.goto(`${gw.url}/console/orders`);
    t.match(page.url(), /\/console\/login\?next=/, 'after logout the console asks for a login');
    await ctx.close();
  });

  await t.test('login with TOTP', async (t) => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await login(page, 'totp@shop.test');
    t.match(await page.locator('#login-message').textContent(), /不正确/, 'the password alone is refused');
    await login(page, 'totp@shop.test', ops.code(Date.now()));
    t.equal(new URL(page.url()).pathname, '/console', 'password and code let in');
    await ctx.close();
  });

  await t.test('a viewer sees no refund button, and the server refuses the refund posted anyway', async (t) => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await login(page, 'viewer@shop.test');
    await page.goto(`${gw.url}/console/orders/${target}`);
    t.equal(await page.locator('#action-refund, #refund-form, #action-close, #action-query, #action-resend').count(), 0, 'no action buttons');
    const before = await gw.sql.value('SELECT count(*) FROM refunds');
    const csrf = await page.locator('input[name=_csrf]').first().getAttribute('value');
    const answer = await page.evaluate(
      async ([id, token]) => {
        const body = new URLSearchParams({ _csrf: token!, refundAmt: '1.00', mercRefundNo: `C${'b'.repeat(24)}` });
        const r = await fetch(`/console/orders/${id}/refund`, { method: 'POST', body });
        return r.status;
      },
      [target, csrf] as const,
    );
    t.equal(answer, 403, 'the server refuses it');
    t.equal(await gw.sql.value('SELECT count(*) FROM refunds'), before, 'no refund made');
    t.ok((await auditRows()).some((a) => a.operator === 'viewer@shop.test' && a.outcome === 'denied'), 'the attempt is in the audit log');
    await ctx.close();
  });

  await t.test('lockout after ten failed logins', async (t) => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    for (let i = 0; i < 10; i++) {
      await page.goto(`${gw.url}/console/login`);
      await page.fill('#email', 'admin@shop.test');
      await page.fill('#password', `not the password ${i}`);
      await page.click('#login-button');
      await page.waitForLoadState();
    }
    t.match(await page.locator('#login-message').textContent(), /锁定/);
    await login(page, 'admin@shop.test');
    t.match(await page.locator('#login-message').textContent(), /锁定/, 'the right password is refused while locked');
    t.match(page.url(), /\/console\/login$/);
    await ctx.close();
    await gw.gateway.writer.run('clearLoginFailures', { key: 'email:admin@shop.test' });
  });

  await t.test("an admin makes a merchant: its key is shown once", async (t) => {
    const ctx = await newContext();
    const page = await ctx.newPage();
    await login(page, 'admin@shop.test');
    await page.goto(`${gw.url}/console/merchants`);
    await page.fill('#merchant-name', '新商户 <i>New</i>');
    await page.click('#create-merchant-button');
    const key = (await page.locator('#merchant-key').textContent())!;
    const mercNo = (await page.locator('#key-merc-no').textContent())!;
    t.match(key, /^[A-Za-z0-9_-]{43}$/, 'the key is on the page that follows');
    const q = await gw.post('/api/query', { mercNo, orderId: '20260101000000000000001' }, { key });
    t.equal(q.body.respCode, '100005', 'and it is the merchant key (the signature verifies; no such order)');
    await page.goto(`${gw.url}/console/merchants`);
    t.notOk((await page.content()).includes(key), 'not in the list');
    t.match(await page.locator('#merchants').textContent(), /新商户 <i>New<\/i>/, 'the name is text');
    await page.goBack();
    t.notOk((await page.content()).includes(key), 'nor when coming back (the page is not kept: no-store)');
    await page.goto(`${gw.url}/console/audit`);
    t.match(await page.locator('#audit').textContent(), /merchants\/create/);
    t.notOk(JSON.stringify(await auditRows()).includes(key), 'the key is not in the audit log');

    // Screenshots: the dashboard on a desktop, an order on a phone.
    await page.goto(`${gw.url}/console`);
    t.match(await page.locator('#table-today').textContent(), /wxpay/);
    t.match(await page.locator('#chart-today').innerHTML(), /<rect/, 'the chart is SVG drawn by the server');
    await page.screenshot({ path: `${shots}/console-dashboard.png`, fullPage: true });
    const phone = await newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const p2 = await phone.newPage();
    await login(p2, 'support@shop.test');
    await p2.goto(`${gw.url}/console/orders/${target}`);
    const overflow = await p2.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    t.ok((overflow as number) <= 1, `the order page fits a phone's width (${overflow}px over)`);
    await p2.screenshot({ path: `${shots}/console-order.png`, fullPage: true });
    await phone.close();
    await ctx.close();
  });

  await t.test('the payouts and reconciliation pages render with no console errors', async (t) => {
    await gw.gateway.writer.run('setPayoutSettings', { mercNo: gw.merchant.mercNo, enabled: true, dailyLimitFen: 100_000n, perPayoutLimitFen: null, at: Date.now() });
    const made = await gw.post(
      '/api/pay',
      payFields(gw.merchant.mercNo, { tradeType: '02', paywayCode: 'alipay', sceneCode: 'transfer', tradeAmt: '0.91', payeeAccountType: 'BANK_CARD', payeeAccount: '6222021234567890123', payeeName: '张小明', subject: XSS, notifyUrl, signType: 'HMAC-SHA256' }),
    );
    t.equal(made.body.payStatus, 'p0004', made.text);
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    await reconcileDay(gw.gateway.services, { date: today, mercNo: gw.merchant.mercNo, payway: 'wxpay' });
    const ctx = await newContext();
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await login(page, 'support@shop.test');
    await page.click('a[href="/console/payouts"]');
    await page.waitForURL('**/console/payouts');
    t.match(await page.locator('#payouts').textContent(), /6222\*+0123/, 'the payout with its masked payee');
    await page.click(`a[href="/console/orders/${made.body.orderId}"]`);
    t.match(await page.locator('#fields').textContent(), /SANDBOX_REFUSED/, 'its failCode');
    await page.click('a[href="/console/reconciliation"]');
    await page.click(`a[href="/console/reconciliation/${today}"]`);
    t.match(await page.locator('#runs').textContent(), /wxpay/);
    await page.click('#runs a[href^="/console/reconciliation/runs/"]');
    await page.waitForURL('**/console/reconciliation/runs/*');
    t.equal(await page.evaluate('window.__xss'), undefined, 'no script ran');
    t.same(problems, [], 'no console errors');
    await ctx.close();
  });
});
