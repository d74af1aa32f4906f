// CONTRACT §2.4: the order's states and the one table of what may move an order where. Pure: the
// database applies a change as a conditional update built from this table (UPDATE … WHERE
// pay_status = the state it was read in), so two racing events cannot both win.

export const PAY_STATUS = {
  SUBMITTED: 'p0001',
  PAYING: 'p0002',
  SUCCESS: 'p0000',
  FAILED: 'p0004',
  CANCELLED: 'p0005',
  EXPIRED: 'p0006',
} as const;

export type PayStatus = (typeof PAY_STATUS)[keyof typeof PAY_STATUS];
export const PAY_STATUSES: readonly PayStatus[] = Object.values(PAY_STATUS);

/** What each state means, for people: pages and the CLI. */
export const STATUS_NAMES: Record<PayStatus, string> = {
  p0001: 'submitted',
  p0002: 'paying',
  p0000: 'paid',
  p0004: 'failed',
  p0005: 'cancelled',
  p0006: 'expired',
};

export type OrderEvent = 'payer_opened' | 'channel_accepted' | 'channel_paid' | 'channel_failed' | 'merchant_closed' | 'expired';
export const ORDER_EVENTS: readonly OrderEvent[] = ['payer_opened', 'channel_accepted', 'channel_paid', 'channel_failed', 'merchant_closed', 'expired'];

/** The states an event may move an order out of, and where it goes. */
export const TRANSITIONS: Record<OrderEvent, { from: readonly PayStatus[]; to: PayStatus }> = {
  payer_opened: { from: ['p0001'], to: 'p0002' },
  // A payout the channel took and is working on (or waiting for the payee to confirm).
  channel_accepted: { from: ['p0001'], to: 'p0002' },
  // Money that the channel confirms is real even after a failure, close or expiry: it wins.
  channel_paid: { from: ['p0001', 'p0002', 'p0004', 'p0005', 'p0006'], to: 'p0000' },
  channel_failed: { from: ['p0001', 'p0002'], to: 'p0004' },
  merchant_closed: { from: ['p0001', 'p0002'], to: 'p0005' },
  expired: { from: ['p0001', 'p0002'], to: 'p0006' },
};

/** Still waiting for the payer: the states polling, closing and expiry apply to. */
export const OPEN_STATES: readonly PayStatus[] = ['p0001', 'p0002'];

/** Changes into these states are announced to the merchant (CONTRACT §2.5); a close the merchant asked for is not. */
export const NOTIFYING_STATES: readonly PayStatus[] = ['p0000', 'p0004', 'p0006'];

export interface Step {
  to: PayStatus;
  /** paid after the order had failed, been closed or expired */
  late: boolean;
  notify: boolean;
}

/** Where `event` takes an order in `from`, or undefined when it does not apply (the order stays). */
export function step(from: PayStatus, event: OrderEvent): Step | undefined {
  const t = TRANSITIONS[event];
  if (!t.from.includes(from)) return undefined;
  return { to: t.to, late: t.to === 'p0000' && !OPEN_STATES.includes(from), notify: NOTIFYING_STATES.includes(t.to) };
}
