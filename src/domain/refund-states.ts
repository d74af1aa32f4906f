// Refund states (CONTRACT §2 /api/refund): r0001 processing, r0000 success, r0004 failed. A refund
// ends once; both ends are final and announced.

export const REFUND_STATUS = { PROCESSING: 'r0001', SUCCESS: 'r0000', FAILED: 'r0004' } as const;

/** Seconds between the gateway's questions to the channel about a refund still processing. */
export const REFUND_CHECK_DELAYS_SEC: readonly number[] = [3, 5, 10, 30, 60, 300];

export function nextRefundCheckAt(checksDone: number, lastAt: number): number {
  return lastAt + REFUND_CHECK_DELAYS_SEC[Math.min(checksDone, REFUND_CHECK_DELAYS_SEC.length - 1)]! * 1000;
}
