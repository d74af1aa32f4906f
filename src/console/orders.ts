import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import { YUAN_PATTERN, fenToYuan, yuanToFen } from '../domain/money.js';
import { OPEN_STATES, PAY_STATUSES } from '../domain/order-states.js';
import { PAYWAYS } from '../channels/types.js';
import { isOrderId } from '../domain/ids.js';
import type { OrderRow } from '../db/rows.js';
import { reconcileOrder } from '../services/reconcile.js';
import { closeAtChannel } from '../services/close-order.js';
import { createRefund, reconcileRefund } from '../services/refunds.js';
import { resendNotification } from '../services/notifications.js';
import { cancelPayout, isPayout, reconcilePayout } from '../services/payouts.js';
import { payoutFields } from './payouts.js';
import type { ConsoleContext } from './context.js';
import { audit, pageView, stringsOf } from './context.js';
import { guard, refusalPage } from './security.js';
import { csrfField, esc, postButton, shell, table, when, type PageView } from './layout.js';
import { roleAllows } from './operators.js';
import { word, type Strings } from './strings.js';
import { parseOrderQuery, parseSearch, queryString, type OrderQuery } from './order-filters.js';
import type { ConsoleOrderRow } from './console-reads.js';

// Orders: the list (filters, search, keyset pages, CSV), one order with its whole timeline, and
// what the role may do to it. Every action calls the service the merchant API calls.

const PAGE = 50;
const CSV_BATCH = 1000;
/** An export is at most this many orders; narrow the filters for more. */
export const CSV_MAX_ROWS = 100_000;

export const statusBadge = (s: Strings, status: string) => `<span class="status ${esc(status)}">${esc(word(s, status))}</span>`;
export const orderLink = (id: string) => `<a href="/console/orders/${esc(id)}">${esc(id)}</a>`;

function select(name: string, label: string, options: [string, string][], value: string | undefined, anyLabel: string): string {
  const opts = [['', anyLabel] as [string, string], ...options]
    .map(([v, l]) => `<option value="${esc(v)}"${v === (value ?? '') ? ' selected' : ''}>${esc(l)}</option>`)
    .join('');
  return `<label>${esc(label)}<select name="${esc(name)}" id="f-${esc(name)}">${opts}</select></label>`;
}

/** The cells every order list (orders, payouts) begins a row with: ids, payway, type and amount. */
export function orderHeadCells(o: ConsoleOrderRow): string[] {
  return [
    orderLink(o.order_id),
    esc(o.merc_no),
    `<span class="mono">${esc(o.merc_order_no)}</span>`,
    esc(o.payway),
    esc(o.trade_type),
    `<span class="num">${fenToYuan(o.amount_fen)}</span>`,
  ];
}

function orderRows(s: Strings, rows: ConsoleOrderRow[]): string[][] {
  return rows.map((o) => [
    ...orderHeadCells(o),
    statusBadge(s, o.pay_status) + (o.late_payment ? ` <span class="warn">${esc(s.latePayment)}</span>` : ''),
    esc(when(o.created_at)),
  ]);
}

/**
 * The filters of an order list (the orders page, the payouts page): its own path, the trade types
 * it lists, and a CSV export only where the page has one.
 */
export async function filterForm(ctx: ConsoleContext, v: PageView, q: OrderQuery, opts: { path: string; tradeTypes: string[]; csv?: boolean }): Promise<string> {
  const { s } = v;
  const merchants = (await ctx.s.reads.merchants()).map((m) => [m.merc_no, `${m.merc_no} ${m.name}`] as [string, string]);
  return (
    `<form method="get" action="${esc(opts.path)}" class="filters" id="filters">` +
    `<label>${esc(s.search)}<input name="q" id="f-q" placeholder="${esc(s.searchHint)}" value="${esc(q.q ?? '')}" maxlength="64"></label>` +
    select('merc', s.merchant, merchants, q.merc, s.any) +
    select('status', s.status, PAY_STATUSES.map((p) => [p, `${p} ${word(s, p)}`]), q.status, s.any) +
    select('payway', s.payway, PAYWAYS.map((p) => [p, p]), q.payway, s.any) +
    select('tradeType', s.tradeType, opts.tradeTypes.map((t) => [t, t]), q.tradeType, s.any) +
    `<label>${esc(s.dateFrom)}<input type="date" name="from" id="f-from" value="${esc(q.from ?? '')}"></label>` +
    `<label>${esc(s.dateTo)}<input type="date" name="to" id="f-to" value="${esc(q.to ?? '')}"></label>` +
    `<button type="submit" id="f-submit">${esc(s.filter)}</button>` +
    (opts.csv ? `<a href="/console/orders.csv${esc(queryString(q))}" id="export">${esc(s.exportCsv)}</a>` : '') +
    `</form>`
  );
}

