// The WeChat Pay v3 driver against the simulator over real HTTP on 127.0.0.1: every cell, query
// states, close, refunds, notifications, each fault sorted into refused / unreached / unknown —
// and a cross-check of the signing, verification and decryption with wechatpay-axios-plugin, an
// SDK written independently of both the driver and the simulator.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey } from 'node:crypto';
import t from 'tap';
import { Aes, Formatter, Rsa, Wechatpay, type WechatpayAxiosPlugin } from 'wechatpay-axios-plugin';
import { CallbackRejected, type CallbackOutcome, paymentOutcome, type ChannelContext, type PaymentInput, type Scene } from '../../src/channels/types.js';
import type { WxpayCredentials } from '../../src/channels/credentials.js';
import { parseWxpayCallback, wxpayDriver as driver } from '../../src/channels/wxpay/driver.js';
import { authorizationHeader, requestMessage, verifyWechatpaySignature } from '../../src/channels/wxpay/sign.js';
import { decryptResource } from '../../src/channels/wxpay/crypto.js';
import { rfc3339Beijing } from '../../src/channels/wxpay/wire.js';
import { formatBeijing } from '../../src/domain/time.js';
import { createTestHttp } from '../simulators/http.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';

const AesGcm = (Aes as unknown as { AesGcm: typeof WechatpayAxiosPlugin.Aes.AesGcm }).AesGcm;

const keys = generateWxpayKeys();
const sim = await WxpaySimulator.start({ keys });
// Long enough that a busy machine never cuts off an honest answer; a hanging simulator still ends within it.
const http = createTestHttp({ timeoutMs: 2_500 });
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'http://127.0.0.1', http };
const creds = sim.credentials('cert');

