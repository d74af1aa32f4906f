import type { Db } from './open.js';
import type { Alert, NewMerchantRecord, OrderRow } from './rows.js';
import { randomBytes } from 'node:crypto';
import { OPEN_STATES, step, type OrderEvent, type PayStatus } from '../domain/order-states.js';
import { parseBeijing } from '../domain/time.js';
import { notificationFields } from '../notify/notification-body.js';
import { prepareRefundOps } from './refund-ops.js';
import { preparePruneOps } from './prune-ops.js';
import { preparePayoutOps } from './payout-ops.js';
import { prepareReconcileOps } from './reconcile-ops.js';
import { prepareLeaseOps } from './lease-ops.js';
import { prepareCheckClaimOps } from './check-claim-ops.js';
import { prepareConsoleOps } from '../console/console-ops.js';
import type { AttemptRecord, ClaimedNotification, QueuedNotification } from './rows.js';

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
  /** the channel's code and message for a failure (shown as failCode/failReason) */
  failCode?: string;
  failReason?: string;
}

export type TransitionResult =
  | { changed: true; from: PayStatus; to: PayStatus; notification?: QueuedNotification }
  | { changed: false; status: PayStatus | undefined };

// Standard Webhooks message ids look like this: a prefix and a random token.
const newWebhookId = () => `msg_${randomBytes(15).toString('base64url')}`;

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
      channel_code = coalesce(@failCode, channel_code),
      channel_msg = coalesce(@failReason, channel_msg),
      late_payment = late_payment OR @late,
      ended_at = coalesce(@endedAt, ended_at),
      updated_at = @at
    WHERE order_id = @orderId AND pay_status = @from`);
  const orderRow = db.prepare('SELECT * FROM orders WHERE order_id = ?').safeIntegers(true);
  // A newer notification replaces the order's undelivered ones: an old state is never announced
  // after a new one. One already in flight still finishes; its outcome no longer counts.
  const supersede = db.prepare(`UPDATE notifications SET status = 'superseded', due_at = NULL, updated_at = @at
    WHERE order_id = @orderId AND refund_id IS NULL AND status = 'pending'`);
  const insertNotification = db.prepare(`INSERT INTO notifications
      (webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, attempts, due_at, created_at, updated_at)
    VALUES (@webhookId, @orderId, @mercNo, @url, @fieldsJson, @signType, @reason, 'pending', 0, @at, @at, @at)`);
  // Only a due, pending row that nobody holds can be claimed; the lease keeps a second dispatcher
  // (or this one, after reloading) from sending it again while the attempt is in flight.
  const claim = db.prepare(`UPDATE notifications SET lease_owner = @owner, lease_until = @leaseUntil, updated_at = @now
    WHERE id = @id AND status = 'pending' AND due_at <= @now AND (lease_until IS NULL OR lease_until <= @now)
    RETURNING id, webhook_id AS webhookId, order_id AS orderId, merc_no AS mercNo, url, fields_json AS fieldsJson,
      sign_type AS signType, attempts, due_at AS dueAt`);
  const insertAttempt = db.prepare(`INSERT INTO notification_attempts
      (notification_id, attempt, due_at, at, http_status, latency_ms, outcome, error, answer)
    VALUES (@id, @attempt, @dueAt, @at, @httpStatus, @latencyMs, @outcome, @error, @answer)`);
  // A superseded row keeps its status whatever this attempt's outcome: it no longer speaks for the order.
  const settleAttempt = db.prepare(`UPDATE notifications SET attempts = @attempt,
      status = CASE WHEN status = 'pending' THEN @status ELSE status END,
      due_at = CASE WHEN status = 'pending' AND @status = 'pending' THEN @nextDueAt ELSE NULL END,
      lease_owner = NULL, lease_until = NULL, updated_at = @at
    WHERE id = @id AND lease_owner = @owner`);
  const release = db.prepare(`UPDATE notifications SET lease_owner = NULL, lease_until = NULL
    WHERE id = @id AND lease_owner = @owner`);

  const queueNotification = (orderId: string, at: number, reason: string): QueuedNotification | undefined => {
    const order = orderRow.get(orderId) as OrderRow | undefined;
    if (!order) return undefined;
    const { fields, signType } = notificationFields(order, at);
    supersede.run({ orderId, at });
    const webhookId = newWebhookId();
    const id = Number(
      insertNotification.run({
        webhookId,
        orderId,
        mercNo: order.merc_no,
        url: order.notify_url,
        fieldsJson: JSON.stringify(fields),
        signType,
        reason,
        at,
      }).lastInsertRowid,
    );
    return { id, webhookId, url: order.notify_url, dueAt: at, payStatus: order.pay_status };
  };

  const setCheck = db.prepare(`UPDATE orders SET next_check_at = @next, checks = checks + 1
    WHERE order_id = @orderId AND pay_status IN ('p0001', 'p0002')`);
  const accepted = db.prepare(`UPDATE orders SET channel_state = 'accepted', updated_at = @at
    WHERE order_id = @orderId AND channel_state = 'unknown'`);
  // The sandbox channel's side. A trade may be paid after it failed (a late payment), never after
  // it was closed; paid and closed are final. The row count tells the caller who won.
  const settleTrade = db.prepare(`INSERT INTO sandbox_trades (order_id, trade_no, amount_fen, status, paid_at, bank_type, updated_at)
    VALUES (@orderId, @tradeNo, @amountFen, @status, @paidAt, @bankType, @at)
    ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, paid_at = excluded.paid_at,
      bank_type = excluded.bank_type, updated_at = excluded.updated_at
    WHERE sandbox_trades.status = 'failed'`);
  const closeTrade = db.prepare(`INSERT INTO sandbox_trades (order_id, trade_no, amount_fen, status, updated_at)
    VALUES (@orderId, @tradeNo, @amountFen, 'closed', @at)
    ON CONFLICT (order_id) DO UPDATE SET status = 'closed', updated_at = excluded.updated_at
    WHERE sandbox_trades.status = 'failed'`);
  const tradeStatus = db.prepare('SELECT status FROM sandbox_trades WHERE order_id = ?').pluck();

  const insertAlert = db.prepare(`INSERT INTO alerts (kind, channel, order_id, merc_no, detail, at, count, last_at)
    VALUES (@kind, @channel, @orderId, @mercNo, @detail, @at, @count, @lastAt)`);
  // An alert the operator has marked handled takes no more: what comes after it opens a new row.
  const countAlert = db.prepare(`UPDATE alerts SET count = count + @count, last_at = max(last_at, @lastAt)
    WHERE id = (SELECT id FROM alerts
      WHERE kind = @kind AND channel = @channel AND merc_no IS @mercNo AND order_id IS @orderId AND last_at >= @since
        AND handled_at IS NULL
      ORDER BY last_at DESC LIMIT 1)`);

  const insertMerchant = db.prepare(`INSERT INTO merchants (merc_no, name, mode, key_sealed, status, created_at, updated_at)
    VALUES (@merc_no, @name, @mode, @key_sealed, @status, @created_at, @updated_at)`);
  const setKey = db.prepare('UPDATE merchants SET key_sealed = ?, updated_at = ? WHERE merc_no = ?');
  const setStatus = db.prepare('UPDATE merchants SET status = ?, updated_at = ? WHERE merc_no = ?');
  const putSetting = db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING');
  const getSetting = db.prepare('SELECT value FROM settings WHERE name = ?').pluck();

  /** The conditional update: it changes the order only from a state the event allows. */
const transitionOrder = (a: TransitionArgs): TransitionResult => {
    const from = statusOf.get(a.orderId) as PayStatus | undefined;
    const next = from === undefined ? undefined : step(from, a.event);
    if (from === undefined || next === undefined) return { changed: false, status: from };
    const to = next.to;
    const changes = transition.run({
      orderId: a.orderId,
      from,
      to,
      late: next.late ? 1 : 0,
      at: a.at,
      tradeEndTime: a.tradeEndTime ?? null,
      bankType: a.bankType ?? null,
      channelTradeNo: a.channelTradeNo ?? null,
      failCode: a.failCode ?? null,
      failReason: a.failReason ?? null,
      endedAt: OPEN_STATES.includes(to) ? null : ((to === 'p0000' && a.tradeEndTime && parseBeijing(a.tradeEndTime)) || a.at),
    }).changes;
    if (changes !== 1) return { changed: false, status: statusOf.get(a.orderId) as PayStatus | undefined };
    insertEvent.run(a.orderId, from, to, a.source, a.detail ?? null, a.at);
    // The outbox row commits with the change or not at all (CONTRACT §2.5).
    if (!next.notify) {
      // Not announced, but a notification still pending (a resend of the old state) no longer
      // speaks for the order: it must not go out after the change.
      supersede.run({ orderId: a.orderId, at: a.at });
      return { changed: true, from, to };
    }
    return { changed: true, from, to, notification: queueNotification(a.orderId, a.at, `state change to ${to}`) };
  };

  const { pruneOrders } = preparePruneOps(db);
  const { claimOrderChecks, claimRefundChecks } = prepareCheckClaimOps(db);

  return {
    ...prepareRefundOps(db),
    ...prepareReconcileOps(db),
    ...prepareCredentialOps(db),
    ...preparePayoutOps(db, ORDER_COLUMNS, transitionOrder),
    ...prepareConsoleOps(db),
    ...prepareLeaseOps(db),
    pruneOrders,
    claimOrderChecks,
    claimRefundChecks,

    /** Inserts a new order; `false` when (merc_no, merc_order_no) already exists. */
    insertOrder(row: OrderRow): boolean {
      const endedAt = row.ended_at ?? (OPEN_STATES.includes(row.pay_status) ? null : row.created_at);
      return insertOrder.run({ ...row, ended_at: endedAt }).changes === 1;
    },

    transitionOrder,

    /** A fresh notification of the order's current state (resend); undefined for an unknown order. */
    queueNotification(a: { orderId: string; at: number; reason: string }): QueuedNotification | undefined {
      return queueNotification(a.orderId, a.at, a.reason);
    },

    claimNotification(a: { id: number; owner: string; now: number; leaseUntil: number }): ClaimedNotification | undefined {
      return claim.get(a) as ClaimedNotification | undefined;
    },

    /** Logs an attempt and moves the notification on: delivered, due again later, or failed. */
    recordAttempt(a: AttemptRecord): boolean {
      insertAttempt.run({
        id: a.id,
        attempt: a.attempt,
        dueAt: a.dueAt,
        at: a.at,
        httpStatus: a.httpStatus ?? null,
        latencyMs: a.latencyMs,
        outcome: a.outcome,
        error: a.error ?? null,
        answer: a.answer ?? null,
      });
      const status = a.outcome === 'retry' ? 'pending' : a.outcome;
      return (
        settleAttempt.run({ id: a.id, owner: a.owner, attempt: a.attempt, status, nextDueAt: a.nextDueAt ?? null, at: a.at })
          .changes === 1
      );
    },

    /** Gives a claimed notification back untried (shutdown), so that the next start sends it at once. */
    releaseNotification(a: { id: number; owner: string }): boolean {
      return release.run(a).changes === 1;
    },

    /** Records that the channel was asked about an open order, and when to ask next (null: not before expiry). */
    recordCheck(a: { orderId: string; next: number | null }): boolean {
      return setCheck.run(a).changes === 1;
    },

    /** The channel turned out to have the order after all (an outcome unknown at creation). */
    markChannelAccepted(a: { orderId: string; at: number }): boolean {
      return accepted.run(a).changes === 1;
    },

    /** The sandbox payer paid or failed; returns the trade's status afterwards. */
    sandboxSettle(a: { orderId: string; tradeNo: string; amountFen: bigint; status: 'paid' | 'failed'; paidAt: string | null; bankType: string | null; at: number }): string {
      settleTrade.run(a);
      return tradeStatus.get(a.orderId) as string;
    },

    /** The sandbox channel closes a trade unless it was paid; returns the trade's status afterwards. */
    sandboxClose(a: { orderId: string; tradeNo: string; amountFen: bigint; at: number }): string {
      closeTrade.run(a);
      return tradeStatus.get(a.orderId) as string;
    },

    /**
     * Flags something an operator should look at (a refused channel callback): `count` occurrences
     * from `at` to `lastAt`. They are counted on the source's row last seen at or after `since`,
     * or open a new row (whose detail is the first occurrence's). Returns whether a row was added.
     */
    /** `count` occurrences up to `lastAt`, added to the source's row last seen since `since`, or a new row. */
    recordAlert(a: Alert & { count?: number; lastAt?: number; since?: number }): boolean {
      const row = {
        kind: a.kind,
        channel: a.channel,
        orderId: a.orderId ?? null,
        mercNo: a.mercNo ?? null,
        count: a.count ?? 1,
        lastAt: a.lastAt ?? a.at,
      };
      if (a.since !== undefined && countAlert.run({ ...row, since: a.since }).changes === 1) return false;
      insertAlert.run({ ...row, detail: a.detail.slice(0, 1000), at: a.at });
      return true;
    },

    /** The key comes sealed (src/secrets/merchant-keys.ts): the writer never sees a plaintext key. */
    insertMerchant(row: NewMerchantRecord): true {
      insertMerchant.run({ ...row, key_sealed: Buffer.from(row.key_sealed, 'base64') });
      return true;
    },

    setMerchantKey(a: { mercNo: string; keySealed: string; at: number }): boolean {
      return setKey.run(Buffer.from(a.keySealed, 'base64'), a.at, a.mercNo).changes === 1;
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
  'created_at', 'expire_at', 'trade_end_time', 'bank_type', 'late_payment', 'updated_at', 'next_check_at', 'checks', 'ended_at',
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

/**
 * Live channel credentials (migrations/0005): the row is already encrypted by the caller
 * (src/secrets/channel-credentials.ts); binary parts travel as base64 so they cross to the writer
 * thread unchanged. Only a live merchant can hold credentials. `updated_at` strictly increases,
 * so a cache keyed on it sees every change.
 */
function prepareCredentialOps(db: Db) {
  const exists = db.prepare('SELECT 1 FROM channel_credentials WHERE merc_no = ? AND payway = ?').pluck();
  const put = db.prepare(`INSERT INTO channel_credentials (merc_no, payway, key_id, iv, tag, ciphertext, created_at, updated_at)
    SELECT @mercNo, @payway, @keyId, @iv, @tag, @ciphertext, @at, @at FROM merchants WHERE merc_no = @mercNo AND mode = 'live'
    ON CONFLICT (merc_no, payway) DO UPDATE SET key_id = excluded.key_id, iv = excluded.iv, tag = excluded.tag,
      ciphertext = excluded.ciphertext, updated_at = max(excluded.updated_at, channel_credentials.updated_at + 1)`);
  const remove = db.prepare('DELETE FROM channel_credentials WHERE merc_no = ? AND payway = ?');
  return {
    /** Stores (or replaces) one merchant's credentials for one payway; throws unless the merchant is live. */
    putChannelCredentials(a: { mercNo: string; payway: 'alipay' | 'wxpay' | 'unionpay'; keyId: string; iv: string; tag: string; ciphertext: string; at: number }): 'created' | 'updated' {
      const existed = exists.get(a.mercNo, a.payway) === 1;
      const b64 = (s: string) => Buffer.from(s, 'base64');
      const changes = put.run({ ...a, iv: b64(a.iv), tag: b64(a.tag), ciphertext: b64(a.ciphertext) }).changes;
      if (changes !== 1) throw new Error(`merchant ${a.mercNo} does not exist or is not a live merchant`);
      return existed ? 'updated' : 'created';
    },

    /** `false` when there was nothing to remove. */
    removeChannelCredentials(a: { mercNo: string; payway: string }): boolean {
      return remove.run(a.mercNo, a.payway).changes === 1;
    },
  };
}
