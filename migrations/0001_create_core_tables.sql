-- Merchants, their orders, the order audit trail and gateway settings.
CREATE TABLE settings (
  name        TEXT PRIMARY KEY,
  value       TEXT NOT NULL
) STRICT;

CREATE TABLE merchants (
  merc_no     TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  mode        TEXT NOT NULL CHECK (mode IN ('sandbox', 'live')),
  key         TEXT NOT NULL CHECK (length(key) >= 32),
  status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE orders (
  order_id          TEXT PRIMARY KEY,
  merc_no           TEXT NOT NULL REFERENCES merchants (merc_no),
  merc_order_no     TEXT NOT NULL,
  request_hash      TEXT NOT NULL,          -- sha256 of the business fields, for replay detection
  payway            TEXT NOT NULL,
  scene             TEXT NOT NULL,
  trade_type        TEXT NOT NULL,
  amount_fen        INTEGER NOT NULL CHECK (amount_fen > 0),
  fee_type          TEXT NOT NULL,
  trade_time        TEXT NOT NULL,
  order_period      INTEGER NOT NULL,
  term_type         TEXT NOT NULL,
  notify_url        TEXT NOT NULL,
  return_url        TEXT,
  request_json      TEXT NOT NULL,          -- the merchant's fields as sent, without the signature
  pay_status        TEXT NOT NULL CHECK (pay_status IN ('p0000','p0001','p0002','p0004','p0005','p0006')),
  channel_state     TEXT NOT NULL CHECK (channel_state IN ('accepted', 'refused', 'unknown')),
  channel_trade_no  TEXT,
  channel_code      TEXT,
  channel_msg       TEXT,
  response_json     TEXT NOT NULL,          -- the unsigned answer, replayed on an identical request
  created_at        INTEGER NOT NULL,       -- epoch ms
  expire_at         INTEGER NOT NULL,       -- epoch ms
  trade_end_time    TEXT,
  bank_type         TEXT,
  late_payment      INTEGER NOT NULL DEFAULT 0, -- paid after failed/closed/expired
  updated_at        INTEGER NOT NULL,
  UNIQUE (merc_no, merc_order_no)
) STRICT;

CREATE INDEX orders_status_expire ON orders (pay_status, expire_at);

CREATE TABLE order_events (
  id          INTEGER PRIMARY KEY,
  order_id    TEXT NOT NULL REFERENCES orders (order_id),
  from_status TEXT NOT NULL,
  to_status   TEXT NOT NULL,
  source      TEXT NOT NULL,                -- what caused it: payer, sandbox callback, query…
  detail      TEXT,
  at          INTEGER NOT NULL
) STRICT;

CREATE INDEX order_events_order ON order_events (order_id);
