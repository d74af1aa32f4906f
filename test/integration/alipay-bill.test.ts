import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { alipayDriver } from '../../src/channels/alipay/driver.js';
import type { AlipayCredentials } from '../../src/channels/credentials.js';
import type { ChannelContext, PaymentInput } from '../../src/channels/types.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { createTestHttp } from '../simulators/http.js';
import { bj } from '../fixtures/bill-files.js';

// The Alipay driver's day bill against the simulator over HTTP on 127.0.0.1: the signed
// downloadurl query, the zip it leads to, parsed into the day's lines; not ready; broken archives
// (downloaded again, then failed with the parser's message); Alipay refusing. The official
// alipay-sdk checks the query's RSA2 signature a second way and talks to the simulator itself.

const APP_ID = '2021000000000002';
const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const appPublicPem = appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const sim = await AlipaySimulator.start(APP_ID, appPublicPem);
const http = createTestHttp({ timeoutMs: 2_500 });
t.teardown(async () => {
  await http.close();
  await sim.close();
});
const creds: AlipayCredentials = { appId: APP_ID, privateKeyPem: appPrivatePem, alipayPublicKeyPem: sim.alipayPublicKeyPem, gatewayUrl: sim.gatewayUrl };
const ctx: ChannelContext = { now: Date.now, publicBaseUrl: 'http://127.0.0.1', http };
const download = (date: string) => alipayDriver.downloadTradeBill!(date, creds, ctx);
const METHOD = 'alipay.data.dataservice.bill.downloadurl.query';

let seq = 0;
function order(amountFen: bigint): PaymentInput {
  const now = Date.now();
  return {
    orderId: `B${now}${String(++seq).padStart(4, '0')}`, payway: 'alipay', scene: 'scan', amountFen, subject: '账单测试, 含逗号', body: '',
    ip: '127.0.0.1', termType: 'pc', createdAt: now, expireAt: now + 600_000, callbackUrl: 'http://127.0.0.1:9/notify', cashierUrl: 'https://pay.example.com/c',
  };
}

/** A trade paid through the driver and the simulator, then placed at `paidAt` (Beijing) for the bill. */
async function paid(amountFen: bigint, paidAt: string) {
  const input = order(amountFen);
  const r = await alipayDriver.createPayment(input, creds, ctx);
  if (r.outcome !== 'accepted') throw new Error(JSON.stringify(r));
  await sim.pay(input.orderId, 'lost');
  const trade = sim.trades.get(input.orderId)!;
  trade.gmtPayment = paidAt;
  return trade;
}

const DAY = '2026-11-27';

t.test('a day with trades and refunds → the Bill of that day', async (t) => {
  const first = await paid(1200n, `${DAY} 00:00:00`);
  const mid = await paid(5000n, `${DAY} 10:15:30`);
  const last = await paid(1n, `${DAY} 23:59:59`);
  const nextDay = await paid(700n, '2026-11-28 00:00:00');
  const r = await alipayDriver.refund({ orderId: mid.outTradeNo, refundId: `R${mid.outTradeNo}`, totalFen: 5000n, refundFen: 1500n, callbackUrl: 'http://127.0.0.1:9/n' }, creds, ctx);
  t.equal(r.outcome, 'succeeded');
  mid.refunds.get(`R${mid.outTradeNo}`)!.at = `${DAY} 14:00:05`;

  const got = await download(DAY);
  if (got.outcome !== 'bill') throw new Error(JSON.stringify(got));
  const { bill } = got;
  t.equal(bill.source, 'alipay');
  t.equal(bill.billDate, DAY);
  t.same(bill.window, { fromMs: bj(`${DAY} 00:00:00`), toMs: bj('2026-11-28 00:00:00') });
  t.same(
    bill.lines.map((l) => ({ kind: l.kind, id: l.kind === 'refund' ? l.refundId : l.orderId, amountFen: l.amountFen, feeFen: l.feeFen, endedAt: l.endedAt })),
    [
      { kind: 'trade', id: first.outTradeNo, amountFen: 1200n, feeFen: 7n, endedAt: bj(`${DAY} 00:00:00`) },
      { kind: 'trade', id: mid.outTradeNo, amountFen: 5000n, feeFen: 30n, endedAt: bj(`${DAY} 10:15:30`) },
      { kind: 'refund', id: `R${mid.outTradeNo}`, amountFen: 1500n, feeFen: -9n, endedAt: bj(`${DAY} 14:00:05`) },
      { kind: 'trade', id: last.outTradeNo, amountFen: 1n, feeFen: 0n, endedAt: bj(`${DAY} 23:59:59`) },
    ],
    'every trade and refund of the day, at its time, none of the next day',
  );
  t.notOk(bill.lines.some((l) => l.orderId === nextDay.outTradeNo));
  const refund = bill.lines.find((l) => l.kind === 'refund')!;
  t.match(refund, { orderId: mid.outTradeNo, channelTradeNo: mid.tradeNo });
  t.match(bill.summary, { 交易合计笔数: '3', 退款合计笔数: '1', 交易商家实收: '62.01', 退款商家实收: '-15.00' });

  const req = sim.requests.filter((q) => q.method === METHOD).at(-1)!;
  t.same(JSON.parse(req.params.biz_content!), { bill_type: 'trade', bill_date: DAY });
  t.same(sim.bills.downloads.at(-1), DAY, 'the zip was fetched at once');
});

