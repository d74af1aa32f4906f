import type { AsyncReads } from '../port.js';
import type { OrderEventRow, OrderListFilter, OrderReads, OrderRefundRow, OrderSummaryRow } from '../order-reads.js';
import { moneyRow, plainRow } from './pool.js';
import { first, limitOf, rows, statement, type Queryable } from './statements.js';

// The operator's view of orders (src/db/order-reads.ts: `dtpay order show|list`, the console's
// order page) on PostgreSQL. Newest first is order_id order; each filter has its own statement,
// a walk of an index stopped at the limit.

const COLUMNS = `order_id, merc_no, merc_order_no, payway, scene, amount_fen, pay_status, channel_state, channel_trade_no,
  created_at, expire_at, trade_end_time, bank_type, late_payment, notify_url`;

// A filtered list is planned with its values (statements.ts): a rare status or a small merchant
// walks its index, a common one may walk the primary key.
const list = (name: string, where: string[]) =>
  statement(`order_list_${name}`, `SELECT ${COLUMNS} FROM orders ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY order_id DESC LIMIT $${where.length + 1}`, { each: where.length > 0 });

const S = {
  order: statement('order_summary', `SELECT ${COLUMNS} FROM orders WHERE order_id = $1`),
  lists: {
    all: list('all', []),
    status: list('status', ['pay_status = $1']),
    merchant: list('merchant', ['merc_no = $1']),
    both: list('both', ['merc_no = $1', 'pay_status = $2']),
  },
  events: statement('order_events', 'SELECT id, from_status, to_status, source, detail, at FROM order_events WHERE order_id = $1 ORDER BY id'),
  refunds: statement('order_refunds', `SELECT refund_id, merc_refund_no, amount_fen, reason, notify_url, refund_status, channel_state,
    channel_refund_no, channel_code, channel_msg, refund_end_time, created_at FROM refunds WHERE order_id = $1 ORDER BY created_at, refund_id`),
};

const row = (r: Record<string, unknown>) => moneyRow<OrderSummaryRow>(r, ['created_at', 'expire_at', 'late_payment']);

export function postgresOrderReads(pool: Queryable): AsyncReads<OrderReads> {
  return {
    order: async (orderId: string) => {
      const r = await first(pool, S.order, [orderId]);
      return r && row(r);
    },
    orders: async (f: OrderListFilter) => {
      const { status, mercNo } = f;
      const limit = limitOf(f.limit);
      const found =
        status !== undefined && mercNo !== undefined
          ? await rows(pool, S.lists.both, [mercNo, status, limit])
          : status !== undefined
            ? await rows(pool, S.lists.status, [status, limit])
            : mercNo !== undefined
              ? await rows(pool, S.lists.merchant, [mercNo, limit])
              : await rows(pool, S.lists.all, [limit]);
      return found.map(row);
    },
    events: async (orderId: string) => (await rows(pool, S.events, [orderId])).map((r) => plainRow<OrderEventRow>(r)),
    refunds: async (orderId: string) => (await rows(pool, S.refunds, [orderId])).map((r) => moneyRow<OrderRefundRow>(r, ['created_at'])),
  };
}
