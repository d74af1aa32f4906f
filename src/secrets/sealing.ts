import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

// Secrets at rest, sealed under MASTER_KEY (CONTRACT §3, §4). Pure: no database, no files, no logs.
//
// AES-256-GCM, one key per purpose, derived from MASTER_KEY with HKDF-SHA256:
//   key    = HKDF-SHA256(ikm = MASTER_KEY as UTF-8 text, salt = "dtpay/master-key/v1", info = <purpose info>, 32 bytes)
//   key id = first 8 bytes, hex, of HKDF-SHA256(same ikm and salt, info = "dtpay master key id v1", 32 bytes)
// The MASTER_KEY text itself is the input keying material (it is not base64- or hex-decoded), so
// any string `openssl rand -base64 32` or `-hex 32` prints works as it is. Every value gets a fresh
// random 12-byte IV. The additional authenticated data is the purpose's label and the row the value
// belongs to ("dtpay/merchant-key/v1|<mercNo>"), so a value copied onto another row or used for
// another purpose does not open. The key id is stored with the value: a wrong MASTER_KEY is told
// apart from an altered value before decrypting, and it says nothing about the key (it is an
// independent HKDF output).

export type SealPurpose = 'channel-credentials' | 'merchant-key' | 'payee-data' | 'operator-totp';

const PURPOSES: Readonly<Record<SealPurpose, { info: string; label: string }>> = {
  // The first purpose, kept exactly as channel credentials have always been sealed.
  'channel-credentials': { info: 'dtpay channel credentials aes-256-gcm v1', label: 'dtpay/channel-credentials/v1' },
  'merchant-key': { info: 'dtpay merchant key aes-256-gcm v1', label: 'dtpay/merchant-key/v1' },
  'payee-data': { info: 'dtpay payee data aes-256-gcm v1', label: 'dtpay/payee-data/v1' },
  'operator-totp': { info: 'dtpay operator totp aes-256-gcm v1', label: 'dtpay/operator-totp/v1' },
};

const SALT = 'dtpay/master-key/v1';
const ID_INFO = 'dtpay master key id v1';

export interface Sealed {
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** A sealed value that does not open with this MASTER_KEY: another key, or an altered or moved value. */
export class UnsealError extends Error {
  override name = 'UnsealError';
  constructor(
    message: string,
    readonly reason: 'wrong-key' | 'tampered',
  ) {
    super(message);
  }
}

interface DerivedKeys {
  keyId: string;
  keys: Map<SealPurpose, Buffer>;
}

const derived = new Map<string, DerivedKeys>();

function derive(masterKey: string): DerivedKeys {
  if (masterKey.length === 0) throw new Error('MASTER_KEY is empty');
  const cached = derived.get(masterKey);
  if (cached) return cached;
  const ikm = Buffer.from(masterKey, 'utf8');
  const keyId = Buffer.from(hkdfSync('sha256', ikm, SALT, ID_INFO, 32)).subarray(0, 8).toString('hex');
  const keys = new Map<SealPurpose, Buffer>();
  for (const [purpose, { info }] of Object.entries(PURPOSES) as [SealPurpose, { info: string }][]) {
    keys.set(purpose, Buffer.from(hkdfSync('sha256', ikm, SALT, info, 32)));
  }
  const d = { keyId, keys };
  if (derived.size > 16) derived.clear();
  derived.set(masterKey, d);
  return d;
}

/** A short public identifier of a MASTER_KEY (16 hex digits), stored beside each sealed value. */
export function masterKeyId(masterKey: string): string {
  return derive(masterKey).keyId;
}

function aad(purpose: SealPurpose, binding: readonly string[]): Buffer {
  for (const part of binding) {
    // "|" separates the parts: one inside a part would let two different rows share their data.
    if (part.includes('|')) throw new Error(`a sealed value's binding must not contain "|"`);
  }
  return Buffer.from([PURPOSES[purpose].label, ...binding].join('|'), 'utf8');
}

/** Seals `plaintext` for `purpose`, bound to the row named by `binding` (e.g. [mercNo, payway]). */
export function seal(masterKey: string, purpose: SealPurpose, binding: readonly string[], plaintext: Buffer): Sealed {
  const { keyId, keys } = derive(masterKey);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.get(purpose)!, iv);
  cipher.setAAD(aad(purpose, binding));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { keyId, iv, tag: cipher.getAuthTag(), ciphertext };
}

/**
 * Opens what `seal` made with the same MASTER_KEY, purpose and binding; throws UnsealError
 * ('wrong-key' or 'tampered') otherwise. The caller zeroes the plaintext when done with it.
 */
export function unseal(masterKey: string, purpose: SealPurpose, binding: readonly string[], sealed: Sealed): Buffer {
  const { keyId, keys } = derive(masterKey);
  if (sealed.keyId !== keyId) {
    throw new UnsealError(`sealed with the MASTER_KEY whose key id is ${sealed.keyId}; the MASTER_KEY given has key id ${keyId}`, 'wrong-key');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.get(purpose)!, sealed.iv);
    decipher.setAAD(aad(purpose, binding));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    throw new UnsealError('the value fails its integrity check (it was altered, or copied from another row)', 'tampered');
  }
}

// One column for one sealed value: version (1 byte) | key id (8) | IV (12) | tag (16) | ciphertext.
const PACK_VERSION = 1;
const HEADER = 1 + 8 + 12 + 16;

/** A sealed value as one BLOB. */
export function packSealed(s: Sealed): Buffer {
  return Buffer.concat([Buffer.from([PACK_VERSION]), Buffer.from(s.keyId, 'hex'), s.iv, s.tag, s.ciphertext]);
}

export function unpackSealed(blob: Uint8Array): Sealed {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length <= HEADER || b[0] !== PACK_VERSION) throw new UnsealError('the stored value is not a sealed value dtpay knows', 'tampered');
  return {
    keyId: b.subarray(1, 9).toString('hex'),
    iv: b.subarray(9, 21),
    tag: b.subarray(21, 37),
    ciphertext: b.subarray(37),
  };
}
