import type { Config } from '../config.js';
import type { StoredSecrets } from '../db/secret-rows.js';
import { MerchantKeyError, MerchantKeys } from '../secrets/merchant-keys.js';
import { MASTER_KEY_HOWTO, MasterKeyMissingError, findMasterKey, generateMasterKeyFile } from '../secrets/master-key.js';
import { checkLiveCredentialsAtStartup } from './live-credentials.js';

// Before a process (the gateway, or a CLI command that seals or opens secrets) uses the database:
// find MASTER_KEY (or make one, when nothing sealed exists yet), seal the merchant keys an older
// version stored in plaintext, and check that every sealed value opens. A value that does not
// open would fail every request that needs it, so nothing starts until the operator fixes the key.

export interface SecretsNotes {
  /** MASTER_KEY_FILE written now, with a new key */
  generated?: string;
  /** MASTER_KEY_FILE let other users read it; it is now 0600 */
  tightenedKeyFile?: { file: string; was: string };
  /** MASTER_KEY_FILE lets other users read it and could not be changed (mode in octal, the reason) */
  looseKeyFile?: { file: string; mode: string; why: string };
  /** merchant keys found in plaintext and sealed now */
  sealedPlaintextKeys: number;
}

export interface OpenedSecrets {
  masterKey: string;
  merchantKeys: MerchantKeys;
  notes: SecretsNotes;
}

/**
 * `mayGenerate: false` (several instances on PostgreSQL): a missing key is an error even before
 * anything is sealed, since a key made up by one instance would be unknown to the others.
 */
export function openSecrets(
  stored: StoredSecrets,
  config: Pick<Config, 'MASTER_KEY' | 'MASTER_KEY_FILE'>,
  opts: { mayGenerate?: boolean } = {},
): OpenedSecrets {
  const notes: SecretsNotes = { sealedPlaintextKeys: 0 };
  let found = findMasterKey(config);
  if (!found && opts.mayGenerate === false) {
    throw new MasterKeyMissingError(
      `MASTER_KEY is not set and MASTER_KEY_FILE (${config.MASTER_KEY_FILE}) does not exist. On PostgreSQL every instance must be ` +
        `given the same key; none is generated. ${MASTER_KEY_HOWTO}`,
    );
  }
  if (!found) {
    const sealed = sealedStored(stored);
    if (sealed.length > 0) {
      throw new MasterKeyMissingError(
        `MASTER_KEY is not set and MASTER_KEY_FILE (${config.MASTER_KEY_FILE}) does not exist, but sealed secrets are stored ` +
          `(${sealed.join('; ')}); nothing starts without the key that sealed them. ${MASTER_KEY_HOWTO}`,
      );
    }
    found = { key: generateMasterKeyFile(config.MASTER_KEY_FILE), from: 'file' };
    notes.generated = config.MASTER_KEY_FILE;
  }
  if (found.tightenedFrom !== undefined) notes.tightenedKeyFile = { file: config.MASTER_KEY_FILE, was: found.tightenedFrom.toString(8) };
  if (found.loose) notes.looseKeyFile = { file: config.MASTER_KEY_FILE, mode: found.loose.mode.toString(8), why: found.loose.why };
  const masterKey = found.key;

  checkLiveCredentialsAtStartup(stored, { MASTER_KEY: masterKey });
  const merchantKeys = new MerchantKeys(() => masterKey);
  checkMerchantKeys(stored, merchantKeys);
  notes.sealedPlaintextKeys = stored.sealPlaintextMerchantKeys((mercNo, key) => merchantKeys.seal(mercNo, key));
  return { masterKey, merchantKeys, notes };
}

/** What is sealed in the database, in words, for the message that asks for the key. */
function sealedStored(stored: StoredSecrets): string[] {
  const keys = stored.sealedMerchantKeyCount();
  const channels = stored.channelCredentialNames();
  const out: string[] = [];
  if (keys > 0) out.push(`${keys} merchant key${keys === 1 ? '' : 's'}`);
  if (channels.length > 0) {
    const more = channels.length > 5 ? ` and ${channels.length - 5} more` : '';
    out.push(`live channel credentials of ${channels.slice(0, 5).join(', ')}${more}`);
  }
  return out;
}

/** Every sealed merchant key must open with MASTER_KEY (and is then in the cache for the first request). */
function checkMerchantKeys(stored: StoredSecrets, keys: MerchantKeys): void {
  const rows = stored.sealedMerchantKeys();
  const failures: MerchantKeyError[] = [];
  for (const r of rows) {
    try {
      keys.open(r.merc_no, r.key_sealed);
    } catch (err) {
      if (!(err instanceof MerchantKeyError)) throw err;
      failures.push(err);
    }
  }
  if (failures.length === 0) return;
  const shown = failures.slice(0, 5).map((f) => `  - ${f.message}`);
  if (failures.length > 5) shown.push(`  - and ${failures.length - 5} more`);
  throw new MerchantKeyError(
    `MASTER_KEY does not decrypt the stored merchant keys (${failures.length} of ${rows.length}):\n${shown.join('\n')}`,
    failures.some((f) => f.reason === 'wrong-key') ? 'wrong-key' : 'tampered',
  );
}
