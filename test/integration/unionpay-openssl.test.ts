import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unionpayDriver } from '../../src/channels/unionpay/driver.js';
import { digestHex, signFields, signingString, verifyFields } from '../../src/channels/unionpay/sign.js';
import { certIdOf, checkSignerCert, subjectCn, UNIONPAY_SIGNER_NAME } from '../../src/channels/unionpay/certs.js';
import { readPfx } from '../../src/channels/unionpay/credential-input.js';
import type { UnionpayCredentials } from '../../src/channels/credentials.js';
import { CallbackRejected, type ChannelContext, type HttpRequest, type HttpResponse, type PaymentInput, type Scene } from '../../src/channels/types.js';
import { OrderIdGenerator } from '../../src/domain/ids.js';
import { buildPki, parseForm } from '../simulators/unionpay.js';

// UnionPay ACP 5.1.0 (signMethod 01) cross-checked with the openssl CLI, on a PKI that openssl
// itself generates here: a root, a middle CA under it, UnionPay's signing certificate under that
// (CN with `中国银联股份有限公司`), look-alikes that must not be believed, and the merchant's signing
// certificate in password-protected .pfx files. openssl checks what our code produces (every
// request the driver sends, and the certId it derives), our code checks what openssl produces
// (answers and notifications signed with `openssl dgst -sign`), and `openssl verify` judges the
// same certificate chains as checkSignerCert.
//
// Needs the openssl CLI (written against OpenSSL 3.0; OPENSSL=/path/to/openssl picks another one).
// Without it the test fails, saying so: it must not pass without having checked anything.

const OPENSSL = process.env.OPENSSL || 'openssl';
const probe = spawnSync(OPENSSL, ['version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  throw new Error(
    `test/integration/unionpay-openssl.test: this test cross-checks UnionPay signatures with the openssl CLI, ` +
      `and \`${OPENSSL} version\` failed (${probe.error?.message ?? probe.stderr.trim()}). Install openssl ` +
      '(Debian/Ubuntu: apt-get install openssl; node:*-slim and node:*-alpine images lack it) or point OPENSSL at it.',
  );
}
t.comment(`using ${probe.stdout.trim()}`);

const dir = mkdtempSync(join(tmpdir(), 'dtpay-ossl-'));
const cleanup = () => rmSync(dir, { recursive: true, force: true });
t.teardown(cleanup);
process.once('exit', cleanup); // also when building the PKI below throws, before tap tears down
const p = (name: string) => join(dir, name);

