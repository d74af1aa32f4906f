-- Merchant keys sealed under MASTER_KEY (src/secrets/merchant-keys.ts): AES-256-GCM bound to the
-- merchant number, packed into key_sealed. SQL cannot encrypt, so this moves the plaintext keys
-- into merchant_keys_to_seal and the gateway (or `dtpay migrate`) seals them at its next start, in
-- one transaction, emptying that table. secure_delete overwrites what is removed with zeros, so the
-- plaintext does not linger in free space of the file (nor in a backup copied from it).
PRAGMA secure_delete = ON;

ALTER TABLE merchants ADD COLUMN key_sealed BLOB CHECK (key_sealed IS NULL OR length(key_sealed) > 37);

CREATE TABLE merchant_keys_to_seal (
  merc_no     TEXT PRIMARY KEY REFERENCES merchants (merc_no),
  key         TEXT NOT NULL
) STRICT;

INSERT INTO merchant_keys_to_seal (merc_no, key) SELECT merc_no, key FROM merchants;

ALTER TABLE merchants DROP COLUMN key;
