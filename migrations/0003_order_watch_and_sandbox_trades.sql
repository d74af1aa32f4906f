-- Reconciliation (补单) and expiry: when the gateway next asks the channel about an open order,
-- and how often it has asked. Only open orders are ever looked up by these indexes.
ALTER TABLE orders ADD COLUMN next_check_at INTEGER;
ALTER TABLE orders ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;
UPDATE orders SET next_check_at = created_at + 5000 WHERE pay_status IN ('p0001', 'p0002');
CREATE INDEX orders_open_check ON orders (next_check_at) WHERE pay_status IN ('p0001', 'p0002');
CREATE INDEX orders_open_expire ON orders (expire_at) WHERE pay_status IN ('p0001', 'p0002');

-- The sandbox channel's own record of what the payer did with each trade. It stands in for the
-- remote channel's database: the gateway learns of it only through callbacks and queries.
CREATE TABLE sandbox_trades (
  order_id    TEXT PRIMARY KEY,
  trade_no    TEXT NOT NULL,
  amount_fen  INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('paid', 'failed', 'closed')),
  paid_at     TEXT,
  bank_type   TEXT,
  updated_at  INTEGER NOT NULL
) STRICT;
