-- Leases (CONTRACT §7): work that exactly one gateway instance may do at a time is claimed by
-- name until a time, and taken over by another instance once that time has passed (the holder
-- died or hung). Names: 'slot:NN', the instance slot whose digits this instance's order ids
-- carry (src/domain/ids.ts); 'reconcile:YYYY-MM-DD', one day's reconciliation. On SQLite one
-- process owns the database, so every lease is its own; the table is the same on both backends.

CREATE TABLE leases (
  name         TEXT PRIMARY KEY,
  holder       TEXT NOT NULL,      -- the instance: host, pid and a random part, unique per start
  lease_until  INTEGER NOT NULL,   -- ms since the epoch
  taken_at     INTEGER NOT NULL
) STRICT;
