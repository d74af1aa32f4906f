import type { Config } from '../config.js';
import type { Db } from '../db/open.js';
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
  /** merchant keys found in plaintext and sealed now */
  sealedPlaintextKeys: number;
}

export interface OpenedSecrets {
  masterKey: string;
  merchantKeys: MerchantKeys;
  notes: SecretsNotes;
}

export function openSecrets(db: Db, config: Pick<Config, 'MASTER_KEY' | 'MASTER_KEY_FILE'>): OpenedSecrets {
  const notes: SecretsNotes = { sealedPlaintextKeys: 0 };
  let found = findMasterKey(config);
  if (!found) {
    const stored = sealedStored(db);
    if (stored.length > 0) {
      throw new MasterKeyMissingError(
        `MASTER_KEY is not set and MASTER_KEY_FILE (${config.MASTER_KEY_FILE}) does not exist, but sealed secrets are stored ` +
          `(${stored.join('; ')}); nothing starts without the key that sealed them. ${MASTER_KEY_HOWTO}`,
      );
    }
    found = { key: generateMasterKeyFile(config.MASTER_KEY_FILE), from: 'file' };
    notes.generated = config.MASTER_KEY_FILE;
  }
  if (found.tightenedFrom !== undefined) notes.tightenedKeyFile = { file: config.MASTER_KEY_FILE, was: found.tightenedFrom.toString(8) };
  const masterKey = found.key;

  checkLiveCredentialsAtStartup(db, { MASTER_KEY: masterKey });
  const merchantKeys = new MerchantKeys(() => masterKey);
  checkMerchantKeys(db, merchantKeys);
  notes.sealedPlaintextKeys = sealPlaintextMerchantKeys(db, merchantKeys);
  return { masterKey, merchantKeys, notes };
}

/** What is sealed in the database, in words, for the message that asks for the key. */
function sealedStored(db: Db): string[] {
  const keys = db.prepare('SELECT count(*) FROM merchants WHERE key_sealed IS NOT NULL').pluck().get() as number;
  const channels = db.prepare('SELECT merc_no || \'/\' || payway FROM channel_credentials ORDER BY merc_no, payway').pluck().all() as string[];
  const out: string[] = [];
  if (keys > 0) out.push(`${keys} merchant key${keys === 1 ? '' : 's'}`);
  if (channels.length > 0) {
    const more = channels.length > 5 ? ` and ${channels.length - 5} more` : '';
    out.push(`live channel credentials of ${channels.slice(0, 5).join(', ')}${more}`);
  }
  return out;
}

/** Every sealed merchant key must open with MASTER_KEY (and is then in the cache for the first request). */
function checkMerchantKeys(db: Db, keys: MerchantKeys): void {
  const rows = db.prepare('SELECT merc_no, key_sealed FROM merchants WHERE key_sealed IS NOT NULL ORDER BY merc_no').all() as {
    merc_no: string;
    key_sealed: Buffer;
  }[];
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

/**
 * Seals the keys migrations/0008 set aside in plaintext, in one transaction, and empties that
 * table; a key already sealed (rotated since) is kept. Running it again finds nothing to do.
 * Returns how many keys it sealed.
 */
export function sealPlaintextMerchantKeys(db: Db, keys: MerchantKeys): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merchant_keys_to_seal'").pluck().get();
  if (!table) return 0;
  // What is deleted is overwritten with zeros, not left in free pages of the file.
  db.pragma('secure_delete = ON');
  const pending = db.prepare(`SELECT p.merc_no, p.key FROM merchant_keys_to_seal p JOIN merchants m USING (merc_no)
    WHERE m.key_sealed IS NULL ORDER BY p.merc_no`);
  const store = db.prepare('UPDATE merchants SET key_sealed = ? WHERE merc_no = ? AND key_sealed IS NULL');
  const clear = db.prepare('DELETE FROM merchant_keys_to_seal');
  const { sealed, cleared } = db
    .transaction(() => {
      let n = 0;
      for (const r of pending.all() as { merc_no: string; key: string }[]) {
        n += store.run(keys.seal(r.merc_no, r.key), r.merc_no).changes;
      }
      return { sealed: n, cleared: clear.run().changes };
    })
    .immediate();
  // The WAL still holds the pages the plaintext was written to; fold them into the file and empty
  // it. Best effort: a reader in another process may keep it until the next checkpoint.
  if (cleared > 0) db.pragma('wal_checkpoint(TRUNCATE)');
  return sealed;
}
