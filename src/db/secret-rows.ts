import type { Db } from './open.js';
import { prepareCredentialReads, type ChannelCredentialRow } from './credential-reads.js';

/** What the start-up step reads from the database and the one write it makes there, before anything else runs. */
export interface StoredSecrets {
  sealedMerchantKeyCount(): number;
  /** "mercNo/payway" of every stored channel credential, in order */
  channelCredentialNames(): string[];
  sealedMerchantKeys(): { merc_no: string; key_sealed: Buffer }[];
  allChannelCredentials(): ChannelCredentialRow[];
  /** seals what migrations/0008 left in plaintext (a key sealed since is kept) and erases the plaintext; returns how many it sealed */
  sealPlaintextMerchantKeys(seal: (mercNo: string, key: string) => Buffer): number;
}

/**
 * What the start-up step reads and seals (services/secrets-at-start.ts), on the SQLite file before
 * anything else uses it: synchronous, since nothing runs beside it yet.
 */
export function sqliteStoredSecrets(db: Db): StoredSecrets {
  return {
    sealedMerchantKeyCount: () => db.prepare('SELECT count(*) FROM merchants WHERE key_sealed IS NOT NULL').pluck().get() as number,
    channelCredentialNames: () =>
      db.prepare("SELECT merc_no || '/' || payway FROM channel_credentials ORDER BY merc_no, payway").pluck().all() as string[],
    sealedMerchantKeys: () =>
      db.prepare('SELECT merc_no, key_sealed FROM merchants WHERE key_sealed IS NOT NULL ORDER BY merc_no').all() as { merc_no: string; key_sealed: Buffer }[],
    allChannelCredentials: () => prepareCredentialReads(db).allChannelCredentials(),
    sealPlaintextMerchantKeys: (seal) => sealPlaintextMerchantKeys(db, seal),
  };
}

/**
 * Seals the keys migrations/0008 set aside in plaintext, in one transaction, and empties that
 * table; a key already sealed (rotated since) is kept. Running it again finds nothing to do.
 * Returns how many keys it sealed.
 */
function sealPlaintextMerchantKeys(db: Db, seal: (mercNo: string, key: string) => Buffer): number {
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
        n += store.run(seal(r.merc_no, r.key), r.merc_no).changes;
      }
      return { sealed: n, cleared: clear.run().changes };
    })
    .immediate();
  // The WAL still holds the pages the plaintext was written to; fold them into the file and empty
  // it. Best effort: a reader in another process may keep it until the next checkpoint.
  if (cleared > 0) db.pragma('wal_checkpoint(TRUNCATE)');
  return sealed;
}
