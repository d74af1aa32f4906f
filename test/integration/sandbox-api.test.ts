import t from 'tap';
import { answerSandboxApi } from '../../src/api/sandbox-api-routes.js';
import { SANDBOX_SIGNATURE_HEADER, signSandboxBody } from '../../src/channels/sandbox/driver.js';
import { SandboxPayments } from '../../src/services/sandbox-payment.js';
import { createOrder, startGateway } from '../helper.js';

// The sandbox channel's API has two roads: POST /sandbox/api/:action over HTTP, and the gateway's
// own in-process calls (its sandbox driver's queries, closes and refunds), which skip the HTTP
// server. Both give the same answer, to the byte.

t.test('over HTTP and in process, the sandbox API answers the same bytes', async (t) => {
  const gw = await startGateway(t);
  const sandbox = new SandboxPayments(gw.gateway.services, async () => ({ status: 200, body: 'success' }));
  const secret = await sandbox.secret();
  const orderId = await createOrder(gw);
  const cases: [string, Record<string, string>, string?][] = [
    ['query', { orderId }],
    ['query', { orderId: '2099010100000000000001' }],
    ['refund-query', { orderId, refundId: '2099010100000000000002' }],
    ['query', { orderId: 'not-an-order' }],
    ['refund', { orderId, refundId: '2099010100000000000003', amount: 'lots' }],
    ['nothing-here', { orderId }],
    ['query', { orderId }, 'a wrong signature'],
    ['close', { orderId }],
    ['query', { orderId }],
  ];
  for (const [action, fields, badSignature] of cases) {
    const body = JSON.stringify(fields);
    const signature = badSignature ?? signSandboxBody(body, secret);
    const http = await fetch(`${gw.url}/sandbox/api/${action}`, { method: 'POST', headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signature }, body });
    const text = await http.text();
    // The close changes the trade: asked again in process, it answers what it answers the second time.
    const direct = action === 'close' ? undefined : await answerSandboxApi(sandbox, action, Buffer.from(body), signature);
    const what = `${action} ${body}${badSignature ? ' (bad signature)' : ''}`;
    if (direct) {
      t.equal(http.status, direct.status, `${what}: status ${http.status}`);
      t.equal(text, direct.body, `${what}: body ${text}`);
      t.equal(http.headers.get('content-type'), direct.headers['content-type'], `${what}: content-type`);
      t.equal(http.headers.get(SANDBOX_SIGNATURE_HEADER) ?? undefined, direct.headers[SANDBOX_SIGNATURE_HEADER], `${what}: signature header`);
    } else t.equal(http.status, 200, `${what}: ${text}`);
  }
});
