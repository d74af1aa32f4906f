import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'undici';
import { AlipaySdk } from 'alipay-sdk';
import { alipayDriver } from '../../src/channels/alipay/driver.js';
import { buildAlipayCredentials } from '../../src/channels/alipay/credential-input.js';
import { CERT_NOT_BELIEVED } from '../../src/channels/alipay/client.js';
import type { AlipayCredentials } from '../../src/channels/credentials.js';
import type { PayoutCallbackOutcome, PayoutInput } from '../../src/channels/payout-types.js';
import { CallbackIgnored, CallbackRejected, isPayoutOutcome, type CallbackOutcome, type ChannelContext, type HttpRequest, type HttpResponse } from '../../src/channels/types.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { makeAlipayPki } from '../simulators/alipay-pki.js';

// Alipay fund transfers (CONTRACT §4) through the driver against the simulator in 公钥证书 mode:
// alipay.fund.trans.uni.transfer for each payee account type, alipay.fund.trans.common.query,
// the 消息服务 message alipay.fund.trans.order.changed at the app's 应用网关 (the same callback
// route as trade notifications), failures sorted three ways, and alipay-sdk as an independent judge.

const APP_ID = '2021000000000001';
const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const appPublicPem = appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const pki = makeAlipayPki(appPrivatePem);

const sim = await AlipaySimulator.start(APP_ID, appPublicPem, {
  appCertPem: pki.app.certPem,
  appCertSn: pki.app.sn,
  rootSn: pki.rootSn,
  alipayCerts: [pki.alipay, pki.rogue].map((c) => ({ sn: c.sn, filePem: c.filePem, keyPem: c.keyPem })),
  signWith: pki.alipay.sn,
});
t.teardown(() => sim.close());

const creds: AlipayCredentials = buildAlipayCredentials({
  appId: APP_ID,
  privateKey: appPrivatePem,
  appCert: pki.app.certPem,
  alipayCert: pki.alipay.filePem,
  alipayRootCert: pki.rootBundlePem,
  gatewayUrl: sim.gatewayUrl,
});
const keyMode: AlipayCredentials = { appId: APP_ID, privateKeyPem: appPrivatePem, alipayPublicKeyPem: creds.alipayPublicKeyPem, gatewayUrl: sim.gatewayUrl };

async function http(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
  const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body, signal, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}
const ctx = (signal?: AbortSignal): ChannelContext => ({ now: Date.now, publicBaseUrl: 'http://127.0.0.1', signal, http: (r) => http(r, signal) });

