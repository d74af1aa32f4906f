import type { CredentialsByPayway, LivePayway } from '../channels/credentials.js';
import { UnsealError, seal, unseal, type Sealed } from './sealing.js';

// Live merchants' channel credentials at rest: one JSON document per (merchant, payway), sealed for
// "channel-credentials" and bound to "<mercNo>|<payway>", so a row moved onto another merchant or
// payway does not open. The table keeps the four parts in columns of their own.

const FORMAT = 1;

/** What the table stores for one (merchant, payway). */
export type SealedCredentials = Sealed;

/** The stored credentials do not open with this MASTER_KEY (wrong key, or an altered or moved row). */
export class CredentialDecryptError extends UnsealError {
  override name = 'CredentialDecryptError';
}

export function sealCredentials<P extends LivePayway>(
  masterKey: string,
  mercNo: string,
  payway: P,
  credentials: CredentialsByPayway[P],
): SealedCredentials {
  const plain = Buffer.from(JSON.stringify({ v: FORMAT, payway, credentials }), 'utf8');
  try {
    return seal(masterKey, 'channel-credentials', [mercNo, payway], plain);
  } finally {
    plain.fill(0);
  }
}

export function openCredentials<P extends LivePayway>(
  masterKey: string,
  mercNo: string,
  payway: P,
  sealed: SealedCredentials,
): CredentialsByPayway[P] {
  const where = `${mercNo}/${payway}`;
  let plain: Buffer;
  try {
    plain = unseal(masterKey, 'channel-credentials', [mercNo, payway], sealed);
  } catch (err) {
    if (!(err instanceof UnsealError)) throw err;
    if (err.reason === 'wrong-key') {
      throw new CredentialDecryptError(
        `MASTER_KEY does not decrypt the stored credentials (${where} was ${err.message}). ` +
          'Set MASTER_KEY to the value used by `dtpay channel set`.',
        'wrong-key',
      );
    }
    throw new CredentialDecryptError(
      `MASTER_KEY does not decrypt the stored credentials of ${where}: the row fails its integrity check ` +
        '(it was altered, or copied from another merchant or payway). Store them again with `dtpay channel set`.',
      'tampered',
    );
  }
  const doc = JSON.parse(plain.toString('utf8')) as { v?: number; payway?: string; credentials?: unknown };
  plain.fill(0);
  if (doc.v !== FORMAT || doc.payway !== payway || typeof doc.credentials !== 'object' || doc.credentials === null) {
    throw new CredentialDecryptError(`the stored credentials of ${where} are in an unknown format`, 'tampered');
  }
  return doc.credentials as CredentialsByPayway[P];
}
