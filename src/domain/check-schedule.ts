// When the gateway asks a channel about an order that is still open (reconciliation, 补单): soon
// after creation, then less and less often, until the order expires. Pure.

/** Seconds after each check (the first counts from creation): quick while a payer is likely paying. */
export const CHECK_DELAYS_SEC: readonly number[] = [5, 10, 20, 30, 60, 120, 300];

/**
 * When to ask next, having asked `checksDone` times, the last time at `lastAt` (creation for the
 * first). Undefined once the next check would fall after expiry: expiry closes the order then.
 */
export function nextCheckAt(checksDone: number, lastAt: number, expireAt: number): number | undefined {
  const delay = CHECK_DELAYS_SEC[Math.min(checksDone, CHECK_DELAYS_SEC.length - 1)]! * 1000;
  const at = lastAt + delay;
  return at < expireAt ? at : undefined;
}
