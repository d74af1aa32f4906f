import { createHmac, hash, timingSafeEqual } from 'node:crypto';

// CONTRACT §2.1: every top-level field but `signature` with a non-empty value, sorted by byte
// order, joined as name=value with '&', then '&key=<key>'; MD5 or HMAC-SHA256, upper-case hex.

export const SIGN_TYPES = ['MD5', 'HMAC-SHA256'] as const;
export type SignType = (typeof SIGN_TYPES)[number];

export function isSignType(v: unknown): v is SignType {
  return v === 'MD5' || v === 'HMAC-SHA256';
}

// Byte order of UTF-8 equals code point order; plain `<` on JS strings compares UTF-16 units,
// which differs only for astral characters, so compare by code points to stay exact.
function byteOrder(a: string, b: string): number {
  if (a === b) return 0;
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

const BEYOND_PLAIN_ORDER = /[\uD800-\uFFFF]/;

export function stringToSign(fields: Record<string, string | undefined>, key: string): string {
  const names = Object.keys(fields).filter((n) => n !== 'signature' && fields[n] !== undefined && fields[n] !== '');
  // The default sort compares UTF-16 units, which agrees with byte order below U+D800: the usual case.
  if (names.some((n) => BEYOND_PLAIN_ORDER.test(n))) names.sort(byteOrder);
  else names.sort();
  let s = '';
  for (const n of names) s += `${n}=${fields[n]}&`;
  return `${s}key=${key}`;
}

export function sign(fields: Record<string, string | undefined>, key: string, signType: SignType): string {
  const input = stringToSign(fields, key);
  const digest =
    signType === 'MD5'
      ? hash('md5', input, 'hex')
      : createHmac('sha256', key).update(input, 'utf8').digest('hex');
  return digest.toUpperCase();
}

export function verify(
  fields: Record<string, string | undefined>,
  key: string,
  signType: SignType,
  signature: string,
): boolean {
  const expected = Buffer.from(sign(fields, key, signType), 'latin1');
  const given = Buffer.from(signature.toUpperCase(), 'latin1');
  // Length is public (it only depends on the algorithm), so the early return leaks nothing secret.
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}

/** Returns the fields with `signType` and `signature` added. */
export function signed<T extends Record<string, string | undefined>>(
  fields: T,
  key: string,
  signType: SignType,
): T & { signType: SignType; signature: string } {
  const withType = { ...fields, signType };
  return { ...withType, signature: sign(withType, key, signType) };
}
