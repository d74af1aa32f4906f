import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import type { OrderRefundRow, OrderSummaryRow } from '../db/order-reads.js';
import type { StoragePort } from '../db/port.js';
import type { NotificationRow } from '../db/rows.js';
import { PAY_STATUSES, STATUS_NAMES, type PayStatus } from '../domain/order-states.js';
import { fenToYuan } from '../domain/money.js';
import { isOrderId } from '../domain/ids.js';
import { formatBeijing } from '../domain/time.js';
import { emptyDatabaseNote, notFound, withDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { subcommandsOf, usageOf } from './usage.js';

// `dtpay order show|list`: what the gateway knows about orders, read-only. --json gives instants as
// ISO 8601 UTC (machine-friendly); the text gives every time in Beijing time as the API does.

const STATUSES: readonly PayStatus[] = PAY_STATUSES;

const iso = (ms: number) => new Date(ms).toISOString();
/** An ISO instant from the JSON view, as the text shows it. */
const beijing = (isoTime: string) => formatBeijing(Date.parse(isoTime));

const REFUND_NAMES: Record<OrderRefundRow['refund_status'], string> = { r0001: 'processing', r0000: 'success', r0004: 'failed' };

function summary(o: OrderSummaryRow) {
  return {
    orderId: o.order_id,
    mercNo: o.merc_no,
    mercOrderNo: o.merc_order_no,
    payway: o.payway,
    scene: o.scene,
    tradeAmt: fenToYuan(o.amount_fen),
    payStatus: o.pay_status,
    channelState: o.channel_state,
    channelTradeNo: o.channel_trade_no,
    createdAt: iso(o.created_at),
    expireAt: iso(o.expire_at),
    tradeEndTime: o.trade_end_time,
    bankType: o.bank_type,
    latePayment: o.late_payment === 1,
    notifyUrl: o.notify_url,
  };
}

async function notification(n: NotificationRow, reads: StoragePort['reads']) {
  const fields = JSON.parse(n.fields_json) as { payStatus?: string; refundStatus?: string };
  return {
    id: n.id,
    webhookId: n.webhook_id,
    payStatus: fields.payStatus ?? '',
    ...(fields.refundStatus !== undefined ? { refundStatus: fields.refundStatus } : {}),
    status: n.status,
    attempts: n.attempts,
    nextAttemptAt: n.due_at === null ? null : iso(n.due_at),
    createdAt: iso(n.created_at),
    reason: n.reason,
    url: n.url,
    attemptLog: (await reads.attempts(n.id)).map((a) => ({
      attempt: a.attempt,
      dueAt: iso(a.due_at),
      at: iso(a.at),
      httpStatus: a.http_status,
      latencyMs: a.latency_ms,
      outcome: a.outcome,
      error: a.error,
      answer: a.answer,
    })),
  };
}

async function details(o: OrderSummaryRow, storage: StoragePort) {
  const { reads, orderLists: orders } = storage;
  const all = await reads.notificationsOfOrder(o.order_id);
  // One after another: the CLI holds few connections.
  const ofRefund = async (refundId: string | null) => {
    const out = [];
    for (const n of all.filter((n) => n.refund_id === refundId)) out.push(await notification(n, reads));
    return out;
  };
  const refunds = [];
  for (const r of await orders.refunds(o.order_id)) refunds.push({ r, notifications: await ofRefund(r.refund_id) });
  return {
    ...summary(o),
    events: (await orders.events(o.order_id)).map((e) => ({
      id: e.id,
      from: e.from_status,
      to: e.to_status,
      source: e.source,
      detail: e.detail,
      at: iso(e.at),
    })),
    notifications: await ofRefund(null),
    refunds: refunds.map(({ r, notifications }) => ({
      refundId: r.refund_id,
      mercRefundNo: r.merc_refund_no,
      refundAmt: fenToYuan(r.amount_fen),
      refundStatus: r.refund_status,
      channelState: r.channel_state,
      channelRefundNo: r.channel_refund_no,
      channelCode: r.channel_code,
      channelMsg: r.channel_msg,
      refundReason: r.reason,
      refundEndTime: r.refund_end_time,
      notifyUrl: r.notify_url,
      createdAt: iso(r.created_at),
      notifications,
    })),
  };
}

const status = (s: PayStatus, late: boolean) => `${s} (${STATUS_NAMES[s] ?? 'unknown'}${late ? ', late payment' : ''})`;

type Shown = Awaited<ReturnType<typeof details>>;

function printNotifications(io: Io, list: Shown['notifications'], indent: string): void {
  for (const n of list) {
    const next = n.nextAttemptAt ? `  next ${beijing(n.nextAttemptAt)}` : '';
    io.out(`${indent}${n.id}  ${n.webhookId}  ${n.refundStatus ?? n.payStatus}  ${n.status}  attempts ${n.attempts}${next}  ${n.reason}  ${n.url}\n`);
    for (const a of n.attemptLog) {
      const answer = a.answer === null ? '' : `  ${JSON.stringify(a.answer)}`;
      io.out(`${indent}  attempt ${a.attempt}  ${beijing(a.at)}  ${a.outcome}  ${a.httpStatus ?? '-'}  ${a.latencyMs} ms${a.error ? `  ${a.error}` : ''}${answer}\n`);
    }
  }
}

function printDetails(io: Io, d: Shown): void {
  const line = (label: string, value: string | null) => io.out(`${label.padEnd(12)}${value ?? '-'}\n`);
  line('order', d.orderId);
  line('merchant', `${d.mercNo}  order no ${d.mercOrderNo}`);
  line('payway', `${d.payway}.${d.scene}`);
  line('amount', d.tradeAmt);
  line('status', status(d.payStatus, d.latePayment));
  line('channel', `${d.channelState}${d.channelTradeNo ? `  trade no ${d.channelTradeNo}` : ''}`);
  line('created', beijing(d.createdAt));
  line('expires', beijing(d.expireAt));
  line('trade end', d.tradeEndTime);
  line('bank', d.bankType);
  line('notify url', d.notifyUrl);
  io.out(`\nevents (${d.events.length})\n`);
  for (const e of d.events) io.out(`  ${beijing(e.at)}  ${e.from} -> ${e.to}  ${e.source}${e.detail ? `  ${e.detail}` : ''}\n`);
  io.out(`\nnotifications (${d.notifications.length})\n`);
  printNotifications(io, d.notifications, '  ');
  io.out(`\nrefunds (${d.refunds.length})\n`);
  for (const r of d.refunds) {
    const channel = `channel ${r.channelState}${r.channelRefundNo ? ` refund no ${r.channelRefundNo}` : ''}${r.channelCode ? ` ${r.channelCode} ${r.channelMsg ?? ''}`.trimEnd() : ''}`;
    const ended = r.refundEndTime ? `  ended ${r.refundEndTime}` : '';
    const reason = r.refundReason ? `  reason ${JSON.stringify(r.refundReason)}` : '';
    io.out(`  ${r.refundId}  ${r.mercRefundNo}  ${r.refundAmt}  ${r.refundStatus} (${REFUND_NAMES[r.refundStatus]})  ${channel}  created ${beijing(r.createdAt)}${ended}${reason}\n`);
    printNotifications(io, r.notifications, '    ');
  }
}

export async function runOrder(config: Config, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      status: { type: 'string' },
      merchant: { type: 'string' },
      limit: { type: 'string', default: '50' },
      json: { type: 'boolean', default: false },
    },
  });
  // Checked before the database is opened: a mistyped command creates no file.
  if (sub !== 'show' && sub !== 'list') throw new CliError(`order: expected ${subcommandsOf('order')}`);
  if (sub === 'show' && positionals.length !== 1) throw new CliError(usageOf('order show'));
  if (sub === 'list' && positionals.length !== 0) throw new CliError(`order list: unexpected argument ${positionals[0]}\n${usageOf('order list')}`);
  const payStatus = values.status as PayStatus | undefined;
  const limit = Number(values.limit);
  if (sub === 'list') {
    if (payStatus !== undefined && !STATUSES.includes(payStatus)) throw new CliError(`order list: --status must be one of ${STATUSES.join(', ')}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError('order list: --limit must be a whole number from 1 to 100000');
  }

  return withDatabase(config, `order ${sub}`, async (d) => {
    const { reads, orderLists: orders } = d.storage;
    if (sub === 'show') {
      const orderId = positionals[0]!;
      const o = isOrderId(orderId) ? await orders.order(orderId) : undefined;
      if (!o) throw await notFound(d, config, `no order ${orderId}`);
      const shown = await details(o, d.storage);
      if (values.json) printJson(io, shown);
      else printDetails(io, shown);
      return 0;
    }
    const mercNo = values.merchant;
    if (mercNo !== undefined && !(await reads.merchant(mercNo))) throw await notFound(d, config, `no merchant ${mercNo}`);
    const rows = (await orders.orders({ status: payStatus, mercNo, limit })).map(summary);
    if (rows.length === 0) {
      const note = await emptyDatabaseNote(d, config);
      if (note) io.err(`dtpay: ${note}\n`);
    }
    if (values.json) printJson(io, rows);
    else if (rows.length === 0) io.out('no orders\n');
    else
      for (const r of rows)
        io.out(
          `${r.orderId}  ${r.mercNo}  ${r.payStatus}${r.latePayment ? ' late' : '     '}  ${r.tradeAmt.padStart(10)}  ` +
            `${`${r.payway}.${r.scene}`.padEnd(16)}  ${beijing(r.createdAt)}  ${r.mercOrderNo}\n`,
        );
    return 0;
  });
}
