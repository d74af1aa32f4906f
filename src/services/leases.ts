import type { Writer } from '../db/writer.js';

// Work that one instance of several must do alone (CONTRACT §7: a day's reconciliation), run under
// a named lease (migrations/0016) that lasts at most 30 s at a time and is renewed while the work
// runs. An instance that dies mid-way lets the lease run out, and another may do the work again.

export const WORK_LEASE_MS = 30_000;

export type LeaseOutcome<T> = { ran: true; value: T } | { ran: false };

/** Runs `work` if this instance takes the lease `name`; answers `{ ran: false }` when another holds it. */
export async function underLease<T>(
  o: { writer: Writer; now: () => number; holder: string },
  name: string,
  work: () => Promise<T>,
): Promise<LeaseOutcome<T>> {
  const take = () => {
    const at = o.now();
    return o.writer.run('takeLease', { name, holder: o.holder, at, until: at + WORK_LEASE_MS });
  };
  if (!(await take())) return { ran: false };
  const renewal = setInterval(() => void take().catch(() => false), WORK_LEASE_MS / 3);
  renewal.unref();
  try {
    return { ran: true, value: await work() };
  } finally {
    clearInterval(renewal);
    await o.writer.run('releaseLease', { name, holder: o.holder }).catch(() => false);
  }
}

/** The lease a day's reconciliation (of one scope) runs under, the same on every instance and on the command line. */
export const reconcileLeaseName = (scope: { date: string; mercNo?: string; payway?: string }) =>
  `reconcile:${scope.date}:${scope.mercNo ?? '*'}:${scope.payway ?? '*'}`;
