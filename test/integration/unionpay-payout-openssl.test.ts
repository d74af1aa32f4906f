import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unionpayDriver } from '../../src/channels/unionpay/driver.js';
import { buildUnionpayCredentials } from '../../src/channels/unionpay/credential-input.js';
import { UNIONPAY_SIGNER_NAME } from '../../src/channels/unionpay/certs.js';
import type { UnionpayCredentials } from '../../src/channels/credentials.js';
import type { PayoutInput } from '../../src/channels/payout-types.js';
import type { ChannelContext, HttpRequest, HttpResponse } from '../../src/channels/types.js';
import { OrderIdGenerator } from '../../src/domain/ids.js';
import { pfx } from '../fixtures/channel-credentials.js';

// UnionPay 代付 cross-checked with the openssl CLI, on a PKI openssl makes here: the payout request
// the driver sends verifies with `openssl dgst` (ACP's double hash), its accNo and customerInfo's
// encryptedInfo open with `openssl pkeyutl -decrypt` under the encryption certificate's key,
// encryptCertId is openssl's serial in decimal, and answers and notifications signed by openssl
// are believed. Needs the openssl CLI, as unionpay-openssl.test.ts (OPENSSL=/path picks another).

const OPENSSL = process.env.OPENSSL || 'openssl';
const probe = spawnSync(OPENSSL, ['version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  throw new Error(`test/integration/unionpay-payout-openssl.test: needs the openssl CLI, and \`${OPENSSL} version\` failed (${probe.error?.message ?? probe.stderr.trim()})`);
}

const dir = mkdtempSync(join(tmpdir(), 'dtpay-ossl-payout-'));
const cleanup = () => rmSync(dir, { recursive: true, force: true });
t.teardown(cleanup);
process.once('exit', cleanup);
const p = (name: string) => join(dir, name);
const openssl = (args: string[], input?: string | Buffer) => execFileSync(OPENSSL, args, { cwd: dir, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
function opensslCheck(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(OPENSSL, args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

writeFileSync(
  p('openssl.cnf'),
  [
    '[req]', 'distinguished_name = dn', 'prompt = no', 'string_mask = utf8only', '[dn]', 'CN = unused',
    '[ca]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always',
    '[leaf]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,nonRepudiation', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always',
    '[enc]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,keyEncipherment,dataEncipherment', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always',
    '',
  ].join('\n'),
);
const newKey = (name: string) => openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);
function newCert(o: { name: string; subject: string; ext: 'ca' | 'leaf' | 'enc'; serial: string; issuer?: string }): string {
  openssl(['req', '-new', '-config', 'openssl.cnf', '-utf8', '-key', `${o.name}.key`, '-subj', o.subject, '-out', `${o.name}.csr`]);
  const signer = o.issuer ? ['-CA', `${o.issuer}.pem`, '-CAkey', `${o.issuer}.key`] : ['-signkey', `${o.name}.key`];
  openssl(['x509', '-req', '-in', `${o.name}.csr`, ...signer, '-set_serial', o.serial, '-days', '365', '-extfile', 'openssl.cnf', '-extensions', o.ext, '-out', `${o.name}.pem`]);
  return readFileSync(p(`${o.name}.pem`), 'utf8');
}

for (const n of ['root', 'middle', 'signer', 'enc', 'merchant']) newKey(n);
const rootPem = newCert({ name: 'root', subject: '/C=CN/O=Test CFCA/CN=ACP TEST ROOT', ext: 'ca', serial: '1' });
const middlePem = newCert({ name: 'middle', subject: '/C=CN/O=Test CFCA/CN=ACP TEST OCA1', ext: 'ca', serial: '2', issuer: 'root' });
const signerPem = newCert({ name: 'signer', subject: `/C=CN/O=China UnionPay/CN=041@Z12@${UNIONPAY_SIGNER_NAME}@00000001`, ext: 'leaf', serial: '0x7e3a5c1d9b2f04', issuer: 'middle' });
// A serial beyond 2^64 with the high bit set: encryptCertId must be its exact decimal.
const encPem = newCert({ name: 'enc', subject: `/C=CN/O=China UnionPay/CN=041@Z11@${UNIONPAY_SIGNER_NAME}@00000002`, ext: 'enc', serial: '0x9c0102030405060708090a0b0c0d0e0f', issuer: 'middle' });
const merchantPem = newCert({ name: 'merchant', subject: '/C=CN/O=Test Merchant/CN=041@Z12@777290058110048@00000001', ext: 'leaf', serial: '0x6a1c9b3f0d2e4f5a7b', issuer: 'middle' });
writeFileSync(p('merchant-pub.pem'), openssl(['x509', '-noout', '-pubkey', '-in', 'merchant.pem']));
const encSerialDecimal = BigInt(`0x${/serial=([0-9A-F]+)/i.exec(openssl(['x509', '-noout', '-serial', '-in', 'enc.pem']))![1]}`).toString(10);

const merchantKey = { privateKeyPem: readFileSync(p('merchant.key'), 'utf8'), publicKeyPem: readFileSync(p('merchant-pub.pem'), 'utf8') };
const creds: UnionpayCredentials = buildUnionpayCredentials({
  merId: '777290058110048',
  signCertPfx: pfx(merchantKey, merchantPem, 'pw'),
  signCertPassword: 'pw',
  rootCert: rootPem,
  middleCert: middlePem,
  encryptCert: encPem,
  baseUrl: 'https://gateway.test.95516.com', // never reached: ctx.http answers
});

let seq = 0;
const linkString = (f: Record<string, string>) =>
  Object.keys(f)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${k}=${f[k]}`)
    .join('&');
function opensslDigestHex(text: string): string {
  writeFileSync(p(`s${++seq}.txt`), text, 'utf8');
  return /^([0-9a-f]{64}) /.exec(openssl(['dgst', '-sha256', '-r', `s${seq}.txt`]))![1]!;
}
function opensslSignAsUnionpay(fields: Record<string, string>): Record<string, string> {
  const f = { ...fields, signMethod: '01', signPubKeyCert: signerPem };
  const n = ++seq;
  writeFileSync(p(`d${n}.txt`), opensslDigestHex(linkString(f)), 'ascii');
  openssl(['dgst', '-sha256', '-sign', 'signer.key', '-out', `d${n}.sig`, `d${n}.txt`]);
  return { ...f, signature: readFileSync(p(`d${n}.sig`)).toString('base64') };
}
/** openssl pkeyutl -decrypt (PKCS#1 v1.5, its default) with the encryption certificate's key. */
function opensslDecrypt(b64: string): { ok: boolean; text: string } {
  const n = ++seq;
  writeFileSync(p(`c${n}.bin`), Buffer.from(b64, 'base64'));
  const r = opensslCheck(['pkeyutl', '-decrypt', '-inkey', 'enc.key', '-pkeyopt', 'rsa_padding_mode:pkcs1', '-in', `c${n}.bin`, '-out', `c${n}.txt`]);
  return { ok: r.ok, text: r.ok ? readFileSync(p(`c${n}.txt`), 'utf8') : r.out };
}

const sent: HttpRequest[] = [];
async function unionpay(req: HttpRequest): Promise<HttpResponse> {
  sent.push(req);
  const q = Object.fromEntries(new URLSearchParams(req.body ?? ''));
  const echo: Record<string, string> = {};
  for (const k of ['version', 'encoding', 'bizType', 'txnTime', 'txnType', 'txnSubType', 'accessType', 'merId', 'orderId']) if (q[k] !== undefined) echo[k] = q[k]!;
  const answer: Record<string, string> = { ...echo, respCode: '00', respMsg: '成功[0000000]', queryId: '761812011300000000007' };
  if (req.url.endsWith('/queryTrans.do')) Object.assign(answer, { txnType: '12', bizType: '000401', txnAmt: '50000', origRespCode: '00', origRespMsg: '成功[0000000]', traceTime: '1201130001' });
  const { signPubKeyCert, ...rest } = opensslSignAsUnionpay(answer);
  return { status: 200, headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: [...Object.entries(rest), ['signPubKeyCert', signPubKeyCert!]].map(([k, v]) => `${k}=${v}`).join('&') };
}
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'https://pay.example.com', http: unionpay };
const ids = new OrderIdGenerator();

t.test('the encryption certificate as loaded: encryptCertId is openssl’s serial', async (t) => {
  t.equal(creds.encryptCertId, encSerialDecimal);
  t.ok(BigInt(encSerialDecimal) > 2n ** 64n);
  const base = { merId: '777290058110048', signCertPfx: pfx(merchantKey, merchantPem, 'pw'), signCertPassword: 'pw', rootCert: rootPem, middleCert: middlePem };
  t.throws(() => buildUnionpayCredentials({ ...base, encryptCert: middlePem }), /--encrypt-cert-file: is a CA certificate/);
  t.throws(() => buildUnionpayCredentials({ ...base, encryptCert: merchantPem }), /--encrypt-cert-file: is your own signing certificate/);
  t.throws(() => buildUnionpayCredentials({ ...base, encryptCert: 'not a certificate' }), /--encrypt-cert-file: not a readable X\.509/);
  t.notOk('encryptCertPem' in buildUnionpayCredentials(base), 'optional: without it, no payouts');
});

t.test('the payout request: signed, card number and name encrypted, all checked by openssl', async (t) => {
  const now = Date.now();
  const input: PayoutInput = {
    orderId: ids.next(),
    tradeType: '02',
    amountFen: 50_000n,
    subject: '货款',
    payeeAccountType: 'BANK_CARD',
    payeeAccount: '6216261000000000018',
    payeeName: '欧阳全渠道',
    ip: '203.0.113.7',
    termType: 'web',
    createdAt: now,
    expireAt: now + 3600_000,
    callbackUrl: 'https://pay.example.com/channel/unionpay/notify/M1',
  };
  t.same(await unionpayDriver.transfer!(input, creds, ctx), { outcome: 'accepted', channelTradeNo: '761812011300000000007' }, 'the openssl-signed answer is believed');
  const f = Object.fromEntries(new URLSearchParams(sent.at(-1)!.body ?? ''));
  t.match(f, { txnType: '12', bizType: '000401', encryptCertId: encSerialDecimal, accType: '01', txnAmt: '50000' });

  const d = opensslDigestHex(linkString(f));
  writeFileSync(p('req.txt'), d, 'ascii');
  writeFileSync(p('req.sig'), Buffer.from(f.signature!, 'base64'));
  t.match(opensslCheck(['dgst', '-sha256', '-verify', 'merchant-pub.pem', '-signature', 'req.sig', 'req.txt']).out, /Verified OK/, 'openssl verifies the signature over the hex digest (encrypted fields included)');

  t.same(opensslDecrypt(f.accNo!), { ok: true, text: '6216261000000000018' }, 'openssl opens accNo');
  const info = Buffer.from(f.customerInfo!, 'base64').toString('utf8');
  const m = /^\{encryptedInfo=([A-Za-z0-9+/=]+)\}$/.exec(info);
  t.ok(m, `customerInfo is {encryptedInfo=…}: ${info.slice(0, 20)}…`);
  t.same(opensslDecrypt(m![1]!), { ok: true, text: 'customerNm=欧阳全渠道' }, 'openssl opens the name');
  // PKCS#1 v1.5 is randomized: the same card twice gives two ciphertexts, both opening to it.
  await unionpayDriver.transfer!({ ...input, orderId: ids.next() }, creds, ctx);
  const again = Object.fromEntries(new URLSearchParams(sent.at(-1)!.body ?? ''));
  t.not(again.accNo, f.accNo);
  t.equal(opensslDecrypt(again.accNo!).text, '6216261000000000018');
  // And what openssl encrypts under the certificate, with the same padding, has the same shape.
  writeFileSync(p('enc-pub.pem'), openssl(['x509', '-noout', '-pubkey', '-in', 'enc.pem']));
  writeFileSync(p('plain.txt'), '6216261000000000018');
  openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', 'enc-pub.pem', '-pkeyopt', 'rsa_padding_mode:pkcs1', '-in', 'plain.txt', '-out', 'ossl.bin']);
  t.equal(readFileSync(p('ossl.bin')).length, Buffer.from(f.accNo!, 'base64').length, 'one 2048-bit RSA block, as ours');

  t.match(await unionpayDriver.queryTransfer!({ orderId: input.orderId, amountFen: 50_000n, tradeType: '02' }, creds, ctx), { outcome: 'succeeded', channelTradeNo: '761812011300000000007' }, 'an openssl-signed query answer');
  const qf = Object.fromEntries(new URLSearchParams(sent.at(-1)!.body ?? ''));
  writeFileSync(p('q.txt'), opensslDigestHex(linkString(qf)), 'ascii');
  writeFileSync(p('q.sig'), Buffer.from(qf.signature!, 'base64'));
  t.ok(opensslCheck(['dgst', '-sha256', '-verify', 'merchant-pub.pem', '-signature', 'q.sig', 'q.txt']).ok, 'openssl verifies the query');
});

t.test('a back notification signed by openssl', async (t) => {
  const orderId = ids.next();
  const fields = opensslSignAsUnionpay({
    accessType: '0', bizType: '000401', currencyCode: '156', encoding: 'UTF-8', merId: '777290058110048', orderId,
    queryId: '761812011300000000009', respCode: '00', respMsg: 'Success!', traceNo: '000123', traceTime: `${orderId.slice(4, 8)}235902`,
    txnAmt: '50000', txnSubType: '00', txnTime: orderId.slice(0, 14), txnType: '12', version: '5.1.0',
  });
  const rawBody = Buffer.from(new URLSearchParams(fields).toString());
  t.same(unionpayDriver.parseCallback({ headers: {}, rawBody }, creds), {
    kind: 'payout', orderId, amountFen: 50_000n, channelTradeNo: '761812011300000000009', result: 'succeeded', paidAt: `${orderId.slice(0, 8)}235902`,
  });
  const failed = opensslSignAsUnionpay({ ...fields, respCode: '63', respMsg: '户名不符' });
  t.match(unionpayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(new URLSearchParams(failed).toString()) }, creds), { kind: 'payout', result: 'failed', failCode: '63', failReason: '户名不符' });
});
