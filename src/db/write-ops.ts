import type { Db } from './open.js';
import type { MerchantRow, OrderRow } from './rows.js';
import { TRANSITIONS, type OrderEvent, type PayStatus } from '../domain/order-states.js';

// Every write the gateway makes is one of these named operations. They run inside the group
// commit transaction of the writer thread (or inline for the CLI), each under its own savepoint,
// so one operation failing leaves the others in its batch intact.

export interface TransitionArgs {
  orderId: string;
  event: OrderEvent;
  source: string;
  detail?: string;
  at: number;
  tradeEndTime?: string;
  bankType?: string;
  channelTradeNo?: string;
}

export type TransitionResult =
  | { changed: true; from: PayStatus; to: PayStatus }
  | { changed: false; status: PayStatus | undefined };

function prepareOps(db: Db) {
  const insertOrder = db.prepare(`INSERT INTO orders (${ORDER_COLUMNS.join(', ')})
    VALUES (${ORDER_COLUMNS.map((c) => '@' + c).join(', ')})
    ON CONFLICT (merc_no, merc_order_no) DO NOTHING`);
  const insertEvent = db.prepare(
    'INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const statusOf = db.prepare('SELECT pay_status FROM orders WHERE order_id = ?').pluck();
  // The conditional update: it only moves an order out of the state the caller saw it in.
  const transition = db.prepare(`UPDATE orders SET pay_status = @to,
      trade_end_time = coalesce(@tradeEndTime, trade_end_time),
      bank_type = coalesce(@bankType, bank_type),
      channel_trade_no = coalesce(@channelTradeNo, channel_trade_no),
      late_payment = late_payment OR (@to = 'p0000' AND @from IN ('p0004', 'p0005', 'p0006')),
      updated_at = @at
    WHERE order_id = @orderId AND pay_status = @from`);
  const insertMerchant = db.prepare(`INSERT INTO merchants (merc_no, name, mode, key, status, created_at, updated_at)
    VALUES (@merc_no, @name, @mode, @key, @status, @created_at, @updated_at)`);
  const setKey = db.prepare('UPDATE merchants SET key = ?, updated_at = ? WHERE merc_no = ?');
  const setStatus = db.prepare('UPDATE merchants SET status = ?, updated_at = ? WHERE merc_no = ?');
  const putSetting = db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING');
  const getSetting = db.prepare('SELECT value FROM settings WHERE name = ?').pluck();

  return {
    /** Inserts a new order; `false` when (merc_no, merc_order_no) already exists. */
    insertOrder(row: OrderRow): boolean {
      return insertOrder.run(row).changes === 1;
    },

    /** The conditional update: it changes the order only from a state the event allows. */
    transitionOrder(a: TransitionArgs): TransitionResult {
      const { from: allowed, to } = TRANSITIONS[a.event];
      const from = statusOf.get(a.orderId) as PayStatus | undefined;
      if (from === undefined || !allowed.includes(from)) return { changed: false, status: from };
      const changes = transition.run({
        orderId: a.orderId,
        from,
        to,
        at: a.at,
        tradeEndTime: a.tradeEndTime ?? null,
        bankType: a.bankType ?? null,
        channelTradeNo: a.channelTradeNo ?? null,
      }).changes;
      if (changes !== 1) return { changed: false, status: statusOf.get(a.orderId) as PayStatus | undefined };
      insertEvent.run(a.orderId, from, to, a.source, a.detail ?? null, a.at);
      return { changed: true, from, to };
    },

    insertMerchant(row: MerchantRow): true {
      insertMerchant.run(row);
      return true;
    },

    setMerchantKey(a: { mercNo: string; key: string; at: number }): boolean {
      return setKey.run(a.key, a.at, a.mercNo).changes === 1;
    },

    setMerchantStatus(a: { mercNo: string; status: 'active' | 'disabled'; at: number }): boolean {
      return setStatus.run(a.status, a.at, a.mercNo).changes === 1;
    },

    /** Stores a setting unless one exists, and returns the stored value either way. */
    ensureSetting(a: { name: string; value: string }): string {
      putSetting.run(a.name, a.value);
      return getSetting.get(a.name) as string;
    },
  };
}

export type WriteOps = ReturnType<typeof prepareOps>;
export type OpName = keyof WriteOps;
export type OpArgs<N extends OpName> = Parameters<WriteOps[N]>[0];
export type OpResult<N extends OpName> = ReturnType<WriteOps[N]>;
export interface OpCall {
  op: OpName;
  args: unknown;
}
export type OpOutcome = { ok: true; value: unknown } | { ok: false; message: string; code?: string };

export const ORDER_COLUMNS: readonly (keyof OrderRow)[] = [
  'order_id', 'merc_no', 'merc_order_no', 'request_hash', 'payway', 'scene', 'trade_type', 'amount_fen',
  'fee_type', 'trade_time', 'order_period', 'term_type', 'notify_url', 'return_url', 'request_json',
  'pay_status', 'channel_state', 'channel_trade_no', 'channel_code', 'channel_msg', 'response_json',
  'created_at', 'expire_at', 'trade_end_time', 'bank_type', 'late_payment', 'updated_at',
];

/**
 * Binds the operations to a connection and returns a function that runs a batch in one
 * transaction. The batch first runs plainly; only if an operation throws is it rolled back and
 * run again with a savepoint around each operation, so that the others still commit.
 */
export function batchRunner(db: Db): (calls: OpCall[]) => OpOutcome[] {
  const ops = prepareOps(db);
  const call = (c: OpCall): unknown => {
    const fn = ops[c.op] as ((a: unknown) => unknown) | undefined;
    if (typeof fn !== 'function') throw new Error(`unknown write operation ${String(c.op)}`);
    return fn(c.args);
  };
  const plain = db.transaction((calls: OpCall[]) => calls.map((c): OpOutcome => ({ ok: true, value: call(c) })));
  const isolated = db.transaction((calls: OpCall[]) =>
    calls.map((c): OpOutcome => {
      db.exec('SAVEPOINT op');
      try {
        const value = call(c);
        db.exec('RELEASE op');
        return { ok: true, value };
      } catch (err) {
        db.exec('ROLLBACK TO op');
        db.exec('RELEASE op');
        const e = err as { message?: string; code?: string };
        return { ok: false, message: String(e.message ?? err), code: e.code };
      }
    }),
  );
  return (calls) => {
    try {
      return plain.immediate(calls);
    } catch {
      return isolated.immediate(calls);
    }
  };
}