/** Runs openssl in the temp dir; throws (with openssl's stderr) if it exits non-zero. */
function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync(OPENSSL, args, { cwd: dir, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
}

/** Runs openssl where failing is an answer (verify, dgst -verify): exit status and output. */
function opensslCheck(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(OPENSSL, args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

// --- the PKI, made by openssl --------------------------------------------------------------

// A config of our own, so that no system openssl.cnf decides the extensions. Key identifiers are
// asked for explicitly (openssl 3 adds them to `x509 -req` by itself, older ones do not).
writeFileSync(
  p('openssl.cnf'),
  [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    'string_mask = utf8only',
    '[dn]',
    'CN = unused',
    '[ca]',
    'basicConstraints = critical,CA:TRUE',
    'keyUsage = critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
    '[leaf]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,nonRepudiation',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
    '[notca]',
    'basicConstraints = critical,CA:FALSE',
    '',
  ].join('\n'),
);

function newKey(name: string): string {
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);
  return `${name}.key`;
}

/** A certificate `<name>.pem` for `key`, issued by `issuer` (self-signed without one). */
function newCert(opts: { name: string; key: string; subject: string; ext: 'ca' | 'leaf' | 'notca'; serial: string; days: number; issuer?: string }): string {
  const csr = `${opts.name}.csr`;
  openssl(['req', '-new', '-config', 'openssl.cnf', '-utf8', '-key', opts.key, '-subj', opts.subject, '-out', csr]);
  const signer = opts.issuer ? ['-CA', `${opts.issuer}.pem`, '-CAkey', `${opts.issuer}.key`] : ['-signkey', opts.key];
  openssl(['x509', '-req', '-in', csr, ...signer, '-set_serial', opts.serial, '-days', String(opts.days), '-extfile', 'openssl.cnf', '-extensions', opts.ext, '-out', `${opts.name}.pem`]);
  return readFileSync(p(`${opts.name}.pem`), 'utf8');
}

const UNIONPAY_CN = `041@Z12@${UNIONPAY_SIGNER_NAME}@00000001`;
const MER_ID = '777290058110048';
const PFX_PASSWORD = 'pfx-pass word'; // a space on purpose: it goes through argv, not a shell

const started = Date.now();
newKey('root');
newKey('middle');
newKey('rogue');
newKey('signer');
newKey('merchant');
newKey('other');
newKey('notca');
const rootPem = newCert({ name: 'root', key: 'root.key', subject: '/C=CN/O=Test CFCA/CN=ACP TEST ROOT', ext: 'ca', serial: '1', days: 3650 });
const middlePem = newCert({ name: 'middle', key: 'middle.key', subject: '/C=CN/O=Test CFCA/CN=ACP TEST OCA1', ext: 'ca', serial: '2', days: 1825, issuer: 'root' });
// Look-alikes of the two CAs, same names, other keys; the driver was never told about them.
newCert({ name: 'rogue', key: 'rogue.key', subject: '/C=CN/O=Test CFCA/CN=ACP TEST OCA1', ext: 'ca', serial: '2', days: 1825 });
newCert({ name: 'other', key: 'other.key', subject: '/C=CN/O=Test CFCA/CN=ACP TEST ROOT', ext: 'ca', serial: '1', days: 3650 });
// A "middle" that is not a CA (basicConstraints CA:FALSE), issued by the real root.
const notCaPem = newCert({ name: 'notca', key: 'notca.key', subject: '/C=CN/O=Test CFCA/CN=ACP TEST NOT A CA', ext: 'notca', serial: '3', days: 1825, issuer: 'root' });

const unionpaySubject = `/C=CN/O=China UnionPay/CN=${UNIONPAY_CN}`;
const signerPem = newCert({ name: 'signer', key: 'signer.key', subject: unionpaySubject, ext: 'leaf', serial: '0x7e3a5c1d9b2f04', days: 365, issuer: 'middle' });
const untrustedSignerPem = newCert({ name: 'signer-rogue', key: 'signer.key', subject: unionpaySubject, ext: 'leaf', serial: '0x7e3a5c1d9b2f05', days: 365, issuer: 'rogue' });
const notCaSignerPem = newCert({ name: 'signer-notca', key: 'signer.key', subject: unionpaySubject, ext: 'leaf', serial: '0x7e3a5c1d9b2f06', days: 365, issuer: 'notca' });
const wrongCnPem = newCert({ name: 'signer-wrongcn', key: 'signer.key', subject: '/C=CN/O=Someone/CN=041@Z12@某某科技有限公司@00000001', ext: 'leaf', serial: '0x7e3a5c1d9b2f07', days: 365, issuer: 'middle' });

// The merchant's signing certificate under several serials: above 2^53 (a float would round it),
// one with the high bit set (DER adds a leading 00 octet), one with a leading zero nibble, a tiny one.
const MERCHANT_SERIALS = ['0x6a1c9b3f0d2e4f5a7b', '0x8f0102030405060708090a0b0c0d0e0f', '0x0102', '7'];
interface MerchantPfx {
  serial: string;
  certPem: string;
  file: string;
  how: string;
}
const merchantPfxs: MerchantPfx[] = [];
MERCHANT_SERIALS.forEach((serial, i) => {
  const certPem = newCert({ name: `merchant${i}`, key: 'merchant.key', subject: `/C=CN/O=Test Merchant/CN=041@Z12@${MER_ID}@0000000${i + 1}`, ext: 'leaf', serial, days: 365, issuer: 'middle' });
  const base = ['pkcs12', '-export', '-inkey', 'merchant.key', '-in', `merchant${i}.pem`, '-passout', `pass:${PFX_PASSWORD}`, '-name', 'acp sign'];
  // openssl's default format (openssl 3: PBES2/AES-256-CBC, SHA-256 MAC).
  openssl([...base, '-out', `merchant${i}.pfx`]);
  merchantPfxs.push({ serial, certPem, file: `merchant${i}.pfx`, how: "openssl's default format" });
  if (i === 0) {
    // The older format (3DES, SHA-1 MAC) that .pfx files from older tools and SDK downloads use.
    openssl([...base, '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', '-out', 'merchant0-3des.pfx']);
    merchantPfxs.push({ serial, certPem, file: 'merchant0-3des.pfx', how: '3DES / SHA-1 MAC' });
    // With the CA certificates inside too: the key's own certificate must be the one picked.
    writeFileSync(p('chain.pem'), `${middlePem}${rootPem}`);
    openssl([...base, '-certfile', 'chain.pem', '-out', 'merchant0-chain.pfx']);
    merchantPfxs.push({ serial, certPem, file: 'merchant0-chain.pfx', how: 'with the CA certificates inside' });
  }
});
t.comment(`openssl PKI built in ${Date.now() - started} ms`);

/** openssl's serial of a certificate (hex, `serial=` stripped), read from PEM text. */
function opensslSerialHex(certPem: string): string {
  const out = openssl(['x509', '-noout', '-serial'], certPem).trim();
  const m = /^serial=([0-9A-Fa-f]+)$/.exec(out);
  if (!m) throw new Error(`unexpected openssl x509 -serial output: ${out}`);
  return m[1]!;
}

/** The certificate openssl finds in a .pfx for its key (`-nokeys -clcerts`), as PEM. */
function opensslPfxCert(file: string, password: string): string {
  const out = openssl(['pkcs12', '-in', file, '-nokeys', '-clcerts', '-passin', `pass:${password}`]);
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(out);
  if (!m) throw new Error(`openssl pkcs12 -nokeys gave no certificate for ${file}`);
  return m[0];
}

// --- ACP signMethod 01, the openssl way ----------------------------------------------------

/** ACP's `k=v&…` over the fields given (signature left out), sorted by name, raw values. Written
 * here again, small, rather than taken from sign.ts: the point is to check that one. */
const linkString = (f: Record<string, string>) =>
  Object.keys(f)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${k}=${f[k]}`)
    .join('&');

let seq = 0;
/** Step one by openssl: lowercase hex SHA-256 of the string's UTF-8 bytes (`openssl dgst -sha256 -r`). */
function opensslDigestHex(text: string): string {
  const file = `s${++seq}.txt`;
  writeFileSync(p(file), text, 'utf8');
  const out = openssl(['dgst', '-sha256', '-r', file]);
  const m = /^([0-9a-f]{64}) /.exec(out);
  if (!m) throw new Error(`unexpected openssl dgst -r output: ${out}`);
  return m[1]!;
}

/** Step two by openssl: SHA256withRSA over the 64 ASCII characters of the digest, base64. */
function opensslSignHex(hex: string, keyFile: string): string {
  const n = ++seq;
  writeFileSync(p(`d${n}.txt`), hex, 'ascii');
  openssl(['dgst', '-sha256', '-sign', keyFile, '-out', `d${n}.sig`, `d${n}.txt`]);
  return readFileSync(p(`d${n}.sig`)).toString('base64');
}

/** `openssl dgst -sha256 -verify pub -signature sig data` over `data` (written as UTF-8). */
function opensslVerify(data: string, signatureB64: string, pubFile: string): { ok: boolean; out: string } {
  const n = ++seq;
  writeFileSync(p(`v${n}.txt`), data, 'utf8');
  writeFileSync(p(`v${n}.sig`), Buffer.from(signatureB64, 'base64'));
  return opensslCheck(['dgst', '-sha256', '-verify', pubFile, '-signature', `v${n}.sig`, `v${n}.txt`]);
}

/** What UnionPay does with a message: its own certificate in, then openssl signs everything but `signature`. */
function opensslSignAsUnionpay(fields: Record<string, string>, certPem = signerPem): Record<string, string> {
  const f = { ...fields, signMethod: '01', signPubKeyCert: certPem };
  return { ...f, signature: opensslSignHex(opensslDigestHex(linkString(f)), 'signer.key') };
}

// --- the driver's credentials, from the openssl-made .pfx ---------------------------------

const credsPfx = merchantPfxs.find((m) => m.serial === '0x8f0102030405060708090a0b0c0d0e0f' && m.how === "openssl's default format")!;
const fromPfx = readPfx(readFileSync(p(credsPfx.file)), PFX_PASSWORD);
const creds: UnionpayCredentials = {
  merId: MER_ID,
  signKeyPem: fromPfx.keyPem,
  signCertPem: fromPfx.certPem,
  certId: fromPfx.certId,
  rootCertPem: rootPem,
  middleCertPem: middlePem,
  baseUrl: 'https://gateway.test.95516.com', // never reached: ctx.http below answers
};
// The merchant's public key as openssl gets it from the .pfx, for `dgst -verify`.
writeFileSync(p('merchant-pub.pem'), openssl(['x509', '-noout', '-pubkey'], opensslPfxCert(credsPfx.file, PFX_PASSWORD)));
const merchantCertIdByOpenssl = BigInt(`0x${opensslSerialHex(opensslPfxCert(credsPfx.file, PFX_PASSWORD))}`).toString(10);

t.test('certId: our decimal serial is openssl’s hex serial, converted', async (t) => {
  for (const m of merchantPfxs) {
    const ours = readPfx(readFileSync(p(m.file)), PFX_PASSWORD);
    const theirsPem = opensslPfxCert(m.file, PFX_PASSWORD);
    const hex = opensslSerialHex(theirsPem);
    const decimal = BigInt(`0x${hex}`).toString(10);
    t.equal(ours.certId, decimal, `${m.file} (${m.how}): certId ${ours.certId} = 0x${hex}`);
    t.equal(decimal, BigInt(m.serial).toString(10), 'the serial openssl was told to write');
    t.equal(certIdOf(ours.certPem), decimal, 'certIdOf agrees');
    t.equal(new X509Certificate(ours.certPem).fingerprint256, new X509Certificate(theirsPem).fingerprint256, 'the same certificate as openssl finds for the key');
    // The key too: openssl's private key from the .pfx and ours have one public key.
    const keyPem = openssl(['pkcs12', '-in', m.file, '-nocerts', '-nodes', '-passin', `pass:${PFX_PASSWORD}`]);
    t.ok(
      createPublicKey(keyPem).export({ type: 'spki', format: 'der' }).equals(createPublicKey(ours.keyPem).export({ type: 'spki', format: 'der' })),
      'the same private key',
    );
  }
  t.equal(fromPfx.certId, merchantCertIdByOpenssl, 'the driver’s certId is openssl’s');
  t.ok(BigInt(fromPfx.certId) > 2n ** 64n, 'a serial beyond 2^64 survives');

  // A wrong password: both refuse.
  t.throws(() => readPfx(readFileSync(p('merchant0.pfx')), 'not it'), { message: /--sign-cert-password/ }, 'readPfx refuses the wrong password');
  t.notOk(opensslCheck(['pkcs12', '-in', 'merchant0.pfx', '-nokeys', '-passin', 'pass:not it']).ok, 'openssl refuses the wrong password too');

  // And the other way round: the simulator's .pfx (made by node-forge) read by openssl.
  const sim = buildPki();
  writeFileSync(p('sim.pfx'), sim.merchantPfx);
  const simCert = opensslPfxCert('sim.pfx', sim.merchantPfxPassword);
  t.equal(BigInt(`0x${opensslSerialHex(simCert)}`).toString(10), sim.merchantCertId, 'the simulator’s certId matches openssl');
  t.equal(readPfx(sim.merchantPfx, sim.merchantPfxPassword).certId, sim.merchantCertId, 'and readPfx’s');
});

// --- what the driver sends ----------------------------------------------------------------

const ids = new OrderIdGenerator();
const sent: HttpRequest[] = [];
/** Answers every server request as UnionPay would, signed by openssl with UnionPay's key. */
async function unionpay(req: HttpRequest): Promise<HttpResponse> {
  sent.push(req);
  const q = Object.fromEntries(new URLSearchParams(req.body ?? ''));
  const echo: Record<string, string> = {};
  for (const k of ['version', 'encoding', 'bizType', 'txnTime', 'txnType', 'txnSubType', 'accessType', 'merId', 'orderId']) if (q[k] !== undefined) echo[k] = q[k]!;
  const answer: Record<string, string> = { ...echo, respCode: '00', respMsg: '成功[0000000]' };
  if (req.url.endsWith('/appTransReq.do')) answer.tn = '202606180000000000001';
  else if (req.url.endsWith('/queryTrans.do')) {
    Object.assign(answer, { origRespCode: '00', origRespMsg: '成功[0000000]', txnAmt: '1234', queryId: '761806181259000000001', traceTime: '0618130001' });
    // a value in braces holding & and =, raw, as UnionPay writes it
    answer.reserved = '{cardNumberLock=0&orderTimeoutNotify=1}';
  } else if (q.txnType === '04') Object.assign(answer, { queryId: '761806181300000000002', origQryId: q.origQryId!, txnAmt: q.txnAmt! });
  else answer.qrCode = 'https://qr.95516.com/00010000/01710000000000000001';
  const signed = opensslSignAsUnionpay(answer);
  // k=v&… unencoded, the certificate last so its closing line break ends the body.
  const { signPubKeyCert, ...rest } = signed;
  const body = [...Object.entries(rest), ['signPubKeyCert', signPubKeyCert!]].map(([k, v]) => `${k}=${v}`).join('&');
  return { status: 200, headers: { 'content-type': 'text/plain;charset=UTF-8' }, body };
}
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'https://pay.example.com', http: unionpay };
const callbackUrl = 'https://pay.example.com/channel/unionpay/notify/M100000000000001';

function input(scene: Scene, over: Partial<PaymentInput> = {}): PaymentInput {
  const now = Date.now();
  const orderId = ids.next();
  return {
    orderId,
    cashierUrl: `https://pay.example.com/cashier/${orderId}?t=cashier-token`,
    payway: 'unionpay',
    scene,
    amountFen: 1234n,
    subject: '测试商品',
    body: '',
    ip: '203.0.113.7',
    termType: 'pc',
    createdAt: now,
    expireAt: now + 30 * 60_000,
    callbackUrl,
    returnUrl: 'https://shop.example.com/pay/done?a=1&b="x"&c=中文',
    ...over,
  };
}

