import { X509Certificate, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { AlipayCredentials, CredentialsByPayway, LivePayway, UnionpayCredentials, WxpayCredentials, WxTransferScene } from './credentials.js';
import { spkiDer } from './credential-input.js';
import { isRsaSigned, splitCertificates } from './alipay/cert.js';

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

function certSummary(pem: string | X509Certificate, now: number): CertSummary {
  const c = typeof pem === 'string' ? new X509Certificate(pem) : pem;
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
      /** key: Alipay's public key as given; cert: 公钥证书 mode, the key of Alipay's leaf certificate */
      mode: 'key' | 'cert';
      alipayPublicKey: KeySummary;
      /** certificate mode: the application's certificate, Alipay's (leaf, then intermediates), the RSA roots */
      appCert?: CertSummary & { sn: string };
      alipayCert?: CertSummary & { sn: string };
      alipayCertChain?: CertSummary[];
      alipayRootCerts?: CertSummary[];
      alipayRootCertSn?: string;
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
      /** 商家转账 scenes: 02 payouts, and 03 where it has its own (else 03 uses transferScene) */
      transferScene?: WxTransferScene;
      withdrawScene?: WxTransferScene;
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
      /** UnionPay's sensitive-data encryption certificate, for payouts */
      encryptCert?: CertSummary & { encryptCertId: string };
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
        mode: a.cert ? 'cert' : 'key',
        alipayPublicKey: keySummary(createPublicKey(a.alipayPublicKeyPem)),
        ...(a.cert ? alipayCertSummary(a, now) : {}),
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
        ...(w.transferScene ? { transferScene: w.transferScene } : {}),
        ...(w.withdrawScene ? { withdrawScene: w.withdrawScene } : {}),
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
        ...(u.encryptCertPem ? { encryptCert: { ...certSummary(u.encryptCertPem, now), encryptCertId: u.encryptCertId ?? '' } } : {}),
      };
    }
  }
}

function alipayCertSummary(a: AlipayCredentials, now: number) {
  const cert = a.cert!;
  const [leaf, ...chain] = splitCertificates(cert.alipayCertPem);
  return {
    appCert: { ...certSummary(cert.appCertPem, now), sn: cert.appCertSn },
    alipayCert: { ...certSummary(leaf!, now), sn: cert.alipayCertSn },
    alipayCertChain: chain.map((c) => certSummary(c, now)),
    // Only the RSA-signed roots make up alipay_root_cert_sn; the others are never used.
    alipayRootCerts: splitCertificates(cert.alipayRootCertPem).filter(isRsaSigned).map((c) => certSummary(c, now)),
    alipayRootCertSn: cert.alipayRootCertSn,
  };
}
