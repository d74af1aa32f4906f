import {
  X509Certificate,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import forge from 'node-forge';
import type {
  AlipayCredentials,
  CredentialsByPayway,
  LivePayway,
  UnionpayCredentials,
  WxpayCredentials,
} from './credentials.js';

// Channel credentials at rest (CONTRACT §3). Pure: no database, no files, no logging.
//
// Encryption: AES-256-GCM. The key is derived from MASTER_KEY with HKDF-SHA256:
//   key    = HKDF-SHA256(ikm = MASTER_KEY as UTF-8 text, salt = "dtpay/master-key/v1",
//                        info = "dtpay channel credentials aes-256-gcm v1", 32 bytes)
//   key id = first 8 bytes, hex, of HKDF-SHA256(same ikm and salt, info = "dtpay master key id v1", 32 bytes)
// The MASTER_KEY text itself is the input keying material (it is not base64- or hex-decoded), so
// any string `openssl rand -base64 32` or `-hex 32` prints works as it is. Every row gets a fresh
// random 12-byte IV, and "dtpay/channel-credentials/v1|<mercNo>|<payway>" is the additional
// authenticated data, so a row copied onto another merchant or payway does not decrypt. The key id
// is stored with the row: a wrong MASTER_KEY is told apart from an altered row before decrypting,
// and says nothing about the key (it is an independent HKDF output).

export const CHANNEL_DEFAULT_URLS: Readonly<Record<LivePayway, string>> = Object.freeze({
  alipay: 'https://openapi.alipay.com/gateway.do',
  wxpay: 'https://api.mch.weixin.qq.com',
  unionpay: 'https://gateway.95516.com',
});

export const LIVE_PAYWAYS: readonly LivePayway[] = ['alipay', 'wxpay', 'unionpay'];

export const isLivePayway = (s: string): s is LivePayway => (LIVE_PAYWAYS as readonly string[]).includes(s);

const SALT = 'dtpay/master-key/v1';
const ENC_INFO = 'dtpay channel credentials aes-256-gcm v1';
const ID_INFO = 'dtpay master key id v1';
const FORMAT = 1;

/** What the table stores for one (merchant, payway). */
export interface SealedCredentials {
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** The stored credentials do not open with this MASTER_KEY (wrong key, or an altered or moved row). */
export class CredentialDecryptError extends Error {
  override name = 'CredentialDecryptError';
  constructor(
    message: string,
    readonly reason: 'wrong-key' | 'tampered',
  ) {
    super(message);
  }
}

/** A credential input that does not hold up; `flag` is the CLI option it came from. */
export class CredentialInputError extends Error {
  override name = 'CredentialInputError';
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`${flag}: ${problem}`);
  }
}

interface DerivedKeys {
  encKey: Buffer;
  keyId: string;
}

const derived = new Map<string, DerivedKeys>();

function derive(masterKey: string): DerivedKeys {
  if (masterKey.length === 0) throw new Error('MASTER_KEY is empty');
  const cached = derived.get(masterKey);
  if (cached) return cached;
  const ikm = Buffer.from(masterKey, 'utf8');
  const encKey = Buffer.from(hkdfSync('sha256', ikm, SALT, ENC_INFO, 32));
  const keyId = Buffer.from(hkdfSync('sha256', ikm, SALT, ID_INFO, 32)).subarray(0, 8).toString('hex');
  const keys = { encKey, keyId };
  if (derived.size > 16) derived.clear();
  derived.set(masterKey, keys);
  return keys;
}

/** A short public identifier of a MASTER_KEY (16 hex digits), stored beside each row. */
export function masterKeyId(masterKey: string): string {
  return derive(masterKey).keyId;
}

const aad = (mercNo: string, payway: LivePayway) => Buffer.from(`dtpay/channel-credentials/v1|${mercNo}|${payway}`, 'utf8');

export function sealCredentials<P extends LivePayway>(
  masterKey: string,
  mercNo: string,
  payway: P,
  credentials: CredentialsByPayway[P],
): SealedCredentials {
  const { encKey, keyId } = derive(masterKey);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', encKey, iv);
  cipher.setAAD(aad(mercNo, payway));
  const plain = Buffer.from(JSON.stringify({ v: FORMAT, payway, credentials }), 'utf8');
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  return { keyId, iv, tag: cipher.getAuthTag(), ciphertext };
}