/** Checks one signed field set, as it went out, with openssl: both hashes, and what must fail. */
function checkWithOpenssl(t: Test, what: string, fields: Record<string, string>): void {
  t.equal(fields.certId, merchantCertIdByOpenssl, `${what}: certId is openssl's serial in decimal`);
  t.notOk(Object.values(fields).includes(''), `${what}: no empty field is sent`);
  const text = linkString(fields);
  const d = opensslDigestHex(text);
  t.equal(digestHex(signingString(fields, { dropEmpty: true })), d, `${what}: our first hash is openssl's SHA-256 of the k=v string`);
  const v = opensslVerify(d, fields.signature ?? '', 'merchant-pub.pem');
  t.ok(v.ok, `${what}: openssl dgst -sha256 -verify accepts the signature over the hex digest`);
  t.match(v.out, /Verified OK/, `${what}: openssl says Verified OK`);
  t.notOk(opensslVerify(text, fields.signature ?? '', 'merchant-pub.pem').ok, `${what}: it is not a signature over the k=v string itself (one hash)`);
  const tampered = { ...fields, orderId: `${fields.orderId}0` };
  t.notOk(opensslVerify(opensslDigestHex(linkString(tampered)), fields.signature ?? '', 'merchant-pub.pem').ok, `${what}: a changed orderId does not verify`);
}

