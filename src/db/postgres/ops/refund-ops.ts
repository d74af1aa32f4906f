import { randomBytes } from 'node:crypto';
import type { PoolClient } from '../pool.js';
import type { OrderRow, QueuedNotification, RefundRow } from '../../rows.js';
import { REFUND_COLUMNS, type InsertRefundResult, type SettleRefundArgs } from '../../refund-ops.js';
import { refundNotificationFields } from '../../../notify/notification-body.js';
import { parseBeijing } from '../../../domain/time.js';
import { fen, num, one, q } from './sql.js';

// The refund operations of src/db/refund-ops.ts on PostgreSQL (see write-ops.ts here for how the
// operations stay safe with several instances writing at once).

const insertSql = `INSERT INTO refunds (${REFUND_COLUMNS.join(', ')})
  VALUES (${REFUND_COLUMNS.map((c) => '@' + c).join(', ')}) ON CONFLICT (merc_no, merc_refund_no) DO NOTHING`;

/** Safe: the refund's row is locked, so two queuings of its notification cannot both leave a pending row. */
async function queueRefundNotification(c: PoolClient, refundId: string, at: number, reason: string): Promise<QueuedNotification | undefined> {
  const r = await one<RefundRow>(c, 'SELECT * FROM refunds WHERE refund_id = @refundId FOR NO KEY UPDATE', { refundId });
  if (!r || !r.notify_url) return undefined;
  const o = (await one<OrderRow>(c, 'SELECT * FROM orders WHERE order_id = @orderId', { orderId: r.order_id }))!;
  const { fields, signType } = refundNotificationFields(r, o, at);
  await q(c, `UPDATE notifications SET status = 'superseded', due_at = NULL, updated_at = @at WHERE refund_id = @refundId AND status = 'pending'`, {
    refundId,
    at,
  });
  const webhookId = `msg_${randomBytes(15).toString('base64url')}`;
  const row = await one<{ id: unknown }>(
    c,
    `INSERT INTO notifications
      (webhook_id, order_id, refund_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
    VALUES (@webhookId, @orderId, @refundId, @mercNo, @url, @fieldsJson, @signType, @reason, 'pending', 0, @at, @at, @at) RETURNING id`,
    { webhookId, orderId: r.order_id, refundId, mercNo: r.merc_no, url: r.notify_url, fieldsJson: JSON.stringify(fields), signType, reason, at },
  );
  return { id: num(row!.id)!, webhookId, url: r.notify_url, dueAt: at, payStatus: o.pay_status };
}