/** The first-page and next-page links of an order list (keyset: the last order id shown). */
export function listPager(v: PageView, path: string, q: OrderQuery, rows: ConsoleOrderRow[], searched: boolean, more: boolean): string {
  const { s } = v;
  const last = rows.at(-1);
  return (
    `<p class="pager">` +
    (q.before ? `<a href="${esc(path)}${esc(queryString(q))}">${esc(s.firstPage)}</a> ` : '') +
    (!searched && more && last ? `<a id="next-page" href="${esc(path)}${esc(queryString(q, { before: last.order_id }))}">${esc(s.nextPage)}</a>` : '') +
    `</p>`
  );
}

async function listPage(ctx: ConsoleContext, v: PageView, q: OrderQuery, rows: ConsoleOrderRow[], searched: boolean, more: boolean): Promise<string> {
  const { s } = v;
  const filters = await filterForm(ctx, v, q, { path: '/console/orders', tradeTypes: ['01', '02', '03'], csv: true });
  const head = [s.orderId, s.merchant, s.mercOrderNo, s.payway, s.tradeType, s.amount, s.status, s.createdAt];
  return filters + table(head, orderRows(s, rows), s.noOrders, 'orders') + listPager(v, '/console/orders', q, rows, searched, more);
}

/** One CSV cell: quoted, and never starting like a spreadsheet formula. */
function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return `"${safe.replaceAll('"', '""')}"`;
}

const CSV_HEAD = ['orderId', 'mercNo', 'mercOrderNo', 'payway', 'scene', 'tradeType', 'tradeAmt', 'payStatus', 'channelTradeNo', 'createdAt'];

async function* csvLines(ctx: ConsoleContext, q: OrderQuery): AsyncGenerator<string> {
  // Excel opens UTF-8 with a byte order mark as UTF-8 (Chinese merchant order numbers stay legible).
  yield '\ufeff' + CSV_HEAD.join(',') + '\r\n';
  const search = parseSearch(q.q);
  if (search) {
    for (const o of await ctx.reads.search(search)) yield csvRow(o);
    return;
  }
  let before: string | undefined;
  for (let n = 0; n < CSV_MAX_ROWS; ) {
    const f = parseOrderQuery({ ...q, ...(before ? { before } : {}) }, Math.min(CSV_BATCH, CSV_MAX_ROWS - n));
    const rows = await ctx.reads.orders(f);
    let chunk = '';
    for (const o of rows) chunk += csvRow(o);
    if (chunk) yield chunk;
    n += rows.length;
    if (rows.length < f.limit) return;
    before = rows.at(-1)!.order_id;
  }
}

function csvRow(o: ConsoleOrderRow): string {
  return (
    [o.order_id, o.merc_no, o.merc_order_no, o.payway, o.scene, o.trade_type, fenToYuan(o.amount_fen), o.pay_status, o.channel_trade_no ?? '', when(o.created_at)]
      .map(csvCell)
      .join(',') + '\r\n'
  );
}

interface TimelineItem {
  at: number;
  kind: string;
  text: string;
}

