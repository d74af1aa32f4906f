import t, { type Test } from 'tap';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { CHANNEL_DEFAULT_URLS, channelCallbackUrl } from '../../src/channels/credentials.js';
import { CredentialInputError } from '../../src/channels/credential-input.js';
import { buildAlipayCredentials } from '../../src/channels/alipay/credential-input.js';
import { buildWxpayCredentials } from '../../src/channels/wxpay/credential-input.js';
import { buildUnionpayCredentials } from '../../src/channels/unionpay/credential-input.js';
import { summarizeCredentials } from '../../src/channels/credential-summary.js';
import { CredentialDecryptError, openCredentials, sealCredentials, type SealedCredentials } from '../../src/secrets/channel-credentials.js';
import { masterKeyId } from '../../src/secrets/sealing.js';
import type { AlipayCredentials, UnionpayCredentials, WxpayCredentials } from '../../src/channels/credentials.js';
import type { ChannelCredentialRow } from '../../src/db/credential-reads.js';
import { checkLiveCredentialsAtStartup, loadLiveCredentials, MasterKeyMissingError } from '../../src/services/live-credentials.js';
import { channelFixtures, pemBody, rsaKeyPair, certificatePem, pfx } from '../fixtures/channel-credentials.js';
import { testStorage } from '../fixtures/backends.js';
import { sealMerchantKey } from '../../src/secrets/merchant-keys.js';

const KEY = 'q2C0cQ9kGf0mXo3l0oH2VbQ8cXw1Yd5TzA7uJm4nKpE='; // the shape `openssl rand -base64 32` prints
const OTHER_KEY = 'Vb3nR8wq1Lx0PjZ5kYt7Cs2Hm9Ge4Ud6Fa+oNi/TrE0=';
const M1 = 'M100000000000001';
const M2 = 'M100000000000002';

const fx = channelFixtures();

const alipay = (): AlipayCredentials =>
  buildAlipayCredentials({ appId: '2021000000000001', privateKey: fx.alipay.appKey.privateKeyPem, alipayPublicKey: fx.alipay.alipayKey.publicKeyPem });
const wxpay = (): WxpayCredentials =>
  buildWxpayCredentials({
    mchid: '1900000001',
    appid: 'wx0123456789abcdef',
    serialNo: fx.wxpay.serialNo,
    privateKey: fx.wxpay.merchantKey.privateKeyPem,
    apiv3Key: fx.wxpay.apiv3Key,
    platformCert: fx.wxpay.platformCertPem,
  });
const unionpay = (): UnionpayCredentials =>
  buildUnionpayCredentials({
    merId: '777290058110048',
    signCertPfx: fx.unionpay.pfx,
    signCertPassword: fx.unionpay.password,
    rootCert: fx.unionpay.rootCertPem,
    middleCert: fx.unionpay.middleCertPem,
  });

/** Asserts `fn` throws a CredentialInputError naming `flag`. */
function throwsFlag(t: Test, fn: () => unknown, flag: string, match?: RegExp) {
  try {
    fn();
    t.fail(`expected an error naming ${flag}`);
  } catch (err) {
    t.type(err, CredentialInputError, `a CredentialInputError for ${flag}`);
    const e = err as CredentialInputError;
    t.equal(e.flag, flag, `names ${flag}: ${e.message}`);
    t.ok(e.message.startsWith(`${flag}: `), 'the message starts with the flag');
    if (match) t.match(e.message, match);
  }
}

t.test('master key id', async (t) => {
  t.match(masterKeyId(KEY), /^[0-9a-f]{16}$/);
  t.equal(masterKeyId(KEY), masterKeyId(KEY), 'stable');
  t.not(masterKeyId(KEY), masterKeyId(OTHER_KEY), 'differs between keys');
  t.notMatch(masterKeyId(KEY), KEY, 'says nothing of the key itself');
});

