import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { createUnionpayDriver, unionpayDriver } from '../../src/channels/unionpay/driver.js';
import { certIdOf, defaultSignerNames, UNIONPAY_SIGNER_NAME, UNIONPAY_TEST_SIGNER_NAME } from '../../src/channels/unionpay/certs.js';
import { paidAtOf, parseAnswer } from '../../src/channels/unionpay/wire.js';
import { readPfx } from '../../src/channels/unionpay/credential-input.js';
import type { UnionpayCredentials } from '../../src/channels/credentials.js';
import { CallbackIgnored, CallbackRejected, type CallbackOutcome, paymentOutcome, type ChannelContext, type PaymentInput, type Scene } from '../../src/channels/types.js';
import { OrderIdGenerator } from '../../src/domain/ids.js';
import { UnionpaySimulator, buildPki, parseForm, type SimPki } from '../simulators/unionpay.js';
import { createTestHttp } from '../simulators/http.js';

// The UnionPay ACP 5.1.0 driver against a local ACP simulator on 127.0.0.1: every cell of the
// matrix, query (origRespCode), close, refund and refund query, back notifications through a
// real HTTP receiver, and each fault sorted three ways. There is no UnionPay npm SDK to
// cross-check with, so the driver's request signatures are also checked a third way, with
// node-forge's SHA-256 and RSA instead of node:crypto.

const MER_ID = '777290058110048';
const driver = unionpayDriver;
const ids = new OrderIdGenerator();

/** The ACP verification, written a second time with node-forge, as simply as it goes. */
function forgeVerify(fields: Record<string, string>, certPem: string): boolean {
  const text = Object.keys(fields)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
  const first = forge.md.sha256.create();
  first.update(text, 'utf8');
  const second = forge.md.sha256.create();
  second.update(first.digest().toHex(), 'utf8');
  const key = forge.pki.certificateFromPem(certPem).publicKey as forge.pki.rsa.PublicKey;
  try {
    return key.verify(second.digest().bytes(), forge.util.decode64(fields.signature ?? ''));
  } catch {
    return false;
  }
}

interface Received {
  outcome?: CallbackOutcome;
  error?: string;
  status: number;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const pki: SimPki = buildPki();
let sim: UnionpaySimulator;
let creds: UnionpayCredentials;
let receiverUrl = '';
const received: Received[] = [];
// Long enough that a busy machine never cuts off an honest answer; a hanging simulator still ends within it.
const http = createTestHttp({ timeoutMs: 2_500 });
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'https://pay.example.com', http };

// The gateway's side of a back notification, reduced to the driver: parse, then ack.
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let ack;
    try {
      const outcome = paymentOutcome(driver.parseCallback({ headers: req.headers, rawBody: Buffer.concat(chunks) }, creds));
      ack = driver.acknowledge(true);
      received.push({ outcome, status: ack.status });
    } catch (err) {
      // As the gateway does: a verified callback with nothing to apply is acknowledged.
      const ignored = err instanceof CallbackIgnored;
      if (!ignored && !(err instanceof CallbackRejected)) throw err;
      ack = driver.acknowledge(ignored);
      received.push({ error: (err as Error).message, status: ack.status });
    }
    res.writeHead(ack.status, { 'content-type': ack.contentType }).end(ack.body);
  });
});

t.before(async () => {
  sim = await UnionpaySimulator.start(MER_ID, pki);
  receiverUrl = `${await listen(receiver)}/channel/unionpay/notify/M100000000000001`;
  // The merchant's signing certificate arrives as a .pfx, as UnionPay issues it.
  const { keyPem, certPem, certId } = readPfx(pki.merchantPfx, pki.merchantPfxPassword);
  creds = {
    merId: MER_ID,
    signKeyPem: keyPem,
    signCertPem: certPem,
    certId,
    rootCertPem: pki.rootCertPem,
    middleCertPem: pki.middleCertPem,
    baseUrl: sim.baseUrl,
  };
});

t.teardown(async () => {
  await sim.close();
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await http.close();
});

function input(scene: Scene, over: Partial<PaymentInput> = {}): PaymentInput {
  const now = Date.now();
  const orderId = ids.next();
  return {
    orderId,
    cashierUrl: `https://pay.example.com/cashier/${orderId}?t=cashier-token`,
    payway: 'unionpay',
    scene,
    amountFen: 1234n,
    subject: '测试商品 <b>A&B="C"</b>',
    body: '',
    ip: '203.0.113.7',
    termType: 'pc',
    createdAt: now,
    expireAt: now + 30 * 60_000,
    callbackUrl: receiverUrl,
    returnUrl: 'https://shop.example.com/pay/done?a=1&b="x"',
    ...over,
  };
}

