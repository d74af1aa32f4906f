// Every table's columns in the order SQLite holds them after its migrations (columns added later
// come last there), so that a row read here has the keys of the row `SELECT *` gives on SQLite, in
// the same order, and none of the columns only the PostgreSQL schema has (leases).

const list = (...cols: string[]) => cols.join(', ');

export const MERCHANT = list('merc_no', 'name', 'mode', 'status', 'created_at', 'updated_at', 'key_sealed', 'payouts_enabled',
  'payout_daily_limit_fen', 'payout_per_limit_fen');

export const ORDER = list('order_id', 'merc_no', 'merc_order_no', 'request_hash', 'payway', 'scene', 'trade_type', 'amount_fen',
  'fee_type', 'trade_time', 'order_period', 'term_type', 'notify_url', 'return_url', 'request_json', 'pay_status', 'channel_state',
  'channel_trade_no', 'channel_code', 'channel_msg', 'response_json', 'created_at', 'expire_at', 'trade_end_time', 'bank_type',
  'late_payment', 'updated_at', 'next_check_at', 'checks', 'fee_fen', 'ended_at', 'payee_sealed', 'cancel_reason');

export const REFUND = list('refund_id', 'order_id', 'merc_no', 'merc_refund_no', 'request_hash', 'request_json', 'amount_fen',
  'reason', 'notify_url', 'refund_status', 'channel_state', 'channel_refund_no', 'channel_code', 'channel_msg', 'refund_end_time',
  'created_at', 'updated_at', 'next_check_at', 'checks', 'fee_fen', 'ended_at');

export const NOTIFICATION = list('id', 'webhook_id', 'order_id', 'merc_no', 'url', 'fields_json', 'sign_type', 'reason', 'status',
  'attempts', 'due_at', 'lease_owner', 'lease_until', 'created_at', 'updated_at', 'refund_id');

export const ATTEMPT = list('id', 'notification_id', 'attempt', 'due_at', 'at', 'http_status', 'latency_ms', 'outcome', 'error',
  'answer');

export const SANDBOX_TRADE = list('order_id', 'trade_no', 'amount_fen', 'status', 'paid_at', 'bank_type', 'updated_at');

export const SANDBOX_PAYOUT = list('order_id', 'trade_no', 'amount_fen', 'confirm', 'outcome', 'cancelled', 'created_at', 'ends_at',
  'updated_at');

export const RUN = list('id', 'bill_date', 'merc_no', 'payway', 'status', 'error', 'matched', 'healed', 'missing_at_channel',
  'amount_mismatch', 'unknown_trade', 'trade_fen', 'refund_fen', 'fee_fen', 'net_fen', 'started_at', 'finished_at');

export const ITEM = list('id', 'run_id', 'kind', 'line', 'order_id', 'merc_order_no', 'refund_id', 'merc_refund_no',
  'channel_trade_no', 'bill_order_id', 'local_fen', 'channel_fen', 'fee_fen');

export const ALERT = list('id', 'kind', 'channel', 'order_id', 'merc_no', 'detail', 'at', 'count', 'last_at', 'handled_at',
  'handled_by', 'dedupe_key');

export const CREDENTIAL = list('merc_no', 'payway', 'key_id', 'iv', 'tag', 'ciphertext', 'created_at', 'updated_at');

export const OPERATOR = list('id', 'email', 'role', 'password_hash', 'totp_sealed', 'totp_last_step', 'status', 'session_epoch',
  'created_at', 'updated_at', 'last_login_at');

export const AUDIT = list('id', 'at', 'operator', 'action', 'target', 'amount_fen', 'address', 'outcome', 'detail');
