-- The status counters' shards (see migrations/postgres/0018): on PostgreSQL the triggers add into
-- these rows, one shard per database connection, so that concurrent writers do not queue on one
-- counter row until they commit. SQLite has one writer at a time and goes on counting in
-- status_counts (0009); here the table stays empty. It exists on both so that the schemas stay
-- alike and `dtpay db copy` moves it like any other table.
CREATE TABLE status_count_shards (
  entity  TEXT NOT NULL CHECK (entity IN ('orders', 'notifications')),
  status  TEXT NOT NULL,
  shard   INTEGER NOT NULL CHECK (shard >= 0 AND shard < 64),
  n       INTEGER NOT NULL,
  PRIMARY KEY (entity, status, shard)
) STRICT, WITHOUT ROWID;
