-- `dtpay order list` (and any list of orders newest first) with a status, a merchant or both
-- filters: each is a range of one index read in order_id order, stopping after the limit, at any
-- size of history. Before, a filtered list sorted every matching order in a temporary B-tree.
-- (pay_status, expire_at) served only the old count by status, which status_counts replaces.
DROP INDEX orders_status_expire;
CREATE INDEX orders_status ON orders (pay_status, order_id);
CREATE INDEX orders_merchant ON orders (merc_no, order_id);
CREATE INDEX orders_merchant_status ON orders (merc_no, pay_status, order_id);

-- `dtpay prune` removes an order's sandbox refunds with it: looked up by order.
CREATE INDEX sandbox_refunds_order ON sandbox_refunds (order_id);
