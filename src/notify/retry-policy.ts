// Retry policy for merchant notifications (CONTRACT §2.5). Pure, so a fake clock can prove the
// whole schedule without waiting for it.

export type NextAttempt = { kind: 'retry'; dueAt: number } | { kind: 'failed' };

/** The first attempt is not in the schedule: it goes out as soon as the state change commits. */
export function maxAttempts(schedule: readonly number[]): number {
  return schedule.length + 1;
}

/**
 * What follows a failed attempt.
 * @param schedule       NOTIFY_RETRY_SCHEDULE, delays in seconds; delay i follows failed attempt i+1.
 * @param attemptsMade   attempts made so far, the failed one included (1 after the first failure).
 * @param lastAttemptAt  when the failed attempt was made, in ms; dueAt is in ms too.
 */
export function nextAttempt(schedule: readonly number[], attemptsMade: number, lastAttemptAt: number): NextAttempt {
  if (!Number.isInteger(attemptsMade) || attemptsMade < 1) {
    throw new RangeError('attemptsMade counts the attempt that just failed, so it is at least 1');
  }
  if (!Number.isFinite(lastAttemptAt)) throw new RangeError('lastAttemptAt must be a finite number');
  const delaySec = schedule[attemptsMade - 1];
  if (delaySec === undefined) return { kind: 'failed' };
  // Config validates the schedule, but a bad delay here would silently hammer or stall a merchant.
  if (!Number.isFinite(delaySec) || delaySec < 0) throw new RangeError(`bad retry delay: ${delaySec}`);
  return { kind: 'retry', dueAt: lastAttemptAt + delaySec * 1000 };
}

/**
 * The merchant acknowledged: a 2xx status and a body that trims to exactly `success`.
 * Case matters and redirects count as failures, as the contract says; the caller must not follow
 * redirects, so a 3xx arrives here as such.
 */
export function isDelivered(status: number, body: string): boolean {
  return Number.isInteger(status) && status >= 200 && status <= 299 && body.trim() === 'success';
}
