import { randomBytes } from 'node:crypto';
import type { Db } from './open.js';
import type { OrderRow, QueuedNotification, RefundRow } from './rows.js';
import { refundNotificationFields } from '../notify/notification-body.js';
import { parseBeijing } from '../domain/time.js';

// The refund write operations, run in the writer's transaction like the others (write-ops.ts).
// The refundable amount is checked and reserved in the same transaction that inserts the refund,
// so concurrent refunds of one order cannot together exceed what was paid.

export type InsertRefundResult =
  | { ok: true }
  | { ok: false; reason: 'duplicate' }
  | { ok: false; reason: 'state'; payStatus: string }
  | { ok: false; reason: 'exceeds'; refundableFen: bigint };

export interface SettleRefundArgs {
  refundId: string;
  status: 'r0000' | 'r0004';
  at: number;
  refundEndTime: string;
  channelRefundNo?: string;
  code?: string;
  message?: string;
}

/** A refund as it is stored before the channel is asked: processing, nothing heard yet. */
export const UNASKED_REFUND = {
  refund_status: 'r0001',
  channel_state: 'pending',
  channel_refund_no: null,
  channel_code: null,
  channel_msg: null,
  refund_end_time: null,
} as const satisfies Partial<RefundRow>;

export const REFUND_COLUMNS: readonly (keyof RefundRow)[] = [
  'refund_id', 'order_id', 'merc_no', 'merc_refund_no', 'request_hash', 'request_json', 'amount_fen', 'reason',
  'notify_url', 'refund_status', 'channel_state', 'channel_refund_no', 'channel_code', 'channel_msg',
  'refund_end_time', 'created_at', 'updated_at', 'next_check_at', 'checks',
];

