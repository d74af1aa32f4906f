import type { AsyncReads } from '../port.js';
import type { ChannelCredentialRow, CredentialReads } from '../credential-reads.js';
import type { LivePayway } from '../../channels/credentials.js';
import { plainRow } from './pool.js';
import { first, rows, statement, type Queryable } from './statements.js';
import { CREDENTIAL } from './columns.js';

// Stored channel credentials (src/db/credential-reads.ts) on PostgreSQL: sealed bytes as Buffers.

const S = {
  one: statement('credentials_one', `SELECT ${CREDENTIAL} FROM channel_credentials WHERE merc_no = $1 AND payway = $2`),
  ofMerchant: statement('credentials_of', `SELECT ${CREDENTIAL} FROM channel_credentials WHERE merc_no = $1 ORDER BY payway`),
  all: statement('credentials_all', `SELECT ${CREDENTIAL} FROM channel_credentials ORDER BY merc_no, payway`),
  count: statement('credentials_count', 'SELECT count(*) AS n FROM channel_credentials'),
};

const row = (r: Record<string, unknown>) => plainRow<ChannelCredentialRow>(r);

export function postgresCredentialReads(pool: Queryable): AsyncReads<CredentialReads> {
  return {
    channelCredentials: async (mercNo: string, payway: LivePayway) => {
      const r = await first(pool, S.one, [mercNo, payway]);
      return r && row(r);
    },
    channelCredentialsOf: async (mercNo: string) => (await rows(pool, S.ofMerchant, [mercNo])).map(row),
    allChannelCredentials: async () => (await rows(pool, S.all, [])).map(row),
    channelCredentialCount: async () => Number((await first<{ n: bigint }>(pool, S.count, []))!.n),
  };
}
