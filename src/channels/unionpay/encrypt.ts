// UnionPay's sensitive-data encryption (ACP 5.1.0, 敏感信息加密): fields such as the card number
// are encrypted with the public key of UnionPay's encryption certificate — RSA PKCS#1 v1.5, as
// the SDKs' encryptData does — and base64'd; `encryptCertId` (the certificate's decimal serial)
// tells UnionPay which of its keys opens them. customerInfo is base64 of `{k=v&…}`, its sensitive
// parts sealed together in `encryptedInfo`. Nothing here logs or keeps a plain value.

import { X509Certificate, constants, publicEncrypt } from 'node:crypto';

export interface EncryptCert {
  pem: string;
  certId: string;
}

export function encryptData(plain: string, cert: EncryptCert): string {
  const key = new X509Certificate(cert.pem).publicKey;
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(plain, 'utf8')).toString('base64');
}

/**
 * customerInfo with the payee's name inside encryptedInfo: base64(`{encryptedInfo=<encrypted
 * customerNm=…>}`). The name is personal data (CONTRACT §4), so it never travels in the clear.
 */
export function encryptedCustomerInfo(sensitive: Record<string, string>, cert: EncryptCert): string {
  const link = Object.keys(sensitive)
    .sort()
    .map((k) => `${k}=${sensitive[k]}`)
    .join('&');
  return Buffer.from(`{encryptedInfo=${encryptData(link, cert)}}`, 'utf8').toString('base64');
}
