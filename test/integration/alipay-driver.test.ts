import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'undici';
import { AlipaySdk } from 'alipay-sdk';
import { alipayDriver } from '../../src/channels/alipay/driver.js';
import { topLevelMembers } from '../../src/channels/alipay/sign.js';
import type { AlipayCredentials } from '../../src/channels/credentials.js';
import { CallbackIgnored, CallbackRejected, type CallbackOutcome, paymentOutcome, type ChannelContext, type HttpRequest, type HttpResponse, type PaymentInput } from '../../src/channels/types.js';
import { AlipaySimulator } from '../simulators/alipay.js';

// The Alipay driver against a local Alipay gateway (test/simulators/alipay.ts) over real HTTP on
// 127.0.0.1, every cell, query/close/refund, callbacks, faults sorted three ways; then the official
// alipay-sdk as an independent judge of both the driver's and the simulator's signatures.

const APP_ID = '2021000000000001';
const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const appPublicPem = appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const sim = await AlipaySimulator.start(APP_ID, appPublicPem);
t.teardown(() => sim.close());

const creds: AlipayCredentials = {
  appId: APP_ID,
  privateKeyPem: appPrivatePem,
  alipayPublicKeyPem: sim.alipayPublicKeyPem,
  gatewayUrl: sim.gatewayUrl,
};

// The transport the gateway gives live drivers, in small: undici, the caller's signal.
async function http(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
  const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body, signal, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}
const ctx = (signal?: AbortSignal): ChannelContext => ({ now: Date.now, publicBaseUrl: 'http://127.0.0.1', signal, http: (r) => http(r, signal) });