t.test('every request the driver sends verifies with openssl dgst', async (t) => {
  // Front transactions: the form the payer's browser posts.
  for (const [scene, over] of [
    ['gateway', {}],
    ['h5', { returnUrl: undefined, termType: 'wap' }],
    ['ebank', { bankCode: 'ICBC', payType: '2' }],
  ] as const) {
    const r = await unionpayDriver.createPayment(input(scene, over), creds, ctx);
    if (r.outcome !== 'accepted' || r.action.kind !== 'form') {
      t.fail(`${scene}: no form: ${JSON.stringify(r)}`);
      continue;
    }
    checkWithOpenssl(t, `${scene} form`, parseForm(r.action.html).fields);
  }

  // Server requests, as they went over the wire (urlencoded body), answered by openssl-signed answers.
  const app = await unionpayDriver.createPayment(input('app'), creds, ctx);
  t.match(app, { outcome: 'accepted', action: { kind: 'sdkParams', payInfo: '202606180000000000001' } }, 'app: the openssl-signed answer is believed');
  const scan = await unionpayDriver.createPayment(input('scan', { amountFen: 1n }), creds, ctx);
  t.match(scan, { outcome: 'accepted', action: { kind: 'qrCode' } }, 'scan: the openssl-signed answer is believed');
  const orderId = ids.next();
  const q = await unionpayDriver.queryPayment({ orderId, amountFen: 1234n }, creds, ctx);
  t.match(q, { outcome: 'paid', amountFen: 1234n, channelTradeNo: '761806181259000000001' }, 'query: the openssl-signed answer is believed (braces and all)');
  const refund = await unionpayDriver.refund(
    { orderId, channelTradeNo: '761806181259000000001', refundId: ids.next(), totalFen: 1234n, refundFen: 234n, callbackUrl },
    creds,
    ctx,
  );
  t.match(refund, { outcome: 'accepted', channelRefundNo: '761806181300000000002' }, 'refund: the openssl-signed answer is believed');

  t.equal(sent.length, 4, 'four server requests went out');
  for (const req of sent) {
    const name = req.url.slice(req.url.lastIndexOf('/') + 1);
    const fields = Object.fromEntries(new URLSearchParams(req.body ?? ''));
    checkWithOpenssl(t, `${name} ${fields.txnType}/${fields.txnSubType}`, fields);
  }
});

