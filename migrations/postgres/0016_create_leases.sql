-- Leases (CONTRACT §7): the pair of migrations/0016_create_leases.sql, which says what they are.

CREATE TABLE leases (
  name         TEXT COLLATE "C" PRIMARY KEY,
  holder       TEXT COLLATE "C" NOT NULL,
  lease_until  BIGINT NOT NULL,
  taken_at     BIGINT NOT NULL
);