export const refundOps = {
  /**
   * Safe: the order's row is locked (FOR NO KEY UPDATE) before the refunds already reserved are
   * summed, so concurrent refunds of one order take turns and each sees the ones committed before
   * it: together they never exceed what was paid. The unique key (merc_no, merc_refund_no)
   * decides a replay.
   */
  async insertRefund(c: PoolClient, row: RefundRow): Promise<InsertRefundResult> {
    const o = await one<{ pay_status: string; amount_fen: unknown }>(
      c,
      'SELECT pay_status, amount_fen FROM orders WHERE order_id = @orderId FOR NO KEY UPDATE',
      { orderId: row.order_id },
    );
    if (!o || o.pay_status !== 'p0000') return { ok: false, reason: 'state', payStatus: o?.pay_status ?? 'none' };
    const reserved = await one<{ sum: unknown }>(
      c,
      `SELECT coalesce(sum(amount_fen), 0)::int8 AS sum FROM refunds WHERE order_id = @orderId AND refund_status IN ('r0001', 'r0000')`,
      { orderId: row.order_id },
    );
    const refundable = fen(o.amount_fen)! - fen(reserved!.sum)!;
    if (BigInt(row.amount_fen) > refundable) return { ok: false, reason: 'exceeds', refundableFen: refundable };
    if ((await q(c, insertSql, row)).count !== 1) return { ok: false, reason: 'duplicate' };
    return { ok: true };
  },

  /** Safe: conditional on r0001. */
  async refundChannelAnswer(c: PoolClient, a: { refundId: string; state: 'accepted' | 'unknown'; channelRefundNo?: string; at: number }): Promise<boolean> {
    const r = await q(
      c,
      `UPDATE refunds SET channel_state = @state, channel_refund_no = coalesce(@channelRefundNo, channel_refund_no),
        updated_at = @at WHERE refund_id = @refundId AND refund_status = 'r0001'`,
      { ...a, channelRefundNo: a.channelRefundNo },
    );
    return r.count === 1;
  },

  /** Safe: the update is conditional on r0001, rechecked on the locked row: of two ends only the first wins. */
  async settleRefund(c: PoolClient, a: SettleRefundArgs): Promise<{ changed: boolean; notification?: QueuedNotification }> {
    const r = await q(
      c,
      `UPDATE refunds SET refund_status = @status, refund_end_time = @refundEndTime,
        channel_refund_no = coalesce(@channelRefundNo, channel_refund_no), channel_code = @code, channel_msg = @message,
        channel_state = CASE WHEN @status::text = 'r0004' AND channel_state = 'pending' THEN 'refused' ELSE channel_state END,
        next_check_at = NULL, ended_at = @endedAt, updated_at = @at
      WHERE refund_id = @refundId AND refund_status = 'r0001'`,
      {
        refundId: a.refundId,
        status: a.status,
        at: a.at,
        refundEndTime: a.refundEndTime,
        endedAt: (a.refundEndTime && parseBeijing(a.refundEndTime)) || a.at,
        channelRefundNo: a.channelRefundNo,
        code: a.code,
        message: a.message,
      },
    );
    const changed = r.count === 1;
    if (!changed) return { changed };
    return { changed, notification: await queueRefundNotification(c, a.refundId, a.at, `refund ended ${a.status}`) };
  },

  async queueRefundNotification(c: PoolClient, a: { refundId: string; at: number; reason: string }): Promise<QueuedNotification | undefined> {
    return queueRefundNotification(c, a.refundId, a.at, a.reason);
  },

  /** Safe: one conditional update. */
  async recordRefundCheck(c: PoolClient, a: { refundId: string; next: number | null }): Promise<boolean> {
    const r = await q(c, `UPDATE refunds SET next_check_at = @next, checks = checks + 1 WHERE refund_id = @refundId AND refund_status = 'r0001'`, a);
    return r.count === 1;
  },

  /**
   * Safe: the sandbox trade's row is locked first, so refunds of one trade take turns: a second
   * request with the same refundId finds the first one's row, and what is left is summed over
   * every refund committed before.
   */
  async sandboxRefund(
    c: PoolClient,
    a: { refundId: string; orderId: string; amountFen: bigint; outcome: 'succeeded' | 'failed'; at: number; endsAt: number },
  ): Promise<{ result: 'processing' | 'succeeded' | 'failed' } | { result: 'refused'; code: string; message: string }> {
    const trade = await one<{ status: string; amount_fen: unknown }>(c, 'SELECT status, amount_fen FROM sandbox_trades WHERE order_id = @orderId FOR UPDATE', a);
    const existing = await one<{ outcome: string; ends_at: unknown }>(c, 'SELECT outcome, ends_at FROM sandbox_refunds WHERE refund_id = @refundId', a);
    if (existing) return { result: a.at >= num(existing.ends_at)! ? (existing.outcome as 'succeeded' | 'failed') : 'processing' };
    if (!trade || trade.status !== 'paid') return { result: 'refused', code: 'TRADE_NOT_PAID', message: 'the trade is not paid' };
    const refunded = await one<{ sum: unknown }>(
      c,
      `SELECT coalesce(sum(amount_fen), 0)::int8 AS sum FROM sandbox_refunds WHERE order_id = @orderId AND (outcome = 'succeeded' OR ends_at > @at)`,
      a,
    );
    const left = fen(trade.amount_fen)! - fen(refunded!.sum)!;
    if (a.amountFen > left) return { result: 'refused', code: 'REFUND_AMOUNT_EXCEEDED', message: `only ${left} fen left to refund` };
    await q(
      c,
      `INSERT INTO sandbox_refunds (refund_id, order_id, amount_fen, outcome, created_at, ends_at)
      VALUES (@refundId, @orderId, @amountFen, @outcome, @at, @endsAt)`,
      a,
    );
    return { result: 'processing' };
  },
};
