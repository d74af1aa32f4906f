import { createHash, type X509Certificate } from 'node:crypto';
import type { AlipayCredentials } from '../credentials.js';
import type { ChannelContext } from '../types.js';
import { neverConnected } from '../net-errors.js';
import { certSn, chainProblem, splitCertificates } from './cert.js';
import { rsa2Verify, topLevelMembers } from './sign.js';
import { responseKey, serverRequest, signedParams, type CallOptions } from './wire.js';

// One server call to the Alipay gateway: sign, send through ctx.http, and believe the answer only
// once its signature verifies — in 公钥证书 mode with the certificate the answer names, which must
// be the loaded one or one that chains to the loaded root. Failures sort three ways, as the
// payment methods need: unreached (nothing left this machine), unknown (anything else).

export type Fields = Record<string, unknown>;

/** What one server call came to. `signed: false` only for error answers Alipay sent without a sign. */
export type Answer =
  | { ok: true; data: Fields; signed: boolean }
  | { ok: false; outcome: 'unreached' | 'unknown'; reason: string };

export const SUCCESS = '10000';

/** A refusal as the gateway records it: Alipay's sub_code, and its words. */
export const refusal = (d: Fields) => ({
  code: String(d.sub_code ?? d.code ?? 'UNKNOWN'),
  message: `${String(d.sub_msg ?? d.msg ?? '')} (${String(d.code ?? '')} ${String(d.msg ?? '')})`.trim(),
});

/**
 * The words every reason starts with when an answer was not believed because the Alipay
 * certificate it names does not chain to the merchant's loaded root: the service raises an alert
 * on it (someone may be answering in Alipay's name, or the root bundle needs replacing).
 */
export const CERT_NOT_BELIEVED = 'Alipay certificate not believed';

export const isCertNotBelieved = (reason: string) => reason.includes(CERT_NOT_BELIEVED);

type Exchange =
  | { ok: true; members: Map<string, string>; raw: string; data: Fields }
  | { ok: false; outcome: 'unreached' | 'unknown'; reason: string };

/** Sends one signed request and cuts the answer's member out, unverified. */
async function exchange(method: string, biz: Fields, credentials: AlipayCredentials, ctx: ChannelContext, opts: CallOptions): Promise<Exchange> {
  if (!ctx.http) return { ok: false, outcome: 'unreached', reason: 'no HTTP transport for the Alipay channel' };
  const req = serverRequest(signedParams(method, biz, credentials, ctx.now(), opts), credentials.gatewayUrl);
  let res;
  try {
    res = await ctx.http(req);
  } catch (err) {
    const msg = `${method}: ${(err as Error)?.message ?? String(err)}`;
    return neverConnected(err) ? { ok: false, outcome: 'unreached', reason: msg } : { ok: false, outcome: 'unknown', reason: msg };
  }
  if (res.status !== 200) return { ok: false, outcome: 'unknown', reason: `${method}: HTTP ${res.status}` };

  const members = topLevelMembers(res.body);
  const raw = members?.get(responseKey(method)) ?? members?.get('error_response');
  const unparseable = { ok: false, outcome: 'unknown', reason: `${method}: unparseable answer` } as const;
  if (!members || raw === undefined) return unparseable;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return unparseable;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return unparseable;
  return { ok: true, members, raw, data: data as Fields };
}

const jsonString = (text: string | undefined): string | undefined => {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
};

export async function call(
  method: string,
  biz: Fields,
  credentials: AlipayCredentials,
  ctx: ChannelContext,
  opts: CallOptions = {},
): Promise<Answer> {
  const x = await exchange(method, biz, credentials, ctx, opts);
  if (!x.ok) return x;
  const d = x.data;
  const signRaw = x.members.get('sign');
  if (signRaw === undefined) {
    // Alipay may leave gateway-level errors unsigned (an unknown app_id: it has no key to sign
    // with). Only an error may be unsigned; what an unsigned error may decide is up to each caller:
    // a refusal of a new trade or refund, yes; a "not found" that reconciliation acts on, no.
    if (d.code === SUCCESS || d.code === undefined) return { ok: false, outcome: 'unknown', reason: `${method}: answer without a signature` };
    return { ok: true, data: d, signed: false };
  }
  const sign = jsonString(signRaw);
  const key = await answerKey(method, x.members, credentials, ctx);
  if (!key.ok) return { ok: false, outcome: 'unknown', reason: key.reason };
  // The signature covers the exact substring of the response member, as transmitted.
  if (sign === undefined || !rsa2Verify(x.raw, sign, key.pem)) {
    return { ok: false, outcome: 'unknown', reason: `${method}: the answer's signature does not verify` };
  }
  return { ok: true, data: d, signed: true };
}

