import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import forge from 'node-forge';
import type { UnionpayCredentials } from '../credentials.js';
import { CHANNEL_DEFAULT_URLS } from '../credentials.js';
import { CredentialInputError, baseUrl, certificate, identifier, pkcs8Pem, requireRsa, samePublic } from '../credential-input.js';

export interface UnionpayInput {
  merId?: string;
  signCertPfx?: Buffer;
  signCertPassword?: string;
  rootCert?: string | Buffer;
  middleCert?: string | Buffer;
  /** UnionPay's sensitive-data encryption certificate (payouts) */
  encryptCert?: string | Buffer;
  baseUrl?: string;
}

/** UnionPay's encryption certificate: an RSA leaf that is UnionPay's, not the merchant's own. */
function encryptCert(input: string | Buffer, signCertPem: string): { encryptCertPem: string; encryptCertId: string } {
  const cert = certificate('--encrypt-cert-file', input);
  requireRsa('--encrypt-cert-file', cert.publicKey, 'certificate key');
  if (cert.ca) throw new CredentialInputError('--encrypt-cert-file', "is a CA certificate; give UnionPay's sensitive-data encryption certificate (acp_prod_enc.cer)");
  if (samePublic(cert.publicKey, new X509Certificate(signCertPem).publicKey)) {
    throw new CredentialInputError('--encrypt-cert-file', "is your own signing certificate; give UnionPay's encryption certificate");
  }
  return { encryptCertPem: cert.toString(), encryptCertId: BigInt(`0x${cert.serialNumber}`).toString(10) };
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
    ...(input.encryptCert !== undefined ? encryptCert(input.encryptCert, certPem) : {}),
    baseUrl: baseUrl('--base-url', input.baseUrl, CHANNEL_DEFAULT_URLS.unionpay),
  };
}