async function timeline(ctx: ConsoleContext, s: Strings, order: OrderRow): Promise<TimelineItem[]> {
  const items: TimelineItem[] = [
    // Every order is created submitted; what the channel said to it is its channel state.
    { at: order.created_at, kind: s.eventState, text: `→ ${statusBadge(s, 'p0001')} · ${esc(order.payway)} ${esc(order.scene)}` },
  ];
  for (const e of await ctx.orders.events(order.order_id)) {
    const callback = / callback$/.test(e.source);
    items.push({
      at: e.at,
      kind: callback ? s.eventCallback : s.eventState,
      text: `${statusBadge(s, e.from_status)} → ${statusBadge(s, e.to_status)} · ${esc(e.source)}${e.detail ? ` · ${esc(e.detail)}` : ''}`,
    });
  }
  for (const a of await ctx.reads.alertsOfOrder(order.order_id)) {
    items.push({ at: a.at, kind: s.eventRefusedCallback, text: `<span class="bad">${esc(a.kind)}</span> ${esc(a.channel)} ×${a.count} · ${esc(a.detail)}` });
  }
  for (const n of await ctx.s.reads.notificationsOfOrder(order.order_id)) {
    const what = n.refund_id ? `${s.eventRefund} ${esc(n.refund_id)}` : esc(n.reason);
    const attempts = await ctx.reads.attempts(n.id);
    if (attempts.length === 0) {
      items.push({ at: n.created_at, kind: s.eventNotification, text: `${statusBadge(s, n.status)} ${what} · <span class="mono">${esc(n.url)}</span>` });
    }
    for (const a of attempts) {
      const answer = a.answer === null ? s.noAnswer : a.answer;
      items.push({
        at: a.at,
        kind: s.eventNotification,
        text:
          `#${a.attempt} ${statusBadge(s, a.outcome === 'retry' ? 'failed' : a.outcome)} ${what} · ${esc(s.httpStatus)} ${a.http_status ?? '—'}` +
          `${a.error ? ` (${esc(a.error)})` : ''} · ${esc(s.answer)}: <code class="answer">${esc(answer)}</code> · ${a.latency_ms} ms · <span class="mono">${esc(n.url)}</span>`,
      });
    }
  }
  for (const r of await ctx.orders.refunds(order.order_id)) {
    items.push({
      at: r.created_at,
      kind: s.eventRefund,
      text: `${esc(r.refund_id)} · ${fenToYuan(r.amount_fen)} · ${statusBadge(s, r.refund_status)}${r.reason ? ` · ${esc(r.reason)}` : ''}${r.channel_msg ? ` · ${esc(r.channel_code ?? '')} ${esc(r.channel_msg)}` : ''}${r.refund_end_time ? ` · ${esc(r.refund_end_time)}` : ''}`,
    });
  }
  for (const a of await ctx.reads.auditOf(order.order_id)) {
    items.push({
      at: a.at,
      kind: s.eventConsole,
      text: `${esc(a.action)} · ${esc(a.outcome)} · ${esc(a.operator)}${a.amount_fen !== null ? ` · ${fenToYuan(BigInt(a.amount_fen))}` : ''}${a.detail ? ` · ${esc(a.detail)}` : ''}`,
    });
  }
  return items.sort((a, b) => a.at - b.at);
}

async function detailPage(ctx: ConsoleContext, v: PageView, order: OrderRow): Promise<string> {
  const { s } = v;
  const role = v.operator!.role;
  const merchant = await ctx.s.reads.merchant(order.merc_no);
  const req = JSON.parse(order.request_json) as Record<string, string>;
  const refunded = await ctx.s.reads.refundedFen(order.order_id);
  const reserved = (await ctx.orders.refunds(order.order_id)).filter((r) => r.refund_status !== 'r0004').reduce((a, r) => a + r.amount_fen, 0n);
  // A payout is never refunded (the API refuses it): no amount offered, no form.
  const refundable = order.pay_status === 'p0000' && !isPayout(order) ? order.amount_fen - reserved : 0n;
  const fields: [string, string][] = [
    [s.orderId, order.order_id],
    [s.merchant, `${order.merc_no} ${merchant?.name ?? ''}`],
    [s.mercOrderNo, order.merc_order_no],
    [s.status, ''],
    [s.amount, fenToYuan(order.amount_fen)],
    [s.payway, `${order.payway} · ${order.scene}`],
    [s.tradeType, order.trade_type],
    ...(isPayout(order) ? payoutFields(s, order) : []),
    [s.channelTradeNo, order.channel_trade_no ?? ''],
    [s.fChannelState, order.channel_state],
    [s.fChannelCode, [order.channel_code, order.channel_msg].filter(Boolean).join(' ')],
    [s.fSubject, req.subject ?? ''],
    [s.fBody, req.body ?? ''],
    [s.fAttach, req.attach ?? ''],
    [s.fTradeTime, order.trade_time],
    [s.fTradeEndTime, order.trade_end_time ?? ''],
    [s.fBankType, order.bank_type ?? ''],
    [s.fTermType, order.term_type],
    [s.fIp, req.ip ?? ''],
    [s.notifyUrl, order.notify_url],
    [s.fReturnUrl, order.return_url ?? ''],
    [s.createdAt, when(order.created_at)],
    [s.fExpireAt, when(order.expire_at)],
    [s.fRefunded, fenToYuan(refunded)],
    [s.refundable, fenToYuan(refundable)],
  ];
  const dl =
    `<dl class="fields" id="fields">` +
    fields
      .map(([k, val]) =>
        k === s.status
          ? `<dt>${esc(k)}</dt><dd id="order-status">${statusBadge(s, order.pay_status)}${order.late_payment ? ` <span class="warn">${esc(s.latePayment)}</span>` : ''}</dd>`
          : `<dt>${esc(k)}</dt><dd>${esc(val)}</dd>`,
      )
      .join('') +
    `</dl>`;
  const base = `/console/orders/${order.order_id}`;
  const open = OPEN_STATES.includes(order.pay_status);
  const actions: string[] = [];
  if (roleAllows(role, 'support')) {
    actions.push(postButton(v, `${base}/query`, s.queryChannel, { id: 'action-query', cls: 'quiet' }));
    if (open) actions.push(postButton(v, `${base}/close`, s.closeOrder, { id: 'action-close', cls: 'danger' }));
    actions.push(postButton(v, `${base}/resend`, s.resendNotification, { id: 'action-resend', cls: 'quiet' }));
    if (refundable > 0n) {
      actions.push(
        `<form method="post" action="${base}/refund/confirm" class="actions" id="refund-form">${csrfField(v)}` +
          `<label>${esc(s.refundAmount)}<input name="refundAmt" id="refund-amount" required inputmode="decimal" pattern="[0-9]+(\\.[0-9]{1,2})?" placeholder="${fenToYuan(refundable)}"></label>` +
          `<label>${esc(s.refundReason)}<input name="refundReason" id="refund-reason" maxlength="256"></label>` +
          `<button type="submit" id="action-refund">${esc(s.refund)}</button></form>`,
      );
    }
  }
  const items = await timeline(ctx, s, order);
  const tl = table([s.time, '', ''], items.map((i) => [esc(when(i.at)), esc(i.kind), i.text]), s.noRows, 'timeline');
  return (
    `<section class="card">${dl}</section>` +
    (actions.length ? `<h2>${esc(s.actions)}</h2><div class="actions card" id="actions">${actions.join('')}</div>` : '') +
    `<h2>${esc(s.timeline)}</h2>${tl}`
  );
}

