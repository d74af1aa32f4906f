// CONTRACT §2.4. The lifecycle issue grows this into the full transition table; the payment path
// already applies its changes through it so that every writer asks the same question.

export const PAY_STATUS = {
  SUBMITTED: 'p0001',
  PAYING: 'p0002',
  SUCCESS: 'p0000',
  FAILED: 'p0004',
  CANCELLED: 'p0005',
  EXPIRED: 'p0006',
} as const;

export type PayStatus = (typeof PAY_STATUS)[keyof typeof PAY_STATUS];

export type OrderEvent = 'payer_opened' | 'channel_paid' | 'channel_failed';

/** The states an event may move an order out of; the UPDATE's WHERE clause is built from this. */
export const TRANSITIONS: Record<OrderEvent, { from: readonly PayStatus[]; to: PayStatus }> = {
  payer_opened: { from: ['p0001'], to: 'p0002' },
  // Money that the channel confirms is real even after a failure, close or expiry: it wins.
  channel_paid: { from: ['p0001', 'p0002', 'p0004', 'p0005', 'p0006'], to: 'p0000' },
  channel_failed: { from: ['p0001', 'p0002'], to: 'p0004' },
};

/** Changes into these states are announced to the merchant (CONTRACT §2.5). */
export const NOTIFYING_STATES: readonly PayStatus[] = ['p0000', 'p0004', 'p0006'];