// The gateway's alipay callback route in small: trade notifications and fund messages alike.
const callbacks: Array<CallbackOutcome | PayoutCallbackOutcome | Error> = [];
const receiver: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let accepted = true;
    try {
      callbacks.push(alipayDriver.parseCallback({ headers: req.headers, rawBody: Buffer.concat(chunks) }, creds));
    } catch (err) {
      callbacks.push(err as Error);
      accepted = err instanceof CallbackIgnored;
    }
    const ack = alipayDriver.acknowledge(accepted);
    res.writeHead(ack.status, { 'content-type': ack.contentType }).end(ack.body);
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => receiver.close(() => r())));
const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/channel/alipay/notify/M0000000000000001`;
// What the operator sets in the Alipay console: the 应用网关, and the fund message subscribed.
sim.fund.appGatewayUrl = callbackUrl;
sim.fund.payees.set('alice@example.com', '张三');
sim.fund.payees.set('6222020200112233445', '李四');

let seq = 0;
function payout(over: Partial<PayoutInput> = {}): PayoutInput {
  const now = Date.now();
  return {
    orderId: `P${now}${String(++seq).padStart(4, '0')}`,
    tradeType: '02',
    amountFen: 1050n,
    subject: '佣金结算 / 十一月',
    payeeAccountType: 'ALIPAY_USER_ID',
    payeeAccount: '2088102146225135',
    ip: '127.0.0.1',
    termType: 'pc',
    createdAt: now,
    expireAt: now + 30 * 60_000,
    callbackUrl,
    ...over,
  };
}
const lastRequest = () => sim.requests[sim.requests.length - 1]!;
const biz = (r = lastRequest()) => JSON.parse(r.params.biz_content!) as Record<string, unknown>;
const ref = (p: PayoutInput, channelTradeNo?: string) => ({ orderId: p.orderId, amountFen: p.amountFen, tradeType: p.tradeType, channelTradeNo });
const payoutCallbacks = () => callbacks.filter((c): c is PayoutCallbackOutcome => !(c instanceof Error) && isPayoutOutcome(c));

t.test('what the driver takes, and key mode', async (t) => {
  t.same(alipayDriver.payeeAccountTypes, ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID', 'ALIPAY_OPEN_ID', 'BANK_CARD']);
  t.equal(alipayDriver.payoutUnavailable!(creds, '02'), undefined);
  t.equal(alipayDriver.payoutUnavailable!(creds, '03'), undefined);
  t.match(alipayDriver.payoutUnavailable!(keyMode, '02'), /certificate mode.*--app-cert-file, --alipay-cert-file and --alipay-root-cert-file/);
  const before = sim.requests.length;
  t.match(await alipayDriver.transfer!(payout(), keyMode, ctx()), { outcome: 'refused', code: 'dtpay.alipay-key-mode' });
  t.equal(sim.requests.length, before, 'nothing sent');
  t.match(await alipayDriver.transfer!(payout({ payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }), creds, ctx()), { outcome: 'refused', code: 'dtpay.invalid-payee', message: /ALIPAY_USER_ID/ });
  t.equal(sim.requests.length, before, 'nothing sent');
});

t.test('ALIPAY_USER_ID: paid at once; the fund message and the query agree', async (t) => {
  const p = payout();
  callbacks.length = 0;
  const balance = sim.fund.balanceFen;
  const r = await alipayDriver.transfer!(p, creds, ctx());
  const tr = sim.fund.transfers.get(p.orderId)!;
  t.same(r, { outcome: 'succeeded', channelTradeNo: tr.orderId, paidAt: tr.payDate!.replace(/[- :]/g, '') });
  const req = lastRequest();
  t.equal(req.method, 'alipay.fund.trans.uni.transfer');
  t.match(req.params, { app_cert_sn: pki.app.sn, alipay_root_cert_sn: pki.rootSn });
  t.same(biz(req), {
    out_biz_no: p.orderId,
    trans_amount: '10.50',
    product_code: 'TRANS_ACCOUNT_NO_PWD',
    biz_scene: 'DIRECT_TRANSFER',
    order_title: p.subject,
    payee_info: { identity: '2088102146225135', identity_type: 'ALIPAY_USER_ID' },
  });
  t.equal(sim.fund.balanceFen, balance - 1050n);

  await sim.fund.flush();
  t.equal(sim.fund.messages.at(-1)?.ack, 'success');
  t.same(payoutCallbacks(), [
    { kind: 'payout', orderId: p.orderId, result: 'succeeded', amountFen: 1050n, channelTradeNo: tr.orderId, paidAt: tr.payDate!.replace(/[- :]/g, '') },
  ]);
  t.same(await alipayDriver.queryTransfer!(ref(p), creds, ctx()), { outcome: 'succeeded', channelTradeNo: tr.orderId, paidAt: tr.payDate!.replace(/[- :]/g, '') });
  t.same(await alipayDriver.queryTransfer!(ref(p, tr.orderId), creds, ctx()), { outcome: 'succeeded', channelTradeNo: tr.orderId, paidAt: tr.payDate!.replace(/[- :]/g, '') }, 'by order_id');
  t.same(JSON.parse(lastRequest().params.biz_content!), { order_id: tr.orderId });

  // The same orderId again is the same transfer (out_biz_no), not a second one.
  t.match(await alipayDriver.transfer!(p, creds, ctx()), { outcome: 'succeeded', channelTradeNo: tr.orderId });
  t.equal(sim.fund.balanceFen, balance - 1050n, 'paid once');
});

t.test('ALIPAY_LOGON_ID and ALIPAY_OPEN_ID: the name goes with the logon id', async (t) => {
  const a = payout({ payeeAccountType: 'ALIPAY_LOGON_ID', payeeAccount: 'alice@example.com', payeeName: '张三' });
  t.match(await alipayDriver.transfer!(a, creds, ctx()), { outcome: 'succeeded' });
  t.same(biz().payee_info, { identity: 'alice@example.com', identity_type: 'ALIPAY_LOGON_ID', name: '张三' });
  t.match(await alipayDriver.transfer!(payout({ payeeAccountType: 'ALIPAY_LOGON_ID', payeeAccount: 'alice@example.com', payeeName: '王五' }), creds, ctx()), {
    outcome: 'refused',
    code: 'PAYEE_USER_INFO_ERROR',
  });
  const before = sim.requests.length;
  t.match(await alipayDriver.transfer!(payout({ payeeAccountType: 'ALIPAY_LOGON_ID', payeeAccount: 'alice@example.com' }), creds, ctx()), { outcome: 'refused', code: 'dtpay.invalid-payee', message: /payee name/ });
  t.equal(sim.requests.length, before);
  const o = payout({ payeeAccountType: 'ALIPAY_OPEN_ID', payeeAccount: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' });
  t.match(await alipayDriver.transfer!(o, creds, ctx()), { outcome: 'succeeded' });
  t.same(biz().payee_info, { identity: o.payeeAccount, identity_type: 'ALIPAY_OPEN_ID' });
});

t.test('BANK_CARD: dealing, then paid; dealing, then failed with a code; paid, then sent back', async (t) => {
  const card = { payeeAccountType: 'BANK_CARD' as const, payeeAccount: '6222020200112233445', payeeName: '李四', bankCode: 'ICBC' };
  const a = payout(card);
  const r = await alipayDriver.transfer!(a, creds, ctx());
  const tr = sim.fund.transfers.get(a.orderId)!;
  t.same(r, { outcome: 'accepted', channelTradeNo: tr.orderId });
  t.same(biz(), {
    out_biz_no: a.orderId,
    trans_amount: '10.50',
    product_code: 'TRANS_BANKCARD_NO_PWD',
    biz_scene: 'DIRECT_TRANSFER',
    order_title: a.subject,
    payee_info: { identity: card.payeeAccount, identity_type: 'BANKCARD_ACCOUNT', name: '李四', bankcard_ext_info: { account_type: '2' } },
  });
  // Without the channel's number, the query asks by out_biz_no: account product first, then card.
  t.same(await alipayDriver.queryTransfer!(ref(a), creds, ctx()), { outcome: 'processing', channelTradeNo: tr.orderId });
  t.match(biz(), { out_biz_no: a.orderId, product_code: 'TRANS_BANKCARD_NO_PWD', biz_scene: 'DIRECT_TRANSFER' });
  callbacks.length = 0;
  t.equal(await sim.fund.settle(a.orderId, 'SUCCESS'), 'success');
  t.same(payoutCallbacks(), [{ kind: 'payout', orderId: a.orderId, result: 'succeeded', amountFen: 1050n, channelTradeNo: tr.orderId, paidAt: tr.payDate!.replace(/[- :]/g, '') }]);
  t.match(await alipayDriver.queryTransfer!(ref(a), creds, ctx()), { outcome: 'succeeded' });

  const b = payout({ ...card, amountFen: 20000n });
  t.match(await alipayDriver.transfer!(b, creds, ctx()), { outcome: 'accepted' });
  const balance = sim.fund.balanceFen;
  callbacks.length = 0;
  t.equal(await sim.fund.settle(b.orderId, { fail: 'PAYEE_CARD_INFO_ERROR', reason: '收款方银行卡信息有误' }), 'success');
  t.match(payoutCallbacks(), [{ kind: 'payout', orderId: b.orderId, result: 'failed', amountFen: 20000n, failCode: 'PAYEE_CARD_INFO_ERROR', failReason: '收款方银行卡信息有误' }]);
  t.same(await alipayDriver.queryTransfer!(ref(b), creds, ctx()), { outcome: 'failed', code: 'PAYEE_CARD_INFO_ERROR', message: '收款方银行卡信息有误' });
  t.equal(sim.fund.balanceFen, balance + 20000n, 'the money is the merchant’s again');

  // A card transfer the bank sends back after it was paid (退票): a failure, money back.
  callbacks.length = 0;
  t.equal(await sim.fund.settle(a.orderId, 'REFUND'), 'success');
  t.match(payoutCallbacks(), [{ orderId: a.orderId, result: 'failed', failCode: 'PAYEE_ACCOUNT_STATUS_ERROR' }]);
  t.match(await alipayDriver.queryTransfer!(ref(a), creds, ctx()), { outcome: 'failed', code: 'PAYEE_ACCOUNT_STATUS_ERROR' });
});

t.test('Alipay refusing: balance, minimum, unknown payee', async (t) => {
  const saved = sim.fund.balanceFen;
  sim.fund.balanceFen = 100n;
  t.match(await alipayDriver.transfer!(payout(), creds, ctx()), { outcome: 'refused', code: 'PAYER_BALANCE_NOT_ENOUGH', message: /余额不足/ });
  sim.fund.balanceFen = saved;
  t.match(await alipayDriver.transfer!(payout({ amountFen: 9n }), creds, ctx()), { outcome: 'refused', code: 'EXCEED_LIMIT_SM_MIN_AMOUNT' });
  const p = payout({ payeeAccount: '20881234' });
  t.match(await alipayDriver.transfer!(p, creds, ctx()), { outcome: 'refused', code: 'PAYEE_NOT_EXIST' });
  t.same(await alipayDriver.queryTransfer!(ref(p), creds, ctx()), { outcome: 'not_found' }, 'a refusal created nothing');
});

t.test('a transfer whose answer never comes is unknown; the query settles it, nothing is sent again', async (t) => {
  const p = payout();
  sim.failNext('alipay.fund.trans.uni.transfer', { kind: 'hangAfter' });
  const started = Date.now();
  const r = await alipayDriver.transfer!(p, creds, ctx(AbortSignal.timeout(300)));
  t.match(r, { outcome: 'unknown' });
  t.ok(Date.now() - started < 3000, 'bounded in time');
  t.equal(sim.requests.filter((x) => x.method === 'alipay.fund.trans.uni.transfer' && biz(x).out_biz_no === p.orderId).length, 1);
  t.ok(sim.fund.transfers.has(p.orderId), 'Alipay did take it');
  const q = await alipayDriver.queryTransfer!(ref(p), creds, ctx());
  t.match(q, { outcome: 'succeeded', channelTradeNo: sim.fund.transfers.get(p.orderId)!.orderId });
  t.equal(sim.requests.filter((x) => x.method === 'alipay.fund.trans.uni.transfer' && biz(x).out_biz_no === p.orderId).length, 1, 'queried, never sent again');

  // Other ways of not knowing, and one of knowing nothing left.
  sim.failNext('alipay.fund.trans.uni.transfer', { kind: 'businessError', code: '20000', subCode: 'SYSTEM_ERROR' });
  t.match(await alipayDriver.transfer!(payout(), creds, ctx()), { outcome: 'unknown', reason: /SYSTEM_ERROR/ });
  sim.failNext('alipay.fund.trans.uni.transfer', { kind: 'http500' });
  t.match(await alipayDriver.transfer!(payout(), creds, ctx()), { outcome: 'unknown', reason: /HTTP 500/ });
  sim.failNext('alipay.fund.trans.uni.transfer', { kind: 'badSignature' });
  t.match(await alipayDriver.transfer!(payout(), creds, ctx()), { outcome: 'unknown', reason: /does not verify/ });
  sim.failNext('alipay.fund.trans.common.query', { kind: 'hang' });
  t.match(await alipayDriver.queryTransfer!(ref(p), creds, ctx(AbortSignal.timeout(300))), { outcome: 'unknown' });
  sim.failNext('alipay.fund.trans.common.query', { kind: 'unsigned' });
  t.match(await alipayDriver.queryTransfer!(ref(p), creds, ctx()), { outcome: 'unknown', reason: /without a signature/ });

  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/gateway.do`;
  await new Promise<void>((r) => dead.close(() => r()));
  t.match(await alipayDriver.transfer!(payout(), { ...creds, gatewayUrl: deadUrl }, ctx()), { outcome: 'unreached' });
  t.match(await alipayDriver.queryTransfer!(ref(p), { ...creds, gatewayUrl: deadUrl }, ctx()), { outcome: 'unreached' });
});

