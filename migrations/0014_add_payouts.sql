-- Payouts (CONTRACT §4). Off for every merchant until the operator turns them on; the limits are
-- fen (NULL: not set). The daily limit is reserved by summing the merchant's payouts of the Beijing
-- day that still count (p0001, p0002, p0000) in the transaction that stores a new one.
ALTER TABLE merchants ADD COLUMN payouts_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE merchants ADD COLUMN payout_daily_limit_fen INTEGER;
ALTER TABLE merchants ADD COLUMN payout_per_limit_fen INTEGER;

-- The payee's account and name, sealed under MASTER_KEY (src/secrets/payee-data.ts); the order's
-- request_json holds them masked only.
ALTER TABLE orders ADD COLUMN payee_sealed BLOB;
-- Why the gateway asked the channel to cancel a payout: 'merchant' (/api/close → p0005) or
-- 'expiry' (the payee did not confirm in time → p0006); a bill the channel reports cancelled ends by it.
ALTER TABLE orders ADD COLUMN cancel_reason TEXT CHECK (cancel_reason IN ('merchant', 'expiry'));

CREATE INDEX orders_payouts_by_day ON orders (merc_no, created_at) WHERE trade_type IN ('02', '03');

-- The sandbox channel's own record of the payouts it took: it stands in for the remote channel.
-- ends_at: when the payout ends (as `outcome`); NULL while a wxpay payee has not confirmed.
CREATE TABLE sandbox_payouts (
  order_id    TEXT PRIMARY KEY,
  trade_no    TEXT NOT NULL,
  amount_fen  INTEGER NOT NULL,
  confirm     INTEGER NOT NULL,
  outcome     TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
  cancelled   INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  ends_at     INTEGER,
  updated_at  INTEGER NOT NULL
) STRICT;
