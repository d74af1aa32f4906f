import t from 'tap';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helper.js';
import { request } from 'undici';
import { AlipaySdk } from 'alipay-sdk';
import { alipayDriver } from '../../src/channels/alipay/driver.js';
import { buildAlipayCredentials } from '../../src/channels/alipay/credential-input.js';
import { certSn, issuerName, rootCertSn, splitCertificates } from '../../src/channels/alipay/cert.js';
import { CERT_NOT_BELIEVED, isCertNotBelieved } from '../../src/channels/alipay/client.js';
import { CredentialInputError } from '../../src/channels/credential-input.js';
import { summarizeCredentials } from '../../src/channels/credential-summary.js';
import type { AlipayCredentials } from '../../src/channels/credentials.js';
import { CallbackRejected, paymentOutcome, type ChannelContext, type HttpRequest, type HttpResponse, type PaymentInput } from '../../src/channels/types.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { makeAlipayPki } from '../simulators/alipay-pki.js';

// Alipay 公钥证书 mode end to end against the simulator: the SNs (checked against openssl's reading
// of the certificates and against the official alipay-sdk), every request naming them, answers
// believed by the certificate they name — the loaded one, a rotated one fetched and chained to the
// root, never one that does not chain — and notifications verified with the loaded certificate.

const APP_ID = '2021000000000001';
const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const appPublicPem = appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const started = Date.now();
const pki = makeAlipayPki(appPrivatePem);
t.comment(`openssl PKI built in ${Date.now() - started} ms`);

