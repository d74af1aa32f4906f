import t from 'tap';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { Formatter, Rsa } from 'wechatpay-axios-plugin';
import { wxpayDriver as driver } from '../../src/channels/wxpay/driver.js';
import type { ChannelContext, PaymentInput } from '../../src/channels/types.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';
import { createTestHttp } from '../simulators/http.js';
import { bj } from '../fixtures/bill-files.js';

// The WeChat Pay driver's day bill against the simulator over HTTP on 127.0.0.1: the signed
// tradebill GET, the signed download of the gzip, its SHA1 checked, parsed into the day's lines;
// STATEMENT_CREATING; NO_STATEMENT_EXIST as an empty day; a wrong hash or a broken gzip downloaded
// again, then failed with the parser's message; WeChat refusing. wechatpay-axios-plugin checks
// both GETs' signatures and the simulator's answer a second way.

const keys = generateWxpayKeys();
const sim = await WxpaySimulator.start({ keys });
const http = createTestHttp({ timeoutMs: 2_500 });
t.teardown(async () => {
  await http.close();
  await sim.close();
});
const creds = sim.credentials('cert');
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'http://127.0.0.1', http };
const download = (date: string) => driver.downloadTradeBill!(date, creds, ctx);

let seq = 0;
function order(amountFen: bigint): PaymentInput {
  const now = Date.now();
  return {
    orderId: `WB${now}${String(++seq).padStart(4, '0')}`, payway: 'wxpay', scene: 'scan', amountFen, subject: '账单,测试', body: '',
    ip: '203.0.113.7', termType: 'pc', createdAt: now, expireAt: now + 600_000, callbackUrl: 'http://127.0.0.1:9/notify', cashierUrl: 'https://pay.example.com/c',
  };
}

async function paid(amountFen: bigint, paidAt: string) {
  const input = order(amountFen);
  const r = await driver.createPayment(input, creds, ctx);
  if (r.outcome !== 'accepted') throw new Error(JSON.stringify(r));
  await sim.pay(input.orderId, { lost: true });
  const trade = sim.trades.get(input.orderId)!;
  trade.successTime = paidAt.replace(' ', 'T') + '+08:00';
  return trade;
}

async function refunded(orderId: string, totalFen: bigint, refundFen: bigint, at: string, mode: 'SUCCESS' | 'PROCESSING') {
  sim.refundMode = mode;
  const refundId = `R${orderId.slice(2)}${mode[0]}`;
  const r = await driver.refund({ orderId, refundId, totalFen, refundFen, callbackUrl: 'http://127.0.0.1:9/n' }, creds, ctx);
  if (r.outcome === 'refused' || r.outcome === 'unknown' || r.outcome === 'unreached') throw new Error(JSON.stringify(r));
  sim.refunds.get(refundId)!.createTime = at.replace(' ', 'T') + '+08:00';
  return sim.refunds.get(refundId)!;
}

const DAY = '2026-11-27';

t.test('a day with payments and refunds → the Bill of that day', async (t) => {
  const first = await paid(1200n, `${DAY} 00:00:00`);
  const mid = await paid(5000n, `${DAY} 10:15:30`);
  await paid(900n, '2026-11-28 00:00:00');
  const done = await refunded(mid.outTradeNo, 5000n, 1000n, `${DAY} 14:00:05`, 'SUCCESS');
  const taken = await refunded(mid.outTradeNo, 5000n, 500n, `${DAY} 20:00:00`, 'PROCESSING');

  const got = await download(DAY);
  if (got.outcome !== 'bill') throw new Error(JSON.stringify(got));
  const { bill } = got;
  t.equal(bill.source, 'wxpay');
  t.same(bill.window, { fromMs: bj(`${DAY} 00:00:00`), toMs: bj('2026-11-28 00:00:00') });
  t.same(
    bill.lines.map((l) => ({ kind: l.kind, id: l.kind === 'refund' ? l.refundId : l.orderId, amountFen: l.amountFen, feeFen: l.feeFen, endedAt: l.endedAt, status: l.status })),
    [
      { kind: 'trade', id: first.outTradeNo, amountFen: 1200n, feeFen: 7n, endedAt: bj(`${DAY} 00:00:00`), status: 'success' },
      { kind: 'trade', id: mid.outTradeNo, amountFen: 5000n, feeFen: 30n, endedAt: bj(`${DAY} 10:15:30`), status: 'success' },
      { kind: 'refund', id: done.outRefundNo, amountFen: 1000n, feeFen: -6n, endedAt: bj(`${DAY} 14:00:05`), status: 'success' },
      { kind: 'refund', id: taken.outRefundNo, amountFen: 500n, feeFen: -3n, endedAt: bj(`${DAY} 20:00:00`), status: 'processing' },
    ],
  );
  t.match(bill.lines[2], { orderId: mid.outTradeNo, channelTradeNo: mid.transactionId, channelRefundNo: done.refundId });
  t.match(bill.summary, { 总交易单数: '4', 订单总金额: '62.00', 申请退款总金额: '15.00' });

  const [announce, file] = sim.requests.slice(-2);
  t.equal(announce!.path, `/v3/bill/tradebill?bill_date=${DAY}&bill_type=ALL&tar_type=GZIP`);
  t.match(file!.path, /^\/v3\/billdownload\/file\?token=[0-9a-f]+$/);
  t.notOk(announce!.authError, 'the simulator verified the tradebill GET');
  t.notOk(file!.authError, 'and the download GET');
});

