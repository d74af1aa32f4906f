import { X509Certificate, type KeyObject } from 'node:crypto';

// Who may sign UnionPay's answers and notifications. Each message carries its signer's
// certificate (`signPubKeyCert`); believing that certificate because the message says so would
// let anyone sign. So, as the official SDKs do (CertUtil.verifyAndGetVerifyPubKey), it must:
//   1. chain to the operator's configured intermediate and root (both checked: issuer name and
//      signature, and the intermediate against the root);
//   2. be within its validity period, at the gateway's clock — and so must the two CA certificates;
//   3. name UnionPay: the third `@`-separated part of its subject CN is `中国银联股份有限公司`
//      (production), or `00040000:SIGN` (UnionPay's test environment, whose certificates chain to a
//      separate test root the operator would have configured).
// Only then is its public key used to check the signature.

/** Production signer, third `@` part of the CN, e.g. `CN=041@Z12@中国银联股份有限公司@00000001`. */
export const UNIONPAY_SIGNER_NAME = '中国银联股份有限公司';
/** The name UnionPay's test environment (gateway.test.95516.com) signs with. */
export const UNIONPAY_TEST_SIGNER_NAME = '00040000:SIGN';

/** The signer names to accept for a base URL: the test name only when the test host is used. */
export function defaultSignerNames(baseUrl: string): string[] {
  let host = '';
  try {
    host = new URL(baseUrl).hostname.toLowerCase();
  } catch {
    // an unparseable base URL gets production rules (and will fail to connect anyway)
  }
  return /(^|\.)test\.95516\.com$/.test(host) ? [UNIONPAY_SIGNER_NAME, UNIONPAY_TEST_SIGNER_NAME] : [UNIONPAY_SIGNER_NAME];
}

/** A certificate's serial number in decimal: ACP's `certId`. */
export function certIdOf(certPem: string): string {
  return BigInt(`0x${new X509Certificate(certPem).serialNumber}`).toString(10);
}

/** The subject's CN as node prints it (one `K=V` per line, UTF-8 kept); undefined unless exactly one. */
export function subjectCn(cert: X509Certificate): string | undefined {
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN='));
  return cns.length === 1 ? cns[0]!.slice(3) : undefined;
}

// Node 20 prints validity as `Nov 25 19:37:19 2026 GMT` (newer Nodes add validFromDate).
function certTime(s: string): number {
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : NaN;
}

function withinValidity(cert: X509Certificate, nowMs: number): boolean {
  const from = certTime(cert.validFrom);
  const to = certTime(cert.validTo);
  return from <= nowMs && nowMs <= to; // NaN fails both comparisons: an unreadable date is not valid
}

export type SignerCheck = { ok: true; publicKey: KeyObject; certId: string } | { ok: false; reason: string };

export interface Trust {
  rootCertPem: string;
  middleCertPem: string;
}

/** Decides whether `certPem` may sign for UnionPay, at `nowMs`. Never throws. */
export function checkSignerCert(certPem: string, trust: Trust, nowMs: number, signerNames: readonly string[]): SignerCheck {
  let cert: X509Certificate, middle: X509Certificate, root: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { ok: false, reason: 'signPubKeyCert is not a certificate' };
  }
  try {
    middle = new X509Certificate(trust.middleCertPem);
    root = new X509Certificate(trust.rootCertPem);
  } catch {
    return { ok: false, reason: 'the configured UnionPay root or middle certificate does not parse' };
  }
  // Only a certificate authority may issue: a leaf configured as "middle" must not vouch for anything.
  if (!middle.ca || !root.ca) {
    return { ok: false, reason: 'the configured UnionPay root and middle certificates must both be CA certificates' };
  }
  if (!cert.checkIssued(middle) || !cert.verify(middle.publicKey)) {
    return { ok: false, reason: 'signPubKeyCert is not issued by the configured UnionPay middle certificate' };
  }
  if (!middle.checkIssued(root) || !middle.verify(root.publicKey)) {
    return { ok: false, reason: 'the configured UnionPay middle certificate is not issued by the root' };
  }
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) {
    return { ok: false, reason: 'the configured UnionPay root certificate is not self-signed' };
  }
  for (const [what, c] of [['signPubKeyCert', cert], ['the UnionPay middle certificate', middle], ['the UnionPay root certificate', root]] as const) {
    if (!withinValidity(c, nowMs)) return { ok: false, reason: `${what} is outside its validity period (${c.validFrom} – ${c.validTo})` };
  }
  const cn = subjectCn(cert);
  const name = cn?.split('@')[2];
  if (name === undefined || !signerNames.includes(name)) {
    return { ok: false, reason: `signPubKeyCert names ${JSON.stringify(cn ?? '')}, not UnionPay` };
  }
  return { ok: true, publicKey: cert.publicKey, certId: BigInt(`0x${cert.serialNumber}`).toString(10) };
}