t.test('round trip for every payway', async (t) => {
  const cases = [
    ['alipay', alipay()],
    ['wxpay', wxpay()],
    ['unionpay', unionpay()],
  ] as const;
  for (const [payway, creds] of cases) {
    const sealed = sealCredentials(KEY, M1, payway, creds);
    t.equal(sealed.iv.length, 12, `${payway}: 12-byte IV`);
    t.equal(sealed.tag.length, 16, `${payway}: 16-byte tag`);
    t.equal(sealed.keyId, masterKeyId(KEY));
    t.same(openCredentials(KEY, M1, payway, sealed), creds, `${payway} decrypts to what was stored`);
    const again = sealCredentials(KEY, M1, payway, creds);
    t.not(again.iv.toString('hex'), sealed.iv.toString('hex'), `${payway}: a fresh IV every time`);
    t.not(again.ciphertext.toString('hex'), sealed.ciphertext.toString('hex'));
    // Nothing of the secret shows through the ciphertext.
    const blob = Buffer.concat([sealed.iv, sealed.tag, sealed.ciphertext]).toString('latin1');
    t.notOk(blob.includes('PRIVATE KEY'), `${payway}: no PEM armour in the ciphertext`);
  }
});

t.test('a wrong MASTER_KEY is reported as such', async (t) => {
  const sealed = sealCredentials(KEY, M1, 'wxpay', wxpay());
  try {
    openCredentials(OTHER_KEY, M1, 'wxpay', sealed);
    t.fail('decrypted with the wrong key');
  } catch (err) {
    t.type(err, CredentialDecryptError);
    t.equal((err as CredentialDecryptError).reason, 'wrong-key');
    t.match((err as Error).message, 'MASTER_KEY does not decrypt the stored credentials');
    t.notMatch((err as Error).message, OTHER_KEY, 'the message does not show the key');
    t.notMatch((err as Error).message, KEY);
  }
  // Even with a forged key id, GCM refuses a wrong key.
  t.throws(() => openCredentials(OTHER_KEY, M1, 'wxpay', { ...sealed, keyId: masterKeyId(OTHER_KEY) }), {
    name: 'CredentialDecryptError',
    message: /MASTER_KEY does not decrypt the stored credentials/,
  });
});

t.test('a row moved to another merchant or payway does not decrypt (AAD)', async (t) => {
  const sealed = sealCredentials(KEY, M1, 'alipay', alipay());
  t.throws(() => openCredentials(KEY, M2, 'alipay', sealed), { name: 'CredentialDecryptError', reason: 'tampered' }, 'another merchant');
  t.throws(() => openCredentials(KEY, M1, 'wxpay', sealed), { name: 'CredentialDecryptError', reason: 'tampered' }, 'another payway');
  t.ok(openCredentials(KEY, M1, 'alipay', sealed), 'still opens where it belongs');
});

t.test('a tampered ciphertext, tag or IV does not decrypt', async (t) => {
  const sealed = sealCredentials(KEY, M1, 'unionpay', unionpay());
  const flip = (b: Buffer, i: number) => {
    const c = Buffer.from(b);
    c[i] = c[i]! ^ 0x01;
    return c;
  };
  const variants: [string, SealedCredentials][] = [
    ['first ciphertext byte', { ...sealed, ciphertext: flip(sealed.ciphertext, 0) }],
    ['last ciphertext byte', { ...sealed, ciphertext: flip(sealed.ciphertext, sealed.ciphertext.length - 1) }],
    ['truncated ciphertext', { ...sealed, ciphertext: sealed.ciphertext.subarray(0, sealed.ciphertext.length - 1) }],
    ['tag', { ...sealed, tag: flip(sealed.tag, 3) }],
    ['iv', { ...sealed, iv: flip(sealed.iv, 11) }],
  ];
  for (const [what, v] of variants) {
    t.throws(() => openCredentials(KEY, M1, 'unionpay', v), { name: 'CredentialDecryptError', reason: 'tampered', message: /MASTER_KEY does not decrypt/ }, what);
  }
});