t.test('signFields: UTF-8 and special characters, empty fields left out, checked by openssl', async (t) => {
  const fields = {
    version: '5.1.0',
    encoding: 'UTF-8',
    signMethod: '01',
    certId: creds.certId,
    merId: MER_ID,
    txnType: '01',
    orderId: '2026061812582600000001',
    txnAmt: '1',
    reqReserved: '备注 a&b=c+d %41 "q"',
    riskRateInfo: '{commodityName=测试商品&commodityQty=1}',
    frontFailUrl: '',
  };
  const signature = signFields(fields, creds.signKeyPem);
  const { frontFailUrl: _empty, ...sentFields } = fields;
  const d = opensslDigestHex(linkString(sentFields));
  t.ok(opensslVerify(d, signature, 'merchant-pub.pem').ok, 'openssl verifies, over the fields without the empty one');
  t.notOk(opensslVerify(opensslDigestHex(linkString(fields)), signature, 'merchant-pub.pem').ok, 'and not over a string that kept `frontFailUrl=`');
  // The same signature from openssl with the merchant key: PKCS#1 v1.5 is deterministic.
  const keyFile = 'merchant-from-pfx.key';
  writeFileSync(p(keyFile), creds.signKeyPem);
  t.equal(opensslSignHex(d, keyFile), signature, 'openssl dgst -sign writes the very same signature');
});