// The gateway's callback route, in small: the raw bytes to parseCallback, its ack back.
const callbacks: Array<CallbackOutcome | Error> = [];
const receiver: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let accepted = true;
    try {
      callbacks.push(paymentOutcome(alipayDriver.parseCallback({ headers: req.headers, rawBody: Buffer.concat(chunks) }, creds)));
    } catch (err) {
      callbacks.push(err as Error);
      // As the gateway does: a verified notification with nothing to apply is still acknowledged.
      accepted = err instanceof CallbackIgnored;
    }
    const ack = alipayDriver.acknowledge(accepted);
    res.writeHead(ack.status, { 'content-type': ack.contentType }).end(ack.body);
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => receiver.close(() => r())));
const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/channel/alipay/notify`;

let seq = 0;
function order(over: Partial<PaymentInput> = {}): PaymentInput {
  const now = Date.now();
  return {
    orderId: `T${now}${String(++seq).padStart(4, '0')}`,
    payway: 'alipay',
    scene: 'scan',
    amountFen: 1234n,
    subject: '测试商品 A&B=C',
    body: 'a body / with slashes',
    ip: '127.0.0.1',
    termType: 'wap',
    createdAt: now,
    expireAt: now + 30 * 60_000,
    callbackUrl: notifyUrl,
    cashierUrl: 'https://pay.example.com/cashier/order?t=cashier-token',
    returnUrl: 'https://shop.example.com/pay/done?x=1&y=2',
    ...over,
  };
}
const lastRequest = () => sim.requests[sim.requests.length - 1]!;
const biz = (r = lastRequest()) => JSON.parse(r.params.biz_content!) as Record<string, unknown>;

t.test('scan: precreate → qrCode; query open; pay → signed notification → paid', async (t) => {
  const input = order();
  const r = await alipayDriver.createPayment(input, creds, ctx());
  t.equal(r.outcome, 'accepted');
  if (r.outcome !== 'accepted' || r.action.kind !== 'qrCode') throw new Error('no QR');
  // The simulator writes https:\/\/…; the raw-substring verification must not trip over it.
  t.match(r.action.content, /^https:\/\/qr\.alipay\.com\/bax0/);
  const req = lastRequest();
  t.equal(req.method, 'alipay.trade.precreate');
  t.same(req.inQuery.sort(), ['app_id', 'charset', 'format', 'method', 'notify_url', 'sign', 'sign_type', 'timestamp', 'version']);
  t.match(biz(), { out_trade_no: input.orderId, total_amount: '12.34', subject: input.subject, product_code: 'FACE_TO_FACE_PAYMENT', timeout_express: '30m' });
  t.match(req.params.timestamp, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);

  t.same(await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 1234n }, creds, ctx()), { outcome: 'open' });

  callbacks.length = 0;
  t.same(await sim.pay(input.orderId), ['success']);
  const trade = sim.trades.get(input.orderId)!;
  t.equal(callbacks.length, 1);
  t.same(callbacks[0], {
    orderId: input.orderId,
    result: 'paid',
    amountFen: 1234n,
    channelTradeNo: trade.tradeNo,
    paidAt: trade.gmtPayment!.replace(/[- :]/g, ''),
    bankType: 'ALIPAYACCOUNT',
  });
  const q = await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 1234n }, creds, ctx());
  t.same(q, { outcome: 'paid', amountFen: 1234n, channelTradeNo: trade.tradeNo, paidAt: trade.gmtPayment!.replace(/[- :]/g, ''), bankType: 'ALIPAYACCOUNT' });
});

t.test('h5: wap.pay → a signed GET URL to the gateway, no server call', async (t) => {
  const input = order({ scene: 'h5' });
  const before = sim.requests.length;
  const r = await alipayDriver.createPayment(input, creds, ctx());
  t.equal(sim.requests.length, before, 'nothing sent to Alipay');
  if (r.outcome !== 'accepted' || r.action.kind !== 'redirect') throw new Error('no redirect');
  t.ok(r.action.url.startsWith(`${sim.gatewayUrl}?`));
  // The payer's browser opens it; the simulator checks the signature and shows its cashier.
  const page = await request(r.action.url);
  t.equal(page.statusCode, 200);
  t.match(await page.body.text(), `cashier ${input.orderId} 12.34`);
  const req = lastRequest();
  t.equal(req.method, 'alipay.trade.wap.pay');
  t.equal(req.params.return_url, input.returnUrl);
  t.match(biz(req), { product_code: 'QUICK_WAP_WAY', quit_url: input.returnUrl });
  callbacks.length = 0;
  t.same(await sim.pay(input.orderId), ['success']);
  t.match(callbacks[0], { orderId: input.orderId, result: 'paid', amountFen: 1234n });
});

t.test('gateway: page.pay → an auto-submitting form POSTing to the gateway', async (t) => {
  const input = order({ scene: 'gateway', subject: 'quote " and <tag>' });
  const r = await alipayDriver.createPayment(input, creds, ctx());
  if (r.outcome !== 'accepted' || r.action.kind !== 'form') throw new Error('no form');
  const html = r.action.html;
  t.match(html, /<form [^>]*method="post"/);
  t.match(html, /document\.forms\['alipaysubmit'\]\.submit\(\)/);
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  const action = unescape(/action="([^"]*)"/.exec(html)![1]!);
  t.ok(action.startsWith(sim.gatewayUrl));
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields.append(unescape(m[1]!), unescape(m[2]!));
  // What the browser does with the form:
  const page = await request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fields.toString() });
  t.equal(page.statusCode, 200);
  t.match(await page.body.text(), `cashier ${input.orderId}`);
  t.equal(lastRequest().method, 'alipay.trade.page.pay');
  t.match(biz(), { product_code: 'FAST_INSTANT_TRADE_PAY', subject: 'quote " and <tag>' });
  t.equal(sim.trades.get(input.orderId)?.status, 'WAIT_BUYER_PAY');
});

t.test('app: app.pay → the signed order string, each value URL-encoded', async (t) => {
  const input = order({ scene: 'app' });
  const r = await alipayDriver.createPayment(input, creds, ctx());
  if (r.outcome !== 'accepted' || r.action.kind !== 'sdkParams') throw new Error('no payInfo');
  const payInfo = r.action.payInfo;
  t.notMatch(payInfo, /[{}" ]/, 'values are URL-encoded');
  for (const pair of payInfo.split('&')) t.match(pair, /^[a-z_]+=[^=&]*$/);
  const trade = sim.openApp(payInfo); // throws unless the signature verifies
  t.equal(trade.outTradeNo, input.orderId);
  t.equal(trade.method, 'alipay.trade.app.pay');
  t.equal(trade.notifyUrl, notifyUrl);
  callbacks.length = 0;
  t.same(await sim.pay(input.orderId), ['success']);
  t.match(callbacks[0], { orderId: input.orderId, result: 'paid' });
});

t.test('jspay: trade.create with buyer_open_id, or buyer_id for a 2088… user id → payInfo trade_no', async (t) => {
  const a = order({ scene: 'jspay', openId: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' });
  const ra = await alipayDriver.createPayment(a, creds, ctx());
  if (ra.outcome !== 'accepted' || ra.action.kind !== 'sdkParams') throw new Error('no payInfo');
  const trade = sim.trades.get(a.orderId)!;
  t.equal(ra.action.payInfo, trade.tradeNo);
  t.equal(ra.channelTradeNo, trade.tradeNo);
  t.match(biz(), { product_code: 'JSAPI_PAY', buyer_open_id: a.openId });
  t.notOk('buyer_id' in biz());

  const b = order({ scene: 'jspay', openId: '2088102146225135' });
  const rb = await alipayDriver.createPayment(b, creds, ctx());
  t.equal(rb.outcome, 'accepted');
  t.match(biz(), { buyer_id: '2088102146225135' });
  t.notOk('buyer_open_id' in biz());

  t.match(await alipayDriver.createPayment(order({ scene: 'jspay' }), creds, ctx()), { outcome: 'refused', code: 'dtpay.missing-open-id' });
});

t.test('query: TRADE_NOT_EXIST → not_found', async (t) => {
  t.same(await alipayDriver.queryPayment({ orderId: 'NOPE1', amountFen: 1n }, creds, ctx()), { outcome: 'not_found' });
});

t.test('close: open → closed; paid → paid; never opened → closed', async (t) => {
  const a = order();
  await alipayDriver.createPayment(a, creds, ctx());
  t.same(await alipayDriver.closePayment({ orderId: a.orderId, amountFen: 1234n }, creds, ctx()), { outcome: 'closed' });
  t.same(await alipayDriver.queryPayment({ orderId: a.orderId, amountFen: 1234n }, creds, ctx()), { outcome: 'closed' });
  t.same(await alipayDriver.closePayment({ orderId: a.orderId, amountFen: 1234n }, creds, ctx()), { outcome: 'closed' }, 'closing twice');

  const b = order();
  await alipayDriver.createPayment(b, creds, ctx());
  await sim.pay(b.orderId, 'lost');
  t.match(await alipayDriver.closePayment({ orderId: b.orderId, amountFen: 1234n }, creds, ctx()), { outcome: 'paid', amountFen: 1234n });

  const c = order({ scene: 'h5' });
  await alipayDriver.createPayment(c, creds, ctx());
  t.same(await alipayDriver.closePayment({ orderId: c.orderId, amountFen: 1234n }, creds, ctx()), { outcome: 'closed' });
});

t.test('refund and refund query', async (t) => {
  const o = order({ amountFen: 10000n });
  await alipayDriver.createPayment(o, creds, ctx());
  await sim.pay(o.orderId, 'lost');
  const tradeNo = sim.trades.get(o.orderId)!.tradeNo;
  const base = { orderId: o.orderId, channelTradeNo: tradeNo, totalFen: 10000n, callbackUrl: notifyUrl };

  const r1 = await alipayDriver.refund({ ...base, refundId: 'R1', refundFen: 2500n, reason: '退货' }, creds, ctx());
  t.match(r1, { outcome: 'succeeded' });
  t.match(biz(), { out_trade_no: o.orderId, refund_amount: '25.00', out_request_no: 'R1', refund_reason: '退货' });
  const q1 = await alipayDriver.queryRefund({ orderId: o.orderId, refundId: 'R1' }, creds, ctx());
  t.equal(q1.outcome, 'succeeded');
  if (q1.outcome === 'succeeded') t.match(q1.refundedAt, /^\d{14}$/);

  t.same(await alipayDriver.refund({ ...base, refundId: 'R1', refundFen: 2500n }, creds, ctx()), { outcome: 'accepted' }, 'a repeat moves no money');
  t.match(await alipayDriver.refund({ ...base, refundId: 'R2', refundFen: 9000n }, creds, ctx()), { outcome: 'refused', code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });
  t.same(await alipayDriver.queryRefund({ orderId: o.orderId, refundId: 'R2' }, creds, ctx()), { outcome: 'not_found' });
  t.same(await alipayDriver.queryRefund({ orderId: 'NOPE2', refundId: 'R9' }, creds, ctx()), { outcome: 'not_found' });
  t.match(await alipayDriver.refund({ ...base, orderId: 'NOPE3', refundId: 'R3', refundFen: 1n }, creds, ctx()), { outcome: 'refused', code: 'ACQ.TRADE_NOT_EXIST' });
});

t.test('callbacks: duplicates, wrong amount, lost, rejections', async (t) => {
  const dup = order();
  await alipayDriver.createPayment(dup, creds, ctx());
  callbacks.length = 0;
  t.same(await sim.pay(dup.orderId, 'duplicate'), ['success', 'success']);
  t.equal(callbacks.length, 2);
  t.same(callbacks[0], callbacks[1], 'the same outcome twice; the gateway applies it once');

  const wrong = order();
  await alipayDriver.createPayment(wrong, creds, ctx());
  callbacks.length = 0;
  await sim.pay(wrong.orderId, 'wrongAmount');
  t.match(callbacks[0], { orderId: wrong.orderId, amountFen: 1235n }, 'returned as stated; the gateway compares');

  const lost = order();
  await alipayDriver.createPayment(lost, creds, ctx());
  callbacks.length = 0;
  t.same(await sim.pay(lost.orderId, 'lost'), []);
  t.equal(callbacks.length, 0);
  t.match(await alipayDriver.queryPayment({ orderId: lost.orderId, amountFen: 1234n }, creds, ctx()), { outcome: 'paid', amountFen: 1234n });

  const trade = sim.trades.get(dup.orderId)!;
  const parse = (body: string) => alipayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(body) }, creds);
  t.throws(() => parse(sim.notificationBody(trade, {}, { badSignature: true })), CallbackRejected, 'bad signature');
  t.throws(() => parse(sim.notificationBody(trade, { app_id: '2021000000000999' })), /another app_id/, 'signed, but for another app');
  t.throws(() => parse(sim.notificationBody(trade, { trade_status: 'TRADE_CLOSED' })), { name: 'CallbackIgnored', message: /not a payment/ });
  t.throws(() => parse(sim.notificationBody(trade, { trade_status: 'WAIT_BUYER_PAY' })), { name: 'CallbackIgnored', message: /not a payment/ });
  t.throws(
    () => parse(sim.notificationBody(trade, { trade_status: 'TRADE_CLOSED' }, { badSignature: true })),
    CallbackRejected,
    'only a verified one is ignored; a bad signature is still rejected',
  );
  const good = sim.notificationBody(trade);
  t.match(parse(good), { orderId: dup.orderId, result: 'paid' });
  t.throws(() => parse(`${good}&total_amount=0.01`), /twice/, 'a repeated field');
  t.throws(() => parse(good.replace(/total_amount=12\.34/, 'total_amount=0.01')), /does not verify/, 'a tampered amount');
  t.match(parse(sim.notificationBody(trade, { trade_status: 'TRADE_FINISHED' })), { result: 'paid' });

  // What goes back to Alipay: anything but "success" means "retry". A verified notification that is
  // not a payment is acknowledged so that Alipay stops; a forged one is not.
  callbacks.length = 0;
  t.equal(await sim.notify(trade, { trade_status: 'TRADE_CLOSED' }), 'success');
  t.same(alipayDriver.acknowledge(false), { status: 200, contentType: 'text/plain; charset=utf-8', body: 'fail' });
  t.same(alipayDriver.acknowledge(true), { status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' });
});

t.test('faults sort three ways', async (t) => {
  sim.failNext('alipay.trade.precreate', { kind: 'businessError', subCode: 'ACQ.ACCESS_FORBIDDEN', subMsg: '无权限使用接口' });
  const refused = await alipayDriver.createPayment(order(), creds, ctx());
  t.match(refused, { outcome: 'refused', code: 'ACQ.ACCESS_FORBIDDEN', message: /无权限使用接口.*40004/ });

  sim.failNext('alipay.trade.precreate', { kind: 'businessError', code: '20000', subCode: 'ACQ.SYSTEM_ERROR' });
  t.match(await alipayDriver.createPayment(order(), creds, ctx()), { outcome: 'unknown' }, '20000 is not a refusal');

  sim.failNext('alipay.trade.precreate', { kind: 'badSignature' });
  t.match(await alipayDriver.createPayment(order(), creds, ctx()), { outcome: 'unknown', reason: /signature does not verify/ });

  sim.failNext('alipay.trade.precreate', { kind: 'unsigned' });
  t.match(await alipayDriver.createPayment(order(), creds, ctx()), { outcome: 'unknown', reason: /without a signature/ }, 'an unsigned success');

  sim.failNext('alipay.trade.precreate', { kind: 'http500' });
  t.match(await alipayDriver.createPayment(order(), creds, ctx()), { outcome: 'unknown', reason: /HTTP 500/ });

  sim.failNext('alipay.trade.precreate', { kind: 'garbage' });
  t.match(await alipayDriver.createPayment(order(), creds, ctx()), { outcome: 'unknown', reason: /unparseable/ });

  const started = Date.now();
  sim.failNext('alipay.trade.precreate', { kind: 'hang' });
  t.match(await alipayDriver.createPayment(order(), creds, ctx(AbortSignal.timeout(300))), { outcome: 'unknown' }, 'timeout');
  t.ok(Date.now() - started < 3000);
  sim.failNext('alipay.trade.query', { kind: 'hang' });
  t.match(await alipayDriver.queryPayment({ orderId: 'X', amountFen: 1n }, creds, ctx(AbortSignal.timeout(300))), { outcome: 'unknown' });
  // The transport's own deadline (undici headersTimeout) rather than the caller's signal.
  sim.failNext('alipay.trade.refund', { kind: 'hang' });
  const short: ChannelContext = {
    now: Date.now,
    publicBaseUrl: '',
    http: async (r) => {
      const res = await request(r.url, { method: r.method, headers: r.headers, body: r.body, headersTimeout: 300 });
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    },
  };
  t.match(await alipayDriver.refund({ orderId: 'X', refundId: 'R', totalFen: 1n, refundFen: 1n, callbackUrl: notifyUrl }, creds, short), { outcome: 'unknown', reason: /timeout/i });
  t.ok(Date.now() - started < 5000, 'bounded in time');

  // A port nobody listens on: connection refused before anything was sent.
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/gateway.do`;
  await new Promise<void>((r) => dead.close(() => r()));
  const off = { ...creds, gatewayUrl: deadUrl };
  t.match(await alipayDriver.createPayment(order(), off, ctx()), { outcome: 'unreached' });
  t.match(await alipayDriver.queryPayment({ orderId: 'X', amountFen: 1n }, off, ctx()), { outcome: 'unreached' });
  t.match(await alipayDriver.refund({ orderId: 'X', refundId: 'R', totalFen: 1n, refundFen: 1n, callbackUrl: notifyUrl }, off, ctx()), { outcome: 'unreached' });
  t.match(await alipayDriver.createPayment(order(), creds, { now: Date.now, publicBaseUrl: '' }), { outcome: 'unreached' }, 'no transport');

  // Alipay refusing the request itself: an unknown app (unsigned answer), our key not registered.
  t.match(await alipayDriver.createPayment(order(), { ...creds, appId: '2021000000000999' }, ctx()), { outcome: 'refused', code: 'isv.invalid-app-id' });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  t.match(await alipayDriver.createPayment(order(), { ...creds, privateKeyPem: other }, ctx()), { outcome: 'refused', code: 'isv.invalid-signature' });
  // …and the simulator's answer signed with a key we do not hold.
  const wrongAlipayKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  t.match(await alipayDriver.queryPayment({ orderId: 'NOPE4', amountFen: 1n }, { ...creds, alipayPublicKeyPem: wrongAlipayKey }, ctx()), { outcome: 'unknown' });
});