t.test('both GETs’ signatures and the simulator’s answer, judged by wechatpay-axios-plugin', async (t) => {
  await download(DAY);
  const merchantPub = Rsa.from(keys.merchant.publicKeyPem, Rsa.KEY_TYPE_PUBLIC);
  for (const req of sim.requests.slice(-2)) {
    const a = Object.fromEntries([...req.headers.authorization!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    t.ok(Rsa.verify(Formatter.request('GET', req.path, a.timestamp!, a.nonce_str!, ''), a.signature!, merchantPub), `SDK verifies GET ${req.path.slice(0, 22)}…`);
  }
  // The SDK signs its own GETs; the simulator takes them, and the SDK verifies the answer.
  const sdkGet = async (path: string) => {
    const ts = Formatter.timestamp();
    const nonce = Formatter.nonce();
    const sig = Rsa.sign(Formatter.request('GET', path, ts, nonce, ''), Rsa.from(keys.merchant.privateKeyPem, Rsa.KEY_TYPE_PRIVATE));
    const res = await request(sim.baseUrl + path, {
      headers: { authorization: Formatter.authorization(sim.mchid, nonce, sig, ts, keys.merchant.serialNo), accept: 'application/json', 'user-agent': 'sdk-check' },
    });
    return { status: res.statusCode, headers: res.headers as Record<string, string>, bytes: Buffer.from(await res.body.arrayBuffer()) };
  };
  const a = await sdkGet(`/v3/bill/tradebill?bill_date=${DAY}&bill_type=ALL&tar_type=GZIP`);
  t.equal(a.status, 200);
  const h = a.headers;
  t.ok(Rsa.verify(Formatter.response(h['wechatpay-timestamp']!, h['wechatpay-nonce']!, a.bytes.toString()), h['wechatpay-signature']!, Rsa.from(keys.platform.publicKeyPem, Rsa.KEY_TYPE_PUBLIC)), 'SDK verifies the answer');
  const { hash_value, download_url } = JSON.parse(a.bytes.toString());
  const file = await sdkGet(new URL(download_url).pathname + new URL(download_url).search);
  t.equal(createHash('sha1').update(gunzipSync(file.bytes)).digest('hex'), hash_value, 'hash_value is the SHA1 of the inflated bill');
});

t.test('not ready: a day not over, or STATEMENT_CREATING', async (t) => {
  const tomorrow = new Date(Date.now() + 8 * 3600_000 + 86_400_000).toISOString().slice(0, 10);
  t.match(await download(tomorrow), { outcome: 'not_ready', reason: /STATEMENT_CREATING/ });
  sim.bills.creating.add(DAY);
  t.match(await download(DAY), { outcome: 'not_ready', reason: /STATEMENT_CREATING 账单生成中/ });
  sim.bills.creating.delete(DAY);
});

t.test('NO_STATEMENT_EXIST: a day without trades is an empty bill', async (t) => {
  t.same(await download('2026-11-21'), {
    outcome: 'bill',
    bill: { source: 'wxpay', billDate: '2026-11-21', window: { fromMs: bj('2026-11-21 00:00:00'), toMs: bj('2026-11-22 00:00:00') }, lines: [] },
  });
});

t.test('a wrong hash or a broken gzip is downloaded again; three in a row fail with the parser’s message', async (t) => {
  const before = sim.bills.downloads.length;
  sim.bills.wrongHash = 2;
  t.equal((await download(DAY)).outcome, 'bill', 'twice a wrong hash, then right');
  t.equal(sim.bills.downloads.length - before, 3);
  sim.bills.wrongHash = 3;
  t.match(await download(DAY), { outcome: 'failed', error: /^wxpay trade bill: the download's SHA1 is [0-9a-f]{40}, the channel announced [0-9a-f]{40}$/ });
  sim.bills.damaged = 3;
  t.match(await download(DAY), { outcome: 'failed', error: /^wxpay trade bill: not a readable gzip stream/ });
  t.equal(sim.bills.downloads.length - before, 9);
});

t.test('WeChat refusing, an answer not believed, an unreachable host', async (t) => {
  sim.fault({ kind: 'businessError', status: 403, code: 'NO_AUTH', message: '商户无权限' });
  t.match(await download(DAY), { outcome: 'failed', error: 'wxpay tradebill: NO_AUTH 商户无权限' });
  sim.fault({ kind: 'badSignature' });
  t.match(await download(DAY), { outcome: 'failed', error: /not believed: Wechatpay-Signature does not verify/ });
  t.match(await driver.downloadTradeBill!(DAY, { ...creds, serialNo: '0000' }, ctx), { outcome: 'failed', error: /SIGN_ERROR/ }, 'our signature refused');
  sim.fault({ kind: 'systemError' });
  t.match(await download(DAY), { outcome: 'unreached', reason: /SYSTEM_ERROR/ });
  t.match(await driver.downloadTradeBill!(DAY, { ...creds, baseUrl: 'http://127.0.0.1:9' }, ctx), { outcome: 'unreached', reason: /not reached/ });
});
