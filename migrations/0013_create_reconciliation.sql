-- Reconciliation (对账, CONTRACT §5): one run per merchant, payway and Beijing day, replaced when
-- that day is run again. A run keeps its counts and the bill's totals; its items are the lines
-- that did not match (healed ones and discrepancies), so a day of a million matched trades stores
-- one row, not a million.
CREATE TABLE reconciliation_runs (
  id                  INTEGER PRIMARY KEY,
  bill_date           TEXT NOT NULL,            -- YYYY-MM-DD, Beijing
  merc_no             TEXT NOT NULL REFERENCES merchants (merc_no),
  payway              TEXT NOT NULL CHECK (payway IN ('alipay', 'wxpay', 'unionpay')),
  status              TEXT NOT NULL CHECK (status IN ('ok', 'not_ready', 'failed')),
  error               TEXT,                     -- why it failed, or what the channel said while not ready
  matched             INTEGER NOT NULL DEFAULT 0,
  healed              INTEGER NOT NULL DEFAULT 0,
  missing_at_channel  INTEGER NOT NULL DEFAULT 0,
  amount_mismatch     INTEGER NOT NULL DEFAULT 0,
  unknown_trade       INTEGER NOT NULL DEFAULT 0,
  -- the bill's figures, integer fen; NULL unless the bill was compared (status ok)
  trade_fen           INTEGER,
  refund_fen          INTEGER,
  fee_fen             INTEGER,
  net_fen             INTEGER,
  started_at          INTEGER NOT NULL,
  finished_at         INTEGER NOT NULL,
  UNIQUE (bill_date, merc_no, payway)
) STRICT;

CREATE TABLE reconciliation_items (
  id                  INTEGER PRIMARY KEY,
  run_id              INTEGER NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
  kind                TEXT NOT NULL CHECK (kind IN ('healed', 'missing_at_channel', 'amount_mismatch', 'unknown_trade')),
  line                TEXT NOT NULL CHECK (line IN ('trade', 'refund')),
  order_id            TEXT,
  merc_order_no       TEXT,
  refund_id           TEXT,
  merc_refund_no      TEXT,
  channel_trade_no    TEXT,
  bill_order_id       TEXT,                     -- the order number the bill gives, for a trade dtpay does not know
  local_fen           INTEGER,
  channel_fen         INTEGER,
  fee_fen             INTEGER
) STRICT;

CREATE INDEX reconciliation_items_run ON reconciliation_items (run_id);

-- The latest compared (ok) run of each merchant and payway: what GET /metrics reads, a row per
-- merchant and payway whatever the number of days behind it.
CREATE TABLE reconciliation_latest (
  payway              TEXT NOT NULL,
  merc_no             TEXT NOT NULL,
  bill_date           TEXT NOT NULL,
  matched             INTEGER NOT NULL,
  healed              INTEGER NOT NULL,
  missing_at_channel  INTEGER NOT NULL,
  amount_mismatch     INTEGER NOT NULL,
  unknown_trade       INTEGER NOT NULL,
  finished_at         INTEGER NOT NULL,
  PRIMARY KEY (payway, merc_no)
) STRICT, WITHOUT ROWID;

-- Alerts an operator has dealt with (the console's "mark handled", `dtpay alerts handle`), and the
-- key a reconciliation item raises its alert under, so that running a day again raises none twice.
ALTER TABLE alerts ADD COLUMN handled_at INTEGER;
ALTER TABLE alerts ADD COLUMN handled_by TEXT;
ALTER TABLE alerts ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX alerts_dedupe ON alerts (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX alerts_open ON alerts (id) WHERE handled_at IS NULL;

-- Open alerts, counted by triggers whoever writes, so that a scrape reads one row.
CREATE TABLE alert_counts (
  state  TEXT PRIMARY KEY CHECK (state IN ('open')),
  n      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO alert_counts (state, n) SELECT 'open', count(*) FROM alerts;

CREATE TRIGGER alerts_count_insert AFTER INSERT ON alerts WHEN NEW.handled_at IS NULL BEGIN
  UPDATE alert_counts SET n = n + 1 WHERE state = 'open';
END;
CREATE TRIGGER alerts_count_handle AFTER UPDATE OF handled_at ON alerts
  WHEN (OLD.handled_at IS NULL) <> (NEW.handled_at IS NULL) BEGIN
  UPDATE alert_counts SET n = n + CASE WHEN NEW.handled_at IS NULL THEN 1 ELSE -1 END WHERE state = 'open';
END;
CREATE TRIGGER alerts_count_delete AFTER DELETE ON alerts WHEN OLD.handled_at IS NULL BEGIN
  UPDATE alert_counts SET n = n - 1 WHERE state = 'open';
END;

-- The sandbox channel's bill of a day: its paid trades and its ended refunds, by time.
CREATE INDEX sandbox_trades_paid ON sandbox_trades (paid_at, order_id) WHERE status = 'paid';
CREATE INDEX sandbox_refunds_ends ON sandbox_refunds (ends_at, refund_id) WHERE outcome = 'succeeded';