t.test('alipay validation', async (t) => {
  const good = alipay();
  t.equal(good.gatewayUrl, CHANNEL_DEFAULT_URLS.alipay, 'default gateway URL');
  t.match(good.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/, 'stored as PKCS#8 PEM');
  t.match(good.alipayPublicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
  const base = { appId: '2021000000000001', privateKey: fx.alipay.appKey.privateKeyPem, alipayPublicKey: fx.alipay.alipayKey.publicKeyPem };

  // What Alipay's key tool writes: the bare base64 body, PKCS#8 or PKCS#1.
  const bare = buildAlipayCredentials({ ...base, privateKey: pemBody(fx.alipay.appKey.privateKeyPem), alipayPublicKey: pemBody(fx.alipay.alipayKey.publicKeyPem) });
  t.same(bare, good, 'bare base64 keys are accepted and normalized');
  const pkcs1 = createPrivateKey(fx.alipay.appKey.privateKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
  t.same(buildAlipayCredentials({ ...base, privateKey: pkcs1 }), good, 'PKCS#1 PEM');
  t.same(buildAlipayCredentials({ ...base, privateKey: pemBody(pkcs1) }), good, 'bare PKCS#1');
  t.same(buildAlipayCredentials({ ...base, alipayPublicKey: fx.alipay.alipayCertPem }), good, "Alipay's public key certificate");
  t.equal(buildAlipayCredentials({ ...base, gatewayUrl: 'http://127.0.0.1:9999/gateway.do' }).gatewayUrl, 'http://127.0.0.1:9999/gateway.do', 'overridable');

  throwsFlag(t, () => buildAlipayCredentials({ ...base, appId: '' }), '--app-id');
  throwsFlag(t, () => buildAlipayCredentials({ ...base, appId: 'has space' }), '--app-id');
  throwsFlag(t, () => buildAlipayCredentials({ ...base, privateKey: 'not a key' }), '--private-key-file');
  throwsFlag(t, () => buildAlipayCredentials({ ...base, privateKey: fx.alipay.alipayKey.publicKeyPem }), '--private-key-file', /public key/);
  throwsFlag(t, () => buildAlipayCredentials({ ...base, privateKey: rsaKeyPair(1024).privateKeyPem }), '--private-key-file', /2048/);
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  throwsFlag(t, () => buildAlipayCredentials({ ...base, privateKey: ec }), '--private-key-file', /RSA/);
  const encrypted = createPrivateKey(fx.alipay.appKey.privateKeyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string;
  throwsFlag(t, () => buildAlipayCredentials({ ...base, privateKey: encrypted }), '--private-key-file', /encrypted/);
  throwsFlag(t, () => buildAlipayCredentials({ ...base, alipayPublicKey: 'garbage!' }), '--alipay-public-key-file');
  throwsFlag(t, () => buildAlipayCredentials({ ...base, alipayPublicKey: fx.alipay.alipayKey.privateKeyPem }), '--alipay-public-key-file', /private key/);
  throwsFlag(t, () => buildAlipayCredentials({ ...base, alipayPublicKey: fx.alipay.appKey.publicKeyPem }), '--alipay-public-key-file', /own public key/);
  throwsFlag(t, () => buildAlipayCredentials({ ...base, gatewayUrl: 'ftp://example.com' }), '--gateway-url');
  throwsFlag(t, () => buildAlipayCredentials({ ...base, gatewayUrl: 'not a url' }), '--gateway-url');
});

t.test('wxpay validation', async (t) => {
  const good = wxpay();
  t.equal(good.baseUrl, CHANNEL_DEFAULT_URLS.wxpay);
  t.equal(good.serialNo, fx.wxpay.serialNo.toUpperCase(), 'serial kept as upper-case hex');
  t.ok(good.platformCertPem && !good.wechatpayPublicKeyPem && !good.wechatpayPublicKeyId, 'platform certificate mode');
  const base = {
    mchid: '1900000001',
    appid: 'wx0123456789abcdef',
    serialNo: fx.wxpay.serialNo,
    privateKey: fx.wxpay.merchantKey.privateKeyPem,
    apiv3Key: fx.wxpay.apiv3Key,
  };
  const pk = buildWxpayCredentials({ ...base, wechatpayPublicKey: fx.wxpay.publicKey.publicKeyPem, wechatpayPublicKeyId: 'PUB_KEY_ID_0114232134912410000000000000', baseUrl: 'http://127.0.0.1:8000/' });
  t.equal(pk.wechatpayPublicKeyId, 'PUB_KEY_ID_0114232134912410000000000000');
  t.match(pk.wechatpayPublicKeyPem, /BEGIN PUBLIC KEY/);
  t.equal(pk.platformCertPem, undefined);
  t.equal(pk.baseUrl, 'http://127.0.0.1:8000', 'trailing slash dropped');

  const withCert = { ...base, platformCert: fx.wxpay.platformCertPem };
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, mchid: undefined }), '--mchid');
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, appid: '' }), '--appid');
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, serialNo: 'XYZ' }), '--serial-no');
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, privateKey: undefined }), '--private-key-file');
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, apiv3Key: fx.wxpay.apiv3Key.slice(1) }), '--apiv3-key', /exactly 32 bytes.*got 31/);
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, apiv3Key: `${fx.wxpay.apiv3Key}x` }), '--apiv3-key', /got 33/);
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, apiv3Key: 'é'.repeat(16) }), '--apiv3-key', /ASCII/);
  throwsFlag(t, () => buildWxpayCredentials(base), '--platform-cert-file', /one is required/);
  throwsFlag(
    t,
    () => buildWxpayCredentials({ ...withCert, wechatpayPublicKey: fx.wxpay.publicKey.publicKeyPem, wechatpayPublicKeyId: 'PUB_KEY_ID_1' }),
    '--platform-cert-file',
    /not both/,
  );
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, platformCert: 'not a certificate' }), '--platform-cert-file');
  const own = certificatePem({ subjectCn: 'me', key: fx.wxpay.merchantKey });
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, platformCert: own }), '--platform-cert-file', /own merchant certificate/);
  throwsFlag(t, () => buildWxpayCredentials({ ...base, wechatpayPublicKey: fx.wxpay.publicKey.publicKeyPem }), '--wechatpay-public-key-id');
  throwsFlag(t, () => buildWxpayCredentials({ ...base, wechatpayPublicKeyId: 'PUB_KEY_ID_1' }), '--wechatpay-public-key-file');
  throwsFlag(
    t,
    () => buildWxpayCredentials({ ...base, wechatpayPublicKey: fx.wxpay.publicKey.publicKeyPem, wechatpayPublicKeyId: 'KEY_1' }),
    '--wechatpay-public-key-id',
  );
  throwsFlag(t, () => buildWxpayCredentials({ ...base, wechatpayPublicKey: 'nope', wechatpayPublicKeyId: 'PUB_KEY_ID_1' }), '--wechatpay-public-key-file');
  throwsFlag(t, () => buildWxpayCredentials({ ...withCert, baseUrl: 'api.mch.weixin.qq.com' }), '--base-url');
});

