import type { Db } from './open.js';
import type { PayStatus } from '../domain/order-states.js';

// The operator's view of orders (`dtpay order show|list`): read-only queries on the reading
// connection. Only the columns shown are selected, so new columns elsewhere change nothing here.

const COLUMNS = `order_id, merc_no, merc_order_no, payway, scene, amount_fen, pay_status, channel_state, channel_trade_no,
  created_at, expire_at, trade_end_time, bank_type, late_payment, notify_url`;

export interface OrderSummaryRow {
  order_id: string;
  merc_no: string;
  merc_order_no: string;
  payway: string;
  scene: string;
  amount_fen: bigint;
  pay_status: PayStatus;
  channel_state: string;
  channel_trade_no: string | null;
  created_at: number;
  expire_at: number;
  trade_end_time: string | null;
  bank_type: string | null;
  late_payment: number;
  notify_url: string;
}

export interface OrderEventRow {
  id: number;
  from_status: PayStatus;
  to_status: PayStatus;
  source: string;
  detail: string | null;
  at: number;
}

export interface OrderRefundRow {
  refund_id: string;
  merc_refund_no: string;
  amount_fen: bigint;
  reason: string | null;
  notify_url: string | null;
  refund_status: 'r0001' | 'r0000' | 'r0004';
  channel_state: string;
  channel_refund_no: string | null;
  channel_code: string | null;
  channel_msg: string | null;
  refund_end_time: string | null;
  created_at: number;
}

export interface OrderListFilter {
  status?: PayStatus;
  mercNo?: string;
  limit: number;
}

export function prepareOrderReads(db: Db) {
  // Amounts can exceed 2^53 fen: these statements return BigInt integers, made numbers below
  // where they are small.
  const order = db.prepare(`SELECT ${COLUMNS} FROM orders WHERE order_id = ?`).safeIntegers(true);
  // Newest first: order ids are made in strictly increasing order (src/domain/ids.ts), so the
  // primary key gives creation order, and the scan stops after `limit` rows. One statement per
  // combination of filters, so that each gets its own plan.
  const listSql = (where: string[]) =>
    db
      .prepare(`SELECT ${COLUMNS} FROM orders ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY order_id DESC LIMIT @limit`)
      .safeIntegers(true);
  const lists = {
    all: listSql([]),
    status: listSql(['pay_status = @status']),
    merchant: listSql(['merc_no = @mercNo']),
    both: listSql(['merc_no = @mercNo', 'pay_status = @status']),
  };
  const events = db.prepare('SELECT id, from_status, to_status, source, detail, at FROM order_events WHERE order_id = ? ORDER BY id');
  const refunds = db
    .prepare(`SELECT refund_id, merc_refund_no, amount_fen, reason, notify_url, refund_status, channel_state, channel_refund_no,
      channel_code, channel_msg, refund_end_time, created_at FROM refunds WHERE order_id = ? ORDER BY created_at, refund_id`)
    .safeIntegers(true);

  const row = (r: unknown): OrderSummaryRow | undefined => {
    if (!r) return undefined;
    const o = r as Record<string, unknown>;
    for (const k of ['created_at', 'expire_at', 'late_payment']) o[k] = Number(o[k]);
    return o as unknown as OrderSummaryRow;
  };

  return {
    order: (orderId: string) => row(order.get(orderId)),
    /** Newest first, at most `limit`. */
    orders: (f: OrderListFilter): OrderSummaryRow[] => {
      const { status, mercNo, limit } = f;
      const rows =
        status !== undefined && mercNo !== undefined
          ? lists.both.all({ status, mercNo, limit })
          : status !== undefined
            ? lists.status.all({ status, limit })
            : mercNo !== undefined
              ? lists.merchant.all({ mercNo, limit })
              : lists.all.all({ limit });
      return rows.map((r) => row(r)!);
    },
    events: (orderId: string) => events.all(orderId) as OrderEventRow[],
    /** The order's refunds, oldest first. */
    refunds: (orderId: string): OrderRefundRow[] =>
      (refunds.all(orderId) as Record<string, unknown>[]).map((r) => ({ ...r, created_at: Number(r.created_at) }) as unknown as OrderRefundRow),
    /** The list statements, by filter, for their query plans. */
    listStatements: Object.fromEntries(Object.entries(lists).map(([k, st]) => [k, st.source])) as Record<keyof typeof lists, string>,
  };
}

export type OrderReads = ReturnType<typeof prepareOrderReads>;