t.test('keys: PKCS#1 PEM and bare base64 (as Alipay’s console hands them out)', async (t) => {
  const pkcs1 = appKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const bare = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  for (const [name, c] of [
    ['PKCS#1', { ...creds, privateKeyPem: pkcs1 }],
    ['bare PKCS#8 + bare public key', { ...creds, privateKeyPem: bare(appPrivatePem), alipayPublicKeyPem: bare(sim.alipayPublicKeyPem) }],
    ['bare PKCS#1', { ...creds, privateKeyPem: bare(pkcs1) }],
  ] as const) {
    t.match(await alipayDriver.createPayment(order(), c, ctx()), { outcome: 'accepted' }, name);
  }
});

t.test('raw-substring scanner', async (t) => {
  const text = '{"a_response":{"code":"10000","u":"https:\\/\\/x\\/y","n":[1,{"b":"}"}],"q":"\\"}"} ,"sign":"abc=="}';
  const m = topLevelMembers(text)!;
  t.equal(m.get('a_response'), '{"code":"10000","u":"https:\\/\\/x\\/y","n":[1,{"b":"}"}],"q":"\\"}"}');
  t.equal(m.get('sign'), '"abc=="');
  t.equal(topLevelMembers('{"a":1,"a":2}'), undefined, 'a repeated member');
  t.equal(topLevelMembers('{"a":{"b":1}'), undefined, 'unterminated');
  t.equal(topLevelMembers('{"a":1} x'), undefined, 'trailing garbage');
  t.equal(topLevelMembers('<html>'), undefined);
});

