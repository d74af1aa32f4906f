import type { Reads } from './reads.js';
import type { CredentialReads } from './credential-reads.js';
import type { MetricReads } from './metric-reads.js';
import type { OrderReads } from './order-reads.js';
import type { ConsoleReads } from '../console/console-reads.js';
import type { Writer } from './writer.js';

// The storage port (CONTRACT §7): everything the gateway reads and writes, as one asynchronous
// interface with an adapter per database. The SQLite adapter answers reads from its reading
// connection and writes through the group-commit writer thread; the PostgreSQL adapter answers both
// from a pool. Services, API, notification and console code see only this port.
//
// The read groups are the SQLite adapter's prepared reads with every function made asynchronous;
// the fields that are not functions (the SQL of statements, kept for the query-plan tests) belong
// to the SQLite adapter alone and are not part of the port.

type Fn = (...args: never[]) => unknown;

/** The functions of `T`, each answering a promise of what it answered. */
export type AsyncReads<T> = {
  [K in keyof T as T[K] extends Fn ? K : never]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export type Dialect = 'sqlite' | 'postgres';

export interface StoragePort {
  readonly dialect: Dialect;
  /** the request path's reads: merchants, orders, refunds, notifications, settings, reconciliation */
  readonly reads: AsyncReads<Reads>;
  /** stored channel credentials (sealed) */
  readonly credentials: AsyncReads<CredentialReads>;
  /** what a /metrics scrape reads: small counter tables only */
  readonly metrics: AsyncReads<MetricReads>;
  /** `dtpay order list|show` and the console's order detail */
  readonly orderLists: AsyncReads<OrderReads>;
  /** the console's lists, operators, sessions and audit */
  readonly console: AsyncReads<ConsoleReads>;
  /** every write, by name (write-ops.ts); a promise resolves once its transaction is durable */
  readonly writer: Writer;
  close(): Promise<void>;
}