t.test('a transfer answered under a certificate that does not chain is unknown, and says why', async (t) => {
  const p = payout();
  sim.useAlipayCert(pki.rogue.sn);
  const r = await alipayDriver.transfer!(p, creds, ctx());
  sim.useAlipayCert(pki.alipay.sn);
  t.match(r, { outcome: 'unknown', reason: new RegExp(CERT_NOT_BELIEVED) });
  t.match(await alipayDriver.queryTransfer!(ref(p), creds, ctx()), { outcome: 'succeeded' }, 'settled by query once the answers are believable');
});

t.test('fund messages: verified, for this app, only results applied', async (t) => {
  const p = payout({ payeeAccountType: 'BANK_CARD', payeeAccount: '6222020200112233445', payeeName: '李四' });
  await alipayDriver.transfer!(p, creds, ctx());
  const tr = sim.fund.transfers.get(p.orderId)!;
  const parse = (body: string) => alipayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(body) }, creds);
  t.throws(() => parse(sim.fund.messageBody(tr)), { name: 'CallbackIgnored', message: /DEALING ends nothing/ });
  t.throws(() => parse(sim.fund.messageBody(tr, {}, { badSignature: true })), CallbackRejected);
  t.throws(() => parse(sim.fund.messageBody(tr, { status: 'SUCCESS' }, { appId: '2021000000000999' })), /another app_id/);
  t.throws(() => parse(sim.fund.messageBody(tr, {}, { msgMethod: 'alipay.merchant.tradecomplain.changed' })), { name: 'CallbackIgnored' });
  t.throws(() => parse(sim.fund.messageBody(tr, { status: 'SUCCESS', trans_amount: 'ten' })), /trans_amount/);
  t.throws(() => parse(sim.fund.messageBody(tr, { status: 'SUCCESS', out_biz_no: '' })), /out_biz_no/);
  t.match(parse(sim.fund.messageBody(tr, { status: 'SUCCESS', pay_date: '2026-12-01 10:11:12' })), { kind: 'payout', orderId: p.orderId, result: 'succeeded', paidAt: '20261201101112' });
  const good = sim.fund.messageBody(tr, { status: 'FAIL', error_code: 'X', fail_reason: 'y' });
  t.throws(() => parse(good.replace(/status%22%3A%22FAIL/, 'status%22%3A%22SUCCESS')), /does not verify/, 'a tampered status');
  t.throws(() => alipayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(good) }, { ...creds, alipayPublicKeyPem: appPublicPem }), CallbackRejected, 'another key');

  // Not subscribed in the console: Alipay sends nothing; the query still settles it.
  sim.fund.subscribed = false;
  const sent = sim.fund.messages.length;
  t.equal(await sim.fund.settle(p.orderId, 'SUCCESS'), undefined);
  sim.fund.subscribed = true;
  t.equal(sim.fund.messages.length, sent);
  t.match(await alipayDriver.queryTransfer!(ref(p), creds, ctx()), { outcome: 'succeeded' });
});

