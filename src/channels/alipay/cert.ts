import { X509Certificate, createHash } from 'node:crypto';
import forge from 'node-forge';

// Alipay 公钥证书 mode: the serial numbers Alipay names certificates by, and the chain check that
// decides whether an Alipay certificate is believed. Pure: no I/O, the time passed in.
// Reference: shared/reference/channel-protocols.md §5; Alipay's SDKs compute the same SN
// (issuer DN as Java's X500Principal.getName() writes it, then the serial in decimal, MD5 hex).

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle, in file order. Throws on a block that does not parse. */
export function splitCertificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_BLOCK) ?? []).map((block) => new X509Certificate(block));
}

/** Java's RFC 2253 keywords; any other attribute is written as its dotted OID. */
const KEYWORDS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
};

interface Parsed {
  issuerRdns: { oid: string; value: string }[];
  signatureOid: string;
}

function attributeText(a: forge.asn1.Asn1): string {
  const bytes = a.value as string;
  if (a.type === forge.asn1.Type.BMPSTRING) {
    let s = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode((bytes.charCodeAt(i) << 8) | bytes.charCodeAt(i + 1));
    return s;
  }
  // UTF8String, and the ASCII subsets (Printable, IA5), read alike.
  return forge.util.decodeUtf8(bytes);
}

/**
 * Reads the issuer and the signature algorithm straight from the DER, which works for every key
 * type (roots in Alipay's bundle include ECDSA ones, which higher-level parsers refuse).
 */
function parse(cert: X509Certificate): Parsed {
  const top = forge.asn1.fromDer(forge.util.createBuffer(cert.raw.toString('binary')));
  const [tbs, sigAlg] = top.value as forge.asn1.Asn1[];
  const fields = (tbs!.value as forge.asn1.Asn1[]).filter((f) => f.tagClass === forge.asn1.Class.UNIVERSAL);
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo (the [0] version skipped)
  const issuer = fields[2]!;
  const issuerRdns: Parsed['issuerRdns'] = [];
  for (const rdn of issuer.value as forge.asn1.Asn1[]) {
    for (const atv of rdn.value as forge.asn1.Asn1[]) {
      const [oid, value] = atv.value as forge.asn1.Asn1[];
      issuerRdns.push({ oid: forge.asn1.derToOid(oid!.value as string), value: attributeText(value!) });
    }
  }
  const signatureOid = forge.asn1.derToOid((sigAlg!.value as forge.asn1.Asn1[])[0]!.value as string);
  return { issuerRdns, signatureOid };
}

/** The issuer DN as Alipay's SDKs write it: last RDN first, `K=V` joined by commas, unescaped. */
export function issuerName(cert: X509Certificate): string {
  return parse(cert)
    .issuerRdns.reverse()
    .map((r) => `${KEYWORDS[r.oid] ?? r.oid}=${r.value}`)
    .join(',');
}

/** A certificate's SN: MD5 hex of the issuer DN followed by the decimal serial number. */
export function certSn(cert: X509Certificate): string {
  const serial = BigInt(`0x${cert.serialNumber}`).toString(10);
  return createHash('md5').update(issuerName(cert) + serial, 'utf8').digest('hex');
}

/** sha1WithRSA, sha256WithRSA… (1.2.840.113549.1.1.*): the roots alipay_root_cert_sn is made of. */
export const isRsaSigned = (cert: X509Certificate) => parse(cert).signatureOid.startsWith('1.2.840.113549.1.1.');

/** alipay_root_cert_sn: the SNs of the RSA-signed certificates of the root bundle, joined with `_`. */
export function rootCertSn(roots: X509Certificate[]): string {
  return roots.filter(isRsaSigned).map(certSn).join('_');
}

/** The leaf of an Alipay certificate file: the one that issued none of the others (else the first). */
export function leafOf(certs: X509Certificate[]): X509Certificate | undefined {
  return certs.find((c) => !certs.some((o) => o !== c && o.checkIssued(c))) ?? certs[0];
}

const inForce = (c: X509Certificate, now: number) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);

const issued = (parent: X509Certificate, child: X509Certificate) => child.checkIssued(parent) && child.verify(parent.publicKey);

/**
 * Whether `leaf` chains, through the `intermediates` given, to one of `roots`, each link issued
 * and signed by the next, every certificate in force at `now`. Returns what is wrong, or undefined.
 */
export function chainProblem(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], now: number): string | undefined {
  let current = leaf;
  const seen = new Set<X509Certificate>();
  for (let depth = 0; depth < 6; depth++) {
    if (!inForce(current, now)) return `${current.subject.replace(/\n/g, ', ')} is not in force (valid ${current.validFrom} to ${current.validTo})`;
    const root = roots.find((r) => issued(r, current));
    if (root) return inForce(root, now) ? undefined : `the root ${root.subject.replace(/\n/g, ', ')} is not in force`;
    seen.add(current);
    // Only a CA may stand between the leaf and the root (basicConstraints CA:TRUE).
    const next = intermediates.find((i) => !seen.has(i) && i.ca && issued(i, current));
    if (!next) return `${current.subject.replace(/\n/g, ', ')} is not issued by the Alipay root certificate or an intermediate given`;
    current = next;
  }
  return 'the certificate chain is too long';
}
