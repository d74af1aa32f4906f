import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { openDb } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { prepareReads, type Reads } from '../db/reads.js';
import { prepareOrderReads, type OrderReads, type OrderSummaryRow } from '../db/order-reads.js';
import { PAY_STATUSES, STATUS_NAMES, type PayStatus } from '../domain/order-states.js';
import { fenToYuan } from '../domain/money.js';
import { isOrderId } from '../domain/ids.js';
import { CliError, printJson, type Io } from './io.js';

// `dtpay order show|list`: what the gateway knows about orders, read-only.

const STATUSES: readonly PayStatus[] = PAY_STATUSES;

const iso = (ms: number) => new Date(ms).toISOString();

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

function details(o: OrderSummaryRow, orders: OrderReads, reads: Reads) {
  return {
    ...summary(o),
    events: orders.events(o.order_id).map((e) => ({
      id: e.id,
      from: e.from_status,
      to: e.to_status,
      source: e.source,
      detail: e.detail,
      at: iso(e.at),
    })),
    notifications: reads.notificationsOfOrder(o.order_id).map((n) => ({
      id: n.id,
      webhookId: n.webhook_id,
      payStatus: (JSON.parse(n.fields_json) as { payStatus?: string }).payStatus ?? '',
      status: n.status,
      attempts: n.attempts,
      nextAttemptAt: n.due_at === null ? null : iso(n.due_at),
      createdAt: iso(n.created_at),
      reason: n.reason,
      url: n.url,
      attemptLog: reads.attempts(n.id).map((a) => ({
        attempt: a.attempt,
        dueAt: iso(a.due_at),
        at: iso(a.at),
        httpStatus: a.http_status,
        latencyMs: a.latency_ms,
        outcome: a.outcome,
        error: a.error,
        answer: a.answer,
      })),
    })),
  };
}

const status = (s: PayStatus, late: boolean) => `${s} (${STATUS_NAMES[s] ?? 'unknown'}${late ? ', late payment' : ''})`;

function printDetails(io: Io, d: ReturnType<typeof details>): void {
  const line = (label: string, value: string | null) => io.out(`${label.padEnd(12)}${value ?? '-'}\n`);
  line('order', d.orderId);
  line('merchant', `${d.mercNo}  order no ${d.mercOrderNo}`);
  line('payway', `${d.payway}.${d.scene}`);
  line('amount', d.tradeAmt);
  line('status', status(d.payStatus, d.latePayment));
  line('channel', `${d.channelState}${d.channelTradeNo ? `  trade no ${d.channelTradeNo}` : ''}`);
  line('created', d.createdAt);
  line('expires', d.expireAt);
  line('trade end', d.tradeEndTime);
  line('bank', d.bankType);
  line('notify url', d.notifyUrl);
  io.out(`\nevents (${d.events.length})\n`);
  for (const e of d.events) io.out(`  ${e.at}  ${e.from} -> ${e.to}  ${e.source}${e.detail ? `  ${e.detail}` : ''}\n`);
  io.out(`\nnotifications (${d.notifications.length})\n`);
  for (const n of d.notifications) {
    const next = n.nextAttemptAt ? `  next ${n.nextAttemptAt}` : '';
    io.out(`  ${n.id}  ${n.webhookId}  ${n.payStatus}  ${n.status}  attempts ${n.attempts}${next}  ${n.reason}  ${n.url}\n`);
    for (const a of n.attemptLog) {
      const answer = a.answer === null ? '' : `  ${JSON.stringify(a.answer)}`;
      io.out(`    attempt ${a.attempt}  ${a.at}  ${a.outcome}  ${a.httpStatus ?? '-'}  ${a.latencyMs} ms${a.error ? `  ${a.error}` : ''}${answer}\n`);
    }
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
  if (sub !== 'show' && sub !== 'list') throw new CliError('order: expected show or list');
  if (sub === 'show' && positionals.length !== 1) throw new CliError('usage: dtpay order show ORDERID [--json]');
  if (sub === 'list' && positionals.length !== 0) throw new CliError(`order list: unexpected argument ${positionals[0]}`);
  const payStatus = values.status as PayStatus | undefined;
  const limit = Number(values.limit);
  if (sub === 'list') {
    if (payStatus !== undefined && !STATUSES.includes(payStatus)) throw new CliError(`order list: --status must be one of ${STATUSES.join(', ')}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError('order list: --limit must be a whole number from 1 to 100000');
  }

  const db = openDb(config.DATABASE_PATH);
  try {
    migrate(db);
    const reads = prepareReads(db);
    const orders = prepareOrderReads(db);
    if (sub === 'show') {
      const orderId = positionals[0]!;
      const o = isOrderId(orderId) ? orders.order(orderId) : undefined;
      if (!o) throw new CliError(`no order ${orderId}`, 1);
      const d = details(o, orders, reads);
      if (values.json) printJson(io, d);
      else printDetails(io, d);
      return 0;
    }
    const mercNo = values.merchant;
    if (mercNo !== undefined && !reads.merchant(mercNo)) throw new CliError(`no merchant ${mercNo}`, 1);
    const rows = orders.orders({ status: payStatus, mercNo, limit }).map(summary);
    if (values.json) printJson(io, rows);
    else if (rows.length === 0) io.out('no orders\n');
    else
      for (const r of rows)
        io.out(
          `${r.orderId}  ${r.mercNo}  ${r.payStatus}${r.latePayment ? ' late' : '     '}  ${r.tradeAmt.padStart(10)}  ` +
            `${`${r.payway}.${r.scene}`.padEnd(16)}  ${r.createdAt}  ${r.mercOrderNo}\n`,
        );
    return 0;
  } finally {
    db.close();
  }
}
