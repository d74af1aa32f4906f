-- The operator console (CONTRACT §6): its operators, their sessions, the login limits, the audit
-- log, and the indexes its order lists and searches use. (Alerts marked handled: migrations/0013.)

CREATE TABLE console_operators (
  id             INTEGER PRIMARY KEY,
  email          TEXT NOT NULL UNIQUE,           -- stored lower case
  role           TEXT NOT NULL CHECK (role IN ('viewer', 'support', 'admin')),
  password_hash  TEXT NOT NULL,                  -- scrypt$N$r$p$salt$hash (src/console/passwords.ts)
  totp_sealed    BLOB,                           -- the TOTP secret sealed under MASTER_KEY; null: no TOTP
  totp_last_step INTEGER,                        -- the last time step accepted: a code is used once
  status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  -- Raised by a password reset, a new TOTP secret or a disable: sessions made under an older
  -- value are over at their next request.
  session_epoch  INTEGER NOT NULL DEFAULT 0,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  last_login_at  INTEGER
) STRICT;

CREATE TABLE console_sessions (
  sid         TEXT PRIMARY KEY,
  data        TEXT NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Failed logins per email ('email:…') and per client address ('addr:…') in the current window.
CREATE TABLE console_login_limits (
  key           TEXT PRIMARY KEY,
  failures      INTEGER NOT NULL,
  window_start  INTEGER NOT NULL,
  locked_until  INTEGER
) STRICT;

CREATE TABLE console_audit (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  operator    TEXT NOT NULL,                     -- the operator's email, or the email tried at a login
  action      TEXT NOT NULL,
  target      TEXT,                              -- an order id, a merchant number, an operator's email…
  amount_fen  INTEGER,
  address     TEXT NOT NULL,
  outcome     TEXT NOT NULL,                     -- ok, refused, denied, failed…
  detail      TEXT
) STRICT;
-- Newest first is id order; who did what to one order is one range.
CREATE INDEX console_audit_target ON console_audit (target, id) WHERE target IS NOT NULL;

-- The console's order list: newest first, by any one of these filters, each a range read in
-- order_id order and stopped at the page size. A date range is a range of order_id itself (an
-- order id starts with its Beijing creation time). Searches by mercOrderNo without the merchant
-- and by the channel's trade number are one index search each.
CREATE INDEX orders_payway ON orders (payway, order_id);
CREATE INDEX orders_payway_status ON orders (payway, pay_status, order_id);
CREATE INDEX orders_merchant_payway ON orders (merc_no, payway, order_id);
CREATE INDEX orders_merc_order_no ON orders (merc_order_no, order_id);
CREATE INDEX orders_channel_trade_no ON orders (channel_trade_no, order_id) WHERE channel_trade_no IS NOT NULL;

-- The refunds page, newest first.
CREATE INDEX refunds_created ON refunds (created_at, refund_id);
