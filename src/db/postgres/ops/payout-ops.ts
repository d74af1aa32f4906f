import type { PoolClient } from '../pool.js';
import { ORDER_COLUMNS, type TransitionResult } from '../../write-ops.js';
import type { InsertPayoutArgs, InsertPayoutResult, PayoutAnswerArgs, SandboxPayoutRow } from '../../payout-ops.js';
import { transitionOrder } from './write-ops.js';
import { fen, num, one, q } from './sql.js';

// The payout operations of src/db/payout-ops.ts on PostgreSQL (see write-ops.ts here for how the
// operations stay safe with several instances writing at once).

const COUNTING = `('p0001', 'p0002', 'p0000')`;
const ALL = [...ORDER_COLUMNS, 'payee_sealed'];
const insertSql = `INSERT INTO orders (${ALL.join(', ')}) VALUES (${ALL.map((c) => '@' + c).join(', ')})
  ON CONFLICT (merc_no, merc_order_no) DO NOTHING`;

/** 1 (on), whatever the column's type. */
const isOn = (v: unknown) => v === true || (v !== null && v !== undefined && Number(v) === 1);

async function sandboxRead(c: PoolClient, orderId: string): Promise<SandboxPayoutRow | undefined> {
  const r = await one<Record<string, unknown>>(c, 'SELECT * FROM sandbox_payouts WHERE order_id = @orderId', { orderId });
  if (!r) return undefined;
  return {
    order_id: r.order_id as string,
    trade_no: r.trade_no as string,
    amount_fen: fen(r.amount_fen)!,
    confirm: num(r.confirm)!,
    outcome: r.outcome as SandboxPayoutRow['outcome'],
    cancelled: num(r.cancelled)!,
    created_at: num(r.created_at)!,
    ends_at: num(r.ends_at),
    updated_at: num(r.updated_at)!,
  };
}

