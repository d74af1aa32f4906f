import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Alipay's 公钥证书 PKI in small, made by the openssl CLI: a root bundle (an RSA root and an ECDSA
// one, as alipayRootCert.crt holds both kinds), an intermediate, Alipay's leaf (and a rotated one,
// and a look-alike under a root nobody loaded), and the application's certificate.
// The SNs are computed here from openssl's own reading of the certificates (issuer as RFC 2253,
// serial in hex), not with the gateway's code: the tests compare the two.
// Needs the openssl CLI (OPENSSL=/path/to/openssl picks another one).

const OPENSSL = process.env.OPENSSL || 'openssl';

const CNF = [
  '[req]',
  'distinguished_name = dn',
  'prompt = no',
  'string_mask = utf8only',
  '[dn]',
  'CN = unused',
  '[ca]',
  'basicConstraints = critical,CA:TRUE',
  'keyUsage = critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
  '[leaf]',
  'basicConstraints = critical,CA:FALSE',
  'keyUsage = critical,digitalSignature,nonRepudiation',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid:always',
  '',
].join('\n');

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  /** MD5(issuer as RFC 2253 + decimal serial), from openssl's output */
  sn: string;
}

export interface AlipayPki {
  /** alipayRootCert.crt: the RSA root, then an ECDSA root (skipped by alipay_root_cert_sn) */
  rootBundlePem: string;
  rootSn: string;
  intermediate: IssuedCert;
  /** alipayCertPublicKey_RSA2.crt: leaf then intermediate */
  alipay: IssuedCert & { filePem: string };
  /** a newer Alipay certificate under the same intermediate, as after Alipay rotates it */
  rotated: IssuedCert & { filePem: string };
  /** an Alipay-looking certificate (same names) under a root that is not in the bundle */
  rogue: IssuedCert & { filePem: string };
  /** that root: the same names and serial as the real one (so the same SN), its own key */
  rogueRootPem: string;
  /** appCertPublicKey_<appid>.crt for the application key given */
  app: IssuedCert;
  /** a short-lived certificate, to see expiry dates shown */
  days: { alipay: number; app: number };
}

/** Builds the PKI for an application whose key pair is `appPrivateKeyPem`. Takes a second or two. */
export function makeAlipayPki(appPrivateKeyPem: string): AlipayPki {
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-alipay-pki-'));
  const run = (args: string[], input?: string) =>
    execFileSync(OPENSSL, args, { cwd: dir, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  try {
    writeFileSync(join(dir, 'openssl.cnf'), CNF);
    writeFileSync(join(dir, 'app.key'), appPrivateKeyPem);
    const rsaKey = (name: string) => run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);
    const cert = (o: { name: string; key: string; subject: string; ext: 'ca' | 'leaf'; serial: string; days: number; issuer?: string }) => {
      run(['req', '-new', '-config', 'openssl.cnf', '-utf8', '-key', o.key, '-subj', o.subject, '-out', `${o.name}.csr`]);
      const signer = o.issuer ? ['-CA', `${o.issuer}.pem`, '-CAkey', `${o.issuer}.key`] : ['-signkey', o.key];
      run(['x509', '-req', '-in', `${o.name}.csr`, ...signer, '-set_serial', o.serial, '-days', String(o.days), '-sha256', '-extfile', 'openssl.cnf', '-extensions', o.ext, '-out', `${o.name}.pem`]);
      return read(`${o.name}.pem`);
    };
    const sn = (pem: string) => {
      const issuer = run(['x509', '-noout', '-issuer', '-nameopt', 'RFC2253'], pem).trim().replace(/^issuer=/, '');
      const serialHex = run(['x509', '-noout', '-serial'], pem).trim().replace(/^serial=/, '');
      return createHash('md5').update(issuer + BigInt(`0x${serialHex}`).toString(10), 'utf8').digest('hex');
    };
    const issued = (pem: string, keyFile: string): IssuedCert => ({ certPem: pem, keyPem: read(keyFile), sn: sn(pem) });

    for (const k of ['root', 'inter', 'alipay', 'rotated', 'rogueroot', 'rogueinter']) rsaKey(k);
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ecroot.key']);

    const rootPem = cert({ name: 'root', key: 'root.key', subject: '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority R1', ext: 'ca', serial: '0x6ff6ae2bdc8c3a0b0c', days: 3650 });
    const ecRootPem = cert({ name: 'ecroot', key: 'ecroot.key', subject: '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority E1', ext: 'ca', serial: '0x21', days: 3650 });
    const interSubject = '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority Class 2 R1';
    const interPem = cert({ name: 'inter', key: 'inter.key', subject: interSubject, ext: 'ca', serial: '0x2019101210140000', days: 1825, issuer: 'root' });
    const leafSubject = '/C=CN/O=Ant Financial/OU=Alipay/CN=2088000000000001';
    const alipayPem = cert({ name: 'alipay', key: 'alipay.key', subject: leafSubject, ext: 'leaf', serial: '0x20191012101401a1f3', days: 1095, issuer: 'inter' });
    const rotatedPem = cert({ name: 'rotated', key: 'rotated.key', subject: leafSubject, ext: 'leaf', serial: '0x20261201101401b2e4', days: 1095, issuer: 'inter' });
    const appPem = cert({ name: 'app', key: 'app.key', subject: '/C=CN/O=Test Shop Co./OU=Alipay/CN=2021000000000001', ext: 'leaf', serial: '0x00c0ffee0123456789', days: 365, issuer: 'inter' });
    // The look-alike: the same names, a root the merchant never loaded, and the real leaf's key, so
    // that only the chain tells it apart.
    const rogueRootPem = cert({ name: 'rogueroot', key: 'rogueroot.key', subject: '/C=CN/O=Ant Financial/OU=Certification Authority/CN=Ant Financial Certification Authority R1', ext: 'ca', serial: '0x6ff6ae2bdc8c3a0b0c', days: 3650 });
    const rogueInterPem = cert({ name: 'rogueinter', key: 'rogueinter.key', subject: interSubject, ext: 'ca', serial: '0x2019101210140000', days: 1825, issuer: 'rogueroot' });
    const roguePem = cert({ name: 'rogue', key: 'alipay.key', subject: leafSubject, ext: 'leaf', serial: '0x20261201101401c3d5', days: 1095, issuer: 'rogueinter' });

    return {
      rootBundlePem: rootPem + ecRootPem,
      rootSn: sn(rootPem),
      intermediate: issued(interPem, 'inter.key'),
      alipay: { ...issued(alipayPem, 'alipay.key'), filePem: alipayPem + interPem },
      rotated: { ...issued(rotatedPem, 'rotated.key'), filePem: rotatedPem + interPem },
      rogue: { ...issued(roguePem, 'alipay.key'), filePem: roguePem + rogueInterPem },
      rogueRootPem,
      app: issued(appPem, 'app.key'),
      days: { alipay: 1095, app: 365 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
