import type { Db } from './open.js';
import type { OrderRow } from './rows.js';
import type { TransitionArgs, TransitionResult } from './write-ops.js';

// The payout write operations (CONTRACT §4), run in the writer's transaction like the others.
// A payout is stored before the channel is asked, and the merchant's limits are checked in the
// same transaction: the writer runs one operation at a time, so the sum it reads cannot move
// before the row is in, and concurrent payouts cannot together pass the daily limit.

export type InsertPayoutResult =
  | { ok: true }
  | { ok: false; reason: 'duplicate' }
  | { ok: false; reason: 'off' }
  | { ok: false; reason: 'per_payout'; limitFen: bigint }
  | { ok: false; reason: 'daily'; leftFen: bigint; limitFen: bigint };

export interface InsertPayoutArgs {
  row: OrderRow;
  /** packed and sealed (src/secrets/payee-data.ts), as base64: the writer never sees the payee */
  payeeSealed: string;
  /** the Beijing day of row.created_at, [dayStart, dayEnd) */
  dayStart: number;
  dayEnd: number;
}

export interface PayoutAnswerArgs {
  orderId: string;
  channelState: 'accepted' | 'refused' | 'unknown';
  channelTradeNo?: string;
  code?: string;
  message?: string;
  /** the answer a replay of the request gets from now on */
  responseJson: string;
  at: number;
  /** the state change the answer makes, if any */
  transition?: TransitionArgs;
}

/** The sandbox channel's record of a payout it took (migrations/0014). */
export interface SandboxPayoutRow {
  order_id: string;
  trade_no: string;
  amount_fen: bigint;
  confirm: number;
  outcome: 'succeeded' | 'failed';
  cancelled: number;
  created_at: number;
  ends_at: number | null;
  updated_at: number;
}

const COUNTING = `('p0001', 'p0002', 'p0000')`;