export function openCredentials<P extends LivePayway>(
  masterKey: string,
  mercNo: string,
  payway: P,
  sealed: SealedCredentials,
): CredentialsByPayway[P] {
  const { encKey, keyId } = derive(masterKey);
  const where = `${mercNo}/${payway}`;
  if (sealed.keyId !== keyId) {
    throw new CredentialDecryptError(
      `MASTER_KEY does not decrypt the stored credentials (${where} was stored with the MASTER_KEY whose key id is ` +
        `${sealed.keyId}; the MASTER_KEY given has key id ${keyId}). Set MASTER_KEY to the value used by \`dtpay channel set\`.`,
      'wrong-key',
    );
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', encKey, sealed.iv);
    decipher.setAAD(aad(mercNo, payway));
    decipher.setAuthTag(sealed.tag);
    plain = Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    throw new CredentialDecryptError(
      `MASTER_KEY does not decrypt the stored credentials of ${where}: the row fails its integrity check ` +
        '(it was altered, or copied from another merchant or payway). Store them again with `dtpay channel set`.',
      'tampered',
    );
  }
  const doc = JSON.parse(plain.toString('utf8')) as { v?: number; payway?: string; credentials?: unknown };
  plain.fill(0);
  if (doc.v !== FORMAT || doc.payway !== payway || typeof doc.credentials !== 'object' || doc.credentials === null) {
    throw new CredentialDecryptError(`the stored credentials of ${where} are in an unknown format`, 'tampered');
  }
  return doc.credentials as CredentialsByPayway[P];
}

// ---------------------------------------------------------------------------------------------
// Validation: what `dtpay channel set` reads from files and flags, checked and normalized into the
// shapes of credentials.ts. Every error names the flag to fix.

const ID = /^[\x21-\x7e]{1,64}$/;

function identifier(flag: string, value: string | undefined, what: string): string {
  const v = value?.trim() ?? '';
  if (v === '') throw new CredentialInputError(flag, `${what} is required`);
  if (!ID.test(v)) throw new CredentialInputError(flag, `${what} must be 1-64 printable characters without spaces`);
  return v;
}

function baseUrl(flag: string, value: string | undefined, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CredentialInputError(flag, 'must be an http(s) URL such as https://example.com');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || /\s/.test(value) || url.username || url.password) {
    throw new CredentialInputError(flag, 'must be an http(s) URL such as https://example.com, without user or password');
  }
  return value.replace(/\/+$/, '');
}

const text = (input: string | Buffer) => (typeof input === 'string' ? input : input.toString('utf8'));

