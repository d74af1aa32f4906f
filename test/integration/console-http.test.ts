import t from 'tap';
import { createOrder, sandboxPay, startGateway } from '../helper.js';
import { ConsoleClient, PASSWORD, TEST_MASTER_KEY, makeOperators } from '../console-client.js';

// The console over HTTP: sessions, CSRF, lockout, headers, and the server's role checks on every
// action — whatever a page shows, the server decides.

async function setup(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}, opts: { now?: () => number } = {}) {
  const gw = await startGateway(t, { MASTER_KEY: TEST_MASTER_KEY, ...env }, opts);
  const ops = await makeOperators(gw.gateway.writer);
  return { gw, ops, client: (headers: Record<string, string> = {}) => new ConsoleClient(gw.url, headers) };
}

const auditRows = (gw: Awaited<ReturnType<typeof startGateway>>) =>
  gw.gateway.db.prepare('SELECT * FROM console_audit ORDER BY id').all() as { operator: string; action: string; target: string | null; outcome: string; address: string; amount_fen: number | null }[];

t.test('security headers on every /console response: pages, redirects, refusals, not found, assets', async (t) => {
  const { client } = await setup(t);
  const c = client();
  for (const path of ['/console/login', '/console', '/console/orders', '/console/nothing-here', '/console/assets/console.css']) {
    const r = await c.get(path);
    const csp = r.headers.get('content-security-policy') ?? '';
    t.match(csp, /frame-ancestors 'none'/, `${path} (${r.status}): frame-ancestors`);
    t.match(csp, /script-src 'self'(;|$)/, `${path}: scripts from the gateway only`);
    t.notMatch(csp, /unsafe-inline/, `${path}: no unsafe-inline`);
    t.equal(r.headers.get('x-frame-options'), 'DENY', path);
    t.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
    t.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
    t.equal(r.headers.get('cache-control'), 'no-store', path);
  }
  const redirect = await c.get('/console/orders');
  t.equal(redirect.status, 303, 'a page without a session goes to the login');
  t.match(redirect.location, /^\/console\/login\?next=%2Fconsole%2Forders$/);
  const login = await c.get('/console/login');
  t.notMatch(login.text, /<script>|<script [^>]*>[^<]/, 'no inline script');
  t.notMatch(login.text, /<style|style="/, 'no inline style');
  const cookie = login.headers.getSetCookie().find((x) => x.startsWith('dtpay_console='))!;
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Strict/);
  t.match(cookie, /Path=\/console/);
  t.notMatch(cookie, /Secure/, 'not Secure on an http PUBLIC_BASE_URL');
  // The merchant API is not touched by the console's plugins.
  const api = await fetch(`${c.base}/healthz`);
  t.equal(api.headers.get('content-security-policy'), null, 'no console headers outside /console');
});

t.test('Secure cookies when PUBLIC_BASE_URL is https', async (t) => {
  const { client } = await setup(t, { PUBLIC_BASE_URL: 'https://pay.shop.test' });
  const r = await client().get('/console/login');
  const cookies = r.headers.getSetCookie().filter((x) => x.startsWith('dtpay_console='));
  t.equal(cookies.length, 1, 'one session cookie');
  t.match(cookies[0], /; Secure/);
  t.match(r.headers.get('strict-transport-security') ?? '', /max-age=/);
});

t.test('login, with and without TOTP; a wrong password or code is refused; logout ends the session', async (t) => {
  const { gw, ops, client } = await setup(t);
  const c = client();
  const ok = await c.login('Viewer@Shop.Test', PASSWORD);
  t.equal(ok.status, 303, ok.text);
  t.equal(ok.location, '/console');
  const home = await c.get('/console');
  t.equal(home.status, 200);
  t.match(home.text, /viewer@shop\.test/);

  const bad = await client().login('viewer@shop.test', 'wrong password!!');
  t.equal(bad.status, 401);
  t.match(bad.text, /邮箱、密码或验证码不正确/);

  const noCode = await client().login('totp@shop.test', PASSWORD);
  t.equal(noCode.status, 401, 'TOTP on: the password alone is not enough');
  const wrongCode = await client().login('totp@shop.test', PASSWORD, '000000');
  t.equal(wrongCode.status, 401);
  const withCode = client();
  const code = ops.code(Date.now());
  t.equal((await withCode.login('totp@shop.test', PASSWORD, code)).status, 303);
  t.equal((await withCode.get('/console/orders')).status, 200);
  t.equal((await client().login('totp@shop.test', PASSWORD, code)).status, 401, 'a code is used once');

  // Logout needs the CSRF token too; then the old cookie is worth nothing.
  const jar = new Map(c.cookies);
  t.equal((await c.post('/console/logout', {}, { csrf: false })).status, 403, 'logout without the token is refused');
  t.equal((await c.get('/console')).status, 200, 'and the session is still there');
  const out = await c.post('/console/logout');
  t.equal(out.status, 303);
  t.equal(out.location, '/console/login?out=1');
  const replay = client();
  for (const [k, v] of jar) replay.cookies.set(k, v);
  t.equal((await replay.get('/console')).status, 303, 'the old session cookie no longer opens anything');

  const logins = auditRows(gw).filter((a) => a.action === 'login');
  t.same(
    logins.map((a) => [a.operator, a.outcome]),
    [
      ['viewer@shop.test', 'ok'],
      ['viewer@shop.test', 'failed'],
      ['totp@shop.test', 'failed'],
      ['totp@shop.test', 'failed'],
      ['totp@shop.test', 'ok'],
      ['totp@shop.test', 'failed'],
    ],
    'every login, good or bad, is in the audit log',
  );
  t.ok(logins.every((a) => a.address === '127.0.0.1'), 'with the client address');
  t.ok(auditRows(gw).some((a) => a.action === 'logout' && a.outcome === 'ok'));
});

