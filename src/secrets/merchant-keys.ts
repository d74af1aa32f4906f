import { UnsealError, packSealed, seal, unpackSealed, unseal } from './sealing.js';

// Merchant keys at rest: each sealed for "merchant-key" and bound to its merchant number, packed
// into the merchants.key_sealed column. A sealed key copied onto another merchant does not open.

/** A stored merchant key that this MASTER_KEY does not open. */
export class MerchantKeyError extends UnsealError {
  override name = 'MerchantKeyError';
}

export function sealMerchantKey(masterKey: string, mercNo: string, key: string): Buffer {
  const plain = Buffer.from(key, 'utf8');
  try {
    return packSealed(seal(masterKey, 'merchant-key', [mercNo], plain));
  } finally {
    plain.fill(0);
  }
}

export function openMerchantKey(masterKey: string, mercNo: string, sealed: Uint8Array): string {
  try {
    const plain = unseal(masterKey, 'merchant-key', [mercNo], unpackSealed(sealed));
    const key = plain.toString('utf8');
    plain.fill(0);
    return key;
  } catch (err) {
    if (!(err instanceof UnsealError)) throw err;
    const fix =
      err.reason === 'wrong-key'
        ? 'Set MASTER_KEY (or MASTER_KEY_FILE) to the key the gateway used when the merchant was made.'
        : 'Give the merchant a new key with `dtpay merchant rotate-key`.';
    throw new MerchantKeyError(`MASTER_KEY does not decrypt the stored key of merchant ${mercNo}: ${err.message}. ${fix}`, err.reason);
  }
}

interface Opened {
  sealed: Buffer;
  key: string;
}

/**
 * Seals and opens merchant keys under one MASTER_KEY, which it asks for only when it first needs
 * it (a CLI command that never touches a key needs no MASTER_KEY). Opened keys are kept in memory,
 * each with the sealed bytes it came from: a rotated key is stored with a fresh IV, so its bytes
 * differ and the next read opens the new one. Signing a request costs one comparison, not an AES
 * operation.
 */
export class MerchantKeys {
  private readonly opened = new Map<string, Opened>();
  private master: string | undefined;

  constructor(private readonly masterKey: () => string) {}

  private key(): string {
    this.master ??= this.masterKey();
    return this.master;
  }

  seal(mercNo: string, key: string): Buffer {
    return sealMerchantKey(this.key(), mercNo, key);
  }

  open(mercNo: string, sealed: Uint8Array | null): string {
    if (sealed === null) {
      throw new MerchantKeyError(
        `the key of merchant ${mercNo} is not sealed yet; start the gateway or run \`dtpay migrate\` once to seal it`,
        'tampered',
      );
    }
    const hit = this.opened.get(mercNo);
    if (hit && hit.sealed.equals(sealed)) return hit.key;
    const key = openMerchantKey(this.key(), mercNo, sealed);
    if (this.opened.size >= 100_000) this.opened.clear();
    this.opened.set(mercNo, { sealed: Buffer.from(sealed), key });
    return key;
  }
}

/** For readers that have no MASTER_KEY: any key they are asked to open or seal is refused. */
export const lockedMerchantKeys = new MerchantKeys(() => {
  throw new MerchantKeyError('this reader was given no MASTER_KEY, so it cannot open merchant keys', 'wrong-key');
});
