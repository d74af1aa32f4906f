// Sensitive fields WeChat Pay wants encrypted in a request (user_name of a transfer bill):
// RSA-OAEP with SHA-1 (and MGF1-SHA-1) under the key WeChat's answers are verified with — the
// platform certificate's, or the WeChat Pay public key's — base64; the request's Wechatpay-Serial
// header then names that key, so that WeChat knows which private key opens the field.

import { X509Certificate, constants, createPublicKey, publicEncrypt, type KeyObject } from 'node:crypto';
import type { WxpayCredentials } from '../credentials.js';
import { certSerial } from './sign.js';

export interface EncryptionKey {
  /** what Wechatpay-Serial says: PUB_KEY_ID_… or the platform certificate's upper-case hex serial */
  serial: string;
  key: KeyObject;
}

/**
 * The key to encrypt under. With both configured (a merchant moving from platform certificates to
 * the public key), the public key is used: WeChat is retiring platform certificates.
 */
export function encryptionKeyOf(c: WxpayCredentials): EncryptionKey | undefined {
  if (c.wechatpayPublicKeyPem && c.wechatpayPublicKeyId) return { serial: c.wechatpayPublicKeyId, key: createPublicKey(c.wechatpayPublicKeyPem) };
  if (c.platformCertPem) {
    const x = new X509Certificate(c.platformCertPem);
    return { serial: certSerial(x), key: x.publicKey };
  }
  return undefined;
}

export function encryptSensitive(plain: string, key: EncryptionKey): string {
  return publicEncrypt({ key: key.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(plain, 'utf8')).toString('base64');
}
