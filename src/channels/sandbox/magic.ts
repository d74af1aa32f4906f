// Amounts that make the sandbox channel misbehave, so a merchant can rehearse the unhappy paths.
// Documented in the README; any other amount is accepted.
export const SANDBOX_MAGIC_FEN = {
  /** The channel refuses the order: 200001, order p0004. */
  REFUSE: 91n, // 0.91
  /** The channel does not answer in time: 200002, order stays p0001 until resolved. */
  TIMEOUT: 92n, // 0.92
  /** The payer pays, but the channel's callback never arrives: the gateway finds out by querying. */
  LOSE_CALLBACK: 93n, // 0.93
} as const;