// --- the official SDK (npm alipay-sdk) as an independent verifier -------------------------------

t.test('SDK cross-check', async (t) => {
  // Verifies as the merchant's own server would: our app key signs, Alipay's key verifies.
  const sdk = new AlipaySdk({ appId: APP_ID, privateKey: appPrivatePem, keyType: 'PKCS8', alipayPublicKey: sim.alipayPublicKeyPem, gateway: sim.gatewayUrl });
  // Plays Alipay checking our requests: verifies with OUR public key.
  const asAlipay = new AlipaySdk({ appId: APP_ID, privateKey: appPrivatePem, keyType: 'PKCS8', alipayPublicKey: appPublicPem });

  t.test('(a) our request signatures are the SDK’s, byte for byte', async (t) => {
    const input = order();
    await alipayDriver.createPayment(input, creds, ctx());
    const ours = lastRequest().params;
    // sign() is deterministic (PKCS#1 v1.5): the SDK signing the same parameters must yield our sign.
    const sdkString = sdk.sdkExecute(
      'alipay.trade.precreate',
      { bizContent: JSON.parse(ours.biz_content!), notifyUrl: ours.notify_url, timestamp: ours.timestamp, format: 'JSON' },
      { bizContentAutoSnakeCase: false },
    );
    const sdkParams = Object.fromEntries(new URLSearchParams(sdkString));
    t.equal(sdkParams.biz_content, ours.biz_content);
    t.equal(sdkParams.sign, ours.sign, 'same signature for alipay.trade.precreate');
    t.ok(asAlipay.checkNotifySignV2(ours), 'and the SDK’s verifier accepts it');

    const app = await alipayDriver.createPayment(order({ scene: 'app' }), creds, ctx());
    if (app.outcome !== 'accepted' || app.action.kind !== 'sdkParams') throw new Error('no payInfo');
    const appParams = Object.fromEntries(app.action.payInfo.split('&').map((p) => p.split('=').map(decodeURIComponent) as [string, string]));
    const sdkApp = Object.fromEntries(
      new URLSearchParams(
        sdk.sdkExecute(
          'alipay.trade.app.pay',
          { bizContent: JSON.parse(appParams.biz_content!), notifyUrl: appParams.notify_url, timestamp: appParams.timestamp, format: 'JSON' },
          { bizContentAutoSnakeCase: false },
        ),
      ),
    );
    t.same(sdkApp, appParams, 'the app order string is the SDK’s, parameter for parameter');

    // wap.pay / page.pay: the SDK adds its own alipay_sdk field, so verify rather than compare.
    const h5 = await alipayDriver.createPayment(order({ scene: 'h5' }), creds, ctx());
    if (h5.outcome !== 'accepted' || h5.action.kind !== 'redirect') throw new Error('no URL');
    t.ok(asAlipay.checkNotifySignV2(Object.fromEntries(new URL(h5.action.url).searchParams)), 'wap.pay URL verifies');
  });

  t.test('(b) notifications: the simulator’s pass the SDK’s check and ours alike', async (t) => {
    const input = order();
    await alipayDriver.createPayment(input, creds, ctx());
    await sim.pay(input.orderId, 'lost');
    const trade = sim.trades.get(input.orderId)!;
    const fields = (body: string) => Object.fromEntries(new URLSearchParams(body));
    const good = sim.notificationBody(trade);
    t.ok(sdk.checkNotifySignV2(fields(good)), 'SDK: valid');
    t.ok(sdk.checkNotifySign(fields(good)), 'SDK (decoding variant): valid');
    t.match(alipayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(good) }, creds), { orderId: input.orderId });
    const bad = sim.notificationBody(trade, {}, { badSignature: true });
    t.notOk(sdk.checkNotifySignV2(fields(bad)), 'SDK: bad signature');
    t.throws(() => alipayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(bad) }, creds), CallbackRejected);
    const tampered = { ...fields(good), total_amount: '0.01' };
    t.notOk(sdk.checkNotifySignV2(tampered), 'SDK: tampered amount');
  });

  t.test('(c) the SDK talking to the simulator: requests accepted, answers verified', async (t) => {
    const outTradeNo = `SDK${Date.now()}`;
    const created = await sdk.exec(
      'alipay.trade.precreate',
      { notifyUrl, bizContent: { outTradeNo, totalAmount: '0.01', subject: 'sdk 测试 / slash' } },
      { validateSign: true },
    );
    t.equal(created.code, '10000', 'simulator accepted the SDK’s signature; SDK accepted the simulator’s');
    t.match(created.qrCode, /^https:\/\/qr\.alipay\.com\//);
    t.same(lastRequest().inQuery.includes('biz_content'), false, 'SDK: biz_content in the body');
    const q = await sdk.exec('alipay.trade.query', { bizContent: { outTradeNo } }, { validateSign: true });
    t.equal(q.tradeStatus, 'WAIT_BUYER_PAY');
    t.same(await alipayDriver.queryPayment({ orderId: outTradeNo, amountFen: 1n }, creds, ctx()), { outcome: 'open' }, 'our driver reads the same trade');
    const notFound = await sdk.exec('alipay.trade.query', { bizContent: { outTradeNo: 'NOPE5' } }, { validateSign: true });
    t.equal(notFound.subCode, 'ACQ.TRADE_NOT_EXIST');

    sim.failNext('alipay.trade.query', { kind: 'badSignature' });
    await t.rejects(sdk.exec('alipay.trade.query', { bizContent: { outTradeNo } }, { validateSign: true }), /验签失败/, 'SDK rejects what we reject');

    // An order string the SDK signs opens in the simulator's "app".
    const sdkOrder = sdk.sdkExecute('alipay.trade.app.pay', { notifyUrl, bizContent: { outTradeNo: `${outTradeNo}A`, totalAmount: '0.02', subject: 'app' } });
    t.equal(sim.openApp(sdkOrder).totalFen, 2n);
    // So does a page.pay form the SDK builds (common params in the action URL, biz_content in the form).
    const form = sdk.pageExecute('alipay.trade.page.pay', 'POST', { notifyUrl, bizContent: { outTradeNo: `${outTradeNo}P`, totalAmount: '0.03', subject: 'page', productCode: 'FAST_INSTANT_TRADE_PAY' } });
    const action = /action="([^"]*)"/.exec(form)![1]!;
    const body = new URLSearchParams();
    for (const m of form.matchAll(/name="([^"]*)" value="([^"]*)"/g)) body.append(m[1]!, m[2]!.replace(/&quot;/g, '"'));
    const page = await request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    t.equal(page.statusCode, 200);
    t.match(await page.body.text(), 'cashier');
    t.equal(sim.trades.get(`${outTradeNo}P`)?.totalFen, 3n);
  });
});