t.test('unionpay validation', async (t) => {
  const good = unionpay();
  t.equal(good.certId, BigInt(`0x${fx.unionpay.serialHex}`).toString(10), 'certId is the signing certificate serial in decimal');
  t.equal(good.certId, '460367961908983', 'that is 0x01a2b3c4d5e6f7');
  t.equal(good.baseUrl, CHANNEL_DEFAULT_URLS.unionpay);
  t.match(good.signKeyPem, /^-----BEGIN PRIVATE KEY-----/, 'the key out of the .pfx, PKCS#8 PEM');
  t.same(
    createPrivateKey(good.signKeyPem).export({ type: 'pkcs8', format: 'der' }),
    createPrivateKey(fx.unionpay.signKey.privateKeyPem).export({ type: 'pkcs8', format: 'der' }),
    'the same key as put into the .pfx',
  );
  t.equal(new X509Certificate(good.signCertPem).fingerprint256, new X509Certificate(fx.unionpay.signCertPem).fingerprint256, 'the same certificate');
  t.match(good.rootCertPem, /BEGIN CERTIFICATE/);
  t.match(good.middleCertPem, /BEGIN CERTIFICATE/);
  // DER certificates (.cer files) are read too.
  const der = (pem: string) => new X509Certificate(pem).raw;
  t.same(buildUnionpayCredentials({ merId: '777290058110048', signCertPfx: fx.unionpay.pfx, signCertPassword: fx.unionpay.password, rootCert: der(fx.unionpay.rootCertPem), middleCert: der(fx.unionpay.middleCertPem) }), good, 'DER root and middle');

  const base = {
    merId: '777290058110048',
    signCertPfx: fx.unionpay.pfx,
    signCertPassword: fx.unionpay.password,
    rootCert: fx.unionpay.rootCertPem,
    middleCert: fx.unionpay.middleCertPem,
    baseUrl: 'http://127.0.0.1:7000',
  };
  t.equal(buildUnionpayCredentials(base).baseUrl, 'http://127.0.0.1:7000', 'overridable');
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, merId: '' }), '--mer-id');
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, signCertPassword: 'wrong password' }), '--sign-cert-password', /wrong password/);
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, signCertPassword: undefined }), '--sign-cert-password');
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, signCertPfx: Buffer.from('not a pfx at all') }), '--sign-cert-file', /PKCS#12/);
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, signCertPfx: Buffer.from(fx.unionpay.signCertPem) }), '--sign-cert-file');
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, signCertPfx: undefined }), '--sign-cert-file');
  // A .pfx whose certificate belongs to another key.
  const mismatched = pfx(fx.unionpay.signKey, fx.unionpay.rootCertPem, 'pw');
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, signCertPfx: mismatched, signCertPassword: 'pw' }), '--sign-cert-file', /no certificate for its private key/);
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, rootCert: 'nope' }), '--root-cert-file');
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, middleCert: undefined }), '--middle-cert-file');
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, rootCert: fx.unionpay.middleCertPem, middleCert: fx.unionpay.rootCertPem }), '--middle-cert-file', /swapped/);
  throwsFlag(t, () => buildUnionpayCredentials({ ...base, baseUrl: 'gateway.95516.com' }), '--base-url');
});

