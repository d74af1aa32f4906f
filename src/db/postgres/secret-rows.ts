import type { Pool } from './pool.js';
import type { StoredSecrets } from '../secret-rows.js';
import { postgresCredentialReads } from './credential-reads.js';

/**
 * What the start-up step checks (services/secrets-at-start.ts), read from PostgreSQL once, before
 * anything else runs. Nothing is ever stored in plaintext here (a database copied from SQLite is
 * copied after its keys were sealed), so there is nothing to seal.
 */
export async function postgresStoredSecrets(pool: Pool): Promise<StoredSecrets> {
  const keys = (await pool.query<{ merc_no: string; key_sealed: Buffer }>(
    'SELECT merc_no, key_sealed FROM merchants WHERE key_sealed IS NOT NULL ORDER BY merc_no',
  )).rows;
  const credentials = await postgresCredentialReads(pool).allChannelCredentials();
  return {
    sealedMerchantKeyCount: () => keys.length,
    channelCredentialNames: () => credentials.map((c) => `${c.merc_no}/${c.payway}`),
    sealedMerchantKeys: () => keys,
    allChannelCredentials: () => credentials,
    sealPlaintextMerchantKeys: () => 0,
  };
}