t.test('login without a CSRF token is refused and changes nothing', async (t) => {
  const { gw, client } = await setup(t);
  const c = client();
  await c.get('/console/login');
  const r = await c.post('/console/login', { email: 'admin@shop.test', password: PASSWORD }, { csrf: false });
  t.equal(r.status, 403);
  t.match(r.text, /CSRF/);
  const forged = await c.post('/console/login', { email: 'admin@shop.test', password: PASSWORD }, { csrf: 'forged-token' });
  t.equal(forged.status, 403);
  t.equal(auditRows(gw).length, 0, 'not even a login attempt was recorded');
  t.equal((await c.get('/console')).status, 303, 'not logged in');
});

t.test('ten failed logins lock the email for 15 minutes, even against the right password', async (t) => {
  let now = Date.now();
  const { gw, client } = await setup(t, {}, { now: () => now });
  for (let i = 0; i < 9; i++) t.equal((await client().login('admin@shop.test', `wrong password ${i}`)).status, 401);
  t.equal((await client().login('admin@shop.test', 'wrong password 9')).status, 429, 'the tenth locks');
  const refused = await client().login('admin@shop.test', PASSWORD);
  t.equal(refused.status, 429, 'the right password is refused while locked');
  t.match(refused.text, /已暂时锁定/);
  t.equal((await client().login('viewer@shop.test', PASSWORD)).status, 303, 'another email from the same address still logs in');
  now += 15 * 60_000 + 1;
  t.equal((await client().login('admin@shop.test', PASSWORD)).status, 303, 'after 15 minutes the lock is over');
  t.ok(auditRows(gw).some((a) => a.operator === 'admin@shop.test' && a.outcome === 'locked'));

  // A success before the tenth resets the count.
  for (let i = 0; i < 9; i++) await client().login('support@shop.test', 'nope nope nope');
  t.equal((await client().login('support@shop.test', PASSWORD)).status, 303);
  t.equal((await client().login('support@shop.test', 'nope nope nope')).status, 401, 'counted from zero again');
});

t.test('fifty failed logins from one address lock that address', async (t) => {
  const { client } = await setup(t, { TRUST_PROXY: 'true' });
  const from = (ip: string) => client({ 'x-forwarded-for': `198.51.100.9, ${ip}` });
  for (let i = 0; i < 49; i++) t.equal((await from('203.0.113.5').login(`nobody${i}@shop.test`, 'wrong wrong wrong')).status, 401);
  t.equal((await from('203.0.113.5').login('nobody@shop.test', 'wrong wrong wrong')).status, 429, 'the fiftieth locks the address');
  t.equal((await from('203.0.113.5').login('admin@shop.test', PASSWORD)).status, 429, 'even for a good login');
  t.equal((await from('203.0.113.6').login('admin@shop.test', PASSWORD)).status, 303, 'another address is not locked');
});

t.test('idle timeout: a session unused for CONSOLE_IDLE_MINUTES is over', async (t) => {
  let now = Date.now();
  const { client } = await setup(t, { CONSOLE_IDLE_MINUTES: '0.5' }, { now: () => now });
  const c = client();
  await c.login('viewer@shop.test', PASSWORD);
  now += 20_000;
  t.equal((await c.get('/console')).status, 200, 'used within the timeout');
  now += 20_000;
  t.equal((await c.get('/console')).status, 200, 'each request restarts it');
  now += 31_000;
  const r = await c.get('/console/orders');
  t.equal(r.status, 303);
  t.match(r.location, /ended=1/);
});

t.test('operator totp (and disable, and a new password) end the operator\'s sessions', async (t) => {
  const { gw, client } = await setup(t);
  const c = client();
  await c.login('admin@shop.test', PASSWORD);
  t.equal((await c.get('/console')).status, 200);
  const { enableOperatorTotp } = await import('../../src/console/operators.js');
  await enableOperatorTotp(gw.gateway.writer, TEST_MASTER_KEY, { email: 'admin@shop.test', at: Date.now() });
  t.equal((await c.get('/console')).status, 303, 'over at the next request');
});

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
    gw.gateway.db.prepare("INSERT INTO alerts (kind, channel, order_id, merc_no, detail, at, count, last_at) VALUES ('bad-signature', 'sandbox', ?, ?, 'x', 1, 1, 1) RETURNING id").pluck().get(orderId, mercNo),
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
  const snapshot = () =>
    JSON.stringify([
      gw.gateway.db.prepare('SELECT order_id, pay_status, updated_at FROM orders ORDER BY order_id').all(),
      gw.gateway.db.prepare('SELECT count(*) FROM refunds').pluck().get(),
      gw.gateway.db.prepare('SELECT count(*) FROM notifications').pluck().get(),
      gw.gateway.db.prepare('SELECT * FROM merchants').all(),
      gw.gateway.db.prepare('SELECT email, status FROM console_operators').all(),
      gw.gateway.db.prepare('SELECT handled_at FROM alerts').all(),
    ]);
  const before = snapshot();
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
  t.equal(snapshot(), before, 'nothing changed');
  const denied = auditRows(gw).filter((a) => a.outcome === 'denied');
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