// --- what UnionPay sends: signed by openssl, verified by us -------------------------------

t.test('openssl signs as UnionPay; verifyFields and the driver accept it, and nothing altered', async (t) => {
  const signerKey = new X509Certificate(signerPem).publicKey;
  const answer = opensslSignAsUnionpay({
    version: '5.1.0',
    encoding: 'UTF-8',
    merId: MER_ID,
    orderId: '2026061812582600000001',
    respCode: '00',
    respMsg: '成功[0000000]',
    reqReserved: '', // an answer is verified over every field it carried, empty ones too
    reserved: '{cardNumberLock=0&orderTimeoutNotify=1}',
  });
  t.ok(verifyFields(answer, signerKey), 'accepted');
  t.notOk(verifyFields({ ...answer, respMsg: '失败' }, signerKey), 'a changed respMsg: rejected');
  t.notOk(verifyFields({ ...answer, signPubKeyCert: untrustedSignerPem }, signerKey), 'signPubKeyCert is signed too: swapping it breaks the signature');
  t.notOk(verifyFields(answer, new X509Certificate(fromPfx.certPem).publicKey), 'another key: rejected');
  const { reqReserved: _r, ...withoutEmpty } = answer;
  t.notOk(verifyFields(withoutEmpty, signerKey), 'an empty field dropped after signing: rejected');
  const flipped = Buffer.from(answer.signature!, 'base64');
  flipped[flipped.length - 1]! ^= 1;
  t.notOk(verifyFields({ ...answer, signature: flipped.toString('base64') }, signerKey), 'one bit of the signature: rejected');

  // A back notification, urlencoded as UnionPay posts it, through the driver.
  const note = opensslSignAsUnionpay({
    accessType: '0',
    bizType: '000201',
    currencyCode: '156',
    encoding: 'UTF-8',
    merId: MER_ID,
    orderId: '2026061812582600000001',
    queryId: '761806181259000000001',
    respCode: '00',
    respMsg: 'Success!',
    settleAmt: '1234',
    traceNo: '123456',
    traceTime: '0618130001',
    txnAmt: '1234',
    txnSubType: '01',
    txnTime: '20260618125826',
    txnType: '01',
    version: '5.1.0',
    payCardType: '02',
    reqReserved: '',
  });
  const parse = (f: Record<string, string>) => unionpayDriver.parseCallback({ headers: {}, rawBody: Buffer.from(new URLSearchParams(f).toString()) }, creds);
  t.match(parse(note), { orderId: '2026061812582600000001', result: 'paid', amountFen: 1234n, channelTradeNo: '761806181259000000001', bankType: 'UNIONPAY_CREDIT' }, 'an openssl-signed notification is read');
  t.throws(() => parse({ ...note, txnAmt: '1' }), CallbackRejected, 'a changed amount is rejected');
  t.throws(() => parse({ ...note, txnAmt: '1' }), { message: /signature does not verify/ }, 'because the signature does not verify');
  t.throws(() => parse(opensslSignAsUnionpay(note, untrustedSignerPem)), { message: /not issued by the configured UnionPay middle/ }, 'signed right, by a certificate that does not chain');
  t.throws(() => parse(opensslSignAsUnionpay(note, wrongCnPem)), { message: /not UnionPay/ }, 'signed right, chaining, but not naming UnionPay');

  // An answer whose signature is off: the driver calls the outcome unknown rather than believe it.
  const bad = await unionpayDriver.createPayment(input('app'), creds, {
    ...ctx,
    http: async (req) => {
      const res = await unionpay(req);
      return { ...res, body: res.body.replace('respMsg=成功[0000000]', 'respMsg=成功[0000001]') };
    },
  });
  t.match(bad, { outcome: 'unknown', reason: /signature does not verify/ }, 'an answer altered after openssl signed it: unknown, not believed');
});