export const payoutOps = {
  /**
   * Safe: the merchant's row is locked (FOR NO KEY UPDATE: payments still insert alongside) before
   * its limits are read and the day's payouts summed, so concurrent payouts of one merchant take
   * turns and each sees every payout committed before it: together they never pass the daily
   * limit. The unique key (merc_no, merc_order_no) decides a replay.
   */
  async insertPayout(c: PoolClient, a: InsertPayoutArgs): Promise<InsertPayoutResult> {
    const s = await one<{ enabled: unknown; daily: unknown; per: unknown }>(
      c,
      `SELECT payouts_enabled AS enabled, payout_daily_limit_fen AS daily, payout_per_limit_fen AS per FROM merchants
      WHERE merc_no = @mercNo FOR NO KEY UPDATE`,
      { mercNo: a.row.merc_no },
    );
    if (!s || !isOn(s.enabled)) return { ok: false, reason: 'off' };
    const amount = BigInt(a.row.amount_fen);
    const per = fen(s.per);
    const daily = fen(s.daily);
    if (per !== null && amount > per) return { ok: false, reason: 'per_payout', limitFen: per };
    if (daily !== null) {
      const used = await one<{ sum: unknown }>(
        c,
        `SELECT coalesce(sum(amount_fen), 0)::int8 AS sum FROM orders
        WHERE merc_no = @mercNo AND trade_type IN ('02', '03') AND created_at >= @dayStart AND created_at < @dayEnd AND pay_status IN ${COUNTING}`,
        { mercNo: a.row.merc_no, dayStart: a.dayStart, dayEnd: a.dayEnd },
      );
      const u = fen(used!.sum)!;
      const left = daily > u ? daily - u : 0n;
      if (amount > left) return { ok: false, reason: 'daily', leftFen: left, limitFen: daily };
    }
    const r = await q(c, insertSql, { ...a.row, ended_at: null, payee_sealed: Buffer.from(a.payeeSealed, 'base64') });
    return r.count === 1 ? { ok: true } : { ok: false, reason: 'duplicate' };
  },

  /** Safe: one update of the order, then the transition (which locks the order and is conditional). */
  async recordPayoutAnswer(c: PoolClient, a: PayoutAnswerArgs): Promise<TransitionResult | undefined> {
    await q(
      c,
      `UPDATE orders SET channel_state = @channelState,
        channel_trade_no = coalesce(@channelTradeNo, channel_trade_no), channel_code = coalesce(@code, channel_code),
        channel_msg = coalesce(@message, channel_msg), response_json = @responseJson, updated_at = @at
      WHERE order_id = @orderId`,
      { orderId: a.orderId, channelState: a.channelState, channelTradeNo: a.channelTradeNo, code: a.code, message: a.message, responseJson: a.responseJson, at: a.at },
    );
    return a.transition ? transitionOrder(c, a.transition) : undefined;
  },

  async setPayoutSettings(
    c: PoolClient,
    a: { mercNo: string; enabled: boolean; dailyLimitFen: bigint | null; perPayoutLimitFen: bigint | null; at: number },
  ): Promise<boolean> {
    const r = await q(
      c,
      `UPDATE merchants SET payouts_enabled = @enabled, payout_daily_limit_fen = @daily, payout_per_limit_fen = @per, updated_at = @at
      WHERE merc_no = @mercNo`,
      { mercNo: a.mercNo, enabled: a.enabled ? 1 : 0, daily: a.dailyLimitFen, per: a.perPayoutLimitFen, at: a.at },
    );
    return r.count === 1;
  },

  /** Safe: coalesce keeps the first reason, on the locked row; the update also locks it for the read back. */
  async markCancelAsked(c: PoolClient, a: { orderId: string; reason: 'merchant' | 'expiry'; at: number }): Promise<'merchant' | 'expiry' | null> {
    await q(
      c,
      `UPDATE orders SET cancel_reason = coalesce(cancel_reason, @reason), updated_at = @at
      WHERE order_id = @orderId AND pay_status IN ('p0001', 'p0002')`,
      a,
    );
    const r = await one<{ cancel_reason: 'merchant' | 'expiry' | null }>(c, 'SELECT cancel_reason FROM orders WHERE order_id = @orderId', a);
    return r?.cancel_reason ?? null;
  },

  /** Safe: the order's key decides (ON CONFLICT DO NOTHING); the row read back is the one stored. */
  async sandboxTransfer(
    c: PoolClient,
    a: { orderId: string; tradeNo: string; amountFen: bigint; confirm: boolean; outcome: 'succeeded' | 'failed'; at: number; endsAt: number | null },
  ): Promise<SandboxPayoutRow> {
    await q(
      c,
      `INSERT INTO sandbox_payouts (order_id, trade_no, amount_fen, confirm, outcome, created_at, ends_at, updated_at)
      VALUES (@orderId, @tradeNo, @amountFen, @confirm, @outcome, @at, @endsAt, @at) ON CONFLICT (order_id) DO NOTHING`,
      { ...a, confirm: a.confirm ? 1 : 0 },
    );
    return (await sandboxRead(c, a.orderId))!;
  },

  /** Safe: conditional on a payout still waiting for its payee and not cancelled: of a confirm and a cancel only one wins. */
  async sandboxConfirmTransfer(c: PoolClient, a: { orderId: string; at: number }): Promise<SandboxPayoutRow | undefined> {
    await q(c, `UPDATE sandbox_payouts SET ends_at = @at, updated_at = @at WHERE order_id = @orderId AND confirm = 1 AND ends_at IS NULL AND cancelled = 0`, a);
    return sandboxRead(c, a.orderId);
  },

  /** Safe: as sandboxConfirmTransfer. */
  async sandboxCancelTransfer(c: PoolClient, a: { orderId: string; at: number }): Promise<SandboxPayoutRow | undefined> {
    await q(c, `UPDATE sandbox_payouts SET cancelled = 1, updated_at = @at WHERE order_id = @orderId AND confirm = 1 AND ends_at IS NULL AND cancelled = 0`, a);
    return sandboxRead(c, a.orderId);
  },
};
