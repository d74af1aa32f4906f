-- When an order (or a refund) reached the state it ended in, epoch ms: for a payment, the time the
-- channel says it was paid, so that it falls on the day the channel bills it (CONTRACT §5); else
-- the gateway's clock when it closed, failed or expired. NULL while open. The merchant bill and
-- reconciliation read a merchant's day as one range of these indexes, at any size of history.
ALTER TABLE orders ADD COLUMN ended_at INTEGER;
ALTER TABLE refunds ADD COLUMN ended_at INTEGER;

-- yyyyMMddHHmmss in Beijing time (UTC+8) as epoch ms; the gateway's clock where the channel gave none.
UPDATE orders SET ended_at = coalesce(
    CAST(round((julianday(substr(trade_end_time, 1, 4) || '-' || substr(trade_end_time, 5, 2) || '-' || substr(trade_end_time, 7, 2) || ' ' ||
      substr(trade_end_time, 9, 2) || ':' || substr(trade_end_time, 11, 2) || ':' || substr(trade_end_time, 13, 2)) - 2440587.5) * 86400000) AS INTEGER) - 28800000,
    updated_at)
  WHERE pay_status NOT IN ('p0001', 'p0002');
UPDATE refunds SET ended_at = coalesce(
    CAST(round((julianday(substr(refund_end_time, 1, 4) || '-' || substr(refund_end_time, 5, 2) || '-' || substr(refund_end_time, 7, 2) || ' ' ||
      substr(refund_end_time, 9, 2) || ':' || substr(refund_end_time, 11, 2) || ':' || substr(refund_end_time, 13, 2)) - 2440587.5) * 86400000) AS INTEGER) - 28800000,
    updated_at)
  WHERE refund_status <> 'r0001';

CREATE INDEX orders_merchant_ended ON orders (merc_no, ended_at, order_id) WHERE ended_at IS NOT NULL;
CREATE INDEX refunds_merchant_ended ON refunds (merc_no, ended_at, refund_id) WHERE ended_at IS NOT NULL;
