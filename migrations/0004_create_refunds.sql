-- Refunds (CONTRACT §2, /api/refund). A refund row is written before the channel is asked, in
-- status r0001, so that the refundable amount is reserved atomically: the sum of processing and
-- successful refunds of an order never exceeds what was paid.
CREATE TABLE refunds (
  refund_id          TEXT PRIMARY KEY,
  order_id           TEXT NOT NULL REFERENCES orders (order_id),
  merc_no            TEXT NOT NULL,
  merc_refund_no     TEXT NOT NULL,
  request_hash       TEXT NOT NULL,
  request_json       TEXT NOT NULL,        -- the merchant's fields as sent, without the signature
  amount_fen         INTEGER NOT NULL CHECK (amount_fen > 0),
  reason             TEXT,
  notify_url         TEXT,
  refund_status      TEXT NOT NULL CHECK (refund_status IN ('r0001', 'r0000', 'r0004')),
  channel_state      TEXT NOT NULL CHECK (channel_state IN ('pending', 'accepted', 'refused', 'unknown')),
  channel_refund_no  TEXT,
  channel_code       TEXT,
  channel_msg        TEXT,
  refund_end_time    TEXT,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  next_check_at      INTEGER,
  checks             INTEGER NOT NULL DEFAULT 0,
  UNIQUE (merc_no, merc_refund_no)
) STRICT;

CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_open_check ON refunds (next_check_at) WHERE refund_status = 'r0001';

-- A notification announces an order's state, or (refund_id set) a refund's end.
ALTER TABLE notifications ADD COLUMN refund_id TEXT REFERENCES refunds (refund_id);
CREATE INDEX notifications_refund ON notifications (refund_id) WHERE refund_id IS NOT NULL;

-- The sandbox channel's record of refunds: they end a short while after they are asked for.
CREATE TABLE sandbox_refunds (
  refund_id   TEXT PRIMARY KEY,
  order_id    TEXT NOT NULL,
  amount_fen  INTEGER NOT NULL,
  outcome     TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
  created_at  INTEGER NOT NULL,
  ends_at     INTEGER NOT NULL
) STRICT;
