import { createPublicKey, type X509Certificate } from 'node:crypto';
import type { AlipayCertMode, AlipayCredentials } from '../credentials.js';
import { CHANNEL_DEFAULT_URLS } from '../credentials.js';
import { CredentialInputError, baseUrl, identifier, pkcs8Pem, privateKey, publicKey, requireRsa, samePublic, spkiPem } from '../credential-input.js';
import { certSn, chainProblem, isRsaSigned, leafOf, rootCertSn, splitCertificates } from './cert.js';

export interface AlipayInput {
  appId?: string;
  privateKey?: string | Buffer;
  alipayPublicKey?: string | Buffer;
  /** certificate mode: the three files instead of alipayPublicKey */
  appCert?: string | Buffer;
  alipayCert?: string | Buffer;
  alipayRootCert?: string | Buffer;
  gatewayUrl?: string;
}

export const ALIPAY_KEY_FLAGS = ['--alipay-public-key-file'] as const;
export const ALIPAY_CERT_FLAGS = ['--app-cert-file', '--alipay-cert-file', '--alipay-root-cert-file'] as const;

const MODES = `either --alipay-public-key-file F (public-key mode) or ${ALIPAY_CERT_FLAGS.map((f) => `${f} F`).join(' ')} (certificate mode)`;

export function buildAlipayCredentials(input: AlipayInput, now = Date.now()): AlipayCredentials {
  const appId = identifier('--app-id', input.appId, 'the Alipay application id');
  const key = privateKey('--private-key-file', input.privateKey);
  const certFiles = [input.appCert, input.alipayCert, input.alipayRootCert];
  const certGiven = certFiles.filter((f) => f !== undefined).length;
  if (input.alipayPublicKey !== undefined && certGiven > 0) {
    const flag = ALIPAY_CERT_FLAGS[certFiles.findIndex((f) => f !== undefined)]!;
    throw new CredentialInputError(flag, `does not go with --alipay-public-key-file: give ${MODES}`);
  }
  if (input.alipayPublicKey === undefined && certGiven === 0) throw new CredentialInputError('--alipay-public-key-file', `missing: give ${MODES}`);
  if (certGiven > 0 && certGiven < 3) {
    const missing = ALIPAY_CERT_FLAGS.filter((_, i) => certFiles[i] === undefined);
    throw new CredentialInputError(missing[0]!, `certificate mode needs all of ${ALIPAY_CERT_FLAGS.join(', ')}; ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`);
  }
  const gatewayUrl = baseUrl('--gateway-url', input.gatewayUrl, CHANNEL_DEFAULT_URLS.alipay);

  if (certGiven === 0) {
    const alipayKey = publicKey('--alipay-public-key-file', input.alipayPublicKey);
    if (samePublic(createPublicKey(key), alipayKey)) {
      throw new CredentialInputError(
        '--alipay-public-key-file',
        "this is your application's own public key (the public half of --private-key-file); give the Alipay public key from the Alipay console",
      );
    }
    return { appId, privateKeyPem: pkcs8Pem(key), alipayPublicKeyPem: spkiPem(alipayKey), gatewayUrl };
  }

  const appCerts = certificates('--app-cert-file', input.appCert!);
  const appCert = appCerts[0]!;
  requireRsa('--app-cert-file', appCert.publicKey, 'certificate key');
  if (!samePublic(appCert.publicKey, createPublicKey(key))) {
    throw new CredentialInputError('--app-cert-file', 'the certificate is not of --private-key-file (its public key differs); give appCertPublicKey_<appid>.crt of this application');
  }
  const roots = certificates('--alipay-root-cert-file', input.alipayRootCert!);
  const rootSn = rootCertSn(roots);
  if (rootSn === '') throw new CredentialInputError('--alipay-root-cert-file', 'holds no RSA-signed root certificate; give alipayRootCert.crt from the Alipay console');
  const alipayCerts = certificates('--alipay-cert-file', input.alipayCert!);
  const leaf = leafOf(alipayCerts)!;
  if (samePublic(leaf.publicKey, appCert.publicKey)) {
    throw new CredentialInputError('--alipay-cert-file', "this is your application's certificate; give alipayCertPublicKey_RSA2.crt");
  }
  requireRsa('--alipay-cert-file', leaf.publicKey, 'certificate key');
  const problem = chainProblem(leaf, alipayCerts.filter((c) => c !== leaf), roots, now);
  if (problem) throw new CredentialInputError('--alipay-cert-file', `does not chain to --alipay-root-cert-file: ${problem}`);

  const cert: AlipayCertMode = {
    appCertPem: appCert.toString(),
    appCertSn: certSn(appCert),
    alipayCertPem: [leaf, ...alipayCerts.filter((c) => c !== leaf)].map((c) => c.toString()).join(''),
    alipayCertSn: certSn(leaf),
    alipayRootCertPem: roots.map((c) => c.toString()).join(''),
    alipayRootCertSn: rootSn,
  };
  return { appId, privateKeyPem: pkcs8Pem(key), alipayPublicKeyPem: spkiPem(leaf.publicKey), gatewayUrl, cert };
}

function certificates(flag: string, input: string | Buffer): X509Certificate[] {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  if (/PRIVATE KEY/.test(text)) throw new CredentialInputError(flag, 'this is a private key; give the certificate file');
  let certs: X509Certificate[];
  try {
    certs = splitCertificates(text);
  } catch {
    throw new CredentialInputError(flag, 'a certificate in the file does not parse (expected PEM certificates)');
  }
  if (certs.length === 0) throw new CredentialInputError(flag, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  // Reading the DER beyond what node:crypto checks: a broken issuer fails here, not at the first payment.
  try {
    for (const c of certs) void isRsaSigned(c);
  } catch {
    throw new CredentialInputError(flag, 'a certificate in the file cannot be read');
  }
  return certs;
}
