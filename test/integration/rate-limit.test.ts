import t from 'tap';
import { parseConfig } from '../../src/config.js';
import { createMerchant } from '../../src/services/merchants.js';
import { sign } from '../../src/domain/sign.js';
import { createOrder, responseVerifies, sandboxPay, startGateway } from '../helper.js';

// CONTRACT §2.2: 100008 / 429 with Retry-After. Limits are per merchant on /api/* (requests whose
// signature verified) and per client address for /api/* requests that failed before a signature
// verified, on the payer's pages and on channel callbacks; health and metrics are never limited.

t.test('defaults: 6000 a minute per merchant, 600 per address on pages, 3000 on callbacks; 0 turns a limit off', async (t) => {
  const c = parseConfig({});
  t.equal(c.RATE_LIMIT_API_PER_MINUTE, 6000);
  t.equal(c.RATE_LIMIT_PAGES_PER_MINUTE, 600);
  t.equal(c.RATE_LIMIT_CHANNEL_PER_MINUTE, 3000);
  t.equal(parseConfig({ RATE_LIMIT_CHANNEL_PER_MINUTE: '0' }).RATE_LIMIT_CHANNEL_PER_MINUTE, 0);
  t.equal(parseConfig({ RATE_LIMIT_API_PER_MINUTE: '0' }).RATE_LIMIT_API_PER_MINUTE, 0);
  t.throws(() => parseConfig({ RATE_LIMIT_PAGES_PER_MINUTE: '-1' }), /RATE_LIMIT_PAGES_PER_MINUTE/);
});

t.test('the merchant API: per mercNo, a signed 100008 envelope with Retry-After', async (t) => {
  const gw = await startGateway(t, { RATE_LIMIT_API_PER_MINUTE: '3', RATE_LIMIT_PAGES_PER_MINUTE: '0' });
  const query = (fields: Record<string, string> = {}, key?: string) =>
    gw.post('/api/query', { mercNo: gw.merchant.mercNo, mercOrderNo: 'NOPE', ...fields }, key ? { key } : {});

  for (let i = 0; i < 3; i++) {
    const a = await query();
    t.equal(a.body.respCode, '100005', `request ${i + 1} is served`);
    t.equal(a.headers.get('x-ratelimit-limit'), '3');
  }
  const limited = await query({ signType: 'HMAC-SHA256' });
  t.equal(limited.status, 429);
  t.match(limited.body, { respCode: '100008', interfaceCode: 'query', mercNo: gw.merchant.mercNo, signType: 'HMAC-SHA256' });
  t.match(limited.body.respDesc, /more than 3 requests a minute for merchant M\d+; retry in \d+ s/);
  t.ok(responseVerifies(limited.body, gw.merchant.key), 'signed like every answer to a known merchant');
  const retryAfter = Number(limited.headers.get('retry-after'));
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter} s`);
  t.match(limited.body.respDesc, new RegExp(`retry in ${retryAfter} s`), 'respDesc and Retry-After agree');
  t.match(limited.headers.get('content-type'), /^application\/json/);

  // Every interface shares the merchant's budget, which a request with a good signature spends
  // whatever else is wrong with it (this one lacks every order field).
  const pay = await gw.post('/api/pay', { mercNo: gw.merchant.mercNo });
  t.equal(pay.status, 429);
  t.match(pay.body, { respCode: '100008', interfaceCode: 'pay' });

  // Another merchant has a budget of its own.
  const other = await createMerchant(gw.gateway.services, 'Other shop', 'sandbox');
  const a = await gw.post('/api/query', { mercNo: other.mercNo, mercOrderNo: 'NOPE' }, { key: other.key });
  t.equal(a.body.respCode, '100005', 'another merchant is not limited by the first one');

  // A request naming no merchant counts against its address, and its answer is not signed.
  for (let i = 0; i < 3; i++) t.equal((await gw.post('/api/query', { mercNo: 'M000000000000000', orderId: '1' })).body.respCode, '100003');
  const anon = await gw.post('/api/query', { mercNo: 'M000000000000000', orderId: '1' });
  t.equal(anon.status, 429);
  t.match(anon.body, { respCode: '100008', interfaceCode: 'query' });
  t.match(anon.body.respDesc, /more than 3 failed requests a minute for this address/);
  t.notOk(anon.body.signature, 'nobody to sign for');
  t.ok(anon.headers.get('retry-after'));

  // Health, readiness and metrics are never limited; channel callbacks have a generous limit of their own.
  for (let i = 0; i < 10; i++) {
    t.not((await fetch(`${gw.url}/channel/sandbox/notify`, { method: 'POST', body: 'x' })).status, 429);
    t.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    t.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    t.equal((await fetch(`${gw.url}/metrics`)).status, 200);
  }
});

t.test('public pages: per client address, 429 with Retry-After, shared by cashier, sandbox and QR', async (t) => {
  const gw = await startGateway(t, { RATE_LIMIT_PAGES_PER_MINUTE: '4' });
  const orderId = await createOrder(gw);
  const links = gw.gateway.services.links;
  t.equal((await fetch(gw.url + links.cashierPath(orderId))).status, 200);
  t.equal((await fetch(links.qrImageUrl(orderId).replace('http://dtpay.test', gw.url))).status, 200);
  t.equal((await fetch(`${gw.url}/sandbox/pay/${orderId}`)).status, 200);
  t.equal((await fetch(`${gw.url}/cashier/nope`)).status, 404, 'a page not found counts too');
  for (const path of [links.cashierPath(orderId), `/qr/${orderId}.png`, `/sandbox/pay/${orderId}`]) {
    const res = await fetch(gw.url + path);
    t.equal(res.status, 429, `${path} is limited`);
    t.match(await res.text(), /100008.*retry in \d+ s/);
    t.ok(Number(res.headers.get('retry-after')) >= 1);
  }
  const post = await fetch(`${gw.url}/sandbox/pay/${orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'result=success',
  });
  t.equal(post.status, 429, 'pressing Pay is a page request too');
  // The merchant API has its own limit (the default, far away).
  const q = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId });
  t.equal(q.body.respCode, '000000');
});