async function created(scene: Scene, over: Partial<PaymentInput> = {}) {
  const inp = input(scene, over);
  const r = await driver.createPayment(inp, creds, ctx);
  if (r.outcome !== 'accepted') throw new Error(`createPayment ${scene}: ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return { inp, action: r.action, result: r };
}

/** Pays the order at the simulator and waits for the receiver to have the notification(s). */
async function payAndReceive(orderId: string, mode: 'normal' | 'duplicate' | 'wrongAmount' = 'normal') {
  const before = received.length;
  const acks = await sim.pay(orderId, mode);
  return { acks, got: received.slice(before) };
}

t.test('the signing certificate from the .pfx: decimal certId, as UnionPay names it', async (t) => {
  t.equal(creds.certId, pki.merchantCertId);
  t.equal(creds.certId, certIdOf(creds.signCertPem));
  t.equal(creds.certId, BigInt('0x6a1c9b3f0d2e4f5a7b').toString(10), 'beyond 2^53, no float on the way');
  t.match(creds.certId, /^[1-9][0-9]+$/);
});

t.test('gateway (PC): a signed auto-submitting form the browser takes to UnionPay', async (t) => {
  const { inp, action } = await created('gateway');
  t.equal(action.kind, 'form');
  if (action.kind !== 'form') return;
  const form = parseForm(action.html);
  t.equal(form.action, `${sim.baseUrl}/gateway/api/frontTransReq.do`);
  t.equal(form.method, 'post');
  t.match(form.fields, {
    version: '5.1.0',
    encoding: 'UTF-8',
    signMethod: '01',
    certId: creds.certId,
    merId: MER_ID,
    accessType: '0',
    txnType: '01',
    txnSubType: '01',
    bizType: '000201',
    channelType: '07',
    currencyCode: '156',
    orderId: inp.orderId,
    txnTime: inp.orderId.slice(0, 14),
    txnAmt: '1234',
    backUrl: receiverUrl,
    frontUrl: inp.returnUrl,
  });
  t.match(form.fields.payTimeout, /^\d{14}$/);
  t.ok(forgeVerify(form.fields, creds.signCertPem), 'the form verifies with forge');
  t.notOk(forgeVerify({ ...form.fields, txnAmt: '1' }, creds.signCertPem), 'and a changed amount does not');
  t.notMatch(action.html, /b="x"/, 'values are escaped in the html');
  t.match(action.html, /b=&quot;x&quot;/);

  const page = await sim.submitForm(action.html);
  t.equal(page.status, 200);
  t.match(page.body, inp.orderId, 'UnionPay accepted the form (signature and certId checked)');
  t.same(await driver.queryPayment({ orderId: inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'not_found' }, 'nothing paid yet: 34');

  const { acks, got } = await payAndReceive(inp.orderId);
  t.same(acks, [200]);
  const trade = sim.trades.get(inp.orderId)!;
  t.match(got[0]?.outcome, { orderId: inp.orderId, result: 'paid', amountFen: 1234n, channelTradeNo: trade.queryId, bankType: 'UNIONPAY_DEBIT' });
  t.match(got[0]?.outcome?.paidAt, /^\d{14}$/);

  const q = await driver.queryPayment({ orderId: inp.orderId, amountFen: 1234n }, creds, ctx);
  t.match(q, { outcome: 'paid', amountFen: 1234n, channelTradeNo: trade.queryId, bankType: 'UNIONPAY_DEBIT' });
  if (q.outcome === 'paid') t.equal(q.paidAt, `${inp.orderId.slice(0, 4)}${trade.traceTime}`, 'paidAt from traceTime, year from txnTime');
});

t.test('h5 (WAP): channelType 08; without a returnUrl the payer comes back to the cashier', async (t) => {
  const { inp, action } = await created('h5', { returnUrl: undefined, termType: 'wap' });
  if (action.kind !== 'form') return t.fail('not a form');
  const form = parseForm(action.html);
  t.match(form.fields, { channelType: '08', bizType: '000201', txnSubType: '01', frontUrl: `https://pay.example.com/cashier/${inp.orderId}?t=cashier-token` });
  t.ok(forgeVerify(form.fields, creds.signCertPem));
  t.equal((await sim.submitForm(action.html)).status, 200);
  sim.startPaying(inp.orderId);
  t.same(await driver.queryPayment({ orderId: inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'open' }, 'origRespCode 05 → open');
  const { got } = await payAndReceive(inp.orderId);
  t.equal(got[0]?.outcome?.result, 'paid');
});

t.test('ebank: B2C with issInsCode and payCardType from bankCode/payType', async (t) => {
  const debit = await created('ebank', { bankCode: 'ICBC' });
  if (debit.action.kind !== 'form') return t.fail('not a form');
  const f1 = parseForm(debit.action.html).fields;
  t.match(f1, { issInsCode: 'ICBC', payCardType: '01', channelType: '07', bizType: '000201' }, 'payType defaults to 1, debit');
  t.ok(forgeVerify(f1, creds.signCertPem));
  t.equal((await sim.submitForm(debit.action.html)).status, 200);
  t.equal(sim.trades.get(debit.inp.orderId)?.issInsCode, 'ICBC');

  const credit = await created('ebank', { bankCode: 'CMB', payType: '2' });
  if (credit.action.kind !== 'form') return t.fail('not a form');
  t.equal(parseForm(credit.action.html).fields.payCardType, '02');
  const any = await created('ebank', { bankCode: 'ABC', payType: '3' });
  if (any.action.kind !== 'form') return t.fail('not a form');
  t.notOk('payCardType' in parseForm(any.action.html).fields, 'either card: no restriction sent');
  t.ok(forgeVerify(parseForm(any.action.html).fields, creds.signCertPem));

  const none = await driver.createPayment(input('ebank'), creds, ctx);
  t.match(none, { outcome: 'refused', code: 'BANK_CODE' });
  t.match(await driver.createPayment(input('jspay'), creds, ctx), { outcome: 'refused', code: 'SCENE' });
});

t.test('app: appTransReq → tn as payInfo', async (t) => {
  const { inp, action } = await created('app');
  t.equal(action.kind, 'sdkParams');
  if (action.kind !== 'sdkParams') return;
  const trade = sim.openApp(action.payInfo);
  t.equal(trade.orderId, inp.orderId);
  const req = sim.requests.findLast((r) => r.endpoint === 'app')!;
  t.match(req.fields, { txnType: '01', txnSubType: '01', bizType: '000201', channelType: '08', txnAmt: '1234', backUrl: receiverUrl });
  t.ok(forgeVerify(req.fields, creds.signCertPem));
  const { got } = await payAndReceive(inp.orderId);
  t.match(got[0]?.outcome, { result: 'paid', amountFen: 1234n });
  t.match(await driver.queryPayment({ orderId: inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'paid' });
});

t.test('scan: 云闪付 QR (主扫) → qrCode as codeUrl', async (t) => {
  const { inp, action } = await created('scan', { amountFen: 1n });
  t.equal(action.kind, 'qrCode');
  if (action.kind !== 'qrCode') return;
  t.match(action.content, /^https:\/\/qr\.95516\.com\//);
  const req = sim.requests.findLast((r) => r.endpoint === 'back')!;
  t.match(req.fields, { txnType: '01', txnSubType: '07', bizType: '000000', channelType: '08', txnAmt: '1' });
  t.ok(forgeVerify(req.fields, creds.signCertPem));
  sim.scan(action.content);
  const { got } = await payAndReceive(inp.orderId);
  t.match(got[0]?.outcome, { orderId: inp.orderId, result: 'paid', amountFen: 1n });
});

t.test('query: origRespCode decides; 34 is not_found', async (t) => {
  const ref = async (origRespCode?: string) => {
    const { inp } = await created('app');
    if (origRespCode) sim.failPayment(inp.orderId, origRespCode);
    return driver.queryPayment({ orderId: inp.orderId, amountFen: 1234n }, creds, ctx);
  };
  t.same(await ref('03'), { outcome: 'open' }, '03 processing');
  t.same(await ref('04'), { outcome: 'open' }, '04 processing');
  t.same(await ref('05'), { outcome: 'open' }, '05 processing');
  t.same(await ref('61'), { outcome: 'failed' }, 'anything else: failed');
  t.same(await ref(), { outcome: 'not_found' }, 'a tn nobody opened: 34');
  t.same(await driver.queryPayment({ orderId: ids.next(), amountFen: 1n }, creds, ctx), { outcome: 'not_found' });
  t.match(await driver.queryPayment({ orderId: 'not-an-id', amountFen: 1n }, creds, ctx), { outcome: 'unknown' }, 'no txnTime to name');
  const req = sim.requests.findLast((r) => r.endpoint === 'query')!;
  t.match(req.fields, { txnType: '00', txnSubType: '00', bizType: '000000' });
  t.ok(forgeVerify(req.fields, creds.signCertPem));
});

t.test('close: there is no close at UnionPay; it queries and reports', async (t) => {
  const open = await created('scan');
  t.same(await driver.closePayment({ orderId: open.inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'closed' }, 'unpaid: closed (payTimeout ends it)');
  sim.startPaying(open.inp.orderId);
  t.match(await driver.closePayment({ orderId: open.inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'unknown' }, 'a payment in flight is not raced');
  await sim.pay(open.inp.orderId);
  t.match(await driver.closePayment({ orderId: open.inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'paid', amountFen: 1234n }, 'too late: paid');
  const failed = await created('app');
  sim.failPayment(failed.inp.orderId);
  t.same(await driver.closePayment({ orderId: failed.inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'closed' });
});

t.test('refund: accepted, then settled by query', async (t) => {
  const { inp } = await created('app');
  await sim.pay(inp.orderId);
  const queryId = sim.trades.get(inp.orderId)!.queryId!;
  const refundId = ids.next();
  const base = { orderId: inp.orderId, channelTradeNo: queryId, totalFen: 1234n, callbackUrl: receiverUrl };
  const r = await driver.refund({ ...base, refundId, refundFen: 234n }, creds, ctx);
  t.match(r, { outcome: 'accepted' });
  if (r.outcome === 'accepted') t.equal(r.channelRefundNo, sim.refunds.get(refundId)?.queryId);
  const req = sim.requests.findLast((x) => x.endpoint === 'back')!;
  t.match(req.fields, { txnType: '04', txnSubType: '00', orderId: refundId, origQryId: queryId, txnAmt: '234', backUrl: receiverUrl });
  t.ok(forgeVerify(req.fields, creds.signCertPem));

  t.same(await driver.queryRefund({ orderId: inp.orderId, channelTradeNo: queryId, refundId }, creds, ctx), { outcome: 'processing' });
  const before = received.length;
  await sim.settleRefund(refundId, true, true);
  t.match(received[before], { status: 200, error: /txnType 04 is not a payment/ }, 'a refund notification is acknowledged, and the refund settled by query');
  t.match(await driver.queryRefund({ orderId: inp.orderId, refundId }, creds, ctx), { outcome: 'succeeded', channelRefundNo: sim.refunds.get(refundId)?.queryId });

  t.match(await driver.refund({ ...base, refundId, refundFen: 234n }, creds, ctx), { outcome: 'accepted' }, 'the same refund again is the same refund');
  t.match(await driver.refund({ ...base, refundId: ids.next(), refundFen: 1001n }, creds, ctx), { outcome: 'refused', code: '30' }, 'beyond what is left');
  t.match(await driver.refund({ ...base, channelTradeNo: undefined, refundId: ids.next(), refundFen: 1n }, creds, ctx), { outcome: 'refused', code: 'ORIG_QRY_ID' });
  t.match(await driver.refund({ ...base, channelTradeNo: '999999999999999999999', refundId: ids.next(), refundFen: 1n }, creds, ctx), { outcome: 'refused', code: '35' });

  const failing = ids.next();
  t.match(await driver.refund({ ...base, refundId: failing, refundFen: 1n }, creds, ctx), { outcome: 'accepted' });
  await sim.settleRefund(failing, false);
  t.match(await driver.queryRefund({ orderId: inp.orderId, refundId: failing }, creds, ctx), { outcome: 'failed', code: '58' });
  t.same(await driver.queryRefund({ orderId: inp.orderId, refundId: ids.next() }, creds, ctx), { outcome: 'not_found' });
});

t.test('back notifications: verified, or rejected with a 400', async (t) => {
  const { inp } = await created('app');
  await sim.pay(inp.orderId, 'lost');
  const trade = sim.trades.get(inp.orderId)!;
  t.equal(sim.notifications.filter((n) => n.body.includes(inp.orderId)).length, 0, 'lost: nothing arrived');
  t.match(await driver.queryPayment({ orderId: inp.orderId, amountFen: 1234n }, creds, ctx), { outcome: 'paid' }, 'the query finds it');

  const parse = (body: string) => driver.parseCallback({ headers: {}, rawBody: Buffer.from(body) }, creds);
  t.match(parse(sim.notificationBody(trade)), { orderId: inp.orderId, result: 'paid', amountFen: 1234n, channelTradeNo: trade.queryId });
  t.match(parse(sim.notificationBody(trade, { payCardType: '02' })), { bankType: 'UNIONPAY_CREDIT' });
  t.match(parse(sim.notificationBody(trade, { respCode: '61', respMsg: 'declined' })), { result: 'failed' });

  const rejected = (body: string, why: RegExp, msg: string) => t.throws(() => parse(body), { name: 'CallbackRejected', message: why }, msg);
  rejected(sim.notificationBody(trade, {}, { badSignature: true }), /signature does not verify/, 'bad signature');
  rejected(sim.notificationBody(trade, {}, { signer: 'untrusted' }), /not issued by the configured UnionPay middle/, 'cert not chaining');
  rejected(sim.notificationBody(trade, {}, { signer: 'expired' }), /outside its validity/, 'expired cert');
  rejected(sim.notificationBody(trade, {}, { signer: 'wrongCn' }), /not UnionPay/, 'wrong CN');
  rejected(sim.notificationBody(trade, { merId: '777290058199999' }), /merId/, 'another merchant');
  rejected(sim.notificationBody(trade, { respCode: '03' }), /not a result/, 'an uncertain respCode is no result');
  rejected(`${sim.notificationBody(trade)}&txnAmt=1`, /twice/, 'a field twice');
  const tampered = new URLSearchParams(sim.notificationBody(trade));
  tampered.set('txnAmt', '1');
  rejected(tampered.toString(), /signature does not verify/, 'a changed amount');
  const noCert = new URLSearchParams(sim.notificationBody(trade));
  noCert.delete('signPubKeyCert');
  rejected(noCert.toString(), /no signPubKeyCert/, 'no certificate');
  rejected('respCode=00', /signMethod/, 'unsigned');

  // validity is judged at the gateway's clock
  const later = createUnionpayDriver({ now: () => Date.now() + 2 * 365 * 86_400_000 });
  t.throws(() => later.parseCallback({ headers: {}, rawBody: Buffer.from(sim.notificationBody(trade)) }, creds), { message: /validity/ });
  // the expected name is configurable
  const testOnly = createUnionpayDriver({ signerNames: [UNIONPAY_TEST_SIGNER_NAME] });
  t.throws(() => testOnly.parseCallback({ headers: {}, rawBody: Buffer.from(sim.notificationBody(trade)) }, creds), { message: /not UnionPay/ });

  // over HTTP, through the receiver
  const dup = await created('scan');
  const { acks, got } = await payAndReceive(dup.inp.orderId, 'duplicate');
  t.same(acks, [200, 200], 'a duplicate is acknowledged too');
  t.same(got[0]?.outcome, got[1]?.outcome, 'and reads the same (the gateway applies it once)');
  const wrong = await created('scan');
  const w = await payAndReceive(wrong.inp.orderId, 'wrongAmount');
  t.equal(w.got[0]?.outcome?.amountFen, 1235n, 'a wrong amount is reported as sent; the gateway compares it with the order');
  const before = received.length;
  t.equal(await sim.notify(trade, { merId: '777290058199999' }), 400);
  t.match(received[before], { error: /merId/ });
  t.same(driver.acknowledge(true), { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok' });
  t.equal(driver.acknowledge(false).status, 400);
});

t.test('faults sort three ways', async (t) => {
  const app = () => driver.createPayment(input('app'), creds, ctx);
  sim.failNext('app', { kind: 'businessError', respCode: '61', respMsg: '商户状态不正确' });
  t.match(await app(), { outcome: 'refused', code: '61', message: '商户状态不正确' }, 'business error: refused');
  sim.failNext('app', { kind: 'businessError', respCode: '03', respMsg: '交易通讯超时' });
  t.match(await app(), { outcome: 'unknown', reason: /03/ }, 'respCode 03: unknown');
  sim.failNext('back', { kind: 'businessError', respCode: '05', respMsg: '交易已受理' });
  t.match(await driver.createPayment(input('scan'), creds, ctx), { outcome: 'unknown' }, 'respCode 05: unknown');

  for (const [kind, why] of [
    ['badSignature', /signature does not verify/],
    ['untrustedCert', /not issued by the configured/],
    ['expiredCert', /validity/],
    ['wrongCn', /not UnionPay/],
    ['unsigned', /signMethod|no signature/],
    ['http500', /HTTP 500/],
    ['garbage', /unparseable/],
    ['hang', /timeout|Timeout/i],
  ] as const) {
    sim.failNext('app', { kind } as never);
    t.match(await app(), { outcome: 'unknown', reason: why }, `${kind}: unknown`);
  }
  sim.failNext('query', { kind: 'untrustedCert' });
  t.match(await driver.queryPayment({ orderId: ids.next(), amountFen: 1n }, creds, ctx), { outcome: 'unknown' }, 'an untrusted query answer decides nothing');
  sim.failNext('back', { kind: 'badSignature' });
  t.match(
    await driver.refund({ orderId: ids.next(), channelTradeNo: '1', refundId: ids.next(), totalFen: 1n, refundFen: 1n, callbackUrl: receiverUrl }, creds, ctx),
    { outcome: 'unknown' },
    'nor a refund answer',
  );
  const later: ChannelContext = { ...ctx, now: () => Date.now() + 2 * 365 * 86_400_000 };
  t.match(await driver.queryPayment({ orderId: ids.next(), amountFen: 1n }, creds, later), { outcome: 'unknown', reason: /validity/ }, 'validity at ctx.now');

  // Nothing listens here: the request never left.
  const closed = createServer();
  const deadUrl = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const dead = { ...creds, baseUrl: deadUrl };
  t.match(await driver.createPayment(input('app'), dead, ctx), { outcome: 'unreached' }, 'connection refused: unreached');
  t.match(await driver.queryPayment({ orderId: ids.next(), amountFen: 1n }, dead, ctx), { outcome: 'unreached' });
  t.match(await driver.refund({ orderId: ids.next(), channelTradeNo: '1', refundId: ids.next(), totalFen: 1n, refundFen: 1n, callbackUrl: receiverUrl }, dead, ctx), {
    outcome: 'unreached',
  });
  t.match(await driver.createPayment(input('app'), creds, { ...ctx, http: undefined }), { outcome: 'unreached' });

  // UnionPay checks certId against the certificate it holds for the merchant.
  t.match(await driver.createPayment(input('app'), { ...creds, certId: '1' + creds.certId }, ctx), { outcome: 'refused', code: '11' }, 'wrong certId: 验证签名失败');
  const form = await driver.createPayment(input('gateway'), { ...creds, certId: '1' + creds.certId }, ctx);
  if (form.outcome === 'accepted' && form.action.kind === 'form') t.match((await sim.submitForm(form.action.html)).body, /11/, 'a form with the wrong certId fails at UnionPay');
});

t.test('wire details', async (t) => {
  t.same(parseAnswer('a=1&reserved={x=1&y=[2&3]}&b=c=d&e='), { a: '1', reserved: '{x=1&y=[2&3]}', b: 'c=d', e: '' }, 'brace-aware, raw values');
  t.equal(parseAnswer('a=1&a=2'), undefined, 'a field twice');
  t.equal(parseAnswer('<html>'), undefined);
  t.equal(paidAtOf({ txnTime: '20241231235900', traceTime: '0101000105' }), '20250101000105', 'paid over New Year');
  t.equal(paidAtOf({ txnTime: '20240618125826', traceTime: '0618130001' }), '20240618130001');
  t.equal(paidAtOf({ txnTime: '20240618125826' }), '20240618125826');
  t.same(defaultSignerNames('https://gateway.95516.com'), [UNIONPAY_SIGNER_NAME]);
  t.same(defaultSignerNames('https://gateway.test.95516.com'), [UNIONPAY_SIGNER_NAME, UNIONPAY_TEST_SIGNER_NAME]);
  t.same(defaultSignerNames('https://evil.example.com/test.95516.com'), [UNIONPAY_SIGNER_NAME]);
  // every request the driver sent verifies a third way
  const signedRequests = sim.requests.filter((r) => r.fields.certId === creds.certId);
  t.ok(signedRequests.length > 10);
  t.ok(signedRequests.every((r) => forgeVerify(r.fields, creds.signCertPem)), 'all verify with forge');
});
