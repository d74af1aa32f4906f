-- The fee a channel charged, as its trade bill states it (CONTRACT §5), stored once an order (or a
-- refund, for the fee given back) has been matched or healed by reconciliation. NULL: not yet billed.
ALTER TABLE orders ADD COLUMN fee_fen INTEGER;
ALTER TABLE refunds ADD COLUMN fee_fen INTEGER;