/** Key files come as PEM, or as the bare base64 body Alipay's key tool writes. */
function wrapBare(body: string, label: string): string {
  const b64 = body.replace(/\s+/g, '');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

const BARE_BASE64 = /^[A-Za-z0-9+/=\s]+$/;

function privateKey(flag: string, input: string | Buffer | undefined): KeyObject {
  if (input === undefined || input.length === 0) throw new CredentialInputError(flag, 'the private key file is required');
  const s = text(input).trim();
  const attempts: (() => KeyObject)[] = [];
  if (s.includes('-----BEGIN')) attempts.push(() => createPrivateKey(s));
  else if (BARE_BASE64.test(s)) {
    attempts.push(() => createPrivateKey(wrapBare(s, 'PRIVATE KEY')));
    attempts.push(() => createPrivateKey(wrapBare(s, 'RSA PRIVATE KEY')));
  } else if (Buffer.isBuffer(input)) {
    attempts.push(() => createPrivateKey({ key: input, format: 'der', type: 'pkcs8' }));
  }
  for (const attempt of attempts) {
    try {
      return requireRsa(flag, attempt(), 'private key');
    } catch (err) {
      if (err instanceof CredentialInputError) throw err;
    }
  }
  if (/ENCRYPTED/.test(s)) throw new CredentialInputError(flag, 'the private key is encrypted; give it without a passphrase');
  if (/CERTIFICATE|PUBLIC KEY/.test(s)) throw new CredentialInputError(flag, 'this is a certificate or a public key, not a private key');
  throw new CredentialInputError(flag, 'not a readable private key (expected PEM, PKCS#8 or PKCS#1)');
}

function requireRsa(flag: string, key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CredentialInputError(flag, `the ${what} is ${key.asymmetricKeyType ?? 'of an unknown type'}; an RSA key is needed`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw new CredentialInputError(flag, `the RSA ${what} has ${bits} bits; at least 2048 are needed`);
  return key;
}

/** A public key from PEM/bare base64, or the public key inside an X.509 certificate. */
function publicKey(flag: string, input: string | Buffer | undefined): KeyObject {
  if (input === undefined || input.length === 0) throw new CredentialInputError(flag, 'the public key file is required');
  const s = text(input).trim();
  if (/PRIVATE KEY/.test(s)) throw new CredentialInputError(flag, 'this is a private key; give the public key');
  try {
    if (s.includes('-----BEGIN CERTIFICATE')) return requireRsa(flag, new X509Certificate(s).publicKey, 'public key');
    if (s.includes('-----BEGIN')) return requireRsa(flag, createPublicKey(s), 'public key');
    if (BARE_BASE64.test(s)) return requireRsa(flag, createPublicKey(wrapBare(s, 'PUBLIC KEY')), 'public key');
  } catch (err) {
    if (err instanceof CredentialInputError) throw err;
  }
  throw new CredentialInputError(flag, 'not a readable public key (expected PEM or the base64 text of the key)');
}

function certificate(flag: string, input: string | Buffer | undefined): X509Certificate {
  if (input === undefined || input.length === 0) throw new CredentialInputError(flag, 'the certificate file is required');
  try {
    return new X509Certificate(input);
  } catch {
    throw new CredentialInputError(flag, 'not a readable X.509 certificate (expected PEM or DER)');
  }
}

const pkcs8Pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const spkiPem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;
const spkiDer = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
const samePublic = (a: KeyObject, b: KeyObject) => spkiDer(a).equals(spkiDer(b));

export interface AlipayInput {
  appId?: string;
  privateKey?: string | Buffer;
  alipayPublicKey?: string | Buffer;
  gatewayUrl?: string;
}

export function buildAlipayCredentials(input: AlipayInput): AlipayCredentials {
  const appId = identifier('--app-id', input.appId, 'the Alipay application id');
  const key = privateKey('--private-key-file', input.privateKey);
  const alipayKey = publicKey('--alipay-public-key-file', input.alipayPublicKey);
  if (samePublic(createPublicKey(key), alipayKey)) {
    throw new CredentialInputError(
      '--alipay-public-key-file',
      "this is your application's own public key (the public half of --private-key-file); give the Alipay public key from the Alipay console",
    );
  }
  return {
    appId,
    privateKeyPem: pkcs8Pem(key),
    alipayPublicKeyPem: spkiPem(alipayKey),
    gatewayUrl: baseUrl('--gateway-url', input.gatewayUrl, CHANNEL_DEFAULT_URLS.alipay),
  };
}

export interface WxpayInput {
  mchid?: string;
  appid?: string;
  serialNo?: string;
  privateKey?: string | Buffer;
  apiv3Key?: string;
  platformCert?: string | Buffer;
  wechatpayPublicKey?: string | Buffer;
  wechatpayPublicKeyId?: string;
  baseUrl?: string;
}

export function buildWxpayCredentials(input: WxpayInput): WxpayCredentials {
  const mchid = identifier('--mchid', input.mchid, 'the merchant id (mchid)');
  const appid = identifier('--appid', input.appid, 'the appid');
  const serial = input.serialNo?.trim() ?? '';
  if (!/^[0-9A-Fa-f]{1,64}$/.test(serial)) {
    throw new CredentialInputError('--serial-no', 'must be the merchant API certificate serial number in hex');
  }
  const key = privateKey('--private-key-file', input.privateKey);
  const apiv3Key = input.apiv3Key ?? '';
  const apiv3Bytes = Buffer.byteLength(apiv3Key, 'utf8');
  if (apiv3Bytes !== 32) {
    throw new CredentialInputError('--apiv3-key', `must be exactly 32 bytes (the APIv3 key set in the merchant platform); got ${apiv3Bytes}`);
  }
  if (!/^[\x21-\x7e]{32}$/.test(apiv3Key)) {
    throw new CredentialInputError('--apiv3-key', 'must be 32 printable ASCII characters (the APIv3 key set in the merchant platform)');
  }
  const hasCert = input.platformCert !== undefined;
  const hasPub = input.wechatpayPublicKey !== undefined || input.wechatpayPublicKeyId !== undefined;
  if (hasCert && hasPub) {
    throw new CredentialInputError(
      '--platform-cert-file',
      'give either --platform-cert-file or --wechatpay-public-key-file with --wechatpay-public-key-id, not both',
    );
  }
  if (!hasCert && !hasPub) {
    throw new CredentialInputError(
      '--platform-cert-file',
      'one is required: --platform-cert-file, or --wechatpay-public-key-file with --wechatpay-public-key-id',
    );
  }
  const out: WxpayCredentials = {
    mchid,
    appid,
    serialNo: serial.toUpperCase(),
    privateKeyPem: pkcs8Pem(key),
    apiv3Key,
    baseUrl: baseUrl('--base-url', input.baseUrl, CHANNEL_DEFAULT_URLS.wxpay),
  };
  const own = createPublicKey(key);
  if (hasCert) {
    const cert = certificate('--platform-cert-file', input.platformCert);
    requireRsa('--platform-cert-file', cert.publicKey, 'certificate key');
    if (samePublic(cert.publicKey, own)) {
      throw new CredentialInputError('--platform-cert-file', "this is your own merchant certificate; give WeChat Pay's platform certificate");
    }
    out.platformCertPem = cert.toString();
  } else {
    if (input.wechatpayPublicKey === undefined) {
      throw new CredentialInputError('--wechatpay-public-key-file', 'is required with --wechatpay-public-key-id');
    }
    const pub = publicKey('--wechatpay-public-key-file', input.wechatpayPublicKey);
    if (samePublic(pub, own)) {
      throw new CredentialInputError('--wechatpay-public-key-file', "this is the public half of --private-key-file; give WeChat Pay's public key");
    }
    const id = input.wechatpayPublicKeyId?.trim() ?? '';
    if (!/^PUB_KEY_ID_[0-9A-Za-z_]{1,64}$/.test(id)) {
      throw new CredentialInputError('--wechatpay-public-key-id', 'must be the public key id shown with the key, PUB_KEY_ID_…');
    }
    out.wechatpayPublicKeyPem = spkiPem(pub);
    out.wechatpayPublicKeyId = id;
  }
  return out;
}

export interface UnionpayInput {
  merId?: string;
  signCertPfx?: Buffer;
  signCertPassword?: string;
  rootCert?: string | Buffer;
  middleCert?: string | Buffer;
  baseUrl?: string;
}

/** The signing key and certificate out of a PKCS#12 file (node:crypto cannot read PKCS#12). */
export function readPfx(pfx: Buffer, password: string): { keyPem: string; certPem: string; certId: string } {
  let p12: forge.pkcs12.Pkcs12Pfx;
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(pfx.toString('binary')));
  } catch {
    throw new CredentialInputError('--sign-cert-file', 'not a PKCS#12 (.pfx) file');
  }
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (err) {
    const msg = String((err as Error).message ?? '');
    if (/MAC could not be verified|Invalid password|decrypt/i.test(msg)) {
      throw new CredentialInputError('--sign-cert-password', 'does not open --sign-cert-file (wrong password?)');
    }
    throw new CredentialInputError('--sign-cert-file', 'not a PKCS#12 (.pfx) file, or one whose key is not RSA');
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag! })[forge.pki.oids.keyBag!] ?? []),
  ];
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  const keys = keyBags.flatMap((b) => (b.key ? [b.key] : []));
  if (keys.length === 0) throw new CredentialInputError('--sign-cert-file', 'the .pfx holds no private key (or one that is not RSA)');
  if (keys.length > 1) throw new CredentialInputError('--sign-cert-file', 'the .pfx holds more than one private key');
  const key = requireRsa('--sign-cert-file', createPrivateKey(forge.pki.privateKeyToPem(keys[0]!)), 'private key');
  const own = createPublicKey(key);
  const certs = certBags.flatMap((b) => (b.cert ? [new X509Certificate(forge.pki.certificateToPem(b.cert))] : []));
  const cert = certs.find((c) => samePublic(c.publicKey, own));
  if (!cert) throw new CredentialInputError('--sign-cert-file', 'the .pfx holds no certificate for its private key');
  return { keyPem: pkcs8Pem(key), certPem: cert.toString(), certId: BigInt(`0x${cert.serialNumber}`).toString(10) };
}