const sim = await AlipaySimulator.start(APP_ID, appPublicPem, {
  appCertPem: pki.app.certPem,
  appCertSn: pki.app.sn,
  rootSn: pki.rootSn,
  alipayCerts: [pki.alipay, pki.rotated, pki.rogue].map((c) => ({ sn: c.sn, filePem: c.filePem, keyPem: c.keyPem })),
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

async function http(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
  const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body, signal, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}
const ctx = (): ChannelContext => ({ now: Date.now, publicBaseUrl: 'http://127.0.0.1', http: (r) => http(r) });

const receiver: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let accepted = true;
    try {
      paymentOutcome(alipayDriver.parseCallback({ headers: req.headers, rawBody: Buffer.concat(chunks) }, creds));
    } catch {
      accepted = false;
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
    orderId: `C${now}${String(++seq).padStart(4, '0')}`,
    payway: 'alipay',
    scene: 'scan',
    amountFen: 500n,
    subject: '证书模式',
    body: '',
    ip: '127.0.0.1',
    termType: 'wap',
    createdAt: now,
    expireAt: now + 30 * 60_000,
    callbackUrl: notifyUrl,
    cashierUrl: 'https://pay.example.com/cashier/x',
    ...over,
  };
}
const lastRequest = () => sim.requests[sim.requests.length - 1]!;
const downloads = () => sim.requests.filter((r) => r.method === 'alipay.open.app.alipaycert.download').length;

t.test('SNs: app_cert_sn, alipay_root_cert_sn (RSA roots only), the leaf of the Alipay file', async (t) => {
  t.equal(creds.cert?.appCertSn, pki.app.sn, 'app_cert_sn as openssl reads the certificate');
  t.equal(creds.cert?.alipayCertSn, pki.alipay.sn);
  t.equal(creds.cert?.alipayRootCertSn, pki.rootSn, 'the ECDSA root is left out');
  t.equal(splitCertificates(pki.rootBundlePem).length, 2);
  t.match(issuerName(new X509Certificate(pki.app.certPem)), /^CN=Ant Financial Certification Authority Class 2 R1,OU=Certification Authority,O=Ant Financial,C=CN$/);
  t.equal(creds.alipayPublicKeyPem, new X509Certificate(pki.alipay.certPem).publicKey.export({ type: 'spki', format: 'pem' }), "the leaf's key verifies");
  // A root bundle of two RSA roots joins both, in file order.
  const two = splitCertificates(pki.rootBundlePem + splitCertificates(pki.intermediate.certPem)[0]!.toString());
  t.equal(rootCertSn(two), `${pki.rootSn}_${pki.intermediate.sn}`);
  // The leaf is found whatever the order of the file.
  const reversed = buildAlipayCredentials({ appId: APP_ID, privateKey: appPrivatePem, appCert: pki.app.certPem, alipayCert: pki.intermediate.certPem + pki.alipay.certPem, alipayRootCert: pki.rootBundlePem });
  t.equal(reversed.cert?.alipayCertSn, pki.alipay.sn);
  t.equal(certSn(new X509Certificate(pki.rotated.certPem)), pki.rotated.sn);
});

t.test('credential input: one mode, all three files, certificates that fit', async (t) => {
  const base = { appId: APP_ID, privateKey: appPrivatePem, appCert: pki.app.certPem, alipayCert: pki.alipay.filePem, alipayRootCert: pki.rootBundlePem };
  const fails = (input: object, flag: string, message: RegExp, now?: number) => {
    try {
      buildAlipayCredentials(input, now);
      t.fail(`accepted: ${flag}`);
    } catch (err) {
      t.ok(err instanceof CredentialInputError, String(err));
      t.equal((err as CredentialInputError).flag, flag);
      t.match((err as Error).message, message);
    }
  };
  fails({ ...base, alipayPublicKey: appPublicPem }, '--app-cert-file', /does not go with --alipay-public-key-file/);
  fails({ ...base, alipayCert: undefined }, '--alipay-cert-file', /needs all of --app-cert-file, --alipay-cert-file, --alipay-root-cert-file; --alipay-cert-file is missing/);
  fails({ ...base, alipayCert: undefined, alipayRootCert: undefined }, '--alipay-cert-file', /--alipay-cert-file, --alipay-root-cert-file are missing/);
  fails({ appId: APP_ID, privateKey: appPrivatePem }, '--alipay-public-key-file', /either --alipay-public-key-file F .* or --app-cert-file F/);
  fails({ ...base, alipayCert: pki.rogue.filePem }, '--alipay-cert-file', /does not chain to --alipay-root-cert-file/);
  fails({ ...base, alipayCert: pki.app.certPem }, '--alipay-cert-file', /your application's certificate/);
  fails({ ...base, appCert: pki.alipay.certPem }, '--app-cert-file', /not of --private-key-file/);
  fails({ ...base, alipayRootCert: splitCertificates(pki.rootBundlePem)[1]!.toString() }, '--alipay-root-cert-file', /no RSA-signed root/);
  fails({ ...base, appCert: 'not a certificate' }, '--app-cert-file', /no PEM certificate/);
  fails({ ...base, alipayRootCert: appPrivatePem }, '--alipay-root-cert-file', /private key/);
  fails(base, '--alipay-cert-file', /not in force/, Date.now() + 4 * 365 * 86_400_000);
  t.ok(buildAlipayCredentials(base).cert, 'and the files as given are taken');
});

t.test('every request names the certificates; Alipay checks them', async (t) => {
  const input = order();
  const r = await alipayDriver.createPayment(input, creds, ctx());
  t.match(r, { outcome: 'accepted', action: { kind: 'qrCode' } });
  t.match(lastRequest().params, { app_cert_sn: pki.app.sn, alipay_root_cert_sn: pki.rootSn });
  t.ok(lastRequest().inQuery.includes('app_cert_sn'), 'as the SDKs send it, in the query string');
  t.same(await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, creds, ctx()), { outcome: 'open' });

  // Browser and app requests are signed the same way; the simulator's gateway checks them.
  const h5 = await alipayDriver.createPayment(order({ scene: 'h5' }), creds, ctx());
  if (h5.outcome !== 'accepted' || h5.action.kind !== 'redirect') throw new Error('no URL');
  const page = await request(h5.action.url);
  t.match(await page.body.text(), /cashier/);
  t.match(new URL(h5.action.url).searchParams.get('app_cert_sn'), pki.app.sn);
  const app = await alipayDriver.createPayment(order({ scene: 'app' }), creds, ctx());
  if (app.outcome !== 'accepted' || app.action.kind !== 'sdkParams') throw new Error('no payInfo');
  t.ok(sim.openApp(app.action.payInfo));

  // What Alipay says to SNs it does not know: a refusal of the request, nothing created.
  const wrongApp = { ...creds, cert: { ...creds.cert!, appCertSn: '0'.repeat(32) } };
  t.match(await alipayDriver.createPayment(order(), wrongApp, ctx()), { outcome: 'refused', code: 'isv.app-cert-sn-not-match' });
  const wrongRoot = { ...creds, cert: { ...creds.cert!, alipayRootCertSn: '1'.repeat(32) } };
  t.match(await alipayDriver.createPayment(order(), wrongRoot, ctx()), { outcome: 'refused', code: 'isv.alipay-root-cert-sn-not-match' });
  // A key-mode merchant talking to a certificate-mode app.
  const keyMode = { appId: APP_ID, privateKeyPem: appPrivatePem, alipayPublicKeyPem: creds.alipayPublicKeyPem, gatewayUrl: sim.gatewayUrl };
  t.match(await alipayDriver.createPayment(order(), keyMode, ctx()), { outcome: 'refused', code: 'isv.missing-app-cert-sn' });
});

t.test('notifications are verified with the loaded Alipay certificate', async (t) => {
  const input = order();
  await alipayDriver.createPayment(input, creds, ctx());
  t.same(await sim.pay(input.orderId), ['success']);
  const trade = sim.trades.get(input.orderId)!;
  t.match(alipayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(sim.notificationBody(trade)) }, creds), { orderId: input.orderId, result: 'paid' });
  t.throws(() => alipayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(sim.notificationBody(trade, {}, { badSignature: true })) }, creds), CallbackRejected);
});

