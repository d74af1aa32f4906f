import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config.js';
import { buildGateway } from '../../src/app.js';
import { createMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';
import type { LivePayway, CredentialsByPayway } from '../../src/channels/credentials.js';
import { sign, stringToSign } from '../../src/domain/sign.js';
import { payFields, until } from '../helper.js';
import { ownDatabase } from '../own-database.js';
import { startReceiver } from '../receiver.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';
import { pemBody } from '../fixtures/channel-credentials.js';

// DESIGN: never log a secret. A gateway logging at trace into a captured stream goes through
// orders, queries, refunds, notifications, channel callbacks (good and forged), bad signatures and
// live credentials (Alipay and WeChat Pay through their simulators); then no merchant key, no
// string to sign, no channel private key, no MASTER_KEY and no APIv3 key may be in what it wrote;
// on PostgreSQL (the second pass), nor the password in DATABASE_URL.

const MASTER_KEY = 'bG9nLXJlZGFjdGlvbi10ZXN0LW1hc3Rlci1rZXktMDAwMQ==';

t.test('trace logs carry request ids and no secret', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });

  const dir = mkdtempSync(join(tmpdir(), 'dtpay-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const storage = await ownDatabase(t, dir, { masterKey: MASTER_KEY });
  // The suite's clusters trust their local connections (test/pg-cluster.ts), so a password put in
  // the URL is carried, never checked; a URL that brings its own password keeps it.
  const DB_PASSWORD = 'pg-password-that-is-never-logged-0001';
  let dbPassword: string | undefined;
  if (storage.env.DATABASE_URL) {
    const u = new URL(storage.env.DATABASE_URL);
    if (!u.password) {
      u.password = DB_PASSWORD;
      dbPassword = DB_PASSWORD;
      storage.env.DATABASE_URL = u.toString();
    }
  }
  const config = parseConfig({
    ...storage.env,
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: 'http://dtpay.test',
    LOG_LEVEL: 'trace',
    MASTER_KEY,
    NOTIFY_ALLOW_PRIVATE: 'true',
    NOTIFY_RETRY_SCHEDULE: '1',
  });
  const gateway = await buildGateway(config, { logger, resolve: async () => ['127.0.0.1'] });
  let closed = false;
  const close = async () => {
    if (!closed) await gateway.close();
    closed = true;
  };
  t.teardown(close);
  const sandboxSecret = (await gateway.services.reads.setting('sandbox_secret')) ?? '';
  const cashierSecret = (await gateway.services.reads.setting('cashier_secret')) ?? '';
  const url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const writer = gateway.services.writer;
  const rcv = await startReceiver(t);

  const post = async (path: string, fields: Record<string, string>, key: string) => {
    const body = { ...fields, signature: sign(fields, key, (fields.signType as 'MD5' | undefined) ?? 'MD5') };
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, string>;
  };

  // --- a sandbox merchant: pay, bad signature, sandbox payment, notification, query, refund, resend
  const sandbox = await createMerchant(gateway.services, 'Sandbox shop', 'sandbox');
  const payRequest = payFields(sandbox.mercNo, { notifyUrl: `${rcv.url}/n` });
  const made = await post('/api/pay', payRequest, sandbox.key);
  t.equal(made.respCode, '000000');
  const orderId = made.orderId!;
  t.equal((await post('/api/query', { mercNo: sandbox.mercNo, orderId }, 'a-wrong-key-for-this-merchant-000')).respCode, '100002');
  t.equal((await post('/api/query', { mercNo: sandbox.mercNo, orderId, signType: 'HMAC-SHA256' }, sandbox.key)).respCode, '000000');
  await fetch(`${url}/sandbox/pay/${orderId}`);
  const paid = await fetch(`${url}/sandbox/pay/${orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  t.equal(paid.status, 200);
  await rcv.waitFor((r) => r.length >= 1);
  t.equal((await post('/api/refund', { mercNo: sandbox.mercNo, orderId, mercRefundNo: 'LOG-R1', refundAmt: '1.00' }, sandbox.key)).respCode, '000000');
  t.equal((await post('/api/refund/query', { mercNo: sandbox.mercNo, mercRefundNo: 'LOG-R1' }, sandbox.key)).respCode, '000000');
  t.equal((await post('/api/notify/resend', { mercNo: sandbox.mercNo, orderId }, sandbox.key)).respCode, '000000');
  t.equal((await post('/api/close', { mercNo: sandbox.mercNo, orderId }, sandbox.key)).respCode, '100007');
  await fetch(url + gateway.services.links.cashierPath(orderId));
  await fetch(gateway.services.links.qrImageUrl(orderId).replace('http://dtpay.test', url));
  // A forged sandbox callback, a malformed request, an unknown merchant.
  await fetch(`${url}/channel/sandbox/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"orderId":"1"}' });
  await fetch(`${url}/api/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"mercNo":"${sandbox.mercNo}","key":` });
  await post('/api/query', { mercNo: 'M000000000000000', orderId }, sandbox.key);

  // --- payouts of the sandbox merchant: the payee's account and name are personal data
  const PAYEE_CARD = '6222029876543210987';
  const PAYEE_NAME = '欧阳测试明';
  const PAYEE_OPENID = 'oLOGREDACTIONopenid0000000001';
  await writer.run('setPayoutSettings', { mercNo: sandbox.mercNo, enabled: true, dailyLimitFen: 1_000_000n, perPayoutLimitFen: null, at: Date.now() });
  const payoutOf = (over: Record<string, string>) =>
    payFields(sandbox.mercNo, { tradeType: '02', sceneCode: 'transfer', signType: 'HMAC-SHA256', notifyUrl: `${rcv.url}/payout`, ...over });
  const card = await post('/api/pay', payoutOf({ payeeAccountType: 'BANK_CARD', payeeAccount: PAYEE_CARD, payeeName: PAYEE_NAME }), sandbox.key);
  t.equal(card.respCode, '000000', JSON.stringify(card));
  t.equal((await post('/api/pay', payoutOf({ payeeAccountType: 'BANK_CARD', payeeAccount: `${PAYEE_CARD}x`, payeeName: PAYEE_NAME }), sandbox.key)).respCode, '100001');
  t.equal((await post('/api/pay', payoutOf({ tradeAmt: '0.91', payeeAccountType: 'BANK_CARD', payeeAccount: PAYEE_CARD, payeeName: PAYEE_NAME }), sandbox.key)).respCode, '200001');
  const toWx = await post('/api/pay', payoutOf({ paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: PAYEE_OPENID, payeeName: PAYEE_NAME }), sandbox.key);
  t.equal(toWx.respCode, '000000');
  await fetch(`${url}/sandbox/pay/${toWx.orderId}`);
  const confirmed = await fetch(`${url}/sandbox/pay/${toWx.orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  t.equal(confirmed.status, 200);
  t.equal((await post('/api/query', { mercNo: sandbox.mercNo, orderId: card.orderId! }, sandbox.key)).respCode, '000000');
  t.equal((await post('/api/close', { mercNo: sandbox.mercNo, orderId: card.orderId! }, sandbox.key)).respCode, '100007');
  await rcv.waitFor((r) => r.some((x) => x.path === '/payout'));

  // --- a live merchant with Alipay and WeChat Pay credentials, sealed with MASTER_KEY
  const live = await createMerchant(gateway.services, 'Live shop', 'live');
  const put = async <P extends LivePayway>(payway: P, credentials: CredentialsByPayway[P], mercNo = live.mercNo) => {
    await storeLiveCredentials(writer, MASTER_KEY, mercNo, payway, credentials);
  };
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const alipayPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const alipay = await AlipaySimulator.start('2021000000000001', appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  t.teardown(() => alipay.close());
  await put('alipay', { appId: '2021000000000001', privateKeyPem: alipayPrivatePem, alipayPublicKeyPem: alipay.alipayPublicKeyPem, gatewayUrl: alipay.gatewayUrl });
  const wxKeys = generateWxpayKeys();
  const wx = await WxpaySimulator.start({ keys: wxKeys });
  t.teardown(() => wx.close());
  await put('wxpay', wx.credentials('cert'));

  const ali = await post('/api/pay', payFields(live.mercNo, { notifyUrl: `${rcv.url}/live`, tradeAmt: '20.00' }), live.key);
  t.equal(ali.respCode, '000000', JSON.stringify(ali));
  const aliTrade = alipay.trades.get(ali.orderId!)!;
  aliTrade.notifyUrl = aliTrade.notifyUrl!.replace('http://dtpay.test', url);
  t.same(await alipay.pay(ali.orderId!), ['success']);
  t.equal((await post('/api/refund', { mercNo: live.mercNo, orderId: ali.orderId!, mercRefundNo: 'LOG-LR1', refundAmt: '2.00' }, live.key)).respCode, '000000');
  const forged = await fetch(`${url}/channel/alipay/notify/${live.mercNo}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: alipay.notificationBody(aliTrade, { total_amount: '0.01' }, { badSignature: true }),
  });
  t.equal(await forged.text(), 'fail');

  const wxOrder = await post('/api/pay', payFields(live.mercNo, { paywayCode: 'wxpay', notifyUrl: `${rcv.url}/live` }), live.key);
  t.equal(wxOrder.respCode, '000000', JSON.stringify(wxOrder));
  const wxTrade = wx.trades.get(wxOrder.orderId!)!;
  wxTrade.request.notify_url = String(wxTrade.request.notify_url).replace('http://dtpay.test', url);
  const deliveries = await wx.pay(wxOrder.orderId!);
  t.equal(deliveries.length, 1);
  t.equal((await post('/api/query', { mercNo: live.mercNo, orderId: wxOrder.orderId! }, live.key)).payStatus, 'p0000', 'the encrypted notification was read');
  await fetch(`${url}/channel/wxpay/notify/${live.mercNo}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resource":{}}' });
  await until(() => rcv.received.filter((r) => r.path === '/live').length >= 2, 'the live notifications');

  // A private key the driver cannot use: the driver throws, and the error is logged.
  const broken = await createMerchant(gateway.services, 'Broken key shop', 'live');
  const brokenPem = `-----BEGIN PRIVATE KEY-----\n${randomBytes(96).toString('base64')}\n-----END PRIVATE KEY-----\n`;
  await put('alipay', { appId: '2021000000000002', privateKeyPem: brokenPem, alipayPublicKeyPem: alipay.alipayPublicKeyPem, gatewayUrl: alipay.gatewayUrl }, broken.mercNo);
  const failed = await post('/api/pay', payFields(broken.mercNo, { notifyUrl: `${rcv.url}/live` }), broken.key);
  t.equal(failed.respCode, '200002', 'the driver failed; the outcome is unknown');
  t.ok(lines.some((l) => l.includes('channel driver threw')), 'and the error was logged');
  await close();

  // --- what was written
  const text = lines.join('');
  t.ok(lines.length > 50, `${lines.length} log lines`);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(records.some((r) => typeof r.reqId === 'string' && r.msg === 'incoming request'), 'requests are logged with their reqId');
  t.ok(records.some((r) => r.level === 20), 'debug lines were written too (nothing logs at trace itself)');

  const secrets: [string, string][] = [
    ['the sandbox merchant key', sandbox.key],
    ['the live merchant key', live.key],
    ['the broken private key', pemBody(brokenPem)],
    ['a string to sign', stringToSign(payRequest, sandbox.key)],
    ['the "&key=" suffix of a string to sign', `&key=${sandbox.key}`],
    ['MASTER_KEY', MASTER_KEY],
    ['the WeChat Pay APIv3 key', wxKeys.apiv3Key],
    ['the sandbox channel secret', sandboxSecret],
    ['the secret of the cashier links', cashierSecret],
  ];
  if (config.DATABASE_URL) secrets.push(['DATABASE_URL', config.DATABASE_URL]);
  if (dbPassword) secrets.push(['the password in DATABASE_URL', dbPassword]);
  for (const [name, pem] of [
    ['the Alipay application private key', alipayPrivatePem],
    ['the WeChat Pay merchant private key', wxKeys.merchant.privateKeyPem],
  ] as const) {
    secrets.push([`${name} (PEM body)`, pemBody(pem)]);
    // Any one line of it, in case a key is logged cut up or partly.
    for (const line of pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'))) secrets.push([`a line of ${name}`, line]);
  }
  for (const [name, payee] of [['a payee card number', PAYEE_CARD], ['a payee name', PAYEE_NAME], ['a payee openid', PAYEE_OPENID]] as const) {
    t.notOk(text.includes(payee), `${name} is not in the log`);
    t.notOk(text.includes(JSON.stringify(payee).slice(1, -1)), `${name} is not in the log, JSON-escaped`);
  }
  for (const [name, secret] of secrets) {
    t.ok(secret.length >= 16, `${name} is a real secret`);
    t.notOk(text.includes(secret), `${name} is not in the log`);
    t.notOk(text.includes(JSON.stringify(secret).slice(1, -1)), `${name} is not in the log, JSON-escaped`);
  }
});