// --- alipay-sdk as an independent verifier of the fund requests and messages -----------------

t.test('SDK cross-check: transfer signature, the simulator’s fund answers and messages', async (t) => {
  const sdk = new AlipaySdk({
    appId: APP_ID,
    privateKey: appPrivatePem,
    keyType: 'PKCS8',
    appCertContent: pki.app.certPem,
    alipayPublicCertContent: pki.alipay.filePem,
    alipayRootCertContent: pki.rootBundlePem,
    gateway: sim.gatewayUrl,
  });
  const p = payout();
  await alipayDriver.transfer!(p, creds, ctx());
  const ours = sim.requests.find((r) => r.method === 'alipay.fund.trans.uni.transfer' && biz(r).out_biz_no === p.orderId)!.params;
  const theirs = Object.fromEntries(
    new URLSearchParams(
      sdk.sdkExecute('alipay.fund.trans.uni.transfer', { bizContent: JSON.parse(ours.biz_content!), notifyUrl: ours.notify_url, timestamp: ours.timestamp, format: 'JSON' }, { bizContentAutoSnakeCase: false }),
    ),
  );
  t.equal(theirs.sign, ours.sign, 'the SDK signs the transfer request as we do');

  const outBizNo = `SDKF${Date.now()}`;
  const res = await sdk.exec(
    'alipay.fund.trans.uni.transfer',
    { bizContent: { outBizNo, transAmount: '1.00', productCode: 'TRANS_ACCOUNT_NO_PWD', bizScene: 'DIRECT_TRANSFER', orderTitle: 'sdk', payeeInfo: { identity: '2088102146225135', identityType: 'ALIPAY_USER_ID' } } },
    { validateSign: true },
  );
  t.equal(res.status, 'SUCCESS', 'the SDK believes the simulator’s transfer answer');
  const q = await sdk.exec('alipay.fund.trans.common.query', { bizContent: { outBizNo, productCode: 'TRANS_ACCOUNT_NO_PWD', bizScene: 'DIRECT_TRANSFER' } }, { validateSign: true });
  t.equal(q.transAmount, '1.00');
  t.match(await alipayDriver.queryTransfer!({ orderId: outBizNo, amountFen: 100n, tradeType: '02' }, creds, ctx()), { outcome: 'succeeded' });
  t.match(await alipayDriver.queryTransfer!({ orderId: outBizNo, amountFen: 101n, tradeType: '02' }, creds, ctx()), { outcome: 'unknown', reason: /trans_amount/ }, 'an amount that is not ours');
  await sim.fund.flush();
  const message = Object.fromEntries(new URLSearchParams(sim.fund.messageBody(sim.fund.transfers.get(outBizNo)!)));
  t.ok(sdk.checkNotifySignV2(message), 'the SDK verifies the fund message as we do');
});
