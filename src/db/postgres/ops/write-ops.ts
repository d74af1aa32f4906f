import { randomBytes } from 'node:crypto';
import type { PoolClient } from '../pool.js';
import type { Alert, AttemptRecord, ClaimedNotification, NewMerchantRecord, OrderRow, QueuedNotification } from '../../rows.js';
import { ORDER_COLUMNS, type TransitionArgs, type TransitionResult } from '../../write-ops.js';
import { OPEN_STATES, step, type PayStatus } from '../../../domain/order-states.js';
import { parseBeijing } from '../../../domain/time.js';
import { notificationFields } from '../../../notify/notification-body.js';
import { LockSpace, lockKey, num, one, q } from './sql.js';

// The order, notification, sandbox-trade, alert, merchant, setting and credential operations of
// src/db/write-ops.ts on PostgreSQL. Each runs inside the transaction PgWriter opens, at READ
// COMMITTED, while other instances' transactions run at the same time: where the SQLite operation
// reads and then writes (safe there because one writer thread runs every operation in turn), the
// decision is taken here on a locked row, a unique key or a conditional update, as each says.

const newWebhookId = () => `msg_${randomBytes(15).toString('base64url')}`;

const insertOrderSql = `INSERT INTO orders (${ORDER_COLUMNS.join(', ')})
  VALUES (${ORDER_COLUMNS.map((c) => '@' + c).join(', ')})
  ON CONFLICT (merc_no, merc_order_no) DO NOTHING`;

/** The order's row, locked until commit; its amount arrives as a BigInt, as SQLite's safeIntegers read gives it to the notification body. */
const lockedOrder = (c: PoolClient, orderId: string) =>
  one<OrderRow>(c, 'SELECT * FROM orders WHERE order_id = @orderId FOR NO KEY UPDATE', { orderId });

const SUPERSEDE = `UPDATE notifications SET status = 'superseded', due_at = NULL, updated_at = @at
  WHERE order_id = @orderId AND refund_id IS NULL AND status = 'pending'`;

/**
 * Safe: the order's row is locked first (every transition and every queuing of its notification
 * takes that lock), so superseding the pending row and adding the new one cannot interleave with
 * another queuing of the same order, which would leave two pending.
 */
async function queueNotification(c: PoolClient, orderId: string, at: number, reason: string): Promise<QueuedNotification | undefined> {
  const order = await lockedOrder(c, orderId);
  if (!order) return undefined;
  const { fields, signType } = notificationFields(order, at);
  await q(c, SUPERSEDE, { orderId, at });
  const webhookId = newWebhookId();
  const row = await one<{ id: unknown }>(
    c,
    `INSERT INTO notifications
      (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
    VALUES (@webhookId, @orderId, @mercNo, @url, @fieldsJson, @signType, @reason, 'pending', 0, @at, @at, @at) RETURNING id`,
    { webhookId, orderId, mercNo: order.merc_no, url: order.notify_url, fieldsJson: JSON.stringify(fields), signType, reason, at },
  );
  return { id: num(row!.id)!, webhookId, url: order.notify_url, dueAt: at, payStatus: order.pay_status };
}

/**
 * Safe: the order's row is locked (FOR NO KEY UPDATE) before its state is read, so the event is
 * stepped from the state the order is in when this transaction has it to itself — a concurrent
 * transition commits first and this one then steps from its result, as the SQLite writer would —
 * and the update stays conditional on that state.
 */