t.test('summaries carry no secret', async (t) => {
  const a = alipay();
  const w = wxpay();
  const u = unionpay();
  const all = JSON.stringify([summarizeCredentials('alipay', a), summarizeCredentials('wxpay', w), summarizeCredentials('unionpay', u)]);
  for (const pem of [a.privateKeyPem, w.privateKeyPem, u.signKeyPem, fx.alipay.appKey.privateKeyPem, fx.wxpay.merchantKey.privateKeyPem, fx.unionpay.signKey.privateKeyPem]) {
    const body = pemBody(pem);
    t.notOk(all.includes(body.slice(0, 40)), 'no private key material');
    t.notOk(all.includes(body.slice(-60, -20)), 'no private key material (tail)');
  }
  t.notOk(all.includes(w.apiv3Key), 'no APIv3 key');
  t.notOk(all.includes(fx.unionpay.password), 'no .pfx password');
  t.notOk(all.includes('PRIVATE'), 'no PEM armour of a private key');
  const ws = summarizeCredentials('wxpay', w);
  t.match(ws, { payway: 'wxpay', mchid: '1900000001', apiv3Key: '********', verifyWith: 'platform-cert', platformCert: { sha256: /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, expired: false } });
  const us = summarizeCredentials('unionpay', u);
  t.match(us, { payway: 'unionpay', certId: u.certId, signCert: { serialNumber: /01A2B3C4D5E6F7/i }, signKey: { secret: '********', type: 'rsa', bits: 2048 } });
  t.equal(channelCallbackUrl('https://pay.example.com/', 'unionpay', M1), `https://pay.example.com/channel/unionpay/notify/${M1}`);
});

