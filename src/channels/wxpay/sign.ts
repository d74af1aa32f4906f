// WeChat Pay v3 signatures, both directions (channel-protocols.md §2):
// - our requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 …`, SHA256withRSA with the
//   merchant API key over `METHOD\nPATH?QUERY\nTS\nNONCE\nBODY\n`;
// - WeChat's answers and notifications carry Wechatpay-Timestamp/-Nonce/-Serial/-Signature,
//   SHA256withRSA over `TS\nNONCE\nBODY\n` with the platform certificate's key or the WeChat Pay
//   public key (serial PUB_KEY_ID_…).
// Nothing here logs or returns a key or a signed message.

import { X509Certificate, createPrivateKey, createPublicKey, createSign, createVerify, randomBytes, type KeyObject } from 'node:crypto';
import type { WxpayCredentials } from '../credentials.js';
import { headerValue } from './wire.js';

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat's own bound on clock skew, for its answers and notifications as for our requests. */
export const WX_TIMESTAMP_WINDOW_S = 300;
/** WeChat sends probes signed with this prefix to check that merchants really verify; they must fail. */
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';

/** 32 characters of [0-9a-f]: fits every nonce field (nonce_str, noncestr, nonceStr ≤ 32). */
export const newNonce = (): string => randomBytes(16).toString('hex');

/** Lines joined with \n and a trailing \n — also after an empty last line (GET, 204). */
export const joinLines = (...lines: (string | number)[]): string => lines.map((l) => `${l}\n`).join('');

export const requestMessage = (method: string, pathWithQuery: string, timestamp: number | string, nonce: string, body: string): string =>
  joinLines(method, pathWithQuery, timestamp, nonce, body);

// Parsing PEM costs more than the signature check; keys are cached by their text. The map holds what
// the credentials already hold in memory, and is bounded so rotated keys do not pile up.
const keyCache = new Map<string, KeyObject>();
function cached(pem: string, make: (pem: string) => KeyObject): KeyObject {
  let k = keyCache.get(pem);
  if (!k) {
    if (keyCache.size > 64) keyCache.clear();
    k = make(pem);
    keyCache.set(pem, k);
  }
  return k;
}

/** SHA256withRSA, base64 — the one primitive behind Authorization, paySign and APP sign. */
export function rsaSign(message: string, privateKeyPem: string): string {
  return createSign('RSA-SHA256').update(message).sign(cached(privateKeyPem, createPrivateKey), 'base64');
}

export interface AuthorizationInput {
  mchid: string;
  serialNo: string;
  privateKeyPem: string;
  method: string;
  /** pathname plus ?query, exactly as sent */
  pathWithQuery: string;
  /** the exact bytes sent; '' for GET */
  body: string;
  timestamp: number;
  nonce: string;
}

export function authorizationHeader(a: AuthorizationInput): string {
  const signature = rsaSign(requestMessage(a.method, a.pathWithQuery, a.timestamp, a.nonce, a.body), a.privateKeyPem);
  return `${AUTH_SCHEME} mchid="${a.mchid}",nonce_str="${a.nonce}",signature="${signature}",timestamp="${a.timestamp}",serial_no="${a.serialNo}"`;
}

/**
 * A certificate's serial as WeChat writes it: 40 upper-case hex digits. node gives the serial's
 * integer without its leading zero bytes, so a serial that begins with 00 comes back shorter.
 */
export const certSerial = (x: X509Certificate): string => x.serialNumber.toUpperCase().padStart(40, '0');

/** Serials are integers: the same whatever their case or leading zeros. */
export const sameSerial = (a: string, b: string): boolean =>
  a.toUpperCase().replace(/^0+(?=.)/, '') === b.toUpperCase().replace(/^0+(?=.)/, '');

interface PlatformCert {
  serial: string;
  key: KeyObject;
}
const certCache = new Map<string, PlatformCert>();
function platformCert(pem: string): PlatformCert {
  let c = certCache.get(pem);
  if (!c) {
    const x = new X509Certificate(pem);
    if (certCache.size > 64) certCache.clear();
    c = { serial: certSerial(x), key: x.publicKey };
    certCache.set(pem, c);
  }
  return c;
}

/** The platform certificate's serial as WeChat writes it in Wechatpay-Serial (upper-case hex). */
export const platformCertSerial = (pem: string): string => platformCert(pem).serial;

/** The key that verifies an answer whose Wechatpay-Serial is `serial`, among the configured ones. */
function keyForSerial(serial: string, c: WxpayCredentials): KeyObject | undefined {
  if (serial.startsWith('PUB_KEY_ID_')) {
    return c.wechatpayPublicKeyPem && c.wechatpayPublicKeyId === serial ? cached(c.wechatpayPublicKeyPem, createPublicKey) : undefined;
  }
  if (c.platformCertPem) {
    const cert = platformCert(c.platformCertPem);
    if (sameSerial(cert.serial, serial)) return cert.key;
  }
  return undefined;
}

export type Verification = { ok: true } | { ok: false; reason: string };

/**
 * Verifies WeChat's signature on an answer or a notification, over the raw body bytes.
 * Order matters only for the reasons given: every failure is a failure.
 */
export function verifyWechatpaySignature(
  headers: Record<string, string | string[] | undefined>,
  body: string | Buffer,
  credentials: WxpayCredentials,
  nowMs: number,
): Verification {
  const ts = headerValue(headers, 'wechatpay-timestamp');
  const nonce = headerValue(headers, 'wechatpay-nonce');
  const serial = headerValue(headers, 'wechatpay-serial');
  const signature = headerValue(headers, 'wechatpay-signature');
  if (!ts || !nonce || !serial || !signature) return { ok: false, reason: 'Wechatpay-Timestamp/Nonce/Serial/Signature headers missing' };
  if (signature.startsWith(SIGNTEST_PREFIX)) return { ok: false, reason: 'a WECHATPAY/SIGNTEST/ probe signature' };
  if (!/^[0-9]{1,12}$/.test(ts)) return { ok: false, reason: 'Wechatpay-Timestamp is not unix seconds' };
  if (Math.abs(Math.floor(nowMs / 1000) - Number(ts)) > WX_TIMESTAMP_WINDOW_S) {
    return { ok: false, reason: `Wechatpay-Timestamp is more than ${WX_TIMESTAMP_WINDOW_S} s away from now` };
  }
  const key = keyForSerial(serial, credentials);
  if (!key) return { ok: false, reason: `Wechatpay-Serial ${serial} names no configured platform certificate or public key` };
  const message = Buffer.concat([Buffer.from(`${ts}\n${nonce}\n`), typeof body === 'string' ? Buffer.from(body, 'utf8') : body, Buffer.from('\n')]);
  let good = false;
  try {
    good = createVerify('RSA-SHA256').update(message).verify(key, signature, 'base64');
  } catch {
    good = false;
  }
  return good ? { ok: true } : { ok: false, reason: 'Wechatpay-Signature does not verify' };
}
