-- The notification outbox (CONTRACT §2.5). A row is written in the same transaction as the state
-- change it announces; the dispatcher only ever works from these rows, so a crash at any point
-- leaves a pending row that the next start delivers.
CREATE TABLE notifications (
  id            INTEGER PRIMARY KEY,
  webhook_id    TEXT NOT NULL UNIQUE,         -- sent as webhook-id, the same on every retry
  order_id      TEXT NOT NULL REFERENCES orders (order_id),
  merc_no       TEXT NOT NULL,
  url           TEXT NOT NULL,
  fields_json   TEXT NOT NULL,                -- the §4.2.2 fields without the signature, fixed at creation
  sign_type     TEXT NOT NULL CHECK (sign_type IN ('MD5', 'HMAC-SHA256')),
  reason        TEXT NOT NULL,                -- what queued it: the state change, or a resend
  -- superseded: a newer notification of the same order replaced it before it was delivered, so
  -- that an old state is never announced after a new one.
  status        TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'superseded')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  due_at        INTEGER,                      -- epoch ms of the next attempt while pending
  lease_owner   TEXT,                         -- the dispatcher holding it while an attempt is in flight
  lease_until   INTEGER,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  CHECK ((status = 'pending') = (due_at IS NOT NULL))
) STRICT;

-- The dispatcher's loader reads only what falls due soon: a range scan on this partial index.
CREATE INDEX notifications_pending_due ON notifications (due_at) WHERE status = 'pending';
CREATE INDEX notifications_order ON notifications (order_id);
CREATE INDEX notifications_status ON notifications (status, id);

CREATE TABLE notification_attempts (
  id              INTEGER PRIMARY KEY,
  notification_id INTEGER NOT NULL REFERENCES notifications (id),
  attempt         INTEGER NOT NULL,           -- 1 for the first
  due_at          INTEGER NOT NULL,           -- when it was due, epoch ms
  at              INTEGER NOT NULL,           -- when it started, epoch ms
  http_status     INTEGER,                    -- absent when no answer came
  latency_ms      INTEGER NOT NULL,
  outcome         TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
  error           TEXT,                       -- class: timeout, connect, address, status, answer, redirect, …
  answer          TEXT                        -- the first 256 bytes of the answer
) STRICT;

CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id);
