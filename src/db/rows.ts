import type { PayStatus } from '../domain/order-states.js';

export type MerchantMode = 'sandbox' | 'live';

/** A merchant as stored: its key sealed under MASTER_KEY (migrations/0008). */
export interface MerchantRecord {
  merc_no: string;
  name: string;
  mode: MerchantMode;
  /** packed AES-256-GCM value (src/secrets/merchant-keys.ts); null only before the start-up step seals it */
  key_sealed: Buffer | null;
  status: 'active' | 'disabled';
  created_at: number;
  updated_at: number;
}

/** A merchant as the request path reads it: `key` is opened from key_sealed when first used. */
export type MerchantRow = MerchantRecord & { readonly key: string };

/** What insertMerchant stores; the sealed key travels to the writer thread as base64. */
export type NewMerchantRecord = Omit<MerchantRecord, 'key_sealed'> & { key_sealed: string };

export type ChannelState = 'accepted' | 'refused' | 'unknown';

export interface OrderRow {
  order_id: string;
  merc_no: string;
  merc_order_no: string;
  request_hash: string;
  payway: string;
  scene: string;
  trade_type: string;
  amount_fen: bigint;
  fee_type: string;
  trade_time: string;
  order_period: number;
  term_type: string;
  notify_url: string;
  return_url: string | null;
  request_json: string;
  pay_status: PayStatus;
  channel_state: ChannelState;
  channel_trade_no: string | null;
  channel_code: string | null;
  channel_msg: string | null;
  response_json: string;
  created_at: number;
  expire_at: number;
  trade_end_time: string | null;
  bank_type: string | null;
  late_payment: number;
  updated_at: number;
  /** when the gateway next asks the channel about this open order (reconciliation), epoch ms */
  next_check_at: number | null;
  /** how often it has asked */
  checks: number;
  /** the channel's fee from its trade bill (migrations/0011); null until reconciliation matched the order */
  fee_fen?: bigint | null;
  /** when it reached its final state, epoch ms: the channel's payment time for p0000 (migrations/0012); null while open */
  ended_at?: number | null;
  /** a payout's payee account and name, sealed (migrations/0014); null for payments */
  payee_sealed?: Uint8Array | null;
  /** why a cancel of this payout was asked (migrations/0014) */
  cancel_reason?: 'merchant' | 'expiry' | null;
}

export type NotifyStatus = 'pending' | 'delivered' | 'failed' | 'superseded';

/** What queuing a notification tells the dispatcher, so it can send the first attempt at once. */
export interface QueuedNotification {
  id: number;
  webhookId: string;
  url: string;
  dueAt: number;
  payStatus: PayStatus;
}

/** A notification the dispatcher holds the lease on, with what it needs to send it. */
export interface ClaimedNotification {
  id: number;
  webhookId: string;
  orderId: string;
  mercNo: string;
  url: string;
  fieldsJson: string;
  signType: 'MD5' | 'HMAC-SHA256';
  /** attempts made before this one */
  attempts: number;
  dueAt: number;
}

export type AttemptOutcome = 'delivered' | 'retry' | 'failed';

export interface AttemptRecord {
  id: number;
  owner: string;
  /** 1 for the first attempt */
  attempt: number;
  dueAt: number;
  at: number;
  httpStatus?: number;
  latencyMs: number;
  outcome: AttemptOutcome;
  error?: string;
  answer?: string;
  /** when outcome is retry */
  nextDueAt?: number;
}

export interface NotificationRow {
  id: number;
  webhook_id: string;
  order_id: string;
  /** set when the notification announces a refund's end rather than the order's state */
  refund_id: string | null;
  merc_no: string;
  url: string;
  fields_json: string;
  sign_type: string;
  reason: string;
  status: NotifyStatus;
  attempts: number;
  due_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface AttemptRow {
  id: number;
  notification_id: number;
  attempt: number;
  due_at: number;
  at: number;
  http_status: number | null;
  latency_ms: number;
  outcome: AttemptOutcome;
  error: string | null;
  answer: string | null;
}

export type RefundStatus = 'r0001' | 'r0000' | 'r0004';

export interface RefundRow {
  refund_id: string;
  order_id: string;
  merc_no: string;
  merc_refund_no: string;
  request_hash: string;
  request_json: string;
  amount_fen: bigint;
  reason: string | null;
  notify_url: string | null;
  refund_status: RefundStatus;
  /** pending: the channel has not been asked yet (or the answer is not in) */
  channel_state: 'pending' | 'accepted' | 'refused' | 'unknown';
  channel_refund_no: string | null;
  channel_code: string | null;
  channel_msg: string | null;
  refund_end_time: string | null;
  created_at: number;
  updated_at: number;
  next_check_at: number | null;
  checks: number;
  /** the fee the channel gave back on this refund (negative) or 0, from its bill; null until reconciled */
  fee_fen?: bigint | null;
  /** when it succeeded or failed, epoch ms (the channel's time where it gave one); null while processing */
  ended_at?: number | null;
}

/** One occurrence of something an operator should look at (a refused callback, a reconciliation item). */
export interface Alert {
  kind: string;
  channel: string;
  orderId?: string;
  mercNo?: string;
  detail: string;
  at: number;
}