t.test('a rotated Alipay certificate is fetched, chained to the root, believed, and kept', async (t) => {
  const input = order();
  await alipayDriver.createPayment(input, creds, ctx());
  sim.useAlipayCert(pki.rotated.sn);
  t.teardown(() => sim.useAlipayCert(pki.alipay.sn));
  const before = downloads();
  t.same(await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, creds, ctx()), { outcome: 'open' }, 'believed');
  t.equal(downloads(), before + 1, 'fetched once with alipay.open.app.alipaycert.download');
  const dl = sim.requests.find((r) => r.method === 'alipay.open.app.alipaycert.download')!;
  t.same(JSON.parse(dl.params.biz_content!), { alipay_cert_sn: pki.rotated.sn });
  t.equal(dl.params.app_cert_sn, pki.app.sn, 'the download is a certificate-mode request too');
  t.same(await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, creds, ctx()), { outcome: 'open' });
  t.equal(downloads(), before + 1, 'not fetched again');
  // A forged answer under the rotated certificate is still a forged answer.
  sim.failNext('alipay.trade.query', { kind: 'badSignature' });
  t.match(await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, creds, ctx()), { outcome: 'unknown', reason: /does not verify/ });
});

t.test('an answer signed with a certificate that does not chain to the root is not believed', async (t) => {
  const input = order();
  await alipayDriver.createPayment(input, creds, ctx());
  sim.useAlipayCert(pki.rogue.sn);
  t.teardown(() => sim.useAlipayCert(pki.alipay.sn));
  // The look-alike holds the real leaf's key: only the chain check tells them apart.
  t.equal(sim.alipayPublicKeyPem, creds.alipayPublicKeyPem);
  for (const attempt of [1, 2]) {
    const q = await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, creds, ctx());
    t.equal(q.outcome, 'unknown', `attempt ${attempt}`);
    if (q.outcome !== 'unknown') continue;
    t.match(q.reason, CERT_NOT_BELIEVED);
    t.match(q.reason, pki.rogue.sn);
    t.ok(isCertNotBelieved(q.reason), 'a reason the service raises an alert on');
  }
  const paid = order();
  const created = await alipayDriver.createPayment(paid, creds, ctx());
  t.match(created, { outcome: 'unknown', reason: new RegExp(CERT_NOT_BELIEVED) }, 'a create is unknown too, not refused');

  // A certificate Alipay will not hand out: unknown, but not an alert about the root.
  sim.certMode!.alipayCerts.push({ sn: 'f'.repeat(32), filePem: pki.alipay.filePem, keyPem: pki.alipay.keyPem });
  sim.useAlipayCert('f'.repeat(32));
  sim.certMode!.alipayCerts.pop();
  const gone = await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, creds, ctx());
  t.match(gone, { outcome: 'unknown', reason: /would not hand out \(CERT_NOT_EXIST/ });
  if (gone.outcome === 'unknown') t.notOk(isCertNotBelieved(gone.reason));
});