t.test('the query’s signature and the simulator’s answer, judged by alipay-sdk', async (t) => {
  await download(DAY);
  const req = sim.requests.filter((q) => q.method === METHOD).at(-1)!;
  // The SDK with the app's public key in Alipay's place verifies what the driver signed.
  const asAlipay = new AlipaySdk({ appId: APP_ID, privateKey: appPrivatePem, keyType: 'PKCS8', alipayPublicKey: appPublicPem });
  t.ok(asAlipay.checkNotifySignV2({ ...req.params }), 'the SDK verifies the driver’s RSA2 signature on the bill query');
  t.notOk(asAlipay.checkNotifySignV2({ ...req.params, biz_content: req.params.biz_content!.replace(DAY, '2026-11-26') }), 'and refuses it for another day');

  const sdk = new AlipaySdk({ appId: APP_ID, privateKey: appPrivatePem, keyType: 'PKCS8', alipayPublicKey: sim.alipayPublicKeyPem, gateway: sim.gatewayUrl });
  const answer = await sdk.exec(METHOD, { bizContent: { billType: 'trade', billDate: DAY } }, { validateSign: true });
  t.equal(answer.code, '10000', 'the simulator accepted the SDK’s signature, the SDK the simulator’s');
  t.match(answer.billDownloadUrl, /^http:\/\/127\.0\.0\.1:\d+\/bill\/downloadBillFile\.resource\?/);
  sim.failNext(METHOD, { kind: 'badSignature' });
  await t.rejects(sdk.exec(METHOD, { bizContent: { billType: 'trade', billDate: DAY } }, { validateSign: true }), /验签失败/);
});

t.test('not ready: today (Alipay bills T+1), and a day whose bill is not made yet', async (t) => {
  const today = new Date(Date.now() + 8 * 3600_000 + 3600_000).toISOString().slice(0, 10);
  t.match(await download(today), { outcome: 'not_ready', reason: /not billed yet.*invalid_arguments/ });
  sim.bills.notMade.add('2026-11-20');
  t.match(await download('2026-11-20'), { outcome: 'not_ready', reason: /isp\.bill_not_exist/ });
});

t.test('an empty day is a bill without lines', async (t) => {
  const got = await download('2026-11-21');
  t.match(got, { outcome: 'bill', bill: { lines: [], summary: { 交易合计笔数: '0' } } });
});

t.test('a broken archive is downloaded again; three in a row fail with the parser’s message', async (t) => {
  sim.bills.damaged = 1;
  const before = sim.bills.downloads.length;
  t.equal((await download(DAY)).outcome, 'bill', 'once broken, then whole');
  t.equal(sim.bills.downloads.length - before, 2);

  sim.bills.damaged = 3;
  const got = await download(DAY);
  t.match(got, { outcome: 'failed', error: /^alipay trade bill: not a readable zip archive/ });
  t.equal(sim.bills.downloads.length - before, 5, 'three downloads, each with a fresh URL');
});

t.test('a tampered bill fails at once with the parser’s message, not downloaded again', async (t) => {
  const before = sim.bills.downloads.length;
  sim.bills.tampered = 1;
  t.same(await download(DAY), { outcome: 'failed', error: 'alipay trade bill: the summary says 交易商家实收 62.02, the lines add up to 62.01' });
  t.equal(sim.bills.downloads.length - before, 1);
});

t.test('Alipay refusing, an answer not believed, an unreachable gateway', async (t) => {
  sim.failNext(METHOD, { kind: 'businessError', code: '40006', subCode: 'isv.insufficient-isv-permissions', subMsg: '应用未开通账单下载' });
  t.match(await download(DAY), { outcome: 'failed', error: /isv\.insufficient-isv-permissions 应用未开通账单下载 \(40006\)/ });
  sim.failNext(METHOD, { kind: 'badSignature' });
  t.match(await download(DAY), { outcome: 'failed', error: /signature does not verify/ });
  sim.failNext(METHOD, { kind: 'unsigned' });
  t.match(await download(DAY), { outcome: 'failed', error: /without a signature/ }, 'an unsigned URL is never followed');
  sim.failNext(METHOD, { kind: 'http500' });
  t.match(await download(DAY), { outcome: 'unreached', reason: /HTTP 500/ });
  t.match(await alipayDriver.downloadTradeBill!(DAY, { ...creds, gatewayUrl: 'http://127.0.0.1:9/gateway.do' }, ctx), { outcome: 'unreached', reason: /not reached/ });
  t.match(await download('2026-02-30'), { outcome: 'failed', error: /not a YYYY-MM-DD date/ });
});