export function buildUnionpayCredentials(input: UnionpayInput): UnionpayCredentials {
  const merId = identifier('--mer-id', input.merId, 'the merchant id (merId)');
  if (!input.signCertPfx || input.signCertPfx.length === 0) throw new CredentialInputError('--sign-cert-file', 'the signing certificate (.pfx) is required');
  if (input.signCertPassword === undefined) throw new CredentialInputError('--sign-cert-password', 'the .pfx password is required');
  const { keyPem, certPem, certId } = readPfx(input.signCertPfx, input.signCertPassword);
  const root = certificate('--root-cert-file', input.rootCert);
  const middle = certificate('--middle-cert-file', input.middleCert);
  if (!root.ca) throw new CredentialInputError('--root-cert-file', 'is not a CA certificate (basicConstraints CA:TRUE)');
  if (!middle.ca) throw new CredentialInputError('--middle-cert-file', 'is not a CA certificate (basicConstraints CA:TRUE)');
  if (!middle.checkIssued(root) || !middle.verify(root.publicKey)) {
    throw new CredentialInputError('--middle-cert-file', 'is not issued by --root-cert-file (are the two files swapped?)');
  }
  return {
    merId,
    signKeyPem: keyPem,
    signCertPem: certPem,
    certId,
    rootCertPem: root.toString(),
    middleCertPem: middle.toString(),
    baseUrl: baseUrl('--base-url', input.baseUrl, CHANNEL_DEFAULT_URLS.unionpay),
  };
}