// --- certificate chains: openssl verify and checkSignerCert --------------------------------

t.test('openssl verify and checkSignerCert agree on the chain', async (t) => {
  const opensslChain = (cert: string, root: string, middle: string, attime?: number) =>
    opensslCheck(['verify', ...(attime === undefined ? [] : ['-attime', String(attime)]), '-CAfile', root, '-untrusted', middle, cert]);
  /** Ours, with the name check set to the certificate's own name, so that only the chain and time decide. */
  const oursChain = (certPem: string, rootPem: string, middlePem: string, nowMs = Date.now()) => {
    const name = subjectCn(new X509Certificate(certPem))?.split('@')[2] ?? '';
    return checkSignerCert(certPem, { rootCertPem: rootPem, middleCertPem: middlePem }, nowMs, [name]);
  };
  const pem = (file: string) => readFileSync(p(file), 'utf8');
  // what, then the certificate, root and middle files, and whether the chain must hold
  const cases: Array<[string, string, string, string, boolean]> = [
    ['UnionPay’s certificate under the configured middle and root', 'signer.pem', 'root.pem', 'middle.pem', true],
    ['the merchant’s own certificate (same CA; only the name check stops it)', 'merchant0.pem', 'root.pem', 'middle.pem', true],
    ['a certificate issued by a look-alike middle', 'signer-rogue.pem', 'root.pem', 'middle.pem', false],
    ['the look-alike middle itself configured as middle', 'signer-rogue.pem', 'root.pem', 'rogue.pem', false],
    ['the right middle under a look-alike root', 'signer.pem', 'other.pem', 'middle.pem', false],
    ['the middle configured as root too (not self-signed)', 'signer.pem', 'middle.pem', 'middle.pem', false],
  ];
  for (const [what, certFile, rootFile, middleFile, expected] of cases) {
    const o = opensslChain(certFile, rootFile, middleFile);
    const ours = oursChain(pem(certFile), pem(rootFile), pem(middleFile));
    t.equal(o.ok, expected, `openssl verify: ${what}${o.ok ? '' : ` (${o.out.trim().split('\n').find((l) => /^error /.test(l)) ?? o.out.trim()})`}`);
    t.equal(ours.ok, expected, `checkSignerCert: ${what}${ours.ok ? '' : ` (${ours.reason})`}`);
  }

  // Time: both at the same instants around the signer's validity (openssl -attime, our nowMs).
  const cert = new X509Certificate(signerPem);
  const from = Date.parse(cert.validFrom) / 1000;
  const to = Date.parse(cert.validTo) / 1000;
  const endDate = openssl(['x509', '-noout', '-enddate', '-in', 'signer.pem']).trim().replace(/^notAfter=/, '');
  t.equal(Date.parse(endDate) / 1000, to, 'node and openssl read the same notAfter');
  for (const [when, secs, expected] of [
    ['a second before notBefore', from - 1, false],
    ['at notBefore', from, true],
    ['a day in', from + 86_400, true],
    ['a second before notAfter', to - 1, true],
    ['a second after notAfter', to + 1, false],
    ['after the middle certificate expired too', to + 5 * 365 * 86_400, false],
  ] as const) {
    t.equal(opensslChain('signer.pem', 'root.pem', 'middle.pem', secs).ok, expected, `openssl verify -attime: ${when}`);
    t.equal(oursChain(signerPem, rootPem, middlePem, secs * 1000).ok, expected, `checkSignerCert: ${when}`);
  }
  // Exactly at notAfter the two differ by design: RFC 5280 §4.1.2.5 counts notAfter as valid (ours),
  // openssl's X509_cmp_time counts that second as expired. Only ours is pinned here.
  t.ok(oursChain(signerPem, rootPem, middlePem, to * 1000).ok, 'checkSignerCert: at notAfter itself (RFC 5280: inclusive)');

  // The name: openssl reads the same UTF-8 CN that ours splits.
  const sub = openssl(['x509', '-noout', '-subject', '-nameopt', 'utf8,sep_multiline', '-in', 'signer.pem']);
  const cn = sub.split('\n').map((l) => l.trim()).find((l) => l.startsWith('CN='))?.slice(3);
  t.equal(cn, UNIONPAY_CN, 'openssl reads the CN');
  t.equal(subjectCn(cert), cn, 'subjectCn reads the same');
  t.ok(checkSignerCert(signerPem, { rootCertPem: rootPem, middleCertPem: middlePem }, Date.now(), [UNIONPAY_SIGNER_NAME]).ok, 'UnionPay’s name: accepted');
  t.match(
    checkSignerCert(wrongCnPem, { rootCertPem: rootPem, middleCertPem: middlePem }, Date.now(), [UNIONPAY_SIGNER_NAME]),
    { ok: false, reason: /not UnionPay/ },
    'a chaining certificate (openssl verify: OK) with another name: refused by ours',
  );
  t.ok(opensslChain('signer-wrongcn.pem', 'root.pem', 'middle.pem').ok, 'openssl verify checks no name, so it accepts that one');

  // A configured "middle" that is no CA (basicConstraints CA:FALSE): openssl refuses the chain.
  const o = opensslChain('signer-notca.pem', 'root.pem', 'notca.pem');
  t.notOk(o.ok, 'openssl verify: a middle that is not a CA (invalid CA certificate)');
  t.match(o.out, /invalid CA certificate/, 'openssl says why');
  t.notOk(oursChain(notCaSignerPem, rootPem, notCaPem).ok, 'checkSignerCert refuses it too');
});