t.test('a certificate believed for one merchant is not believed for another on a look-alike root', async (t) => {
  const input = order();
  await alipayDriver.createPayment(input, creds, ctx());
  // Merchant A loaded a root with the real root's names and serial (so the same root SN) but
  // another key: for A the look-alike chains, and is believed.
  const lookAlike: AlipayCredentials = { ...creds, cert: { ...creds.cert!, alipayRootCertPem: pki.rogueRootPem } };
  t.equal(rootCertSn(splitCertificates(pki.rogueRootPem)), creds.cert!.alipayRootCertSn, 'the same alipay_root_cert_sn');
  sim.useAlipayCert(pki.rogue.sn);
  t.teardown(() => sim.useAlipayCert(pki.alipay.sn));
  t.same(await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, lookAlike, ctx()), { outcome: 'open' });
  // Merchant B, on the real root, is not vouched for by what A believed.
  const before = downloads();
  t.match(await alipayDriver.queryPayment({ orderId: input.orderId, amountFen: 500n }, creds, ctx()), { outcome: 'unknown', reason: new RegExp(CERT_NOT_BELIEVED) });
  t.equal(downloads(), before + 1, 'fetched and judged against its own root');
});

t.test('channel show: the mode, the certificates, their expiry dates', async (t) => {
  const s = summarizeCredentials('alipay', creds);
  if (s.payway !== 'alipay') throw new Error('not alipay');
  t.equal(s.mode, 'cert');
  t.equal(s.appCert?.sn, pki.app.sn);
  t.equal(s.alipayCert?.sn, pki.alipay.sn);
  t.equal(s.alipayCertChain?.length, 1);
  t.equal(s.alipayRootCerts?.length, 1, 'the RSA root only');
  t.equal(s.alipayRootCertSn, pki.rootSn);
  t.equal(s.alipayCert?.validTo, new Date(new X509Certificate(pki.alipay.certPem).validTo).toISOString());
  t.equal(s.appCert?.validTo, new Date(new X509Certificate(pki.app.certPem).validTo).toISOString());
  t.notOk(JSON.stringify(s).includes('PRIVATE'), 'no key material');
  const k = summarizeCredentials('alipay', { appId: APP_ID, privateKeyPem: appPrivatePem, alipayPublicKeyPem: creds.alipayPublicKeyPem, gatewayUrl: sim.gatewayUrl });
  t.match(k, { mode: 'key' });
  t.notOk('appCert' in k);
});

// --- the official SDK (npm alipay-sdk) in certificate mode, as an independent verifier ----------