t.test('0 disables both limits: no 429, no rate-limit headers', async (t) => {
  const gw = await startGateway(t, { RATE_LIMIT_API_PER_MINUTE: '0', RATE_LIMIT_PAGES_PER_MINUTE: '0' });
  for (let i = 0; i < 30; i++) {
    const a = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, mercOrderNo: 'NOPE' });
    t.equal(a.status, 404);
    t.equal(a.headers.get('x-ratelimit-limit'), null);
    t.equal((await fetch(`${gw.url}/cashier/nope`)).status, 404);
  }
});

t.test('strangers cannot spend a merchant’s budget: failures before the signature count per address', async (t) => {
  const gw = await startGateway(t, { RATE_LIMIT_API_PER_MINUTE: '5', RATE_LIMIT_PAGES_PER_MINUTE: '0' });
  const M = gw.merchant;
  const other = await createMerchant(gw.gateway.services, 'Other shop', 'sandbox');
  const query = (remoteAddress: string, body: Record<string, string>) =>
    gw.gateway.app.inject({ method: 'POST', url: '/api/query', remoteAddress, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  const signedQuery = (m: { mercNo: string; key: string }) => {
    const f = { mercNo: m.mercNo, mercOrderNo: 'NOPE' };
    return { ...f, signature: sign(f, m.key, 'MD5') };
  };
  const STRANGER = '198.51.100.66';

  // A flood of bad signatures naming M, from one address: its first 5 are answered, the rest 100008.
  const codes: string[] = [];
  for (let i = 0; i < 40; i++) {
    const res = await query(STRANGER, { mercNo: M.mercNo, mercOrderNo: 'NOPE', signature: 'X'.repeat(32) });
    const body = res.json() as Record<string, string>;
    codes.push(body.respCode!);
    t.equal(body.signature, undefined, 'never signed: the signature did not verify');
    t.equal(body.mercNo, undefined);
    if (body.respCode === '100008') {
      t.equal(res.statusCode, 429);
      t.match(body.respDesc, /more than 5 failed requests a minute for this address/);
      t.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After');
    }
  }
  t.same(codes.slice(0, 5), Array(5).fill('100002'), 'the first five are signature errors');
  t.same(codes.slice(5), Array(35).fill('100008'), 'the rest are limited, for the address');

  // M's correctly signed requests, from its own address, are served: its budget is untouched.
  for (let i = 0; i < 5; i++) {
    const res = await query('203.0.113.7', signedQuery(M));
    t.equal(res.statusCode, 404, `M's request ${i + 1} is served (100005: no such order)`);
    t.ok(responseVerifies(res.json(), M.key), 'and signed');
    t.equal(res.headers['x-ratelimit-remaining'], String(4 - i), 'counted against M');
  }
  // Its own budget still holds: the sixth is over it, answered signed.
  const over = await query('203.0.113.7', signedQuery(M));
  t.equal(over.statusCode, 429);
  t.match(over.json(), { respCode: '100008', mercNo: M.mercNo });
  t.match(over.json().respDesc, /more than 5 requests a minute for merchant/);
  t.ok(responseVerifies(over.json(), M.key));

  // A merchant behind the stranger's address (a shared proxy, a NAT) is not locked out either:
  // a request whose signature verifies is served whatever its address has failed.
  const shared = await query(STRANGER, signedQuery(other));
  t.equal(shared.statusCode, 404, 'served from the flooded address');
  t.ok(responseVerifies(shared.json(), other.key));
  // And other strangers, from other addresses, have budgets of their own.
  t.equal((await query('198.51.100.67', { mercNo: M.mercNo, signature: 'x' })).json().respCode, '100002');
  // Unknown merchants and bodies refused before the signature count against the address too.
  const fresh = '198.51.100.68';
  for (let i = 0; i < 5; i++) await query(fresh, { mercNo: 'M000000000000000', signature: 'x' });
  t.equal((await query(fresh, { mercNo: M.mercNo, mercOrderNo: 1 } as never)).statusCode, 429, 'a malformed body from an address over its budget');
  const notFound = await gw.gateway.app.inject({ method: 'POST', url: '/api/nope', remoteAddress: fresh, payload: {} });
  t.equal(notFound.statusCode, 429, 'an unknown interface from it too');
  t.equal(notFound.json().respCode, '100008');
});

t.test('channel callbacks: per address, plain 429 with Retry-After; the sandbox’s own callbacks never', async (t) => {
  const gw = await startGateway(t, { RATE_LIMIT_CHANNEL_PER_MINUTE: '3' });
  const callback = (remoteAddress: string, url = '/channel/sandbox/notify') =>
    gw.gateway.app.inject({ method: 'POST', url, remoteAddress, headers: { 'content-type': 'application/json' }, payload: '{"orderId":"1"}' });
  const CHANNEL = '203.0.113.50';
  for (let i = 0; i < 3; i++) t.not((await callback(CHANNEL)).statusCode, 429, `callback ${i + 1} is taken`);
  const limited = await callback(CHANNEL);
  t.equal(limited.statusCode, 429);
  t.match(limited.headers['content-type'], /^text\/plain/, 'plain text: no envelope for a channel');
  t.match(limited.body, /^too many callbacks from this address: more than 3 a minute; retry in \d+ s$/);
  t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After');
  t.equal((await callback(CHANNEL, `/channel/alipay/notify/${gw.merchant.mercNo}`)).statusCode, 429, 'every channel route shares the address’s budget');
  t.not((await callback('203.0.113.51')).statusCode, 429, 'another address has its own');

  // The loopback address (where the gateway's own in-process calls come from) spends its budget...
  for (let i = 0; i < 4; i++) await fetch(`${gw.url}/channel/sandbox/notify`, { method: 'POST', body: 'x' });
  t.equal((await fetch(`${gw.url}/channel/sandbox/notify`, { method: 'POST', body: 'x' })).status, 429);
  // ...and a sandbox payment, whose callback the gateway sends itself, still goes through.
  const orderId = await createOrder(gw);
  await sandboxPay(gw, orderId);
  t.equal((await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId })).body.payStatus, 'p0000', 'paid: the callback was not limited');
});
