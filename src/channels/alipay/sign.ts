import { createPrivateKey, createPublicKey, createSign, createVerify, type KeyObject } from 'node:crypto';

// Alipay OpenAPI RSA2 (SHA256withRSA, PKCS#1 v1.5, base64), public-key mode.
// Reference: shared/reference/channel-protocols.md §1; alipay-sdk-nodejs-all src/util.ts and
// src/alipay.ts; alipay-sdk-java-all AlipaySignature.getSignCheckContentV1.

/**
 * The string a request is signed over: every parameter but `sign` (`sign_type` stays in), empty
 * values dropped, names sorted by code unit (the names are ASCII, so this is byte order), `k=v`
 * joined with `&`, raw values — no URL encoding.
 */
export function requestSignContent(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

/**
 * The string an asynchronous notification is verified over: the form-decoded fields less BOTH
 * `sign` and `sign_type` (unlike requests), sorted, `k=v` joined with `&`. Empty values are kept,
 * as Alipay's Java SDK keeps them.
 */
export function notifySignContent(fields: Record<string, string>): string {
  return Object.keys(fields)
    .filter((k) => k !== 'sign' && k !== 'sign_type')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

// Alipay's console hands keys out as bare base64 without PEM armour; operators paste either form.
function privateKey(pem: string): KeyObject {
  if (pem.includes('-----BEGIN')) return createPrivateKey(pem);
  const der = Buffer.from(pem.replace(/\s+/g, ''), 'base64');
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs1' });
  }
}

function publicKey(pem: string): KeyObject {
  if (pem.includes('-----BEGIN')) return createPublicKey(pem);
  return createPublicKey({ key: Buffer.from(pem.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
}

export function rsa2Sign(content: string, privateKeyPem: string): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey(privateKeyPem), 'base64');
}

/** False, never a throw, for a malformed signature or key: a bad answer is just a bad answer. */
export function rsa2Verify(content: string, signature: string, publicKeyPem: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey(publicKeyPem), signature, 'base64');
  } catch {
    return false;
  }
}

/** Signs request parameters in place: returns a copy with `sign` added. */
export function signRequest(params: Record<string, string>, privateKeyPem: string): Record<string, string> {
  return { ...params, sign: rsa2Sign(requestSignContent(params), privateKeyPem) };
}

/**
 * The top-level members of a JSON object, each as the exact substring it had in `text`.
 *
 * Alipay signs the `xxx_response` object byte for byte as it sent it (`\/` escapes, spacing, key
 * order, number spelling). Parsing and re-serialising would change those bytes, so this scanner
 * walks the text and cuts the members out instead. Returns undefined if `text` is not one JSON
 * object or names a member twice (which would make "the" signed member ambiguous).
 */
export function topLevelMembers(text: string): Map<string, string> | undefined {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  // Moves past a string starting at text[i] === '"'; false if it never closes.
  const skipString = (): boolean => {
    i++;
    while (i < n) {
      const c = text[i];
      if (c === '\\') i += 2;
      else if (c === '"') {
        i++;
        return true;
      } else i++;
    }
    return false;
  };
  // Moves past one value of any kind; nested objects and arrays by depth, strings by skipString.
  const skipValue = (): boolean => {
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      while (i < n) {
        const d = text[i];
        if (d === '"') {
          if (!skipString()) return false;
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') {
          depth--;
          if (depth === 0) {
            i++;
            return true;
          }
        }
        i++;
      }
      return false;
    }
    const start = i;
    while (i < n && !',}] \t\n\r'.includes(text[i]!)) i++;
    return i > start;
  };

  const members = new Map<string, string>();
  ws();
  if (text[i] !== '{') return undefined;
  i++;
  ws();
  if (text[i] === '}') return members;
  for (;;) {
    ws();
    if (text[i] !== '"') return undefined;
    const keyStart = i;
    if (!skipString()) return undefined;
    let key: string;
    try {
      key = JSON.parse(text.slice(keyStart, i)) as string;
    } catch {
      return undefined;
    }
    ws();
    if (text[i] !== ':') return undefined;
    i++;
    ws();
    const valueStart = i;
    if (!skipValue()) return undefined;
    if (members.has(key)) return undefined;
    members.set(key, text.slice(valueStart, i));
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') {
      i++;
      ws();
      return i === n ? members : undefined;
    }
    return undefined;
  }
}
