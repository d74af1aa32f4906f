import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

// What `dtpay channel set` reads from files and flags, checked and normalized into the shapes of
// credentials.ts: the parts every payway shares (identifiers, URLs, RSA keys, certificates). Each
// payway's own rules are in <payway>/credential-input.ts. Every error names the flag to fix.

/** A credential input that does not hold up; `flag` is the CLI option it came from. */
export class CredentialInputError extends Error {
  override name = 'CredentialInputError';
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`${flag}: ${problem}`);
  }
}

const ID = /^[\x21-\x7e]{1,64}$/;

export function identifier(flag: string, value: string | undefined, what: string): string {
  const v = value?.trim() ?? '';
  if (v === '') throw new CredentialInputError(flag, `${what} is required`);
  if (!ID.test(v)) throw new CredentialInputError(flag, `${what} must be 1-64 printable characters without spaces`);
  return v;
}

export function baseUrl(flag: string, value: string | undefined, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CredentialInputError(flag, 'must be an http(s) URL such as https://example.com');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || /\s/.test(value) || url.username || url.password) {
    throw new CredentialInputError(flag, 'must be an http(s) URL such as https://example.com, without user or password');
  }
  return value.replace(/\/+$/, '');
}

const text = (input: string | Buffer) => (typeof input === 'string' ? input : input.toString('utf8'));

/** Key files come as PEM, or as the bare base64 body Alipay's key tool writes. */
function wrapBare(body: string, label: string): string {
  const b64 = body.replace(/\s+/g, '');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

const BARE_BASE64 = /^[A-Za-z0-9+/=\s]+$/;

export function privateKey(flag: string, input: string | Buffer | undefined): KeyObject {
  if (input === undefined || input.length === 0) throw new CredentialInputError(flag, 'the private key file is required');
  const s = text(input).trim();
  const attempts: (() => KeyObject)[] = [];
  if (s.includes('-----BEGIN')) attempts.push(() => createPrivateKey(s));
  else if (BARE_BASE64.test(s)) {
    attempts.push(() => createPrivateKey(wrapBare(s, 'PRIVATE KEY')));
    attempts.push(() => createPrivateKey(wrapBare(s, 'RSA PRIVATE KEY')));
  } else if (Buffer.isBuffer(input)) {
    attempts.push(() => createPrivateKey({ key: input, format: 'der', type: 'pkcs8' }));
  }
  for (const attempt of attempts) {
    try {
      return requireRsa(flag, attempt(), 'private key');
    } catch (err) {
      if (err instanceof CredentialInputError) throw err;
    }
  }
  if (/ENCRYPTED/.test(s)) throw new CredentialInputError(flag, 'the private key is encrypted; give it without a passphrase');
  if (/CERTIFICATE|PUBLIC KEY/.test(s)) throw new CredentialInputError(flag, 'this is a certificate or a public key, not a private key');
  throw new CredentialInputError(flag, 'not a readable private key (expected PEM, PKCS#8 or PKCS#1)');
}

export function requireRsa(flag: string, key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CredentialInputError(flag, `the ${what} is ${key.asymmetricKeyType ?? 'of an unknown type'}; an RSA key is needed`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048) throw new CredentialInputError(flag, `the RSA ${what} has ${bits} bits; at least 2048 are needed`);
  return key;
}

/** A public key from PEM/bare base64, or the public key inside an X.509 certificate. */
export function publicKey(flag: string, input: string | Buffer | undefined): KeyObject {
  if (input === undefined || input.length === 0) throw new CredentialInputError(flag, 'the public key file is required');
  const s = text(input).trim();
  if (/PRIVATE KEY/.test(s)) throw new CredentialInputError(flag, 'this is a private key; give the public key');
  try {
    if (s.includes('-----BEGIN CERTIFICATE')) return requireRsa(flag, new X509Certificate(s).publicKey, 'public key');
    if (s.includes('-----BEGIN')) return requireRsa(flag, createPublicKey(s), 'public key');
    if (BARE_BASE64.test(s)) return requireRsa(flag, createPublicKey(wrapBare(s, 'PUBLIC KEY')), 'public key');
  } catch (err) {
    if (err instanceof CredentialInputError) throw err;
  }
  throw new CredentialInputError(flag, 'not a readable public key (expected PEM or the base64 text of the key)');
}

export function certificate(flag: string, input: string | Buffer | undefined): X509Certificate {
  if (input === undefined || input.length === 0) throw new CredentialInputError(flag, 'the certificate file is required');
  try {
    return new X509Certificate(input);
  } catch {
    throw new CredentialInputError(flag, 'not a readable X.509 certificate (expected PEM or DER)');
  }
}

export const pkcs8Pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
export const spkiPem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;
export const spkiDer = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
export const samePublic = (a: KeyObject, b: KeyObject) => spkiDer(a).equals(spkiDer(b));
