import type { FastifyInstance } from 'fastify';
import { fenToYuan } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import type { ConsoleContext } from './context.js';
import { pageView } from './context.js';
import { guard } from './security.js';
import { esc, shell, table } from './layout.js';
import { barChart } from './chart.js';
import type { PaywayDay } from './console-reads.js';
import type { Strings } from './strings.js';

// The dashboard: today and the last 7 days (Beijing days), by payway — orders, paid orders, the
// paid amount (p0000) and the success rate (paid ÷ orders created in the period) — as a chart and
// as a table of the same figures; the notifications waiting and the alerts open.

const DAY_MS = 86_400_000;

export function rate(paid: number, orders: number): string {
  return orders === 0 ? '—' : `${((paid / orders) * 100).toFixed(1)}%`;
}

function period(s: Strings, title: string, rows: PaywayDay[], id: string): string {
  const total = rows.reduce((a, r) => ({ orders: a.orders + r.orders, paid: a.paid + r.paid, fen: a.fen + r.paid_fen }), { orders: 0, paid: 0, fen: 0n });
  const chart = barChart(`${title}: ${s.chartTitle}`, rows.map((r) => ({ label: r.payway, value: Number(r.paid_fen), text: `¥${fenToYuan(r.paid_fen)}` })), { id: `chart-${id}` });
  const body = rows.map((r) => [esc(r.payway), `${r.orders}`, `${r.paid}`, fenToYuan(r.paid_fen), rate(r.paid, r.orders)]);
  body.push([`<strong>${esc(s.total)}</strong>`, `${total.orders}`, `${total.paid}`, fenToYuan(total.fen), rate(total.paid, total.orders)]);
  return (
    `<section class="card" id="period-${id}"><h2>${esc(title)}</h2>` +
    `<p class="big" id="amount-${id}">¥${fenToYuan(total.fen)}</p>` +
    `<p>${esc(s.orderCount)} ${total.orders} · ${esc(s.paidCount)} ${total.paid} · ${esc(s.successRate)} ${rate(total.paid, total.orders)}</p>` +
    (rows.length ? chart : '') +
    table([s.payway, s.orderCount, s.paidCount, s.paidAmount, s.successRate], body, s.noOrders, `table-${id}`) +
    `</section>`
  );
}

export function dashboardRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  app.get('/', { preHandler: guard(ctx, 'viewer') }, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const now = ctx.s.now();
    const day = (ms: number) => formatBeijing(ms).slice(0, 8);
    const tomorrow = day(now + DAY_MS);
    const today = await ctx.reads.paywayDays(day(now), tomorrow);
    const week = await ctx.reads.paywayDays(day(now - 6 * DAY_MS), tomorrow);
    const pending = await ctx.reads.pendingNotifications();
    const openAlerts = await ctx.reads.openAlertCount();
    const counts =
      `<div class="cards"><section class="card"><h2>${esc(s.pendingNotifications)}</h2><p class="big" id="pending-notifications">${pending}</p>` +
      `<a href="/console/notifications">${esc(s.navNotifications)}</a></section>` +
      `<section class="card"><h2>${esc(s.openAlerts)}</h2><p class="big" id="open-alerts">${openAlerts}</p>` +
      `<a href="/console/alerts">${esc(s.navAlerts)}</a></section></div>`;
    const body = `<div class="cards">${period(s, s.today, today, 'today')}${period(s, s.last7Days, week, 'week')}</div>${counts}`;
    return reply.type('text/html; charset=utf-8').send(shell(v, s.navDashboard, body));
  });
}
