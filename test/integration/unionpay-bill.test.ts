import t from 'tap';
import forge from 'node-forge';
import { unionpayDriver as driver } from '../../src/channels/unionpay/driver.js';
import { fileTransferUrl } from '../../src/channels/unionpay/bill-download.js';
import { readPfx } from '../../src/channels/unionpay/credential-input.js';
import type { UnionpayCredentials } from '../../src/channels/credentials.js';
import type { ChannelContext, PaymentInput } from '../../src/channels/types.js';
import { OrderIdGenerator } from '../../src/domain/ids.js';
import { UnionpaySimulator, buildPki } from '../simulators/unionpay.js';
import { createTestHttp } from '../simulators/http.js';
import { bj } from '../fixtures/bill-files.js';

// The UnionPay driver's clearing-day file against the ACP simulator on 127.0.0.1: the signed file
// transfer (txnType 76), the signed answer's fileContent inflated, unzipped and read — payments,
// refunds and a payout over the clearing day (23:00 to 23:00); no file yet; a broken fileContent
// asked again, then failed with the parser's message; UnionPay refusing. As in the driver's
// tests, the request signature is also checked with node-forge instead of node:crypto.

const MER_ID = '777290058110048';
const pki = buildPki();
const sim = await UnionpaySimulator.start(MER_ID, pki);
const http = createTestHttp({ timeoutMs: 2_500 });
t.teardown(async () => {
  await http.close();
  await sim.close();
});
const { keyPem, certPem, certId } = readPfx(pki.merchantPfx, pki.merchantPfxPassword);
const creds: UnionpayCredentials = { merId: MER_ID, signKeyPem: keyPem, signCertPem: certPem, certId, rootCertPem: pki.rootCertPem, middleCertPem: pki.middleCertPem, baseUrl: sim.baseUrl };
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'https://pay.example.com', http };
const download = (date: string) => driver.downloadTradeBill!(date, creds, ctx);
const ids = new OrderIdGenerator();

function forgeVerify(fields: Record<string, string>, pem: string): boolean {
  const text = Object.keys(fields).filter((k) => k !== 'signature').sort().map((k) => `${k}=${fields[k]}`).join('&');
  const first = forge.md.sha256.create();
  first.update(text, 'utf8');
  const second = forge.md.sha256.create();
  second.update(first.digest().toHex(), 'utf8');
  return (forge.pki.certificateFromPem(pem).publicKey as forge.pki.rsa.PublicKey).verify(second.digest().bytes(), forge.util.decode64(fields.signature ?? ''));
}

function order(amountFen: bigint): PaymentInput {
  const now = Date.now();
  const orderId = ids.next();
  return {
    orderId, payway: 'unionpay', scene: 'app', amountFen, subject: '账单', body: '', ip: '203.0.113.7', termType: 'app', createdAt: now,
    expireAt: now + 600_000, callbackUrl: 'http://127.0.0.1:9/notify', cashierUrl: `https://pay.example.com/cashier/${orderId}`,
  };
}

/** A payment through the driver and the simulator, then placed at `traceTime` (MMDDhhmmss Beijing). */
async function paid(amountFen: bigint, traceTime: string) {
  const input = order(amountFen);
  const r = await driver.createPayment(input, creds, ctx);
  if (r.outcome !== 'accepted') throw new Error(JSON.stringify(r));
  await sim.pay(input.orderId, 'lost');
  const trade = sim.trades.get(input.orderId)!;
  trade.traceTime = traceTime;
  return trade;
}

const DAY = '2026-11-27';

