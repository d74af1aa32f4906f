import type { FastifyInstance } from 'fastify';
import type { OrderRow } from '../db/rows.js';
import { failureOf } from '../api/query-route.js';
import type { ConsoleContext } from './context.js';
import { pageView } from './context.js';
import { guard } from './security.js';
import { esc, shell, table, when } from './layout.js';
import { filterForm, listPager, orderHeadCells, statusBadge } from './orders.js';
import { BadQuery, parseOrderQuery, parseSearch, type OrderQuery } from './order-filters.js';
import type { ConsoleOrderRow } from './console-reads.js';
import type { Strings } from './strings.js';

// Payouts (代付, CONTRACT §4): the orders of trade type 02 and 03, with the orders page's filters
// and pages. The payee is shown only as stored for the merchant's answers: masked (domain/payee.ts);
// the clear value stays sealed and is never opened for a page.

const PAGE = 50;
export const PAYOUT_TRADE_TYPES = ['02', '03'];

export interface MaskedPayee {
  payeeAccountType?: string;
  payeeAccount?: string;
  payeeName?: string;
}

/** The payee as the request was stored: the account and name already masked at creation. */
export function maskedPayee(order: Pick<OrderRow, 'request_json'>): MaskedPayee {
  const r = JSON.parse(order.request_json) as Record<string, unknown>;
  const out: MaskedPayee = {};
  for (const k of ['payeeAccountType', 'payeeAccount', 'payeeName'] as const) if (typeof r[k] === 'string') out[k] = r[k] as string;
  return out;
}

/** The payout's fields on its order page: the masked payee, and for p0004 the failCode/failReason the API answers. */
export function payoutFields(s: Strings, order: OrderRow): [string, string][] {
  const p = maskedPayee(order);
  const fields: [string, string][] = [
    [s.payeeAccountType, p.payeeAccountType ?? ''],
    [s.payeeAccount, p.payeeAccount ?? ''],
    [s.payeeName, p.payeeName ?? ''],
  ];
  if (order.pay_status === 'p0004') {
    const f = failureOf(order);
    fields.push([s.failCode, f.failCode], [s.failReason, f.failReason]);
  }
  return fields;
}

/** Two keyset lists in order_id order merged into one, newest first. */
function merged(lists: ConsoleOrderRow[][], limit: number): ConsoleOrderRow[] {
  return lists
    .flat()
    .sort((a, b) => (a.order_id < b.order_id ? 1 : a.order_id > b.order_id ? -1 : 0))
    .slice(0, limit);
}

export function payoutRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const viewer = { preHandler: guard(ctx, 'viewer') };

  app.get<{ Querystring: OrderQuery }>('/payouts', viewer, async (request, reply) => {
    const q = request.query;
    const tradeType = typeof q.tradeType === 'string' ? q.tradeType.trim() : '';
    if (tradeType !== '' && !PAYOUT_TRADE_TYPES.includes(tradeType)) throw new BadQuery('tradeType', 'must be 02 or 03');
    const search = parseSearch(q.q);
    let rows: ConsoleOrderRow[];
    let more = false;
    if (search) rows = (await ctx.reads.search(search)).filter((o) => PAYOUT_TRADE_TYPES.includes(o.trade_type));
    else {
      const f = parseOrderQuery(q, PAGE + 1);
      // One keyset walk per trade type: each stops at the page size, their merge is the page.
      rows = merged(
        await Promise.all((tradeType ? [tradeType] : PAYOUT_TRADE_TYPES).map((t) => ctx.reads.orders({ ...f, tradeType: t }))),
        PAGE + 1,
      );
      more = rows.length > PAGE;
      rows = rows.slice(0, PAGE);
    }
    const v = pageView(request, reply);
    const { s } = v;
    const full = await Promise.all(rows.map((o) => ctx.s.reads.order(o.order_id)));
    const body = rows.map((o, i) => {
      const p = full[i] ? maskedPayee(full[i]) : {};
      return [
        ...orderHeadCells(o),
        `${esc(p.payeeAccountType ?? '')} <span class="mono payee">${esc(p.payeeAccount ?? '')}</span>${p.payeeName ? ` ${esc(p.payeeName)}` : ''}`,
        statusBadge(s, o.pay_status),
        esc(when(o.created_at)),
      ];
    });
    const head = [s.orderId, s.merchant, s.mercOrderNo, s.payway, s.tradeType, s.amount, s.payee, s.status, s.createdAt];
    const html =
      (await filterForm(ctx, v, q, { path: '/console/payouts', tradeTypes: PAYOUT_TRADE_TYPES })) +
      table(head, body, s.noPayouts, 'payouts') +
      listPager(v, '/console/payouts', q, rows, !!search, more);
    return reply.type('text/html; charset=utf-8').send(shell(v, s.payoutsTitle, html));
  });
}
