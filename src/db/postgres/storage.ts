import type { StoragePort } from '../port.js';
import type { Writer } from '../writer.js';
import type { MerchantKeys } from '../../secrets/merchant-keys.js';
import type { Pool } from './pool.js';
import { postgresReads } from './reads.js';
import { postgresCredentialReads } from './credential-reads.js';
import { postgresMetricReads } from './metric-reads.js';
import { postgresOrderReads } from './order-reads.js';
import { postgresConsoleReads } from './console-reads.js';

/**
 * The storage port on PostgreSQL (CONTRACT §7): every read group answered from `pool`, every write
 * through `writer` (which works on the same database). Closing ends the writer first, so that what
 * it still has in hand commits, then the pool.
 */
export function postgresPort(pool: Pool, writer: Writer, merchantKeys: MerchantKeys): StoragePort {
  let closing: Promise<void> | undefined;
  return {
    dialect: 'postgres',
    reads: postgresReads(pool, merchantKeys),
    credentials: postgresCredentialReads(pool),
    metrics: postgresMetricReads(pool),
    orderLists: postgresOrderReads(pool),
    console: postgresConsoleReads(pool),
    writer,
    close() {
      closing ??= (async () => {
        try {
          await writer.close();
        } finally {
          await pool.end();
        }
      })();
      return closing;
    },
  };
}