t.test('stored rows, the loader cache and the start-up check', async (t) => {
  const { storage, sql, another } = await testStorage(t);
  const writer = storage.writer;
  const now = Date.now();
  for (const [merc_no, mode] of [[M1, 'live'], [M2, 'sandbox']] as const) {
    await writer.run('insertMerchant', {
      merc_no,
      name: merc_no,
      mode,
      key_sealed: sealMerchantKey(KEY, merc_no, 'k'.repeat(43)).toString('base64'),
      status: 'active',
      created_at: now,
      updated_at: now,
    });
  }
  const put = (mercNo: string, payway: 'alipay' | 'wxpay' | 'unionpay', creds: AlipayCredentials | WxpayCredentials | UnionpayCredentials, key = KEY) => {
    const s = sealCredentials(key, mercNo, payway, creds as never);
    return writer.run('putChannelCredentials', {
      mercNo,
      payway,
      keyId: s.keyId,
      iv: s.iv.toString('base64'),
      tag: s.tag.toString('base64'),
      ciphertext: s.ciphertext.toString('base64'),
      at: now,
    });
  };

  // The start-up check reads the stored rows once, before anything else runs (as openSecrets is given them).
  const stored = async () => {
    const rows: ChannelCredentialRow[] = await storage.credentials.allChannelCredentials();
    return { allChannelCredentials: () => rows };
  };
  const port = storage.credentials;
  t.same(checkLiveCredentialsAtStartup(await stored(), { MASTER_KEY: undefined }), { checked: 0 }, 'no rows: nothing needed');
  t.equal((await loadLiveCredentials(port, undefined, M1, 'alipay')), undefined, 'none stored');

  t.equal(await put(M1, 'alipay', alipay()), 'created');
  await t.rejects(put(M2, 'alipay', alipay()), /not a live merchant/, 'a sandbox merchant holds no credentials');
  await t.rejects(put('M999999999999999', 'alipay', alipay()), /does not exist or is not a live merchant/);

  const first = (await loadLiveCredentials(port, KEY, M1, 'alipay'));
  t.equal(first?.appId, '2021000000000001');
  t.equal((await loadLiveCredentials(port, KEY, M1, 'alipay')), first, 'the second load is served from the cache');
  // A second reader of the same database (another instance, or the CLI), with a loader cache of its own.
  const reads = another().credentials;
  const stamp1 = (await reads.channelCredentials(M1, 'alipay'))!.updated_at;

  // A change made meanwhile (as by the CLI beside the server), even within the same millisecond.
  const changed = { ...alipay(), appId: '2021000000000002' };
  t.equal(await put(M1, 'alipay', changed), 'updated');
  t.ok((await reads.channelCredentials(M1, 'alipay'))!.updated_at > stamp1, 'updated_at moved on');
  t.equal((await loadLiveCredentials(reads, KEY, M1, 'alipay'))?.appId, '2021000000000002', 'the change takes effect');
  t.equal((await loadLiveCredentials(port, KEY, M1, 'alipay'))?.appId, '2021000000000002', 'through the first reader too');

  await t.rejects(loadLiveCredentials(port, undefined, M1, 'alipay'), MasterKeyMissingError);
  await t.rejects(loadLiveCredentials(port, OTHER_KEY, M1, 'alipay'), { name: 'CredentialDecryptError', message: /MASTER_KEY does not decrypt/ });

  await put(M1, 'wxpay', wxpay());
  await put(M1, 'unionpay', unionpay());
  t.same((await loadLiveCredentials(port, KEY, M1, 'unionpay')), unionpay(), 'typed credentials come back whole');
  const three = await stored();
  t.same(checkLiveCredentialsAtStartup(three, { MASTER_KEY: KEY }), { checked: 3 });
  t.throws(() => checkLiveCredentialsAtStartup(three, { MASTER_KEY: undefined }), {
    name: 'MasterKeyMissingError',
    message: /MASTER_KEY is not set.*M100000000000001\/alipay.*openssl rand -base64 32/s,
  });
  t.throws(() => checkLiveCredentialsAtStartup(three, { MASTER_KEY: OTHER_KEY }), {
    name: 'CredentialDecryptError',
    message: /MASTER_KEY does not decrypt the stored credentials \(3 of 3/,
  });

  // A row copied onto another payway fails the start-up check as tampered.
  t.equal(
    await sql.run(`UPDATE channel_credentials SET iv = (SELECT iv FROM channel_credentials WHERE payway = 'alipay'),
    tag = (SELECT tag FROM channel_credentials WHERE payway = 'alipay'),
    ciphertext = (SELECT ciphertext FROM channel_credentials WHERE payway = 'alipay') WHERE payway = 'wxpay'`),
    1,
  );
  const copied = await stored();
  t.throws(() => checkLiveCredentialsAtStartup(copied, { MASTER_KEY: KEY }), { reason: 'tampered', message: /1 of 3.*M100000000000001\/wxpay/s });

  t.equal(await writer.run('removeChannelCredentials', { mercNo: M1, payway: 'wxpay' }), true);
  t.equal(await writer.run('removeChannelCredentials', { mercNo: M1, payway: 'wxpay' }), false, 'nothing left to remove');
  t.equal((await loadLiveCredentials(port, KEY, M1, 'wxpay')), undefined, 'removed');
  t.same(checkLiveCredentialsAtStartup(await stored(), { MASTER_KEY: KEY }), { checked: 2 });
});