t.test('a clearing day with payments, a refund and a payout → the Bill of that day', async (t) => {
  const first = await paid(1200n, '1126230000');
  const last = await paid(5000n, '1127225959');
  const next = await paid(800n, '1127230000');
  const refundId = ids.next();
  const r = await driver.refund({ orderId: last.orderId, channelTradeNo: last.queryId, refundId, totalFen: 5000n, refundFen: 500n, callbackUrl: 'http://127.0.0.1:9/n' }, creds, ctx);
  t.equal(r.outcome, 'accepted');
  await sim.settleRefund(refundId, true);
  const refund = sim.refunds.get(refundId)!;
  refund.traceTime = '1127120000';
  sim.bills.payouts.push({ orderId: ids.next(), queryId: '792611271600000000004', amountFen: 10000n, feeFen: 200n, at: bj(`${DAY} 16:00:00`) });

  const got = await download(DAY);
  if (got.outcome !== 'bill') throw new Error(JSON.stringify(got));
  const { bill } = got;
  t.equal(bill.source, 'unionpay');
  t.same(bill.window, { fromMs: bj('2026-11-26 23:00:00'), toMs: bj(`${DAY} 23:00:00`) }, 'the clearing day');
  t.same(
    bill.lines.map((l) => ({ kind: l.kind, id: l.kind === 'refund' ? l.refundId : l.orderId, amountFen: l.amountFen, feeFen: l.feeFen, endedAt: l.endedAt })),
    [
      { kind: 'trade', id: first.orderId, amountFen: 1200n, feeFen: 7n, endedAt: bj('2026-11-26 23:00:00') },
      { kind: 'refund', id: refundId, amountFen: 500n, feeFen: -3n, endedAt: bj(`${DAY} 12:00:00`) },
      { kind: 'payout', id: sim.bills.payouts[0]!.orderId, amountFen: 10000n, feeFen: 200n, endedAt: bj(`${DAY} 16:00:00`) },
      { kind: 'trade', id: last.orderId, amountFen: 5000n, feeFen: 30n, endedAt: bj(`${DAY} 22:59:59`) },
    ],
    'every line of the clearing day; 23:00 belongs to the next',
  );
  t.notOk(bill.lines.some((l) => l.orderId === next.orderId));
  t.match(bill.lines[1], { orderId: last.orderId, channelTradeNo: last.queryId, channelRefundNo: refund.queryId });
  t.match(bill.lines[3], { channelTradeNo: last.queryId });

  const req = sim.requests.filter((q) => q.endpoint === 'file').at(-1)!;
  t.match(req.fields, { txnType: '76', txnSubType: '01', bizType: '000000', fileType: '00', settleDate: '1127', merId: MER_ID, certId, version: '5.1.0', signMethod: '01', accessType: '0' });
  t.match(req.fields.txnTime, /^\d{14}$/);
  t.ok(forgeVerify(req.fields, creds.signCertPem), 'the file transfer request verifies with forge');
  t.notOk(forgeVerify({ ...req.fields, settleDate: '1126' }, creds.signCertPem), 'and not for another day');
});

t.test('no file yet: the clearing day is not over, or UnionPay has not made it', async (t) => {
  const today = new Date(Date.now() + 9 * 3600_000 + 3600_000).toISOString().slice(0, 10);
  t.match(await download(today), { outcome: 'not_ready', reason: 'fileTransRequest: respCode 98 文件不存在' });
  sim.bills.notMade.add('2026-11-20');
  t.match(await download('2026-11-20'), { outcome: 'not_ready' });
});

t.test('a day without transactions is an empty file', async (t) => {
  t.match(await download('2026-11-21'), { outcome: 'bill', bill: { source: 'unionpay', lines: [] } });
});

t.test('a broken fileContent is asked for again; three in a row fail with the parser’s message', async (t) => {
  const before = sim.bills.transfers.length;
  sim.bills.damaged = 1;
  t.equal((await download(DAY)).outcome, 'bill');
  t.equal(sim.bills.transfers.length - before, 2);
  sim.bills.damaged = 3;
  t.match(await download(DAY), { outcome: 'failed', error: /^unionpay trade bill: not readable zlib data/ });
  t.equal(sim.bills.transfers.length - before, 5);
});

t.test('a tampered file fails at once with the parser’s message', async (t) => {
  const before = sim.bills.transfers.length;
  sim.bills.tampered = 1;
  t.match(await download(DAY), { outcome: 'failed', error: /^unionpay trade bill: INN26112788ZM_777290058110048 record 4 has 300 bytes, a record at least \d+$/ });
  t.equal(sim.bills.transfers.length - before, 1);
});

t.test('UnionPay refusing, an answer not believed, an unreachable host', async (t) => {
  sim.failNext('file', { kind: 'businessError', respCode: '06', respMsg: '商户未开通文件下载' });
  t.match(await download(DAY), { outcome: 'failed', error: 'fileTransRequest: respCode 06 商户未开通文件下载' });
  sim.failNext('file', { kind: 'badSignature' });
  t.match(await download(DAY), { outcome: 'failed', error: /answer rejected: the signature does not verify/ });
  sim.failNext('file', { kind: 'untrustedCert' });
  t.match(await download(DAY), { outcome: 'failed', error: /not issued by the configured UnionPay middle certificate/ });
  sim.failNext('file', { kind: 'unsigned' });
  t.match(await download(DAY), { outcome: 'failed', error: /unsigned/ });
  sim.failNext('file', { kind: 'http500' });
  t.match(await download(DAY), { outcome: 'unreached', reason: 'fileTransRequest: HTTP 500' });
  t.match(await driver.downloadTradeBill!(DAY, { ...creds, baseUrl: 'http://127.0.0.1:9' }, ctx), { outcome: 'unreached', reason: /not reached/ });
});

t.test('file transfers go to UnionPay’s file host', async (t) => {
  t.equal(fileTransferUrl('https://gateway.95516.com'), 'https://filedownload.95516.com/');
  t.equal(fileTransferUrl('https://gateway.test.95516.com/'), 'https://filedownload.test.95516.com/');
  t.equal(fileTransferUrl('http://127.0.0.1:4000/up'), 'http://127.0.0.1:4000/');
});