function confirmPage(v: PageView, order: OrderRow, amount: string, reason: string, mercRefundNo: string): string {
  const { s } = v;
  const base = `/console/orders/${order.order_id}`;
  return (
    `<section class="card" id="refund-confirm"><p>${esc(s.refundConfirmText)} <strong class="big" id="confirm-amount">¥${esc(amount)}</strong></p>` +
    `<dl class="fields"><dt>${esc(s.orderId)}</dt><dd>${esc(order.order_id)}</dd><dt>${esc(s.mercOrderNo)}</dt><dd>${esc(order.merc_order_no)}</dd>` +
    `<dt>${esc(s.amount)}</dt><dd>${fenToYuan(order.amount_fen)}</dd><dt>${esc(s.refundReason)}</dt><dd>${esc(reason)}</dd>` +
    `<dt>${esc(s.mercRefundNo)}</dt><dd>${esc(mercRefundNo)}</dd></dl>` +
    `<form method="post" action="${base}/refund" class="actions">${csrfField(v)}` +
    `<input type="hidden" name="refundAmt" value="${esc(amount)}"><input type="hidden" name="refundReason" value="${esc(reason)}">` +
    `<input type="hidden" name="mercRefundNo" value="${esc(mercRefundNo)}">` +
    `<button type="submit" class="danger" id="confirm-refund">${esc(s.refundConfirm)}</button> <a href="${base}">${esc(s.cancel)}</a></form></section>`
  );
}

type OrderParams = { Params: { orderId: string } };
type FormBody = { Body: Record<string, string | undefined> };

