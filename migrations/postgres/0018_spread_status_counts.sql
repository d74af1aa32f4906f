-- Each order and notification insert, status change and delete used to update its status's one
-- row of status_counts (0015). That row stays locked by the writing transaction until it commits,
-- so every concurrent order queued behind the one before it, and commits could not share a WAL
-- flush. The triggers now add into status_count_shards instead, in the shard of the connection
-- that writes (its backend's pid modulo 64): a transaction runs on one connection, so all the
-- counter rows it locks are in one shard, and two writers wait for each other only when their
-- connections share a shard. A shard's row is made by the first write that needs it; a shard may
-- go below zero (a row counted in one shard, deleted through another), only the sum means anything.
--
-- A count is status_counts.n (zero in a fresh database; what `dtpay db copy` brought over from
-- SQLite, whose triggers keep counting there) plus the sum of its shards: src/db/postgres/metric-reads.ts.
CREATE TABLE status_count_shards (
  entity  TEXT COLLATE "C" NOT NULL CHECK (entity IN ('orders', 'notifications')),
  status  TEXT COLLATE "C" NOT NULL,
  shard   BIGINT NOT NULL CHECK (shard >= 0 AND shard < 64),
  n       BIGINT NOT NULL,
  PRIMARY KEY (entity, status, shard)
);

CREATE FUNCTION status_counts_add(which TEXT, st TEXT, delta BIGINT) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO status_count_shards AS s (entity, status, shard, n) VALUES (which, st, pg_backend_pid() % 64, delta)
    ON CONFLICT (entity, status, shard) DO UPDATE SET n = s.n + excluded.n
$$;

-- Within a shard the two rows of a move are still locked in one order (the lesser status first),
-- so that two transactions moving units in opposite directions wait instead of deadlocking.
CREATE OR REPLACE FUNCTION status_counts_move(which TEXT, from_status TEXT, to_status TEXT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF from_status COLLATE "C" < to_status COLLATE "C" THEN
    PERFORM status_counts_add(which, from_status, -1);
    PERFORM status_counts_add(which, to_status, 1);
  ELSE
    PERFORM status_counts_add(which, to_status, 1);
    PERFORM status_counts_add(which, from_status, -1);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION orders_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM status_counts_add('orders', NEW.pay_status, 1);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION orders_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM status_counts_add('orders', OLD.pay_status, -1);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION notifications_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM status_counts_add('notifications', NEW.status, 1);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION notifications_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM status_counts_add('notifications', OLD.status, -1);
  RETURN NULL;
END $$;
