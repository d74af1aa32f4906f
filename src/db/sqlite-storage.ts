import type { Db } from './open.js';
import type { AsyncReads, StoragePort } from './port.js';
import type { Writer } from './writer.js';
import { prepareReads } from './reads.js';
import { prepareCredentialReads } from './credential-reads.js';
import { prepareMetricReads } from './metric-reads.js';
import { prepareOrderReads } from './order-reads.js';
import { prepareConsoleReads } from '../console/console-reads.js';
import { lockedMerchantKeys, type MerchantKeys } from '../secrets/merchant-keys.js';

/**
 * A read group's functions, each answering a promise of what it answers. The statement still runs
 * at the call, on the reading connection, so the answer is the database as it stood then; only the
 * caller's continuation waits for the next microtask. A throw becomes a rejection, as a query error
 * of any other adapter would be.
 */
export function asyncReads<T extends object>(group: T): AsyncReads<T> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(group)) {
    if (typeof value !== 'function') continue;
    const read = value as (...args: unknown[]) => unknown;
    out[name] = async (...args: unknown[]) => read(...args);
  }
  return out as AsyncReads<T>;
}

export interface SqliteStorageOptions {
  /** the reading connection */
  db: Db;
  writer: Writer;
  /** opens the merchants' stored keys; without it, using one is refused */
  merchantKeys?: MerchantKeys;
  /** whether close() closes the reading connection after the writer (default true); false where the caller closes it */
  closeDb?: boolean;
}

/** The storage port on SQLite (CONTRACT §7): reads from the reading connection, writes through `writer`. */
export function sqliteStorage(o: SqliteStorageOptions): StoragePort {
  return {
    dialect: 'sqlite',
    reads: asyncReads(prepareReads(o.db, o.merchantKeys ?? lockedMerchantKeys)),
    credentials: asyncReads(prepareCredentialReads(o.db)),
    metrics: asyncReads(prepareMetricReads(o.db)),
    orderLists: asyncReads(prepareOrderReads(o.db)),
    console: asyncReads(prepareConsoleReads(o.db)),
    writer: o.writer,
    async close() {
      await o.writer.close();
      if (o.closeDb ?? true) o.db.close();
    },
  };
}