export function preparePayoutOps(db: Db, columns: readonly string[], transitionOrder: (a: TransitionArgs) => TransitionResult) {
  const settings = db
    .prepare('SELECT payouts_enabled AS enabled, payout_daily_limit_fen AS daily, payout_per_limit_fen AS per FROM merchants WHERE merc_no = ?')
    .safeIntegers(true);
  const usedToday = db
    .prepare(`SELECT coalesce(sum(amount_fen), 0) FROM orders INDEXED BY orders_payouts_by_day
      WHERE merc_no = ? AND trade_type IN ('02', '03') AND created_at >= ? AND created_at < ? AND pay_status IN ${COUNTING}`)
    .pluck()
    .safeIntegers(true);
  const all = [...columns, 'payee_sealed'];
  const insert = db.prepare(`INSERT INTO orders (${all.join(', ')}) VALUES (${all.map((c) => '@' + c).join(', ')})
    ON CONFLICT (merc_no, merc_order_no) DO NOTHING`);
  const answer = db.prepare(`UPDATE orders SET channel_state = @channelState,
      channel_trade_no = coalesce(@channelTradeNo, channel_trade_no), channel_code = coalesce(@code, channel_code),
      channel_msg = coalesce(@message, channel_msg), response_json = @responseJson, updated_at = @at
    WHERE order_id = @orderId`);
  const setSettings = db.prepare(`UPDATE merchants SET payouts_enabled = @enabled, payout_daily_limit_fen = @daily,
      payout_per_limit_fen = @per, updated_at = @at WHERE merc_no = @mercNo`);
  const cancelAsked = db.prepare(`UPDATE orders SET cancel_reason = coalesce(cancel_reason, @reason), updated_at = @at
    WHERE order_id = @orderId AND pay_status IN ('p0001', 'p0002')`);
  const cancelReason = db.prepare('SELECT cancel_reason FROM orders WHERE order_id = ?').pluck();

  const sandboxRow = db.prepare('SELECT * FROM sandbox_payouts WHERE order_id = ?').safeIntegers(true);
  const sandboxInsert = db.prepare(`INSERT INTO sandbox_payouts (order_id, trade_no, amount_fen, confirm, outcome, created_at, ends_at, updated_at)
    VALUES (@orderId, @tradeNo, @amountFen, @confirm, @outcome, @at, @endsAt, @at) ON CONFLICT (order_id) DO NOTHING`);
  // A payee confirms (or the merchant cancels) only a payout still waiting for its payee.
  const sandboxConfirm = db.prepare(`UPDATE sandbox_payouts SET ends_at = @at, updated_at = @at
    WHERE order_id = @orderId AND confirm = 1 AND ends_at IS NULL AND cancelled = 0`);
  const sandboxCancel = db.prepare(`UPDATE sandbox_payouts SET cancelled = 1, updated_at = @at
    WHERE order_id = @orderId AND confirm = 1 AND ends_at IS NULL AND cancelled = 0`);
  const sandboxRead = (orderId: string) => {
    const r = sandboxRow.get(orderId) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    for (const k of ['confirm', 'cancelled', 'created_at', 'updated_at']) r[k] = Number(r[k]);
    if (r.ends_at !== null) r.ends_at = Number(r.ends_at);
    return r as unknown as SandboxPayoutRow;
  };

  return {
    /** Checks the merchant's limits and stores the payout (p0001), or says why not. */
    insertPayout(a: InsertPayoutArgs): InsertPayoutResult {
      const s = settings.get(a.row.merc_no) as { enabled: bigint; daily: bigint | null; per: bigint | null } | undefined;
      if (!s || s.enabled !== 1n) return { ok: false, reason: 'off' };
      const amount = BigInt(a.row.amount_fen);
      if (s.per !== null && amount > s.per) return { ok: false, reason: 'per_payout', limitFen: s.per };
      if (s.daily !== null) {
        const used = usedToday.get(a.row.merc_no, a.dayStart, a.dayEnd) as bigint;
        const left = s.daily > used ? s.daily - used : 0n;
        if (amount > left) return { ok: false, reason: 'daily', leftFen: left, limitFen: s.daily };
      }
      const changes = insert.run({ ...a.row, ended_at: null, payee_sealed: Buffer.from(a.payeeSealed, 'base64') }).changes;
      return changes === 1 ? { ok: true } : { ok: false, reason: 'duplicate' };
    },

    /** What the channel answered to a payout: stored with the answer a replay gets, and the state change it makes. */
    recordPayoutAnswer(a: PayoutAnswerArgs): TransitionResult | undefined {
      answer.run({
        orderId: a.orderId,
        channelState: a.channelState,
        channelTradeNo: a.channelTradeNo ?? null,
        code: a.code ?? null,
        message: a.message ?? null,
        responseJson: a.responseJson,
        at: a.at,
      });
      return a.transition ? transitionOrder(a.transition) : undefined;
    },

    /** Turns a merchant's payouts on or off with its limits (fen; null: not set); false for an unknown merchant. */
    setPayoutSettings(a: { mercNo: string; enabled: boolean; dailyLimitFen: bigint | null; perPayoutLimitFen: bigint | null; at: number }): boolean {
      return setSettings.run({ mercNo: a.mercNo, enabled: a.enabled ? 1 : 0, daily: a.dailyLimitFen, per: a.perPayoutLimitFen, at: a.at }).changes === 1;
    },

    /** Records why a cancel of an open payout is asked (the first reason stays); returns the reason stored. */
    markCancelAsked(a: { orderId: string; reason: 'merchant' | 'expiry'; at: number }): 'merchant' | 'expiry' | null {
      cancelAsked.run(a);
      return (cancelReason.get(a.orderId) as 'merchant' | 'expiry' | null | undefined) ?? null;
    },

    /** The sandbox channel takes a payout (idempotent by orderId); returns its record. */
    sandboxTransfer(a: { orderId: string; tradeNo: string; amountFen: bigint; confirm: boolean; outcome: 'succeeded' | 'failed'; at: number; endsAt: number | null }): SandboxPayoutRow {
      sandboxInsert.run({ ...a, confirm: a.confirm ? 1 : 0 });
      return sandboxRead(a.orderId)!;
    },

    /** The sandbox payee confirms a payout waiting for it; returns its record afterwards. */
    sandboxConfirmTransfer(a: { orderId: string; at: number }): SandboxPayoutRow | undefined {
      sandboxConfirm.run(a);
      return sandboxRead(a.orderId);
    },

    /** The sandbox channel cancels a payout still waiting for its payee; returns its record afterwards. */
    sandboxCancelTransfer(a: { orderId: string; at: number }): SandboxPayoutRow | undefined {
      sandboxCancel.run(a);
      return sandboxRead(a.orderId);
    },
  };
}