export async function transitionOrder(c: PoolClient, a: TransitionArgs): Promise<TransitionResult> {
  const statusOf = async () =>
    (await one<{ pay_status: PayStatus }>(c, 'SELECT pay_status FROM orders WHERE order_id = @orderId FOR NO KEY UPDATE', a))?.pay_status;
  const from = await statusOf();
  const next = from === undefined ? undefined : step(from, a.event);
  if (from === undefined || next === undefined) return { changed: false, status: from };
  const to = next.to;
  const changed = await q(
    c,
    `UPDATE orders SET pay_status = @to,
      trade_end_time = coalesce(@tradeEndTime, trade_end_time),
      bank_type = coalesce(@bankType, bank_type),
      channel_trade_no = coalesce(@channelTradeNo, channel_trade_no),
      channel_code = coalesce(@failCode, channel_code),
      channel_msg = coalesce(@failReason, channel_msg),
      late_payment = CASE WHEN @late::boolean THEN 1 ELSE late_payment END,
      ended_at = coalesce(@endedAt, ended_at),
      updated_at = @at
    WHERE order_id = @orderId AND pay_status = @from`,
    {
      orderId: a.orderId,
      from,
      to,
      late: next.late === true,
      at: a.at,
      tradeEndTime: a.tradeEndTime,
      bankType: a.bankType,
      channelTradeNo: a.channelTradeNo,
      failCode: a.failCode,
      failReason: a.failReason,
      endedAt: OPEN_STATES.includes(to) ? null : (to === 'p0000' && a.tradeEndTime && parseBeijing(a.tradeEndTime)) || a.at,
    },
  );
  if (changed.count !== 1) return { changed: false, status: await statusOf() };
  await q(c, 'INSERT INTO order_events (order_id, from_status, to_status, source, detail, at) VALUES (@orderId, @from, @to, @source, @detail, @at)', {
    orderId: a.orderId,
    from,
    to,
    source: a.source,
    detail: a.detail,
    at: a.at,
  });
  if (!next.notify) {
    await q(c, SUPERSEDE, { orderId: a.orderId, at: a.at });
    return { changed: true, from, to };
  }
  return { changed: true, from, to, notification: await queueNotification(c, a.orderId, a.at, `state change to ${to}`) };
}

const claimedShape = (r: Record<string, unknown>): ClaimedNotification => ({
  id: num(r.id)!,
  webhookId: r.webhookid as string,
  orderId: r.orderid as string,
  mercNo: r.mercno as string,
  url: r.url as string,
  fieldsJson: r.fieldsjson as string,
  signType: r.signtype as ClaimedNotification['signType'],
  attempts: num(r.attempts)!,
  dueAt: num(r.dueat)!,
});