// ---------------------------------------------------------------------------------------------
// What `channel show` may print: identifiers, URLs, fingerprints and dates; never a private key,
// the APIv3 key or a password.

export const MASKED = '********';

/** SHA-256 of the DER form, colon-separated upper-case hex (as `openssl x509 -fingerprint -sha256`). */
const colonHex = (buf: Buffer) => buf.toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');

export interface KeySummary {
  type: string;
  bits: number | undefined;
  sha256: string;
}

export interface CertSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  sha256: string;
  validFrom: string;
  validTo: string;
  expired: boolean;
}

function keySummary(key: KeyObject): KeySummary {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return {
    type: pub.asymmetricKeyType ?? 'unknown',
    bits: pub.asymmetricKeyDetails?.modulusLength,
    sha256: colonHex(createHash('sha256').update(spkiDer(pub)).digest()),
  };
}

function certSummary(pem: string, now: number): CertSummary {
  const c = new X509Certificate(pem);
  const validTo = new Date(c.validTo);
  return {
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    serialNumber: c.serialNumber,
    sha256: c.fingerprint256,
    validFrom: new Date(c.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    expired: validTo.getTime() < now,
  };
}

export type CredentialSummary =
  | {
      payway: 'alipay';
      appId: string;
      gatewayUrl: string;
      /** the public half of the application private key (what is uploaded to Alipay) */
      privateKey: KeySummary & { secret: typeof MASKED };
      alipayPublicKey: KeySummary;
    }
  | {
      payway: 'wxpay';
      mchid: string;
      appid: string;
      serialNo: string;
      baseUrl: string;
      privateKey: KeySummary & { secret: typeof MASKED };
      apiv3Key: typeof MASKED;
      verifyWith: 'platform-cert' | 'public-key';
      platformCert?: CertSummary;
      wechatpayPublicKey?: KeySummary & { id: string };
    }
  | {
      payway: 'unionpay';
      merId: string;
      certId: string;
      baseUrl: string;
      signKey: KeySummary & { secret: typeof MASKED };
      signCert: CertSummary;
      rootCert: CertSummary;
      middleCert: CertSummary;
    };

export function summarizeCredentials<P extends LivePayway>(payway: P, c: CredentialsByPayway[P], now = Date.now()): CredentialSummary {
  switch (payway) {
    case 'alipay': {
      const a = c as AlipayCredentials;
      return {
        payway: 'alipay',
        appId: a.appId,
        gatewayUrl: a.gatewayUrl,
        privateKey: { ...keySummary(createPrivateKey(a.privateKeyPem)), secret: MASKED },
        alipayPublicKey: keySummary(createPublicKey(a.alipayPublicKeyPem)),
      };
    }
    case 'wxpay': {
      const w = c as WxpayCredentials;
      return {
        payway: 'wxpay',
        mchid: w.mchid,
        appid: w.appid,
        serialNo: w.serialNo,
        baseUrl: w.baseUrl,
        privateKey: { ...keySummary(createPrivateKey(w.privateKeyPem)), secret: MASKED },
        apiv3Key: MASKED,
        verifyWith: w.platformCertPem ? 'platform-cert' : 'public-key',
        ...(w.platformCertPem ? { platformCert: certSummary(w.platformCertPem, now) } : {}),
        ...(w.wechatpayPublicKeyPem
          ? { wechatpayPublicKey: { ...keySummary(createPublicKey(w.wechatpayPublicKeyPem)), id: w.wechatpayPublicKeyId ?? '' } }
          : {}),
      };
    }
    default: {
      const u = c as UnionpayCredentials;
      return {
        payway: 'unionpay',
        merId: u.merId,
        certId: u.certId,
        baseUrl: u.baseUrl,
        signKey: { ...keySummary(createPrivateKey(u.signKeyPem)), secret: MASKED },
        signCert: certSummary(u.signCertPem, now),
        rootCert: certSummary(u.rootCertPem, now),
        middleCert: certSummary(u.middleCertPem, now),
      };
    }
  }
}

/** Where the channel sends its asynchronous results for this merchant (registered by the operator). */
export function channelCallbackUrl(publicBaseUrl: string, payway: LivePayway, mercNo: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/channel/${payway}/notify/${mercNo}`;
}
