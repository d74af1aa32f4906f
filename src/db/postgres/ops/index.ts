import type { PoolClient } from '../pool.js';
import type { OpArgs, OpName, OpResult, WriteOps } from '../../write-ops.js';
import { writeOps } from './write-ops.js';
import { refundOps } from './refund-ops.js';
import { payoutOps } from './payout-ops.js';
import { reconcileOps } from './reconcile-ops.js';
import { pruneOps } from './prune-ops.js';
import { consoleOps } from './console-ops.js';
import { leaseOps } from './lease-ops.js';
import { checkClaimOps } from './check-claim-ops.js';

// Every named write operation on PostgreSQL, checked against the SQLite table (write-ops.ts): the
// same names, each taking the same arguments and answering the same result, over a client already
// inside a transaction.

/** The operations that are functions (the SQLite table also carries the prune statements' SQL, for its query-plan tests). */
export type PgOpName = { [N in OpName]: WriteOps[N] extends (...a: never[]) => unknown ? N : never }[OpName];

export type PgOps = { [N in PgOpName]: (c: PoolClient, args: OpArgs<N>) => Promise<OpResult<N>> };

export const PG_OPS: PgOps = { ...writeOps, ...refundOps, ...payoutOps, ...reconcileOps, ...pruneOps, ...consoleOps, ...leaseOps, ...checkClaimOps };

/**
 * The operations that send exactly one statement: PgWriter runs them without BEGIN and COMMIT, in
 * the statement's own transaction, which is as atomic (its triggers and foreign-key checks
 * included) and takes the same locks, for one round trip instead of three. The hottest ones:
 * storing an order, and claiming, settling or releasing a notification.
 */
export const ONE_STATEMENT: ReadonlySet<PgOpName> = new Set<PgOpName>([
  'insertOrder',
  'claimNotification',
  'recordAttempt',
  'releaseNotification',
  'recordCheck',
  'markChannelAccepted',
]);