export const writeOps = {
  /** Safe: the unique key (merc_no, merc_order_no) decides between two instances storing one order. */
  async insertOrder(c: PoolClient, row: OrderRow): Promise<boolean> {
    const endedAt = row.ended_at ?? (OPEN_STATES.includes(row.pay_status) ? null : row.created_at);
    return (await q(c, insertOrderSql, { ...row, ended_at: endedAt })).count === 1;
  },

  transitionOrder,

  async queueNotification(c: PoolClient, a: { orderId: string; at: number; reason: string }): Promise<QueuedNotification | undefined> {
    return queueNotification(c, a.orderId, a.at, a.reason);
  },

  /**
   * Safe: the row is locked with FOR UPDATE SKIP LOCKED while the lease is checked, so of two
   * instances claiming it at once one gets it and the other passes over it (it is held, or being
   * changed) instead of waiting; the lease then keeps every other claimer off until it runs out.
   */
  async claimNotification(c: PoolClient, a: { id: number; owner: string; now: number; leaseUntil: number }): Promise<ClaimedNotification | undefined> {
    const r = await one(
      c,
      `WITH free AS (
        SELECT id FROM notifications
        WHERE id = @id AND status = 'pending' AND due_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
        FOR UPDATE SKIP LOCKED)
      UPDATE notifications n SET lease_owner = @owner, lease_until = @leaseUntil, updated_at = @now
      FROM free WHERE n.id = free.id
      RETURNING n.id, n.webhook_id AS webhookId, n.order_id AS orderId, n.merc_no AS mercNo, n.url, n.fields_json AS fieldsJson,
        n.sign_type AS signType, n.attempts, n.due_at AS dueAt`,
      a,
    );
    return r ? claimedShape(r) : undefined;
  },

  /**
   * Safe: the attempt is logged whoever made it (as on SQLite), and the row moves only for the
   * lease's holder: the update is conditional on lease_owner, rechecked on the locked row.
   */
  async recordAttempt(c: PoolClient, a: AttemptRecord): Promise<boolean> {
    // One statement (see ONE_STATEMENT in ./index.ts): the attempt goes in whatever the update finds.
    const status = a.outcome === 'retry' ? 'pending' : a.outcome;
    const settled = await q(
      c,
      `WITH logged AS (
        INSERT INTO notification_attempts (notification_id, attempt, due_at, at, http_status, latency_ms, outcome, error, answer)
        VALUES (@id, @attempt, @dueAt, @at, @httpStatus, @latencyMs, @outcome, @error, @answer))
      UPDATE notifications SET attempts = @attempt,
        status = CASE WHEN status = 'pending' THEN @status::text ELSE status END,
        due_at = CASE WHEN status = 'pending' AND @status::text = 'pending' THEN @nextDueAt::int8 ELSE NULL END,
        lease_owner = NULL, lease_until = NULL, updated_at = @at
      WHERE id = @id AND lease_owner = @owner`,
      {
        id: a.id, owner: a.owner, attempt: a.attempt, dueAt: a.dueAt, at: a.at, httpStatus: a.httpStatus, latencyMs: a.latencyMs,
        outcome: a.outcome, error: a.error, answer: a.answer, status, nextDueAt: a.nextDueAt,
      },
    );
    return settled.count === 1;
  },

  /** Safe: conditional on the holder. */
  async releaseNotification(c: PoolClient, a: { id: number; owner: string }): Promise<boolean> {
    return (await q(c, 'UPDATE notifications SET lease_owner = NULL, lease_until = NULL WHERE id = @id AND lease_owner = @owner', a)).count === 1;
  },

  /** Safe: one conditional update; `checks + 1` is computed on the locked row. */
  async recordCheck(c: PoolClient, a: { orderId: string; next: number | null }): Promise<boolean> {
    const r = await q(c, `UPDATE orders SET next_check_at = @next, checks = checks + 1 WHERE order_id = @orderId AND pay_status IN ('p0001', 'p0002')`, a);
    return r.count === 1;
  },

  /** Safe: conditional on channel_state = 'unknown'. */
  async markChannelAccepted(c: PoolClient, a: { orderId: string; at: number }): Promise<boolean> {
    const r = await q(c, `UPDATE orders SET channel_state = 'accepted', updated_at = @at WHERE order_id = @orderId AND channel_state = 'unknown'`, a);
    return r.count === 1;
  },

  /**
   * Safe: one upsert on the trade's key, changing only a failed trade; the row it leaves is
   * locked (inserted or conflicted on) until commit, so the status read back is this transaction's.
   */
  async sandboxSettle(
    c: PoolClient,
    a: { orderId: string; tradeNo: string; amountFen: bigint; status: 'paid' | 'failed'; paidAt: string | null; bankType: string | null; at: number },
  ): Promise<string> {
    await q(
      c,
      `INSERT INTO sandbox_trades (order_id, trade_no, amount_fen, status, paid_at, bank_type, updated_at)
      VALUES (@orderId, @tradeNo, @amountFen, @status, @paidAt, @bankType, @at)
      ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, paid_at = excluded.paid_at,
        bank_type = excluded.bank_type, updated_at = excluded.updated_at
      WHERE sandbox_trades.status = 'failed'`,
      a,
    );
    return (await one<{ status: string }>(c, 'SELECT status FROM sandbox_trades WHERE order_id = @orderId', a))!.status;
  },

  /** Safe: as sandboxSettle. */
  async sandboxClose(c: PoolClient, a: { orderId: string; tradeNo: string; amountFen: bigint; at: number }): Promise<string> {
    await q(
      c,
      `INSERT INTO sandbox_trades (order_id, trade_no, amount_fen, status, updated_at)
      VALUES (@orderId, @tradeNo, @amountFen, 'closed', @at)
      ON CONFLICT (order_id) DO UPDATE SET status = 'closed', updated_at = excluded.updated_at
      WHERE sandbox_trades.status = 'failed'`,
      a,
    );
    return (await one<{ status: string }>(c, 'SELECT status FROM sandbox_trades WHERE order_id = @orderId', a))!.status;
  },

  /**
   * Safe: with `since`, the source (kind, channel, merchant, order) is locked for the transaction
   * (an advisory lock: there may be no row yet), so two instances counting the same source cannot
   * both find nothing and open two rows; the count goes only on a row still unhandled.
   */
  async recordAlert(c: PoolClient, a: Alert & { count?: number; lastAt?: number; since?: number }): Promise<boolean> {
    const row = { kind: a.kind, channel: a.channel, orderId: a.orderId ?? null, mercNo: a.mercNo ?? null, count: a.count ?? 1, lastAt: a.lastAt ?? a.at };
    if (a.since !== undefined) {
      await lockKey(c, LockSpace.alertSource, JSON.stringify([row.kind, row.channel, row.mercNo, row.orderId]));
      const counted = await q(
        c,
        `UPDATE alerts SET count = count + @count, last_at = greatest(last_at, @lastAt)
        WHERE handled_at IS NULL AND id = (SELECT id FROM alerts
          WHERE kind = @kind AND channel = @channel AND merc_no IS NOT DISTINCT FROM @mercNo::text
            AND order_id IS NOT DISTINCT FROM @orderId::text AND last_at >= @since AND handled_at IS NULL
          ORDER BY last_at DESC, id DESC LIMIT 1)`,
        { ...row, since: a.since },
      );
      if (counted.count === 1) return false;
    }
    await q(
      c,
      `INSERT INTO alerts (kind, channel, order_id, merc_no, detail, at, count, last_at)
      VALUES (@kind, @channel, @orderId, @mercNo, @detail, @at, @count, @lastAt)`,
      { ...row, detail: a.detail.slice(0, 1000), at: a.at },
    );
    return true;
  },

  /** Safe: the primary key refuses a second merchant of the same number (the caller draws another). */
  async insertMerchant(c: PoolClient, row: NewMerchantRecord): Promise<true> {
    await q(
      c,
      `INSERT INTO merchants (merc_no, name, mode, key_sealed, status, created_at, updated_at)
      VALUES (@merc_no, @name, @mode, @key_sealed, @status, @created_at, @updated_at)`,
      { ...row, key_sealed: Buffer.from(row.key_sealed, 'base64') },
    );
    return true;
  },

  async setMerchantKey(c: PoolClient, a: { mercNo: string; keySealed: string; at: number }): Promise<boolean> {
    const r = await q(c, 'UPDATE merchants SET key_sealed = @key, updated_at = @at WHERE merc_no = @mercNo', { ...a, key: Buffer.from(a.keySealed, 'base64') });
    return r.count === 1;
  },

  async setMerchantStatus(c: PoolClient, a: { mercNo: string; status: 'active' | 'disabled'; at: number }): Promise<boolean> {
    return (await q(c, 'UPDATE merchants SET status = @status, updated_at = @at WHERE merc_no = @mercNo', a)).count === 1;
  },

  /**
   * Safe: the primary key decides which value is stored; an insert racing another waits for it
   * and does nothing, and the value read back afterwards is the one committed.
   */
  async ensureSetting(c: PoolClient, a: { name: string; value: string }): Promise<string> {
    await q(c, 'INSERT INTO settings (name, value) VALUES (@name, @value) ON CONFLICT (name) DO NOTHING', a);
    return (await one<{ value: string }>(c, 'SELECT value FROM settings WHERE name = @name', a))!.value;
  },

  /**
   * Safe: one upsert on (merc_no, payway); whether it created the row is told by the row itself
   * (xmax is 0 on a row this statement inserted), not by a read before it that a concurrent
   * insert could make stale.
   */
  async putChannelCredentials(
    c: PoolClient,
    a: { mercNo: string; payway: 'alipay' | 'wxpay' | 'unionpay'; keyId: string; iv: string; tag: string; ciphertext: string; at: number },
  ): Promise<'created' | 'updated'> {
    const b64 = (s: string) => Buffer.from(s, 'base64');
    const r = await one<{ created: boolean }>(
      c,
      `INSERT INTO channel_credentials (merc_no, payway, key_id, iv, tag, ciphertext, created_at, updated_at)
      SELECT @mercNo::text, @payway::text, @keyId::text, @iv::bytea, @tag::bytea, @ciphertext::bytea, @at::int8, @at::int8
        FROM merchants WHERE merc_no = @mercNo::text AND mode = 'live'
      ON CONFLICT (merc_no, payway) DO UPDATE SET key_id = excluded.key_id, iv = excluded.iv, tag = excluded.tag,
        ciphertext = excluded.ciphertext, updated_at = greatest(excluded.updated_at, channel_credentials.updated_at + 1)
      RETURNING (xmax = 0) AS created`,
      { ...a, iv: b64(a.iv), tag: b64(a.tag), ciphertext: b64(a.ciphertext) },
    );
    if (!r) throw new Error(`merchant ${a.mercNo} does not exist or is not a live merchant`);
    return r.created ? 'created' : 'updated';
  },

  async removeChannelCredentials(c: PoolClient, a: { mercNo: string; payway: string }): Promise<boolean> {
    return (await q(c, 'DELETE FROM channel_credentials WHERE merc_no = @mercNo AND payway = @payway', a)).count === 1;
  },
};
