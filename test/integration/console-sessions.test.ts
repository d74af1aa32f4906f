import t from 'tap';
import { createOrder, sandboxPay, startGateway } from '../helper.js';
import { ConsoleClient, PASSWORD, TEST_MASTER_KEY, auditRows, makeOperators, setupConsole as setup } from '../console-client.js';

// The console over HTTP: headers, sessions, login (with TOTP), CSRF, lockout, idle timeout.

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

  const logins = (await auditRows(gw)).filter((a) => a.action === 'login');
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
  t.ok((await auditRows(gw)).some((a) => a.action === 'logout' && a.outcome === 'ok'));
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
  t.equal((await auditRows(gw)).length, 0, 'not even a login attempt was recorded');
  t.equal((await c.get('/console')).status, 303, 'not logged in');
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
