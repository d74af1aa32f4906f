import { createHash, createSign, createVerify, type KeyObject } from 'node:crypto';

// UnionPay ACP 5.1.0 signMethod=01 (reference §3). The signature is over a *hex digest*, not over
// the fields: d = lowercase hex SHA-256 of the sorted `k=v&…` string (UTF-8), then
// SHA256withRSA (PKCS#1 v1.5) over the 64 ASCII characters of d, base64. Signing and verifying
// differ in one detail on purpose, as the official SDKs do: a request drops empty fields before
// signing (they are not sent either), an answer or notification is verified over every field it
// carried except `signature` — `signPubKeyCert` included.

type Fields = Readonly<Record<string, string>>;

/** `k=v&…` in byte order of the names, raw values (no URL encoding). */
export function signingString(fields: Fields, opts: { dropEmpty: boolean }): string {
  return Object.keys(fields)
    .filter((k) => k !== 'signature' && (!opts.dropEmpty || fields[k] !== ''))
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

/** The first of the two hashes: lowercase hex SHA-256 of the signing string. */
export const digestHex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The `signature` of a request's fields (empty fields are left out, as they are not sent). */
export function signFields(fields: Fields, signKeyPem: string | KeyObject): string {
  const d = digestHex(signingString(fields, { dropEmpty: true }));
  return createSign('RSA-SHA256').update(d, 'utf8').sign(signKeyPem, 'base64');
}

/** Checks an answer's or a notification's `signature` with the signer's public key. */
export function verifyFields(fields: Fields, publicKey: KeyObject): boolean {
  const signature = fields.signature;
  if (!signature || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  const d = digestHex(signingString(fields, { dropEmpty: false }));
  try {
    return createVerify('RSA-SHA256').update(d, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}