// --- 公钥证书 mode: which key an answer is verified with -----------------------------------

/**
 * Alipay certificates fetched by SN and found to chain to a root, by `<trust anchors>|<SN>`:
 * Alipay rotates its certificate every few years, and every merchant on the same root meets the
 * new one. The anchors are named by a hash of the certificates themselves, not by the root SN,
 * which is only names and serials: a look-alike root loaded for one merchant must not vouch for
 * a certificate another merchant is shown. Bounded; dropped once out of force.
 */
const believed = new Map<string, { pem: string; validTo: number }>();
const BELIEVED_MAX = 64;

const anchorsKey = (c: AlipayCredentials, sn: string) =>
  `${createHash('sha256').update(c.cert!.alipayRootCertPem).update('\0').update(c.cert!.alipayCertPem).digest('base64')}|${sn}`;

type KeyChoice = { ok: true; pem: string } | { ok: false; reason: string };

async function answerKey(method: string, members: Map<string, string>, credentials: AlipayCredentials, ctx: ChannelContext): Promise<KeyChoice> {
  const cert = credentials.cert;
  if (!cert) return { ok: true, pem: credentials.alipayPublicKeyPem };
  const sn = jsonString(members.get('alipay_cert_sn'));
  // An answer naming no certificate is judged by the loaded one, as Alipay's SDKs do.
  if (sn === undefined || sn === cert.alipayCertSn) return { ok: true, pem: credentials.alipayPublicKeyPem };
  const cacheKey = anchorsKey(credentials, sn);
  const hit = believed.get(cacheKey);
  if (hit && hit.validTo >= ctx.now()) return { ok: true, pem: hit.pem };
  believed.delete(cacheKey);
  const fetched = await fetchAlipayCert(sn, credentials, ctx);
  if (!fetched.ok) return { ok: false, reason: `${method}: the answer names Alipay certificate ${sn}, ${fetched.reason}` };
  return fetched;
}

const DOWNLOAD = 'alipay.open.app.alipaycert.download';

/**
 * Fetches the Alipay certificate `sn` and believes it only if it chains to the loaded root. The
 * download's own answer must then verify with the loaded certificate or the one fetched.
 */
async function fetchAlipayCert(sn: string, credentials: AlipayCredentials, ctx: ChannelContext): Promise<KeyChoice> {
  const cert = credentials.cert!;
  const x = await exchange(DOWNLOAD, { alipay_cert_sn: sn }, credentials, ctx, {});
  if (!x.ok) return { ok: false, reason: `which could not be fetched (${x.reason})` };
  if (x.data.code !== SUCCESS || typeof x.data.alipay_cert_content !== 'string') {
    return { ok: false, reason: `which Alipay would not hand out (${String(x.data.sub_code ?? x.data.code)} ${String(x.data.sub_msg ?? x.data.msg ?? '')})`.trimEnd() };
  }
  let certs: X509Certificate[];
  try {
    certs = splitCertificates(Buffer.from(x.data.alipay_cert_content, 'base64').toString('utf8'));
  } catch {
    certs = [];
  }
  const leaf = certs.find((c) => certSn(c) === sn);
  if (!leaf) return { ok: false, reason: `which ${DOWNLOAD} did not return` };
  const loaded = splitCertificates(cert.alipayCertPem);
  const roots = splitCertificates(cert.alipayRootCertPem);
  const intermediates = [...certs.filter((c) => c !== leaf), ...loaded.slice(1)];
  const problem = chainProblem(leaf, intermediates, roots, ctx.now());
  if (problem) return { ok: false, reason: `${CERT_NOT_BELIEVED}: it does not chain to the loaded Alipay root certificate (${problem})` };
  const pem = leaf.publicKey.export({ type: 'spki', format: 'pem' }) as string;

  const sign = jsonString(x.members.get('sign'));
  const signedWith = jsonString(x.members.get('alipay_cert_sn'));
  const downloadKey = signedWith === sn ? pem : signedWith === undefined || signedWith === cert.alipayCertSn ? credentials.alipayPublicKeyPem : undefined;
  if (sign === undefined || downloadKey === undefined || !rsa2Verify(x.raw, sign, downloadKey)) {
    return { ok: false, reason: `whose ${DOWNLOAD} answer does not verify` };
  }
  if (believed.size >= BELIEVED_MAX) believed.delete(believed.keys().next().value!);
  believed.set(anchorsKey(credentials, sn), { pem, validTo: Date.parse(leaf.validTo) });
  return { ok: true, pem };
}
