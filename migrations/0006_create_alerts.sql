-- What an operator should look at: channel callbacks the gateway refused (bad signature, another
-- app id, an amount or trade number that does not match the order). The order itself is left as
-- it was; the alert is the flag.
CREATE TABLE alerts (
  id        INTEGER PRIMARY KEY,
  kind      TEXT NOT NULL,
  channel   TEXT NOT NULL,
  order_id  TEXT,
  merc_no   TEXT,
  detail    TEXT NOT NULL,
  at        INTEGER NOT NULL
) STRICT;

CREATE INDEX alerts_order ON alerts (order_id) WHERE order_id IS NOT NULL;
