// Amounts that make the sandbox channel misbehave, so a merchant can rehearse the unhappy paths.
// Documented in the README; any other amount is accepted.
export const SANDBOX_MAGIC_FEN = {
  /** The channel refuses the order: 200001, order p0004. */
  REFUSE: 91n, // 0.91
  /** The channel does not answer in time: 200002, order stays p0001 until resolved. */
  TIMEOUT: 92n, // 0.92
  /** The payer pays, but the channel's callback never arrives: the gateway finds out by querying. */
  LOSE_CALLBACK: 93n, // 0.93
  /** Paid, but the sandbox's day bill leaves the trade out: reconciliation reports missing_at_channel. */
  BILL_LEAVES_OUT: 95n, // 0.95
  /** Paid, and the sandbox's day bill shows one fen more: reconciliation reports amount_mismatch. */
  BILL_ONE_FEN_MORE: 96n, // 0.96
  /**
   * Paid, but the callback is lost and the sandbox's query (and close) say it was not paid: only
   * the day bill shows it, so reconciliation alone heals it (healed, flagged latePayment once closed or expired).
   */
  ONLY_IN_BILL: 97n, // 0.97
} as const;

/** Refund amounts that make the sandbox channel misbehave. */
export const SANDBOX_REFUND_MAGIC_FEN = {
  /** The channel refuses the refund at once: 200001, refund r0004. */
  REFUSE: 91n, // 0.91
  /** The channel takes the refund, and it fails when it ends: r0001, then r0004. */
  FAIL_LATER: 94n, // 0.94
} as const;

/** How long a sandbox refund takes to end once the channel has taken it. */
export const SANDBOX_REFUND_DELAY_MS = 2_000;

/** Payout amounts that make the sandbox channel misbehave (CONTRACT §4). */
export const SANDBOX_PAYOUT_MAGIC_FEN = {
  /** The channel refuses the payout: 200001, p0004. */
  REFUSE: 91n, // 0.91
  /** The channel takes it but its answer is lost: 200002; querying settles it (paid out, p0000). */
  TIMEOUT: 92n, // 0.92
  /** The channel takes it, then it fails: p0002, then p0004. */
  FAIL_LATER: 94n, // 0.94
} as const;

/** How long after the sandbox takes a payout (that needs no confirmation) it ends. */
export const SANDBOX_PAYOUT_DELAY_MS = 2_000;