export function orderRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const viewer = { preHandler: guard(ctx, 'viewer') };
  const support = { preHandler: guard(ctx, 'support') };

  const findOrder = async (request: FastifyRequest<OrderParams>, reply: FastifyReply): Promise<OrderRow | undefined> => {
    const id = request.params.orderId;
    const order = isOrderId(id) ? await ctx.s.reads.order(id) : undefined;
    if (!order) {
      const s = stringsOf(request);
      refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    }
    return order;
  };
  const backTo = (request: FastifyRequest, reply: FastifyReply, orderId: string, kind: 'ok' | 'bad', text: string) => {
    request.session.flash = { kind, text };
    return reply.redirect(`/console/orders/${orderId}`, 303);
  };
  const by = (request: FastifyRequest) => `the console (${request.consoleOperator!.email})`;

  app.get<{ Querystring: OrderQuery }>('/orders', viewer, async (request, reply) => {
    const q = request.query;
    const search = parseSearch(q.q);
    let rows: ConsoleOrderRow[];
    let more = false;
    if (search) rows = await ctx.reads.search(search);
    else {
      rows = await ctx.reads.orders(parseOrderQuery(q, PAGE + 1));
      more = rows.length > PAGE;
      rows = rows.slice(0, PAGE);
    }
    // A search that names one order exactly goes to it.
    if (search && rows.length === 1 && rows[0]!.order_id === search) return reply.redirect(`/console/orders/${search}`, 303);
    const v = pageView(request, reply);
    return reply.type('text/html; charset=utf-8').send(shell(v, v.s.navOrders, await listPage(ctx, v, q, rows, !!search, more)));
  });

  app.get<{ Querystring: OrderQuery }>('/orders.csv', viewer, async (request, reply) => {
    parseOrderQuery(request.query, 1); // a bad filter is refused before anything is sent
    parseSearch(request.query.q);
    await audit(ctx, request, { action: 'orders/export', outcome: 'ok', detail: queryString(request.query) || 'all orders' });
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="orders.csv"`)
      .send(Readable.from(csvLines(ctx, request.query)));
  });

  app.get<OrderParams>('/orders/:orderId', viewer, async (request, reply) => {
    const order = await findOrder(request, reply);
    if (!order) return reply;
    const v = pageView(request, reply);
    return reply.type('text/html; charset=utf-8').send(shell(v, `${v.s.orderTitle} ${order.order_id}`, await detailPage(ctx, v, order)));
  });

  app.post<OrderParams>('/orders/:orderId/query', support, async (request, reply) => {
    const order = await findOrder(request, reply);
    if (!order) return reply;
    const s = stringsOf(request);
    // A payout is asked about as /api/query asks about it: its own query, never the payment's.
    const after = isPayout(order) ? await reconcilePayout(ctx.s, order, `payout query from ${by(request)}`) : await reconcileOrder(ctx.s, order, `channel query from ${by(request)}`);
    for (const r of (await ctx.orders.refunds(order.order_id)).filter((r) => r.refund_status === 'r0001')) {
      const row = await ctx.s.reads.refund(r.refund_id);
      if (row) await reconcileRefund(ctx.s, row);
    }
    await audit(ctx, request, { action: 'orders/query', target: order.order_id, outcome: 'ok', detail: `${order.pay_status} → ${after.pay_status}` });
    return backTo(request, reply, order.order_id, 'ok', `${s.queried}${word(s, after.pay_status)}`);
  });

  app.post<OrderParams>('/orders/:orderId/close', support, async (request, reply) => {
    const order = await findOrder(request, reply);
    if (!order) return reply;
    const s = stringsOf(request);
    if (!OPEN_STATES.includes(order.pay_status)) {
      await audit(ctx, request, { action: 'orders/close', target: order.order_id, outcome: 'refused', detail: `order is ${order.pay_status}` });
      return backTo(request, reply, order.order_id, 'bad', s.closeNotOpen);
    }
    if (isPayout(order)) {
      // As /api/close closes a payout: a cancel at the channel, where the payee has not confirmed yet.
      const p = await cancelPayout(ctx.s, order, 'merchant');
      const detail = p.result === 'done' ? `→ ${p.order.pay_status}` : p.result === 'cancelling' ? 'cancelling' : p.reason;
      await audit(ctx, request, { action: 'orders/close', target: order.order_id, outcome: p.result, detail });
      if (p.result === 'done' || p.result === 'cancelling') return backTo(request, reply, order.order_id, 'ok', `${s.closed} ${word(s, p.order.pay_status)}`);
      return backTo(request, reply, order.order_id, 'bad', `${p.result === 'not_cancellable' ? s.payoutNotCancellable : s.closeUnknown}${p.reason}`);
    }
    const r = await closeAtChannel(ctx.s, order, 'merchant_closed', `closed in ${by(request)}`);
    await audit(ctx, request, { action: 'orders/close', target: order.order_id, outcome: r.result, detail: r.result === 'unknown' ? r.reason : `→ ${r.order.pay_status}` });
    if (r.result === 'unknown') return backTo(request, reply, order.order_id, 'bad', `${s.closeUnknown}${r.reason}`);
    if (r.result === 'paid') return backTo(request, reply, order.order_id, 'bad', `${s.closeNotOpen} → ${word(s, 'p0000')}`);
    return backTo(request, reply, order.order_id, 'ok', s.closed);
  });

  app.post<OrderParams>('/orders/:orderId/resend', support, async (request, reply) => {
    const order = await findOrder(request, reply);
    if (!order) return reply;
    const queued = await resendNotification(ctx.s, order.order_id, `resend from ${by(request)}`);
    await audit(ctx, request, { action: 'orders/resend', target: order.order_id, outcome: 'ok', detail: queued.webhookId });
    return backTo(request, reply, order.order_id, 'ok', stringsOf(request).resent);
  });

  /** The refund's amount, checked as the API checks it, and within what is left to refund. */
  // Only for what the page offers: whether the refund goes through is decided by insertRefund,
  // which reserves the amount in its transaction.
  const refundAmount = async (order: OrderRow, raw: string | undefined): Promise<bigint | undefined> => {
    const amt = (raw ?? '').trim();
    if (!YUAN_PATTERN.test(amt)) return undefined;
    const fen = yuanToFen(amt);
    const reserved = (await ctx.orders.refunds(order.order_id)).filter((r) => r.refund_status !== 'r0004').reduce((a, r) => a + r.amount_fen, 0n);
    return fen > 0n && fen <= order.amount_fen - reserved ? fen : undefined;
  };

  // The first step only shows what will happen; nothing is written.
  app.post<OrderParams & FormBody>('/orders/:orderId/refund/confirm', support, async (request, reply) => {
    const order = await findOrder(request, reply);
    if (!order) return reply;
    const s = stringsOf(request);
    const fen = order.pay_status === 'p0000' ? await refundAmount(order, request.body?.refundAmt) : undefined;
    if (fen === undefined) return backTo(request, reply, order.order_id, 'bad', s.refundBadAmount);
    const reason = (request.body?.refundReason ?? '').trim().slice(0, 256);
    // The refund's number is fixed here, so that the confirmation sent twice makes one refund.
    const mercRefundNo = `C${randomBytes(12).toString('hex')}`;
    const v = pageView(request, reply);
    return reply.type('text/html; charset=utf-8').send(shell(v, s.refundConfirmTitle, confirmPage(v, order, fenToYuan(fen), reason, mercRefundNo)));
  });

  app.post<OrderParams & FormBody>('/orders/:orderId/refund', support, async (request, reply) => {
    const order = await findOrder(request, reply);
    if (!order) return reply;
    const s = stringsOf(request);
    const body = request.body ?? {};
    const mercRefundNo = body.mercRefundNo ?? '';
    const fen = await refundAmount(order, body.refundAmt);
    const existing = /^C[0-9a-f]{24}$/.test(mercRefundNo) ? await ctx.s.reads.refundByMercNo(order.merc_no, mercRefundNo) : undefined;
    if (!/^C[0-9a-f]{24}$/.test(mercRefundNo) || (fen === undefined && !existing)) {
      await audit(ctx, request, { action: 'orders/refund', target: order.order_id, outcome: 'refused', detail: 'bad amount or refund number' });
      return backTo(request, reply, order.order_id, 'bad', s.refundBadAmount);
    }
    const merchant = (await ctx.s.reads.merchant(order.merc_no))!;
    const reason = (body.refundReason ?? '').trim().slice(0, 256);
    const refundAmt = existing ? fenToYuan(existing.amount_fen) : fenToYuan(fen!);
    try {
      const answer = await createRefund(ctx.s, merchant, order, { mercRefundNo, refundAmt, ...(reason ? { refundReason: reason } : {}) });
      await audit(ctx, request, {
        action: 'orders/refund',
        target: order.order_id,
        amountFen: answer.refund.amount_fen,
        outcome: answer.refund.refund_status,
        detail: `${answer.refund.refund_id} ${answer.respCode} ${answer.respDesc}`,
      });
      return backTo(request, reply, order.order_id, answer.refund.refund_status === 'r0004' ? 'bad' : 'ok', `${s.refundDone}${word(s, answer.refund.refund_status)} (${answer.refund.refund_id})`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      await audit(ctx, request, { action: 'orders/refund', target: order.order_id, amountFen: yuanToFen(refundAmt), outcome: 'refused', detail: err.respDesc });
      return backTo(request, reply, order.order_id, 'bad', err.respDesc);
    }
  });
}
