import type { Db } from './open.js';
import type { LivePayway } from '../channels/credentials.js';

/** One row of channel_credentials (migrations/0005): the credentials, encrypted. */
export interface ChannelCredentialRow {
  merc_no: string;
  payway: LivePayway;
  key_id: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
  created_at: number;
  updated_at: number;
}

/** The queries about stored channel credentials, prepared once on a connection. */
export function prepareCredentialReads(db: Db) {
  const one = db.prepare('SELECT * FROM channel_credentials WHERE merc_no = ? AND payway = ?');
  const ofMerchant = db.prepare('SELECT * FROM channel_credentials WHERE merc_no = ? ORDER BY payway');
  const all = db.prepare('SELECT * FROM channel_credentials ORDER BY merc_no, payway');
  const count = db.prepare('SELECT count(*) FROM channel_credentials').pluck();

  return {
    channelCredentials: (mercNo: string, payway: LivePayway) => one.get(mercNo, payway) as ChannelCredentialRow | undefined,
    channelCredentialsOf: (mercNo: string) => ofMerchant.all(mercNo) as ChannelCredentialRow[],
    allChannelCredentials: () => all.all() as ChannelCredentialRow[],
    channelCredentialCount: () => count.get() as number,
  };
}

export type CredentialReads = ReturnType<typeof prepareCredentialReads>;