// The gateway's side of notifications: raw bytes in, the driver's verdict and ack out.
interface Seen {
  outcome?: CallbackOutcome;
  rejected?: string;
}
const seen: Seen[] = [];
const receiver: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let accepted = true;
    try {
      seen.push({ outcome: paymentOutcome(driver.parseCallback({ headers: req.headers, rawBody: Buffer.concat(chunks) }, receiverCreds)) });
    } catch (err) {
      if (!(err instanceof CallbackRejected)) throw err;
      accepted = false;
      seen.push({ rejected: err.message });
    }
    const ack = driver.acknowledge(accepted);
    res.writeHead(ack.status, { 'content-type': ack.contentType }).end(ack.body);
  });
});
let receiverCreds: WxpayCredentials = creds;
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/channel/wxpay/notify`;

t.teardown(async () => {
  await http.close();
  await sim.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

let seq = 0;
function order(scene: Scene, over: Partial<PaymentInput> = {}): PaymentInput {
  const now = Date.now();
  return {
    orderId: `WX${now}${String(++seq).padStart(4, '0')}`,
    payway: 'wxpay',
    scene,
    amountFen: 1234n,
    subject: '测试商品 A&B=C',
    body: '',
    ip: '203.0.113.7',
    termType: 'wap',
    createdAt: now,
    expireAt: now + 30 * 60_000,
    callbackUrl: notifyUrl,
    cashierUrl: 'https://pay.example.com/cashier/order?t=cashier-token',
    ...(scene === 'jspay' ? { openId: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } : {}),
    ...(scene === 'h5' ? { deviceInfo: 'IOS_SDK', mchAppName: '王者荣耀', mchAppId: 'com.tencent.wzryIOS' } : {}),
    ...over,
  };
}

async function created(scene: Scene, over: Partial<PaymentInput> = {}) {
  const input = order(scene, over);
  const r = await driver.createPayment(input, creds, ctx);
  if (r.outcome !== 'accepted') throw new Error(`create ${scene}: ${JSON.stringify(r)}`);
  return { input, r };
}

const lastRequest = () => sim.requests[sim.requests.length - 1]!;

/** Authorization header → its params, as WeChat reads them. */
function authParams(h: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of h.replace(/^WECHATPAY2-SHA256-RSA2048 /, '').matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

t.test('every cell of the scene matrix', async (t) => {
  t.test('scan → Native code_url', async (t) => {
    const { input, r } = await created('scan');
    t.same(r.action.kind, 'qrCode');
    t.match(r.action.kind === 'qrCode' && r.action.content, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    const req = lastRequest();
    t.equal(req.path, '/v3/pay/transactions/native');
    t.notOk(req.authError, 'the simulator verified our Authorization with our public key');
    const body = JSON.parse(req.body);
    t.same(body.amount, { total: 1234, currency: 'CNY' });
    t.equal(body.notify_url, notifyUrl);
    t.equal(body.out_trade_no, input.orderId);
    t.equal(body.description, '测试商品 A&B=C');
    t.equal(body.time_expire, rfc3339Beijing(input.expireAt));
    t.match(body.time_expire, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
    t.equal(req.headers['content-type'], 'application/json');
    t.ok(req.headers['user-agent']);
  });

  t.test('h5 → H5 h5_url with scene_info from the request', async (t) => {
    const { r } = await created('h5');
    t.equal(r.action.kind, 'redirect');
    t.match(r.action.kind === 'redirect' && r.action.url, /^https:\/\/wx\.tenpay\.com\//);
    t.same(JSON.parse(lastRequest().body).scene_info, {
      payer_client_ip: '203.0.113.7',
      h5_info: { type: 'iOS', app_name: '王者荣耀', bundle_id: 'com.tencent.wzryIOS' },
    });
    await created('h5', { deviceInfo: 'AND_SDK', mchAppName: '王者荣耀', mchAppId: 'com.tencent.tmgp.sgame' });
    t.same(JSON.parse(lastRequest().body).scene_info.h5_info, { type: 'Android', app_name: '王者荣耀', package_name: 'com.tencent.tmgp.sgame' });
    await created('h5', { deviceInfo: 'WAP_SDK', mchAppName: '天猫官网', mchAppId: 'https://www.example.com' });
    t.same(JSON.parse(lastRequest().body).scene_info.h5_info, { type: 'Wap', app_name: '天猫官网', app_url: 'https://www.example.com' });
  });

  t.test('app → payInfo for the APP SDK, signed over appid/timestamp/noncestr/prepayid (checked with the SDK)', async (t) => {
    const { input, r } = await created('app');
    t.equal(r.action.kind, 'sdkParams');
    const p = JSON.parse(r.action.kind === 'sdkParams' ? r.action.payInfo : '{}');
    t.same(Object.keys(p).sort(), ['appid', 'noncestr', 'package', 'partnerid', 'prepayid', 'sign', 'timestamp']);
    t.equal(p.appid, sim.appid);
    t.equal(p.partnerid, sim.mchid);
    t.equal(p.package, 'Sign=WXPay');
    t.equal(p.prepayid, sim.trades.get(input.orderId)!.prepayId);
    t.match(p.timestamp, /^\d{10}$/);
    t.ok(p.noncestr.length <= 32);
    const msg = Formatter.joinedByLineFeed(p.appid, p.timestamp, p.noncestr, p.prepayid);
    t.ok(Rsa.verify(msg, p.sign, Rsa.from(keys.merchant.publicKeyPem, Rsa.KEY_TYPE_PUBLIC)), 'SDK verifies the APP sign');
  });

  t.test('jspay → payInfo for WeixinJSBridge, paySign checked with the SDK', async (t) => {
    const { input, r } = await created('jspay');
    const p = JSON.parse(r.action.kind === 'sdkParams' ? r.action.payInfo : '{}');
    t.same(Object.keys(p).sort(), ['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    t.equal(p.appId, sim.appid);
    t.equal(p.signType, 'RSA');
    t.equal(p.package, `prepay_id=${sim.trades.get(input.orderId)!.prepayId}`);
    t.same(JSON.parse(lastRequest().body).payer, { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    const msg = Formatter.joinedByLineFeed(p.appId, p.timeStamp, p.nonceStr, p.package);
    t.ok(Rsa.verify(msg, p.paySign, Rsa.from(keys.merchant.publicKeyPem, Rsa.KEY_TYPE_PUBLIC)), 'SDK verifies paySign');
  });

  t.test('refused locally, without a call', async (t) => {
    const before = sim.requests.length;
    const big = await driver.createPayment(order('scan', { amountFen: 2_147_483_648n }), creds, ctx);
    t.match(big, { outcome: 'refused', code: 'PARAM_ERROR' });
    const max = await driver.createPayment(order('scan', { amountFen: 2_147_483_647n }), creds, ctx);
    t.equal(max.outcome, 'accepted', 'int32 max is still fine');
    t.match(await driver.createPayment(order('jspay', { openId: undefined }), creds, ctx), { outcome: 'refused', code: 'PARAM_ERROR' });
    t.match(await driver.createPayment(order('gateway'), creds, ctx), { outcome: 'refused', code: 'UNSUPPORTED_SCENE' });
    t.equal(sim.requests.length, before + 1, 'only the int32-max order reached the simulator');
  });

  t.test('same out_trade_no, same parameters → the same answer', async (t) => {
    const input = order('jspay');
    const a = await driver.createPayment(input, creds, ctx);
    const b = await driver.createPayment(input, creds, ctx);
    const pkg = (r: typeof a) => (r.outcome === 'accepted' && r.action.kind === 'sdkParams' ? JSON.parse(r.action.payInfo).package : undefined);
    t.ok(pkg(a));
    t.equal(pkg(a), pkg(b));
  });
});

t.test('query maps every trade_state', async (t) => {
  const { input } = await created('scan');
  const ref = { orderId: input.orderId, amountFen: input.amountFen };
  t.same(await driver.queryPayment(ref, creds, ctx), { outcome: 'open' });
  t.match(lastRequest().path, new RegExp(`^/v3/pay/transactions/out-trade-no/${input.orderId}\\?mchid=${sim.mchid}$`));
  t.equal(lastRequest().body, '');
  t.notOk(lastRequest().authError, 'GET signed with an empty body line');
  sim.setState(input.orderId, 'USERPAYING');
  t.same(await driver.queryPayment(ref, creds, ctx), { outcome: 'open' });
  sim.setState(input.orderId, 'NOTPAY');
  await sim.pay(input.orderId, { lost: true });
  const trade = sim.trades.get(input.orderId)!;
  const paid = await driver.queryPayment(ref, creds, ctx);
  t.same(paid, { outcome: 'paid', amountFen: 1234n, channelTradeNo: trade.transactionId, paidAt: formatBeijing(Date.parse(trade.successTime!)), bankType: 'CMC' });
  t.match(paid, { paidAt: /^\d{14}$/ });
  for (const [state, outcome] of [['CLOSED', 'closed'], ['REVOKED', 'closed'], ['PAYERROR', 'failed'], ['NOTPAY', 'open'], ['REFUND', 'paid']] as const) {
    sim.setState(input.orderId, state);
    t.match(await driver.queryPayment(ref, creds, ctx), { outcome }, state);
  }
  t.same(await driver.queryPayment({ orderId: 'NOSUCHORDER0001', amountFen: 1n }, creds, ctx), { outcome: 'not_found' });
});

t.test('close', async (t) => {
  const { input } = await created('scan');
  const ref = { orderId: input.orderId, amountFen: input.amountFen };
  t.same(await driver.closePayment(ref, creds, ctx), { outcome: 'closed' });
  t.equal(lastRequest().path, `/v3/pay/transactions/out-trade-no/${input.orderId}/close`);
  t.same(JSON.parse(lastRequest().body), { mchid: sim.mchid });
  t.equal(sim.trades.get(input.orderId)!.state, 'CLOSED');
  t.same(await driver.queryPayment(ref, creds, ctx), { outcome: 'closed' });

  const { input: paidInput } = await created('h5');
  await sim.pay(paidInput.orderId, { lost: true });
  const late = await driver.closePayment({ orderId: paidInput.orderId, amountFen: paidInput.amountFen }, creds, ctx);
  t.match(late, { outcome: 'paid', amountFen: 1234n, channelTradeNo: sim.trades.get(paidInput.orderId)!.transactionId }, 'ORDERPAID → paid, by querying');
  t.same(await driver.closePayment({ orderId: 'NOSUCHORDER0002', amountFen: 1n }, creds, ctx), { outcome: 'closed' }, 'nothing at WeChat: nothing to pay');
});

t.test('refund and refund query', async (t) => {
  const { input } = await created('scan', { amountFen: 1000n });
  await sim.pay(input.orderId, { lost: true });
  const base = { orderId: input.orderId, totalFen: 1000n, callbackUrl: notifyUrl };
  const r1 = await driver.refund({ ...base, refundId: `R${input.orderId}1`, refundFen: 300n, reason: '商品已售完' }, creds, ctx);
  t.match(r1, { outcome: 'accepted', channelRefundNo: /^50000/ });
  const sent = JSON.parse(lastRequest().body);
  t.same(sent, { out_trade_no: input.orderId, out_refund_no: `R${input.orderId}1`, reason: '商品已售完', amount: { refund: 300, total: 1000, currency: 'CNY' } });
  t.same(await driver.queryRefund({ orderId: input.orderId, refundId: `R${input.orderId}1` }, creds, ctx), { outcome: 'processing' });
  t.equal(lastRequest().path, `/v3/refund/domestic/refunds/R${input.orderId}1`);
  sim.settleRefund(`R${input.orderId}1`, 'SUCCESS');
  t.match(await driver.queryRefund({ orderId: input.orderId, refundId: `R${input.orderId}1` }, creds, ctx), { outcome: 'succeeded', channelRefundNo: /^50000/, refundedAt: /^\d{14}$/ });
  t.match(
    await driver.refund({ ...base, refundId: `R${input.orderId}1`, refundFen: 300n }, creds, ctx),
    { outcome: 'succeeded' },
    'the same out_refund_no again: the same refund',
  );

  sim.refundMode = 'SUCCESS';
  t.match(await driver.refund({ ...base, refundId: `R${input.orderId}2`, refundFen: 700n }, creds, ctx), { outcome: 'succeeded', refundedAt: /^\d{14}$/ });
  sim.refundMode = 'PROCESSING';
  t.match(await driver.refund({ ...base, refundId: `R${input.orderId}3`, refundFen: 1n }, creds, ctx), {
    outcome: 'refused',
    code: 'INVALID_REQUEST',
    message: /超过/,
  });
  t.same(await driver.queryRefund({ orderId: input.orderId, refundId: 'NOSUCHREFUND' }, creds, ctx), { outcome: 'not_found' });

  const { input: o2 } = await created('scan', { amountFen: 500n });
  await sim.pay(o2.orderId, { lost: true });
  await driver.refund({ orderId: o2.orderId, totalFen: 500n, refundFen: 500n, refundId: `R${o2.orderId}`, callbackUrl: notifyUrl }, creds, ctx);
  sim.settleRefund(`R${o2.orderId}`, 'ABNORMAL');
  t.match(await driver.queryRefund({ orderId: o2.orderId, refundId: `R${o2.orderId}` }, creds, ctx), { outcome: 'failed', code: 'ABNORMAL' });
  sim.settleRefund(`R${o2.orderId}`, 'CLOSED');
  t.match(await driver.queryRefund({ orderId: o2.orderId, refundId: `R${o2.orderId}` }, creds, ctx), { outcome: 'failed', code: 'CLOSED' });
  t.match(await driver.refund({ orderId: o2.orderId, totalFen: 3_000_000_000n, refundFen: 1n, refundId: 'RBIG', callbackUrl: notifyUrl }, creds, ctx), {
    outcome: 'refused',
    code: 'PARAM_ERROR',
  });
});

t.test('notifications over HTTP', async (t) => {
  t.beforeEach(() => {
    seen.length = 0;
    receiverCreds = creds;
  });

  t.test('valid: verified, decrypted, acked 200 with an empty body', async (t) => {
    const { input } = await created('scan');
    const d = await sim.pay(input.orderId);
    t.same(d, [{ status: 200, body: '' }]);
    const trade = sim.trades.get(input.orderId)!;
    t.same(seen, [{ outcome: { orderId: input.orderId, result: 'paid', amountFen: 1234n, channelTradeNo: trade.transactionId, paidAt: formatBeijing(Date.parse(trade.successTime!)), bankType: 'CMC' } }]);
  });

  t.test('duplicate: both acked, the same outcome twice (the gateway dedupes)', async (t) => {
    const { input } = await created('app');
    const d = await sim.pay(input.orderId, { duplicate: true });
    t.same(d.map((x) => x.status), [200, 200]);
    t.equal(seen.length, 2);
    t.same(seen[0], seen[1]);
  });

  t.test('lost: nothing arrives; query finds the payment', async (t) => {
    const { input } = await created('jspay');
    t.same(await sim.pay(input.orderId, { lost: true }), []);
    t.equal(seen.length, 0);
    t.match(await driver.queryPayment({ orderId: input.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'paid', amountFen: 1234n });
  });

  t.test('wrong amount: returned as WeChat wrote it', async (t) => {
    const { input } = await created('scan');
    await sim.pay(input.orderId, { wrongAmountFen: 1 });
    t.match(seen, [{ outcome: { orderId: input.orderId, amountFen: 1n, result: 'paid' } }]);
  });

  for (const [name, opts, reason] of [
    ['bad signature', { signature: 'bad' }, /does not verify/],
    ['signed with another key', { signature: 'otherKey' }, /does not verify/],
    ['SIGNTEST probe', { signature: 'signtest' }, /SIGNTEST/],
    ['stale timestamp', { signature: 'stale' }, /300 s/],
    ['wrong mchid', { mchid: '1900000999' }, /mchid/],
    ['encrypted with another APIv3 key', { apiv3Key: 'x'.repeat(32) }, /decrypt/],
  ] as const) {
    t.test(`${name}: rejected, acked 400 {code:FAIL}`, async (t) => {
      const { input } = await created('scan');
      const d = await sim.pay(input.orderId, opts);
      t.equal(d[0]!.status, 400);
      t.same(JSON.parse(d[0]!.body), { code: 'FAIL', message: 'notification rejected' });
      t.match(seen, [{ rejected: reason }]);
    });
  }

  t.test('public-key mode (PUB_KEY_ID_…): accepted with the public key, rejected with only the certificate', async (t) => {
    const { input } = await created('scan');
    sim.mode = 'pubkey';
    try {
      receiverCreds = sim.credentials('pubkey');
      await sim.pay(input.orderId);
      t.match(seen, [{ outcome: { orderId: input.orderId, result: 'paid' } }]);
      const n = sim.buildNotification(input.orderId);
      t.match(n.headers['wechatpay-serial'], /^PUB_KEY_ID_/);
      t.throws(() => parseWxpayCallback(n, creds), CallbackRejected, 'cert-only credentials do not know PUB_KEY_ID_');
    } finally {
      sim.mode = 'cert';
    }
  });

  t.test('parseCallback checks the window against the given clock', async (t) => {
    const { input } = await created('scan');
    await sim.pay(input.orderId, { lost: true });
    const n = sim.buildNotification(input.orderId);
    t.equal(parseWxpayCallback(n, creds, Date.now() + 299_000).orderId, input.orderId);
    t.throws(() => parseWxpayCallback(n, creds, Date.now() + 302_000), /300 s/);
    t.throws(() => parseWxpayCallback({ headers: n.headers, rawBody: Buffer.concat([n.rawBody, Buffer.from(' ')]) }, creds), /does not verify/, 'raw bytes matter');
    t.throws(() => parseWxpayCallback({ headers: {}, rawBody: n.rawBody }, creds), /headers missing/);
  });
});

t.test('faults sort three ways', async (t) => {
  const create = () => driver.createPayment(order('scan'), creds, ctx);

  t.match(await (sim.fault({ kind: 'businessError', status: 400, code: 'PARAM_ERROR', message: '参数错误' }), create()), { outcome: 'refused', code: 'PARAM_ERROR', message: '参数错误' });
  t.match(await (sim.fault({ kind: 'businessError', status: 403, code: 'NO_AUTH', message: '商户无权限' }), create()), { outcome: 'refused', code: 'NO_AUTH' });
  t.match(await (sim.fault({ kind: 'businessError', status: 429, code: 'RATELIMIT_EXCEEDED', message: '频率超限' }), create()), { outcome: 'unreached', reason: /RATELIMIT_EXCEEDED/ });
  t.match(await (sim.fault({ kind: 'systemError' }), create()), { outcome: 'unknown', reason: /500 SYSTEM_ERROR/ });
  t.match(await (sim.fault({ kind: 'badSignature' }), create()), { outcome: 'unknown', reason: /does not verify/ });
  t.match(await (sim.fault({ kind: 'staleTimestamp' }), create()), { outcome: 'unknown', reason: /300 s/ });
  t.match(await (sim.fault({ kind: 'signtest' }), create()), { outcome: 'unknown', reason: /SIGNTEST/ });
  t.match(await (sim.fault({ kind: 'unknownSerial' }), create()), { outcome: 'unknown', reason: /names no configured/ });

  const started = Date.now();
  t.match(await (sim.fault({ kind: 'hang' }), create()), { outcome: 'unknown' }, 'timeout');
  t.ok(Date.now() - started < 10_000, 'bounded by the transport deadline');

  // A refusal whose signature is bad is not believed either.
  t.match(await (sim.fault({ kind: 'badSignature' }), driver.queryPayment({ orderId: 'NOSUCHORDER0003', amountFen: 1n }, creds, ctx)), { outcome: 'unknown' });
  t.match(await (sim.fault({ kind: 'badSignature' }), driver.closePayment({ orderId: 'NOSUCHORDER0004', amountFen: 1n }, creds, ctx)), { outcome: 'unknown' });
  t.match(await (sim.fault({ kind: 'hang' }), driver.refund({ orderId: 'X00001', totalFen: 1n, refundFen: 1n, refundId: 'RX00001', callbackUrl: notifyUrl }, creds, ctx)), { outcome: 'unknown' });
  t.match(await (sim.fault({ kind: 'systemError' }), driver.queryRefund({ orderId: 'X00001', refundId: 'RX00001' }, creds, ctx)), { outcome: 'unknown' });

  // WeChat rejects our signature: a refusal (SIGN_ERROR), which is a configuration problem.
  t.match(await driver.createPayment(order('scan'), { ...creds, serialNo: '0000' }, ctx), { outcome: 'refused', code: 'SIGN_ERROR' });
  t.match(lastRequest(), { authError: /serial_no/ });
  // Answers signed by a platform identity we were not given are not believed.
  t.match(await driver.createPayment(order('scan'), sim.credentials('pubkey'), ctx), { outcome: 'unknown', reason: /Wechatpay-Serial/ });

  // Connection refused: the request never left.
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise((r) => dead.close(r));
  const before = sim.requests.length;
  t.match(await driver.createPayment(order('scan'), { ...creds, baseUrl: deadUrl }, ctx), { outcome: 'unreached', reason: /ECONNREFUSED/ });
  t.match(await driver.queryPayment({ orderId: 'X00002', amountFen: 1n }, { ...creds, baseUrl: deadUrl }, ctx), { outcome: 'unreached' });
  t.match(await driver.createPayment(order('scan'), creds, { ...ctx, http: undefined }), { outcome: 'unreached' });
  t.equal(sim.requests.length, before);

  t.equal(await create().then((r) => r.outcome), 'accepted', 'the fault queue is empty again');
});

t.test('public-key mode for API answers', async (t) => {
  sim.mode = 'pubkey';
  t.teardown(() => {
    sim.mode = 'cert';
  });
  const pk = sim.credentials('pubkey');
  const input = order('scan');
  t.equal((await driver.createPayment(input, pk, ctx)).outcome, 'accepted');
  t.same(await driver.closePayment({ orderId: input.orderId, amountFen: 1234n }, pk, ctx), { outcome: 'closed' }, '204 verified with an empty body line');
  t.match(await driver.createPayment(order('scan'), creds, ctx), { outcome: 'unknown' }, 'cert-only credentials do not believe PUB_KEY_ID_ answers');
  // A merchant migrating from certificate to public key configures both.
  t.equal((await driver.createPayment(order('scan'), { ...creds, ...pk }, ctx)).outcome, 'accepted');
});

t.test('cross-check with wechatpay-axios-plugin', async (t) => {
  const merchantPub = Rsa.from(keys.merchant.publicKeyPem, Rsa.KEY_TYPE_PUBLIC);
  const platformPub = Rsa.from(keys.platform.publicKeyPem, Rsa.KEY_TYPE_PUBLIC);
  const platformPriv = Rsa.from(keys.platform.privateKeyPem, Rsa.KEY_TYPE_PRIVATE);

  t.test('(a) our Authorization verifies with the SDK’s algorithm', async (t) => {
    await created('h5');
    const post = lastRequest();
    await driver.queryPayment({ orderId: 'NOSUCHORDER0005', amountFen: 1n }, creds, ctx);
    const get = lastRequest();
    for (const req of [post, get]) {
      const a = authParams(req.headers.authorization!);
      t.same(Object.keys(a).sort(), ['mchid', 'nonce_str', 'serial_no', 'signature', 'timestamp']);
      const message = Formatter.request(req.method, req.path, a.timestamp!, a.nonce_str!, req.body);
      t.ok(Rsa.verify(message, a.signature!, merchantPub), `${req.method} ${req.path}`);
      t.equal(requestMessage(req.method, req.path, a.timestamp!, a.nonce_str!, req.body), message, 'the same message bytes');
    }
    // The SDK's own header, signed by the SDK, parses to the same params ours does.
    const ts = Formatter.timestamp();
    const nonce = Formatter.nonce();
    const sdkSig = Rsa.sign(Formatter.request('GET', '/v3/x?y=1', ts, nonce, ''), Rsa.from(keys.merchant.privateKeyPem, Rsa.KEY_TYPE_PRIVATE));
    const ours = authorizationHeader({ mchid: sim.mchid, serialNo: keys.merchant.serialNo, privateKeyPem: keys.merchant.privateKeyPem, method: 'GET', pathWithQuery: '/v3/x?y=1', body: '', timestamp: ts, nonce });
    t.same(authParams(ours), authParams(Formatter.authorization(sim.mchid, nonce, sdkSig, ts, keys.merchant.serialNo)), 'PKCS#1 v1.5 is deterministic: identical signature');
  });

  t.test('(b) the SDK verifies and decrypts the simulator’s notifications and answers', async (t) => {
    const { input } = await created('scan');
    await sim.pay(input.orderId, { lost: true });
    for (const mode of ['cert', 'pubkey'] as const) {
      sim.mode = mode;
      const n = sim.buildNotification(input.orderId);
      sim.mode = 'cert';
      const h = n.headers;
      t.ok(Rsa.verify(Formatter.response(h['wechatpay-timestamp']!, h['wechatpay-nonce']!, n.rawBody.toString()), h['wechatpay-signature']!, platformPub), `${mode}: SDK verifies`);
      const r = JSON.parse(n.rawBody.toString()).resource;
      const plain = JSON.parse(AesGcm.decrypt(r.ciphertext, keys.apiv3Key, r.nonce, r.associated_data));
      t.match(plain, { out_trade_no: input.orderId, mchid: sim.mchid, appid: sim.appid, trade_state: 'SUCCESS', amount: { total: 1234 } });
      t.equal(decryptResource(r, keys.apiv3Key), AesGcm.decrypt(r.ciphertext, keys.apiv3Key, r.nonce, r.associated_data), 'our decryption agrees');
    }
    // And the simulator's platform certificate carries the key the SDK verified with.
    const certKey = createPublicKey(keys.platform.certPem).export({ type: 'spki', format: 'pem' });
    t.equal(certKey, keys.platform.publicKeyPem);
  });

  t.test('(c) answers and notifications made by the SDK pass our verification', async (t) => {
    const body = JSON.stringify({ code_url: 'weixin://wxpay/bizpayurl?pr=abc' });
    const ts = String(Formatter.timestamp());
    const nonce = Formatter.nonce();
    const signature = Rsa.sign(Formatter.response(ts, nonce, body), platformPriv);
    const headers = { 'Wechatpay-Timestamp': ts, 'Wechatpay-Nonce': nonce, 'Wechatpay-Serial': keys.platform.certSerial, 'Wechatpay-Signature': signature };
    t.same(verifyWechatpaySignature(headers, body, creds, Date.now()), { ok: true }, 'cert mode');
    t.same(verifyWechatpaySignature({ ...headers, 'Wechatpay-Serial': keys.platform.publicKeyId }, body, sim.credentials('pubkey'), Date.now()), { ok: true }, 'public-key mode');
    const empty = Rsa.sign(Formatter.response(ts, nonce, ''), platformPriv);
    t.same(verifyWechatpaySignature({ ...headers, 'Wechatpay-Signature': empty }, '', creds, Date.now()), { ok: true }, '204: empty body line');
    t.match(verifyWechatpaySignature({ ...headers, 'Wechatpay-Signature': `WECHATPAY/SIGNTEST/${signature}` }, body, creds, Date.now()), { ok: false });

    // A whole notification built by the SDK.
    const plain = JSON.stringify({
      appid: sim.appid,
      mchid: sim.mchid,
      out_trade_no: 'SDKORDER0001',
      transaction_id: '4200000000000000000000000001',
      trade_type: 'NATIVE',
      trade_state: 'SUCCESS',
      bank_type: 'ICBC_DEBIT',
      success_time: '2026-01-01T12:00:00+08:00',
      amount: { total: 88, payer_total: 88, currency: 'CNY', payer_currency: 'CNY' },
    });
    const iv = 'abcdefghijkl';
    const ciphertext = AesGcm.encrypt(plain, keys.apiv3Key, iv, 'transaction');
    const note = JSON.stringify({ id: 'x', create_time: '2026-01-01T12:00:01+08:00', resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', summary: '支付成功', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: 'transaction', nonce: iv } });
    const sig = Rsa.sign(Formatter.response(ts, nonce, note), platformPriv);
    const outcome = parseWxpayCallback({ headers: { ...headers, 'Wechatpay-Signature': sig }, rawBody: Buffer.from(note) }, creds);
    t.same(outcome, { orderId: 'SDKORDER0001', result: 'paid', amountFen: 88n, channelTradeNo: '4200000000000000000000000001', paidAt: '20260101120000', bankType: 'ICBC_DEBIT' });
  });

  t.test('(d) the SDK’s own client talks to the simulator', async (t) => {
    const sdk = new Wechatpay({
      mchid: sim.mchid,
      serial: keys.merchant.serialNo,
      privateKey: keys.merchant.privateKeyPem,
      certs: { [keys.platform.certSerial]: keys.platform.publicKeyPem },
      baseURL: `${sim.baseUrl}/`,
    });
    const out_trade_no = `SDK${Date.now()}`;
    const { data } = await (sdk as any).v3.pay.transactions.native.post({
      appid: sim.appid,
      mchid: sim.mchid,
      description: 'SDK order',
      out_trade_no,
      notify_url: notifyUrl,
      amount: { total: 1, currency: 'CNY' },
    });
    t.match(data, { code_url: /^weixin:/ }, 'the SDK accepted the simulator’s signed answer');
    t.notOk(lastRequest().authError, 'the simulator accepted the SDK’s Authorization');
    const q = await (sdk as any).v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: sim.mchid }, out_trade_no });
    t.match(q.data, { out_trade_no, trade_state: 'NOTPAY' });
    // And the driver reads a trade the SDK created.
    t.same(await driver.queryPayment({ orderId: out_trade_no, amountFen: 1n }, creds, ctx), { outcome: 'open' });
  });
});
