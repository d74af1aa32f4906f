-- A refused callback is seldom alone: a channel retries, and a stranger can post forgeries as
-- fast as the network allows. Alike refusals from one source (kind, channel, merchant, order)
-- are counted on one row, first seen at `at` and last seen at `last_at`, instead of a row each.
ALTER TABLE alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET last_at = at;

CREATE INDEX alerts_source ON alerts (kind, channel, merc_no, order_id, last_at);
