import { createHash, randomBytes } from 'node:crypto';
import type { OrderRow } from '../src/db/rows.js';
import type { PayStatus } from '../src/domain/order-states.js';
import { formatBeijing } from '../src/domain/time.js';
import { orderFields, orderRow } from '../test/fixtures/orders.js';
import type { Merchant } from './harness.js';

// Orders as the payment path leaves them, for benches that write them with SQL: paid orders with
// pending notifications (bench/notify.ts), and a long history of ended ones (bench/history.ts).

export const newWebhookId = () => `msg_${randomBytes(15).toString('base64url')}`;

// The columns of an order as the payment path leaves them. Written as its own type, and inserted
// by name, so that columns added to `orders` later (with their defaults) do not break a bench; the
// names are checked against the table before the first insert (checkOrderColumns).
export type SeedOrder = Pick<
  OrderRow,
  | 'order_id' | 'merc_no' | 'merc_order_no' | 'request_hash' | 'payway' | 'scene' | 'trade_type' | 'amount_fen'
  | 'fee_type' | 'trade_time' | 'order_period' | 'term_type' | 'notify_url' | 'return_url' | 'request_json'
  | 'pay_status' | 'channel_state' | 'channel_trade_no' | 'channel_code' | 'channel_msg' | 'response_json'
  | 'created_at' | 'expire_at' | 'trade_end_time' | 'bank_type' | 'late_payment' | 'updated_at'
>;

export interface EndedOrder {
  orderId: string;
  mercOrderNo: string;
  notifyUrl: string;
  createdAt: number;
  /** when it reached `status` */
  endedAt: number;
  status: Exclude<PayStatus, 'p0001' | 'p0002'>;
}

/** An order created at `createdAt` that ended in `status` at `endedAt`, as the gateway stores it. */
export function endedOrder(m: Merchant, o: EndedOrder): SeedOrder {
  const request = orderFields(m.mercNo, o.mercOrderNo, { notifyUrl: o.notifyUrl });
  const expireAt = o.createdAt + 30 * 60_000;
  const answer = {
    respCode: '000000',
    respDesc: '处理成功',
    fields: {
      mercOrderNo: o.mercOrderNo,
      orderId: o.orderId,
      tradeType: '01',
      tradeAmt: request.tradeAmt,
      tradeTime: request.tradeTime,
      feeType: 'CNY',
      termType: request.termType,
      codeUrl: `http://127.0.0.1/sandbox/pay/${o.orderId}`,
      payStatus: 'p0001',
      expireTime: formatBeijing(expireAt),
      cashierUrl: `http://127.0.0.1/cashier/${o.orderId}`,
    },
  };
  const paid = o.status === 'p0000';
  const { next_check_at: _n, checks: _c, ...row } = orderRow(m.mercNo, o.createdAt, {
    order_id: o.orderId,
    merc_order_no: o.mercOrderNo,
    request_hash: createHash('sha256').update(JSON.stringify(request)).digest('hex'),
    notify_url: o.notifyUrl,
    request_json: JSON.stringify(request),
    pay_status: o.status,
    channel_trade_no: `SBX${o.orderId}`,
    response_json: JSON.stringify(answer),
    expire_at: expireAt,
    trade_end_time: o.status === 'p0005' ? null : formatBeijing(o.endedAt),
    bank_type: paid ? 'ALIPAYACCOUNT' : null,
    updated_at: o.endedAt,
  });
  return row;
}

/** The INSERT of a SeedOrder by column name; throws if the table lacks one of them. */
export function orderInsertSql(known: Iterable<string>): string {
  const columns = Object.keys(
    endedOrder({ mercNo: 'M', key: 'k' }, { orderId: '0', mercOrderNo: 'x', notifyUrl: 'http://x/', createdAt: 0, endedAt: 0, status: 'p0000' }),
  );
  const have = new Set(known);
  const missing = columns.filter((c) => !have.has(c));
  if (missing.length) throw new Error(`the orders table has no column ${missing.join(', ')}: bench/orders.ts needs updating`);
  return `INSERT INTO orders (${columns.join(', ')}) VALUES (${columns.map((c) => '@' + c).join(', ')})`;
}