t.test('SDK cross-check in certificate mode', async (t) => {
  const sdk = new AlipaySdk({
    appId: APP_ID,
    privateKey: appPrivatePem,
    keyType: 'PKCS8',
    appCertContent: pki.app.certPem,
    alipayPublicCertContent: pki.alipay.filePem,
    alipayRootCertContent: pki.rootBundlePem,
    gateway: sim.gatewayUrl,
  });
  const config = sdk.config as unknown as { appCertSn: string; alipayRootCertSn: string; alipayCertSn: string };
  t.equal(config.appCertSn, creds.cert!.appCertSn, 'app_cert_sn: the SDK agrees');
  t.equal(config.alipayRootCertSn, creds.cert!.alipayRootCertSn, 'alipay_root_cert_sn: the SDK agrees');
  t.equal(config.alipayCertSn, creds.cert!.alipayCertSn, 'alipay_cert_sn of the loaded certificate: the SDK agrees');

  // Our request signature is the SDK's, byte for byte, over the same parameters (SNs included).
  await alipayDriver.createPayment(order(), creds, ctx());
  const ours = lastRequest().params;
  const sdkParams = Object.fromEntries(
    new URLSearchParams(
      sdk.sdkExecute('alipay.trade.precreate', { bizContent: JSON.parse(ours.biz_content!), notifyUrl: ours.notify_url, timestamp: ours.timestamp, format: 'JSON' }, { bizContentAutoSnakeCase: false }),
    ),
  );
  t.equal(sdkParams.app_cert_sn, ours.app_cert_sn);
  t.equal(sdkParams.alipay_root_cert_sn, ours.alipay_root_cert_sn);
  t.equal(sdkParams.sign, ours.sign, 'same signature');

  // The SDK against the certificate-mode simulator: its requests pass the simulator's checks, and
  // the simulator's answers (with alipay_cert_sn) pass the SDK's.
  const outTradeNo = `SDKC${Date.now()}`;
  const created = await sdk.exec('alipay.trade.precreate', { notifyUrl, bizContent: { outTradeNo, totalAmount: '0.01', subject: 'sdk cert' } }, { validateSign: true });
  t.equal(created.code, '10000');
  t.equal(lastRequest().params.app_cert_sn, creds.cert!.appCertSn);
  t.same(await alipayDriver.queryPayment({ orderId: outTradeNo, amountFen: 1n }, creds, ctx()), { outcome: 'open' });
  // The SDK verifies notifications with the same key we do.
  await sim.pay(outTradeNo, 'lost');
  const fields = Object.fromEntries(new URLSearchParams(sim.notificationBody(sim.trades.get(outTradeNo)!)));
  t.ok(sdk.checkNotifySignV2(fields));
});

t.test('SNs of non-ASCII issuers and large serials agree with the SDK', async (t) => {
  // Issuer names in UTF-8 (a Chinese O), and a serial with the high bit set (DER adds a 00 octet).
  const keyFile = join(tempDir(t), 'k.pem');
  writeFileSync(keyFile, appPrivatePem, { mode: 0o600 });
  const pem = execFileSync(process.env.OPENSSL || 'openssl', [
    'req', '-x509', '-key', keyFile, '-days', '30', '-utf8', '-set_serial', '0x8f0102030405060708',
    '-subj', '/C=CN/ST=浙江省/O=蚂蚁金服（中国）/OU=Certification Authority/CN=Ant Test R1',
  ], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
  const c = new X509Certificate(pem);
  t.equal(issuerName(c), 'CN=Ant Test R1,OU=Certification Authority,O=蚂蚁金服（中国）,ST=浙江省,C=CN');
  const sdk = new AlipaySdk({ appId: APP_ID, privateKey: appPrivatePem, keyType: 'PKCS8', appCertContent: pem, alipayPublicCertContent: pem, alipayRootCertContent: pem });
  const config = sdk.config as unknown as { appCertSn: string; alipayRootCertSn: string };
  t.equal(certSn(c), config.appCertSn);
  t.equal(rootCertSn([c]), config.alipayRootCertSn);
});
