import t, { type Test } from 'tap';
import { startGateway } from '../helper.js';

// Issue 10, item 11: every answer under /api/ is the contract's envelope (CONTRACT §2.2:
// respCode, respDesc, interfaceCode), Fastify's own errors included; an interface asked with
// another method than POST answers 405 with Allow: POST. And GET / leads to the documentation.

const gw = await startGateway(t);

const INTERFACES: Record<string, string> = {
  '/api/pay': 'pay',
  '/api/query': 'query',
  '/api/close': 'close',
  '/api/refund': 'refund',
  '/api/refund/query': 'refundQuery',
  '/api/notify/resend': 'notifyResend',
};

async function envelope(t: Test, res: Response, status: number, interfaceCode: string): Promise<Record<string, string>> {
  t.equal(res.status, status, 'HTTP status');
  t.match(res.headers.get('content-type') ?? '', /^application\/json/, 'JSON');
  const text = await res.text();
  const body = JSON.parse(text) as Record<string, string>;
  t.same(Object.keys(body).sort(), ['interfaceCode', 'respCode', 'respDesc'], `the envelope and nothing else: ${text}`);
  t.equal(body.respCode, '100001');
  t.equal(body.interfaceCode, interfaceCode);
  return body;
}

t.test('a malformed URL under /api/ is answered in the envelope', async (t) => {
  for (const method of ['GET', 'POST']) {
    for (const path of ['/api/%E0%A4%A', '/api/pay%', '/api/%C0%AF', '/api/query?x=1&%E0%A4%A']) {
      const res = await fetch(gw.url + path, { method, ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}) });
      if (path.includes('?')) {
        // A bad query string is not the router's business: the interface answers (the body is not signed).
        t.not(res.status, 500);
        await envelope(t, res, method === 'POST' ? 400 : 405, 'query');
        continue;
      }
      const body = await envelope(t, res, 400, 'unknown');
      t.match(body.respDesc, /^URL: is not valid percent-encoded UTF-8$/);
    }
  }
});

t.test('a URL the router refuses outside /api/ is plain text, not Fastify’s JSON', async (t) => {
  const bad = await fetch(`${gw.url}/cashier/%E0%A4%A`);
  t.equal(bad.status, 400);
  t.match(bad.headers.get('content-type'), /^text\/plain/);
  t.equal(await bad.text(), 'URL: is not valid percent-encoded UTF-8');
  const long = await fetch(`${gw.url}/cashier/${'1'.repeat(500)}`);
  t.equal(long.status, 414, 'a path parameter over maxParamLength: 414');
  t.match(long.headers.get('content-type'), /^text\/plain/);
  t.equal(await long.text(), 'URL: a path segment is too long');
});

t.test('any method but POST on an interface: 405 in the envelope, Allow: POST', async (t) => {
  for (const [path, interfaceCode] of Object.entries(INTERFACES)) {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await fetch(gw.url + path, { method });
      t.equal(res.headers.get('allow'), 'POST', `${method} ${path}: Allow`);
      const body = await envelope(t, res, 405, interfaceCode);
      t.match(body.respDesc, new RegExp(`^method: ${method} is not allowed; ${path.replace(/\//g, '\\/')} takes POST$`));
    }
    const head = await fetch(gw.url + path, { method: 'HEAD' });
    t.equal(head.status, 405, `HEAD ${path}`);
    t.equal(head.headers.get('allow'), 'POST');
    // With a query string too.
    t.equal((await fetch(`${gw.url}${path}?a=1`)).status, 405);
  }
  // A path that is no interface stays 404, in the envelope.
  for (const method of ['GET', 'POST']) {
    const res = await fetch(`${gw.url}/api/nope`, { method });
    const body = await envelope(t, res, 404, 'unknown');
    t.match(body.respDesc, new RegExp(`^no such interface: ${method} /api/nope$`));
  }
  // The caller's path is named, but escaped and cut short.
  const odd = await fetch(`${gw.url}/api/a&payStatus=p0000/${'z'.repeat(300)}`);
  const oddBody = await envelope(t, odd, 404, 'unknown');
  t.notMatch(oddBody.respDesc, /[&=]/);
  t.ok((oddBody.respDesc ?? '').length < 200, 'cut short');
});

t.test('the interfaces still answer POST, and the OpenAPI routes are untouched', async (t) => {
  for (const [path, interfaceCode] of Object.entries(INTERFACES)) {
    const res = await fetch(gw.url + path, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    const body = await envelope(t, res, 400, interfaceCode);
    t.match(body.respDesc, /mercNo: is required/);
  }
  t.equal((await fetch(`${gw.url}/openapi.json`)).status, 200);
});

t.test('GET / leads to the documentation', async (t) => {
  const res = await fetch(`${gw.url}/`, { redirect: 'manual' });
  t.equal(res.status, 302, 'a temporary redirect: the console will live here too');
  t.equal(res.headers.get('location'), '/docs');
  const followed = await fetch(`${gw.url}/`);
  t.equal(followed.status, 200);
  t.match(followed.headers.get('content-type'), /^text\/html/);
  t.equal((await fetch(`${gw.url}/`, { method: 'HEAD', redirect: 'manual' })).status, 302, 'HEAD / too');
});
