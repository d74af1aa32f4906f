// UnionPay payouts (ACP 代付, txnType 12 / bizType 000401) through the unionpay driver against the
// ACP simulator on 127.0.0.1: the signed request with the card number and the payee's name
// encrypted under UnionPay's encryption certificate (opened by the simulator with its key), the
// answer, the back notification through a real receiver, the query (origRespCode), a lost answer
// settled by query, and each fault sorted three ways.

import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { unionpayDriver as driver } from '../../src/channels/unionpay/driver.js';
import { readPfx } from '../../src/channels/unionpay/credential-input.js';
import type { UnionpayCredentials } from '../../src/channels/credentials.js';
import type { PayoutCallbackOutcome, PayoutInput } from '../../src/channels/payout-types.js';
import { CallbackIgnored, CallbackRejected, type CallbackOutcome, type ChannelContext } from '../../src/channels/types.js';
import { OrderIdGenerator } from '../../src/domain/ids.js';
import { UnionpaySimulator, buildPki, type SimPki } from '../simulators/unionpay.js';
import { createTestHttp } from '../simulators/http.js';

const MER_ID = '777290058110048';
const ids = new OrderIdGenerator();
const pki: SimPki = buildPki();
const sim = await UnionpaySimulator.start(MER_ID, pki);
const http = createTestHttp({ timeoutMs: 2_500 });
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'https://pay.example.com', http };

const { keyPem, certPem, certId } = readPfx(pki.merchantPfx, pki.merchantPfxPassword);
const bare: UnionpayCredentials = {
  merId: MER_ID,
  signKeyPem: keyPem,
  signCertPem: certPem,
  certId,
  rootCertPem: pki.rootCertPem,
  middleCertPem: pki.middleCertPem,
  baseUrl: sim.baseUrl,
};
const creds: UnionpayCredentials = { ...bare, encryptCertPem: pki.encryptCertPem, encryptCertId: pki.encryptCertId };

