import type { Writer } from '../db/writer.js';
import type { PruneBatchResult } from '../db/prune-ops.js';
import { pruneCutoff } from '../domain/retention.js';

export interface PruneOptions {
  /** YYYY-MM-DD: orders that ended before that day (Beijing time) */
  before: string;
  now: number;
  dryRun?: boolean;
  /** orders looked at per transaction */
  batch?: number;
  /** between two transactions, so that the gateway's own writes get the lock in between */
  pauseMs?: number;
}

export interface PruneTotals {
  endedBefore: string;
  dryRun: boolean;
  scanned: number;
  orders: number;
  events: number;
  notifications: number;
  attempts: number;
  refunds: number;
  /** created before the cut-off but kept: still open or ended since, unreconciled, still to be notified, or with a refund in progress or recent */
  kept: number;
  batches: number;
}

/** Thrown for a cut-off that is not a date or falls within the refund window. */
export class PruneRefused extends Error {
  override name = 'PruneRefused';
}

/**
 * Removes the history retention allows (src/domain/retention.ts), a batch of orders per
 * transaction, so that each holds the write lock only briefly and the gateway keeps committing
 * orders in between.
 */
export async function pruneHistory(writer: Writer, o: PruneOptions): Promise<PruneTotals> {
  const cutoff = pruneCutoff(o.before, o.now);
  if (!cutoff.ok) throw new PruneRefused(cutoff.reason);
  const limit = o.batch ?? 1000;
  const totals: PruneTotals = {
    endedBefore: new Date(cutoff.endedBeforeMs).toISOString(),
    dryRun: o.dryRun ?? false,
    scanned: 0, orders: 0, events: 0, notifications: 0, attempts: 0, refunds: 0, kept: 0, batches: 0,
  };
  let after = '';
  for (;;) {
    const r: PruneBatchResult = await writer.run('pruneOrders', { after, below: cutoff.orderIdBelow, endedBefore: cutoff.endedBeforeMs, limit, dryRun: totals.dryRun });
    totals.batches++;
    totals.scanned += r.scanned;
    for (const k of ['orders', 'events', 'notifications', 'attempts', 'refunds'] as const) totals[k] += r[k];
    if (r.scanned < limit || r.last === undefined) break;
    after = r.last;
    if (o.pauseMs) await new Promise((resolve) => setTimeout(resolve, o.pauseMs));
  }
  totals.kept = totals.scanned - totals.orders;
  return totals;
}
