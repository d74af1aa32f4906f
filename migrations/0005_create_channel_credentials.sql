-- Live merchants' channel credentials (CONTRACT §3), written by `dtpay channel set`. The
-- credentials are one JSON document encrypted with AES-256-GCM under a key derived from
-- MASTER_KEY (src/channels/credential-store.ts); "<merc_no>|<payway>" is authenticated with it, so
-- a row moved onto another merchant or payway does not decrypt. key_id identifies the MASTER_KEY
-- that encrypted the row (an independent HKDF output), so a wrong MASTER_KEY is reported as such.
CREATE TABLE channel_credentials (
  merc_no     TEXT NOT NULL REFERENCES merchants (merc_no),
  payway      TEXT NOT NULL CHECK (payway IN ('alipay', 'wxpay', 'unionpay')),
  key_id      TEXT NOT NULL CHECK (length(key_id) = 16),
  iv          BLOB NOT NULL CHECK (length(iv) = 12),
  tag         BLOB NOT NULL CHECK (length(tag) = 16),
  ciphertext  BLOB NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,             -- strictly increases on every change: caches key on it
  PRIMARY KEY (merc_no, payway)
) STRICT;
