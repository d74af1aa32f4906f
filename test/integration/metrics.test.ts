import t from 'tap';
import { createOrder, payFields, sandboxPay, startGateway, until } from '../helper.js';
import { startReceiver } from '../receiver.js';

// GET /metrics: Prometheus text, one registry per gateway.

/** `name{labels} value` lines as a map from `name{labels}` to the value. */
async function scrape(url: string): Promise<{ text: string; value(series: string): number | undefined; contentType: string }> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { text, value: (s) => values.get(s), contentType: res.headers.get('content-type') ?? '' };
}

t.test('requests, latency, channel calls, notifications, outbox and orders after a few requests', async (t) => {
  const rcv = await startReceiver(t);
  const gw = await startGateway(t);
  const m = gw.merchant.mercNo;

  const paid = await createOrder(gw, { notifyUrl: `${rcv.url}/n` });
  const open = await createOrder(gw);
  const refused = await gw.post('/api/pay', payFields(m, { tradeAmt: '0.91' }));
  t.equal(refused.body.respCode, '200001');
  const bad = await gw.post('/api/query', { mercNo: m, orderId: paid }, { key: 'not-the-key-of-this-merchant' });
  t.equal(bad.body.respCode, '100002');
  await sandboxPay(gw, paid);
  await until(() => gw.gateway.dispatcher.stats.delivered === 1, 'the notification');
  t.equal((await gw.post('/api/query', { mercNo: m, orderId: open })).body.respCode, '000000');
  t.equal((await fetch(gw.url + gw.gateway.services.links.cashierPath(open))).status, 200);

  const s = await scrape(gw.url);
  t.match(s.contentType, /^text\/plain; version=0\.0\.4/);

  // Requests by interface and respCode (and HTTP status).
  t.equal(s.value('dtpay_http_requests_total{interface="pay",resp_code="000000",status="200"}'), 2);
  t.equal(s.value('dtpay_http_requests_total{interface="pay",resp_code="200001",status="502"}'), 1);
  t.equal(s.value('dtpay_http_requests_total{interface="query",resp_code="100002",status="401"}'), 1);
  t.equal(s.value('dtpay_http_requests_total{interface="query",resp_code="000000",status="200"}'), 1);
  t.equal(s.value('dtpay_http_requests_total{interface="GET /cashier/:orderId",resp_code="",status="200"}'), 1);
  t.equal(s.value('dtpay_http_requests_total{interface="POST /sandbox/pay/:orderId",resp_code="",status="200"}'), 1);
  t.equal(s.value('dtpay_http_requests_total{interface="POST /channel/:channel/notify/:mercNo?",resp_code="",status="200"}'), 1, 'the sandbox callback');
  t.notMatch(s.text, /interface="GET \/metrics"/, 'scrapes are not counted');

  // Latency histogram by interface.
  t.equal(s.value('dtpay_http_request_duration_seconds_count{interface="pay"}'), 3);
  t.equal(s.value('dtpay_http_request_duration_seconds_bucket{le="+Inf",interface="pay"}'), 3);
  t.ok(s.value('dtpay_http_request_duration_seconds_sum{interface="pay"}')! > 0);
  t.equal(s.value('dtpay_http_request_duration_seconds_count{interface="query"}'), 2);

  // Channel calls by payway, scene, operation and outcome (the fixture orders are alipay.scan).
  t.equal(s.value('dtpay_channel_calls_total{payway="alipay",scene="scan",operation="create",outcome="accepted"}'), 2);
  t.equal(s.value('dtpay_channel_calls_total{payway="alipay",scene="scan",operation="create",outcome="refused"}'), 1);
  t.equal(s.value('dtpay_channel_calls_total{payway="alipay",scene="scan",operation="query",outcome="open"}'), 1, 'the query asked the channel');

  // Notification attempts; the outbox; orders by state.
  t.equal(s.value('dtpay_notification_attempts_total{outcome="delivered",error=""}'), 1);
  t.equal(s.value('dtpay_notifications_pending'), 0);
  t.equal(s.value('dtpay_orders{pay_status="p0000"}'), 1);
  t.equal(s.value('dtpay_orders{pay_status="p0001"}'), 1);
  t.equal(s.value('dtpay_orders{pay_status="p0002"}'), 0, 'the cashier page does not move the order');
  t.equal(s.value('dtpay_orders{pay_status="p0004"}'), 1);
  t.equal(s.value('dtpay_orders{pay_status="p0006"}'), 0, 'every state is listed');
});

t.test('a failing notification: attempts by outcome and error class, the outbox gauge', async (t) => {
  const gw = await startGateway(t, { NOTIFY_RETRY_SCHEDULE: '60' });
  // shop.example.com does not resolve in tests: the address check fails the attempt, and one retry waits.
  const id = await createOrder(gw, { notifyUrl: 'http://shop.example.com/notify' });
  await sandboxPay(gw, id);
  await until(() => gw.gateway.dispatcher.stats.retried === 1, 'the failed attempt');
  const s = await scrape(gw.url);
  t.equal(s.value('dtpay_notification_attempts_total{outcome="retry",error="address"}'), 1, s.text.match(/dtpay_notification_attempts_total\{.*/g)?.join('\n') ?? 'none');
  t.equal(s.value('dtpay_notifications_pending'), 1);
});

t.test('each gateway has a registry of its own', async (t) => {
  const a = await startGateway(t);
  const b = await startGateway(t);
  await createOrder(a);
  t.equal((await scrape(a.url)).value('dtpay_http_requests_total{interface="pay",resp_code="000000",status="200"}'), 1);
  const sb = await scrape(b.url);
  t.equal(sb.value('dtpay_http_requests_total{interface="pay",resp_code="000000",status="200"}'), undefined, 'nothing counted in the other');
  t.equal(sb.value('dtpay_orders{pay_status="p0001"}'), 0);
});