export function prepareRefundOps(db: Db) {
  const order = db.prepare('SELECT * FROM orders WHERE order_id = ?').safeIntegers(true);
  const refund = db.prepare('SELECT * FROM refunds WHERE refund_id = ?').safeIntegers(true);
  const reserved = db.prepare(`SELECT coalesce(sum(amount_fen), 0) FROM refunds
    WHERE order_id = ? AND refund_status IN ('r0001', 'r0000')`).pluck().safeIntegers(true);
  const insert = db.prepare(`INSERT INTO refunds (${REFUND_COLUMNS.join(', ')})
    VALUES (${REFUND_COLUMNS.map((c) => '@' + c).join(', ')}) ON CONFLICT (merc_no, merc_refund_no) DO NOTHING`);
  const channelAnswer = db.prepare(`UPDATE refunds SET channel_state = @state, channel_refund_no = coalesce(@channelRefundNo, channel_refund_no),
      updated_at = @at WHERE refund_id = @refundId AND refund_status = 'r0001'`);
  const settle = db.prepare(`UPDATE refunds SET refund_status = @status, refund_end_time = @refundEndTime,
      channel_refund_no = coalesce(@channelRefundNo, channel_refund_no), channel_code = @code, channel_msg = @message,
      channel_state = CASE WHEN @status = 'r0004' AND channel_state = 'pending' THEN 'refused' ELSE channel_state END,
      next_check_at = NULL, ended_at = @endedAt, updated_at = @at
    WHERE refund_id = @refundId AND refund_status = 'r0001'`);
  const setCheck = db.prepare(`UPDATE refunds SET next_check_at = @next, checks = checks + 1
    WHERE refund_id = @refundId AND refund_status = 'r0001'`);
  const supersede = db.prepare(`UPDATE notifications SET status = 'superseded', due_at = NULL, updated_at = @at
    WHERE refund_id = @refundId AND status = 'pending'`);
  const insertNotification = db.prepare(`INSERT INTO notifications
      (webhook_id, order_id, refund_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
    VALUES (@webhookId, @orderId, @refundId, @mercNo, @url, @fieldsJson, @signType, @reason, 'pending', 0, @at, @at, @at)`);
  // The sandbox channel's own refund book.
  const tradeOf = db.prepare('SELECT status, amount_fen FROM sandbox_trades WHERE order_id = ?').safeIntegers(true);
  const sandboxRefund = db.prepare('SELECT * FROM sandbox_refunds WHERE refund_id = ?');
  const sandboxRefunded = db.prepare(`SELECT coalesce(sum(amount_fen), 0) FROM sandbox_refunds
    WHERE order_id = ? AND (outcome = 'succeeded' OR ends_at > ?)`).pluck().safeIntegers(true);
  const insertSandboxRefund = db.prepare(`INSERT INTO sandbox_refunds (refund_id, order_id, amount_fen, outcome, created_at, ends_at)
    VALUES (@refundId, @orderId, @amountFen, @outcome, @at, @endsAt)`);

  const queueRefundNotification = (refundId: string, at: number, reason: string): QueuedNotification | undefined => {
    const r = refund.get(refundId) as RefundRow | undefined;
    if (!r || !r.notify_url) return undefined;
    const o = order.get(r.order_id) as OrderRow;
    const { fields, signType } = refundNotificationFields(r, o, at);
    supersede.run({ refundId, at });
    const webhookId = `msg_${randomBytes(15).toString('base64url')}`;
    const id = Number(
      insertNotification.run({
        webhookId,
        orderId: r.order_id,
        refundId,
        mercNo: r.merc_no,
        url: r.notify_url,
        fieldsJson: JSON.stringify(fields),
        signType,
        reason,
        at,
      }).lastInsertRowid,
    );
    return { id, webhookId, url: r.notify_url, dueAt: at, payStatus: o.pay_status };
  };

  return {
    /** Reserves the amount and stores the refund in r0001, or says why not. */
    insertRefund(row: RefundRow): InsertRefundResult {
      const o = order.get(row.order_id) as OrderRow | undefined;
      if (!o || o.pay_status !== 'p0000') return { ok: false, reason: 'state', payStatus: o?.pay_status ?? 'none' };
      const refundable = BigInt(o.amount_fen) - (reserved.get(row.order_id) as bigint);
      if (BigInt(row.amount_fen) > refundable) return { ok: false, reason: 'exceeds', refundableFen: refundable };
      if (insert.run(row).changes !== 1) return { ok: false, reason: 'duplicate' };
      return { ok: true };
    },

    /** What the channel answered to the refund request while it goes on. */
    refundChannelAnswer(a: { refundId: string; state: 'accepted' | 'unknown'; channelRefundNo?: string; at: number }): boolean {
      return channelAnswer.run({ ...a, channelRefundNo: a.channelRefundNo ?? null }).changes === 1;
    },

    /** Ends a refund (once: the conditional update lets only the first end win) and queues its notification. */
    settleRefund(a: SettleRefundArgs): { changed: boolean; notification?: QueuedNotification } {
      const changed =
        settle.run({
          refundId: a.refundId,
          status: a.status,
          at: a.at,
          refundEndTime: a.refundEndTime,
          endedAt: (a.refundEndTime && parseBeijing(a.refundEndTime)) || a.at,
          channelRefundNo: a.channelRefundNo ?? null,
          code: a.code ?? null,
          message: a.message ?? null,
        }).changes === 1;
      if (!changed) return { changed };
      return { changed, notification: queueRefundNotification(a.refundId, a.at, `refund ended ${a.status}`) };
    },

    queueRefundNotification(a: { refundId: string; at: number; reason: string }): QueuedNotification | undefined {
      return queueRefundNotification(a.refundId, a.at, a.reason);
    },

    recordRefundCheck(a: { refundId: string; next: number | null }): boolean {
      return setCheck.run(a).changes === 1;
    },

    /**
     * The sandbox channel takes a refund (idempotent by refundId): it must be of a paid trade and
     * within what is left of it. It ends at `endsAt`, as `outcome`.
     */
    sandboxRefund(a: { refundId: string; orderId: string; amountFen: bigint; outcome: 'succeeded' | 'failed'; at: number; endsAt: number }):
      | { result: 'processing' | 'succeeded' | 'failed' }
      | { result: 'refused'; code: string; message: string } {
      const existing = sandboxRefund.get(a.refundId) as { outcome: string; ends_at: number } | undefined;
      if (existing) return { result: a.at >= existing.ends_at ? (existing.outcome as 'succeeded' | 'failed') : 'processing' };
      const trade = tradeOf.get(a.orderId) as { status: string; amount_fen: bigint } | undefined;
      if (!trade || trade.status !== 'paid') return { result: 'refused', code: 'TRADE_NOT_PAID', message: 'the trade is not paid' };
      const left = trade.amount_fen - (sandboxRefunded.get(a.orderId, a.at) as bigint);
      if (a.amountFen > left) return { result: 'refused', code: 'REFUND_AMOUNT_EXCEEDED', message: `only ${left} fen left to refund` };
      insertSandboxRefund.run(a);
      return { result: 'processing' };
    },
  };
}
