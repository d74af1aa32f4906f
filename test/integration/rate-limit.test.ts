import t from 'tap';
import { parseConfig } from '../../src/config.js';
import { createMerchant } from '../../src/services/merchants.js';
import { createOrder, responseVerifies, startGateway } from '../helper.js';

// CONTRACT §2.2: 100008 / 429 with Retry-After. Limits are per merchant on /api/* and per client
// address on the payer's pages; channel callbacks, health and metrics are never limited.

t.test('defaults: 6000 a minute per merchant, 600 per address on pages; 0 turns a limit off', async (t) => {
  const c = parseConfig({});
  t.equal(c.RATE_LIMIT_API_PER_MINUTE, 6000);
  t.equal(c.RATE_LIMIT_PAGES_PER_MINUTE, 600);
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

  // Every interface shares the merchant's budget; a bad signature counts too (it is a request).
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
  t.match(anon.body.respDesc, /for this address/);
  t.notOk(anon.body.signature, 'nobody to sign for');
  t.ok(anon.headers.get('retry-after'));

  // Channel callbacks, health, readiness and metrics are never limited.
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
