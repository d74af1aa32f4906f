import type { Config } from '../config.js';
import type { ChannelCredentialRow, CredentialReads } from '../db/credential-reads.js';
import type { AsyncReads } from '../db/port.js';
import { isLivePayway, type CredentialsByPayway, type LivePayway } from '../channels/credentials.js';
import { PAYWAYS } from '../channels/types.js';
import type { Services } from './context.js';
import type { Writer } from '../db/writer.js';
import { CredentialDecryptError, openCredentials, sealCredentials } from '../secrets/channel-credentials.js';
import { masterKeyId } from '../secrets/sealing.js';
import { MASTER_KEY_HOWTO, MasterKeyMissingError } from '../secrets/master-key.js';

// The decrypted credentials of live merchants, for the drivers. Decrypted once per stored version
// of a row and kept in memory: a `dtpay channel set` or `remove` run beside the server changes the
// row's updated_at (and IV), and the next call sees it. Nothing here logs or returns a secret
// anywhere but to the caller.

interface Cached {
  stamp: string;
  credentials: unknown;
}

const caches = new WeakMap<object, Map<string, Cached>>();

export { MASTER_KEY_HOWTO, MasterKeyMissingError };

const stampOf = (row: ChannelCredentialRow) => `${row.updated_at}:${row.key_id}:${row.iv.toString('base64')}`;

/**
 * The credentials stored for (mercNo, payway), or undefined when none are. Throws
 * MasterKeyMissingError without a MASTER_KEY and CredentialDecryptError when it does not decrypt.
 */
export async function loadLiveCredentials<P extends LivePayway>(
  reads: AsyncReads<CredentialReads>,
  masterKey: string | undefined,
  mercNo: string,
  payway: P,
): Promise<CredentialsByPayway[P] | undefined> {
  let cache = caches.get(reads);
  if (!cache) {
    cache = new Map();
    caches.set(reads, cache);
  }
  const cacheKey = `${mercNo}|${payway}`;
  // The row is read on every call and the cache only spares the decryption: a load that read an
  // older version and finishes last leaves a stamp the next call does not match, and it decrypts again.
  const row = await reads.channelCredentials(mercNo, payway);
  if (!row) {
    cache.delete(cacheKey);
    return undefined;
  }
  if (!masterKey) {
    throw new MasterKeyMissingError(`channel credentials of ${mercNo}/${payway} are stored but MASTER_KEY is not set. ${MASTER_KEY_HOWTO}`);
  }
  // The master key's id is part of the stamp, so a changed MASTER_KEY is never served from the cache.
  const stamp = `${stampOf(row)}:${masterKeyId(masterKey)}`;
  const hit = cache.get(cacheKey);
  if (hit && hit.stamp === stamp) return hit.credentials as CredentialsByPayway[P];
  const credentials = openCredentials(masterKey, mercNo, payway, { keyId: row.key_id, iv: row.iv, tag: row.tag, ciphertext: row.ciphertext });
  cache.set(cacheKey, { stamp, credentials });
  return credentials;
}

/**
 * Start-up check: when any live channel credentials are stored, MASTER_KEY must be set and must
 * decrypt every one of them; otherwise this throws a message that says what to do.
 * Returns how many rows were checked.
 */
export function checkLiveCredentialsAtStartup(
  stored: Pick<CredentialReads, 'allChannelCredentials'>,
  config: Pick<Config, 'MASTER_KEY'>,
): { checked: number } {
  const rows = stored.allChannelCredentials();
  if (rows.length === 0) return { checked: 0 };
  const where = [...new Set(rows.map((r) => `${r.merc_no}/${r.payway}`))].slice(0, 5).join(', ');
  const more = rows.length > 5 ? ` and ${rows.length - 5} more` : '';
  const masterKey = config.MASTER_KEY;
  if (!masterKey) {
    throw new MasterKeyMissingError(
      `MASTER_KEY is not set, but live channel credentials are stored (${where}${more}); the gateway will not start without it. ${MASTER_KEY_HOWTO}`,
    );
  }
  const failures: string[] = [];
  for (const r of rows) {
    try {
      openCredentials(masterKey, r.merc_no, r.payway, { keyId: r.key_id, iv: r.iv, tag: r.tag, ciphertext: r.ciphertext });
    } catch (err) {
      if (!(err instanceof CredentialDecryptError)) throw err;
      failures.push(err.message);
    }
  }
  if (failures.length > 0) {
    const wrongKey = rows.some((r) => r.key_id !== masterKeyId(masterKey));
    throw new CredentialDecryptError(
      `MASTER_KEY does not decrypt the stored credentials (${failures.length} of ${rows.length} channel credentials):\n` +
        failures.map((f) => `  - ${f}`).join('\n'),
      wrongKey ? 'wrong-key' : 'tampered',
    );
  }
  return { checked: rows.length };
}

/** Seals a live merchant's credentials for one payway under MASTER_KEY and stores them (replacing what was there). */
export function storeLiveCredentials<P extends LivePayway>(
  writer: Writer,
  masterKey: string,
  mercNo: string,
  payway: P,
  credentials: CredentialsByPayway[P],
  at = Date.now(),
): Promise<'created' | 'updated'> {
  const sealed = sealCredentials(masterKey, mercNo, payway, credentials);
  return writer.run('putChannelCredentials', {
    mercNo,
    payway,
    keyId: sealed.keyId,
    iv: sealed.iv.toString('base64'),
    tag: sealed.tag.toString('base64'),
    ciphertext: sealed.ciphertext.toString('base64'),
    at,
  });
}

const ALL_PAYWAYS: ReadonlySet<string> = new Set(PAYWAYS);

/**
 * Which payways a merchant may use and with which credentials, as the gateway and the CLI both
 * need it: a sandbox merchant every payway with the sandbox channel's secret, a live merchant those
 * whose credentials are stored, opened with the master key when used.
 */
export function credentialLookup(
  credentialReads: AsyncReads<CredentialReads>,
  masterKey: string | undefined,
  sandboxSecret: string,
): Pick<Services, 'configuredPayways' | 'credentialsFor'> {
  return {
    configuredPayways: async (merchant) =>
      merchant.mode === 'sandbox' ? ALL_PAYWAYS : new Set((await credentialReads.channelCredentialsOf(merchant.merc_no)).map((r) => r.payway)),
    credentialsFor: async (merchant, driverName) => {
      if (merchant.mode === 'live' && isLivePayway(driverName)) {
        const c = await loadLiveCredentials(credentialReads, masterKey, merchant.merc_no, driverName);
        if (c) return c;
      }
      if (driverName === 'sandbox') return { secret: sandboxSecret };
      throw new Error(`no credentials for channel ${driverName}`);
    },
  };
}