const received: { outcome?: CallbackOutcome | PayoutCallbackOutcome; error?: string; status: number }[] = [];
const receiver: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let ack;
    try {
      const outcome = driver.parseCallback({ headers: req.headers, rawBody: Buffer.concat(chunks) }, creds);
      ack = driver.acknowledge(true);
      received.push({ outcome, status: ack.status });
    } catch (err) {
      const ignored = err instanceof CallbackIgnored;
      if (!ignored && !(err instanceof CallbackRejected)) throw err;
      ack = driver.acknowledge(ignored);
      received.push({ error: (err as Error).message, status: ack.status });
    }
    res.writeHead(ack.status, { 'content-type': ack.contentType }).end(ack.body);
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const backUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/channel/unionpay/notify/M1`;

t.teardown(async () => {
  await sim.close();
  receiver.closeAllConnections();
  await new Promise<void>((r) => receiver.close(() => r()));
  await http.close();
});

function payout(over: Partial<PayoutInput> = {}): PayoutInput {
  const now = Date.now();
  return {
    orderId: ids.next(),
    tradeType: '02',
    amountFen: 50_000n,
    subject: '供应商货款',
    payeeAccountType: 'BANK_CARD',
    payeeAccount: '6216261000000000018',
    payeeName: '全渠道',
    ip: '203.0.113.7',
    termType: 'web',
    createdAt: now,
    expireAt: now + 3600_000,
    callbackUrl: backUrl,
    ...over,
  };
}

const ref = (p: PayoutInput) => ({ orderId: p.orderId, amountFen: p.amountFen, tradeType: p.tradeType });
const lastBack = () => sim.requests.filter((r) => r.endpoint === 'back').at(-1)!;

t.test('what the driver offers, and when it cannot pay out', async (t) => {
  t.same(driver.payeeAccountTypes, ['BANK_CARD']);
  t.match(driver.payoutUnavailable!(bare, '02'), /--encrypt-cert-file/);
  t.equal(driver.payoutUnavailable!(creds, '02'), undefined);
  t.equal(driver.payoutUnavailable!(creds, '03'), undefined);
  const before = sim.requests.length;
  t.match(await driver.transfer!(payout(), bare, ctx), { outcome: 'refused', code: 'ENCRYPT_CERT' });
  t.match(await driver.transfer!(payout({ payeeName: undefined }), creds, ctx), { outcome: 'refused', code: 'CUSTOMER_NM' });
  t.match(await driver.transfer!(payout({ payeeAccount: '6216-2610' }), creds, ctx), { outcome: 'refused', code: 'ACC_NO' });
  t.match(await driver.transfer!(payout({ payeeAccountType: 'WX_OPENID' }), creds, ctx), { outcome: 'refused', code: 'ACC_TYPE' });
  t.equal(sim.requests.length, before, 'decided locally: nothing sent');
});

t.test('a payout: taken, paid out, notified; the query agrees', async (t) => {
  const p = payout();
  const r = await driver.transfer!(p, creds, ctx);
  const sent = lastBack().fields;
  const stored = sim.payouts.payouts.get(p.orderId)!;
  t.same(r, { outcome: 'accepted', channelTradeNo: stored.queryId });
  t.match(sent, { txnType: '12', txnSubType: '00', bizType: '000401', accessType: '0', accType: '01', currencyCode: '156', orderId: p.orderId, txnTime: p.orderId.slice(0, 14), txnAmt: '50000', backUrl, merId: MER_ID, certId, encryptCertId: pki.encryptCertId });
  t.equal(stored.accNo, '6216261000000000018', 'the simulator opened accNo with the encryption key');
  t.equal(stored.customerNm, '全渠道', 'and the name inside customerInfo');
  t.same(stored.clearCustomerInfo, {}, 'nothing personal in the clear in customerInfo');
  t.notMatch(lastBack().body, '6216261000000000018');
  t.notMatch(decodeURIComponent(lastBack().body), '全渠道');
  t.notMatch(Buffer.from(sent.customerInfo!, 'base64').toString('utf8'), '全渠道');

  t.same(await driver.queryTransfer!(ref(p), creds, ctx), { outcome: 'processing', channelTradeNo: stored.queryId });
  const acks = await sim.payouts.settle(p.orderId);
  t.same(acks, [200], 'acknowledged');
  const paidAt = `${p.orderId.slice(0, 4)}${stored.traceTime}`;
  t.same(received.at(-1), { outcome: { kind: 'payout', orderId: p.orderId, amountFen: 50_000n, channelTradeNo: stored.queryId, result: 'succeeded', paidAt }, status: 200 });
  t.same(await driver.queryTransfer!(ref(p), creds, ctx), { outcome: 'succeeded', channelTradeNo: stored.queryId, paidAt });
});

t.test('a payout the bank refuses: failed, with UnionPay’s code and message', async (t) => {
  const p = payout({ tradeType: '03', amountFen: 1n });
  t.match(await driver.transfer!(p, creds, ctx), { outcome: 'accepted' });
  await sim.payouts.settle(p.orderId, { success: false, respCode: '63', respMsg: '收款人账户名与账号不符' });
  t.match(received.at(-1), { outcome: { kind: 'payout', orderId: p.orderId, result: 'failed', failCode: '63', failReason: '收款人账户名与账号不符' }, status: 200 });
  t.same(await driver.queryTransfer!(ref(p), creds, ctx), { outcome: 'failed', code: '63', message: '收款人账户名与账号不符' });
});

t.test('a lost answer is unknown and settled by query, never sent again', async (t) => {
  const p = payout();
  sim.failNext('back', { kind: 'lostAnswer' });
  t.match(await driver.transfer!(p, creds, ctx), { outcome: 'unknown' });
  t.equal(sim.requests.filter((r) => r.endpoint === 'back' && r.fields.orderId === p.orderId).length, 1, 'sent once');
  t.ok(sim.payouts.payouts.has(p.orderId), 'UnionPay did take it');
  t.match(await driver.queryTransfer!(ref(p), creds, ctx), { outcome: 'processing' });
  await sim.payouts.settle(p.orderId, { lost: true });
  t.match(await driver.queryTransfer!(ref(p), creds, ctx), { outcome: 'succeeded' }, 'the notification was lost too: the query settles it');
  // Were it sent again anyway, UnionPay's 重复交易 would not be taken for "nothing moved".
  t.match(await driver.transfer!(p, creds, ctx), { outcome: 'unknown', reason: /respCode 12/ });
  t.same(await driver.queryTransfer!(ref(payout()), creds, ctx), { outcome: 'not_found' });
});

t.test('faults sort three ways', async (t) => {
  const go = () => driver.transfer!(payout(), creds, ctx);
  sim.failNext('back', { kind: 'businessError', respCode: '61', respMsg: '商户状态不正确' });
  t.match(await go(), { outcome: 'refused', code: '61', message: '商户状态不正确' });
  for (const code of ['03', '04', '05']) {
    sim.failNext('back', { kind: 'businessError', respCode: code, respMsg: '交易处理中' });
    t.match(await go(), { outcome: 'unknown' }, `respCode ${code}`);
  }
  for (const kind of ['badSignature', 'untrustedCert', 'expiredCert', 'wrongCn', 'unsigned', 'http500', 'garbage', 'hang'] as const) {
    sim.failNext('back', { kind } as never);
    t.match(await go(), { outcome: 'unknown' }, kind);
  }
  sim.failNext('query', { kind: 'badSignature' });
  t.match(await driver.queryTransfer!(ref(payout()), creds, ctx), { outcome: 'unknown' }, 'an unverified not-found is not believed');
  t.match(await driver.transfer!(payout(), { ...creds, encryptCertId: '1' }, ctx), { outcome: 'refused', code: '11' }, 'another encryptCertId');
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  t.match(await driver.transfer!(payout(), { ...creds, baseUrl: `http://127.0.0.1:${port}` }, ctx), { outcome: 'unreached' });
});

t.test('notifications: signed by UnionPay, this merchant’s, final', async (t) => {
  const p = payout();
  await driver.transfer!(p, creds, ctx);
  const stored = sim.payouts.payouts.get(p.orderId)!;
  const body = (over: Record<string, string> = {}, variant: 'good' | 'untrusted' = 'good') =>
    Buffer.from(new URLSearchParams(sim.signAnswer({ ...sim.payouts.notificationFields(stored), ...over }, variant)).toString());
  t.match(driver.parseCallback({ headers: {}, rawBody: body({ respCode: '00' }) }, creds), { kind: 'payout', orderId: p.orderId, result: 'succeeded' });
  t.throws(() => driver.parseCallback({ headers: {}, rawBody: body({}, 'untrusted') }, creds), CallbackRejected);
  t.throws(() => driver.parseCallback({ headers: {}, rawBody: body({ merId: '777290058110099' }) }, creds), /merId/);
  t.throws(() => driver.parseCallback({ headers: {}, rawBody: body({ respCode: '05' }) }, creds), CallbackIgnored, 'in progress is not a result');
  t.throws(() => driver.parseCallback({ headers: {}, rawBody: body({ txnAmt: '1.5' }) }, creds), /txnAmt/);
  const tampered = Buffer.from(body({ respCode: '00' }).toString().replace('txnAmt=50000', 'txnAmt=50001'));
  t.throws(() => driver.parseCallback({ headers: {}, rawBody: tampered }, creds), /does not verify/);
});
