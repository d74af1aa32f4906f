import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fenToYuan } from '../domain/money.js';
import { resendNotification } from '../services/notifications.js';
import { handleAlert } from '../services/alerts.js';
import { callbackUrl } from '../services/create-order.js';
import { loadLiveCredentials } from '../services/live-credentials.js';
import { summarizeCredentials, type CertSummary } from '../channels/credential-summary.js';
import type { ConsoleContext } from './context.js';
import { audit, pageView, stringsOf } from './context.js';
import { guard, refusalPage } from './security.js';
import { esc, postButton, shell, table, when } from './layout.js';
import { roleAllows } from './operators.js';
import { statusBadge } from './orders.js';
import { BadQuery } from './order-filters.js';

// Refunds, notifications (failed ones, resend), channels and alerts (mark handled).

const PAGE = 50;
const DAY_MS = 86_400_000;
const CERT_WARNING_MS = 30 * DAY_MS;

function beforeId(raw: unknown): number {
  if (raw === undefined || raw === '') return Number.MAX_SAFE_INTEGER;
  if (typeof raw !== 'string' || !/^[1-9][0-9]{0,15}$/.test(raw)) throw new BadQuery('before', 'must be a row id');
  return Number(raw);
}

const pager = (path: string, rows: { id: number }[], extra = '') =>
  rows.length === PAGE ? `<p class="pager"><a id="next-page" href="${esc(path)}?before=${rows.at(-1)!.id}${esc(extra)}">→</a></p>` : '';

export function listRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const viewer = { preHandler: guard(ctx, 'viewer') };
  const support = { preHandler: guard(ctx, 'support') };

  app.get<{ Querystring: { before?: string } }>('/refunds', viewer, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const [atRaw, idRaw] = (request.query.before ?? '').split('.');
    const beforeAt = atRaw ? beforeId(atRaw) : Number.MAX_SAFE_INTEGER;
    const beforeRefund = idRaw && /^\d{22}$/.test(idRaw) ? idRaw : '9'.repeat(22);
    const rows = await ctx.reads.refunds(beforeAt, beforeRefund, PAGE);
    const body = rows.map((r) => [
      esc(String(r.refund_id)),
      `<a href="/console/orders/${esc(String(r.order_id))}">${esc(String(r.order_id))}</a>`,
      esc(String(r.merc_no)),
      esc(String(r.merc_refund_no)),
      fenToYuan(r.amount_fen as bigint),
      statusBadge(s, String(r.refund_status)),
      esc(String(r.reason ?? '')),
      esc([r.channel_code, r.channel_msg].filter(Boolean).join(' ')),
      esc(when(r.created_at as number)),
    ]);
    const last = rows.at(-1);
    const more = rows.length === PAGE && last ? `<p class="pager"><a id="next-page" href="/console/refunds?before=${last.created_at}.${esc(String(last.refund_id))}">→</a></p>` : '';
    const html = table([s.refundId, s.orderId, s.merchant, s.mercRefundNo, s.amount, s.status, s.reason, s.detail, s.createdAt], body, s.noRows, 'refunds') + more;
    return reply.type('text/html; charset=utf-8').send(shell(v, s.navRefunds, html));
  });

  app.get<{ Querystring: { before?: string; status?: string } }>('/notifications', viewer, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const status = request.query.status ?? 'failed';
    if (!['failed', 'pending', 'delivered', 'superseded'].includes(status)) throw new BadQuery('status', 'must be failed, pending, delivered or superseded');
    const rows = await ctx.reads.notifications(status, beforeId(request.query.before), PAGE);
    const canResend = roleAllows(v.operator!.role, 'support');
    const attempts = await Promise.all(rows.map((n) => ctx.reads.attempts(n.id)));
    const body = rows.map((n, i) => {
      const last = attempts[i]!.at(-1);
      return [
        esc(String(n.id)),
        `<a href="/console/orders/${esc(n.order_id)}">${esc(n.order_id)}</a>`,
        esc(n.merc_no),
        statusBadge(s, n.status),
        `${n.attempts}`,
        last ? `${last.http_status ?? '—'} <code>${esc(last.answer ?? last.error ?? '')}</code>` : '',
        `<span class="mono">${esc(n.url)}</span>`,
        esc(when(n.updated_at)),
        canResend && !n.refund_id ? postButton(v, `/console/notifications/${n.id}/resend`, s.resend, { cls: 'quiet' }) : '',
      ];
    });
    const tabs = ['failed', 'pending', 'delivered']
      .map((st) => (st === status ? `<strong>${esc(s[st as 'failed'])}</strong>` : `<a href="/console/notifications?status=${st}">${esc(s[st as 'failed'])}</a>`))
      .join(' · ');
    const html = `<p>${tabs}</p>` + table(['#', s.orderId, s.merchant, s.status, s.attempts, s.answer, s.notifyUrl, s.lastSeen, ''], body, s.noRows, 'notifications') + pager('/console/notifications', rows, `&status=${status}`);
    return reply.type('text/html; charset=utf-8').send(shell(v, status === 'failed' ? s.failedOnly : s.notificationsTitle, html));
  });

  app.post<{ Params: { id: string } }>('/notifications/:id/resend', support, async (request, reply) => {
    const s = stringsOf(request);
    const id = Number(request.params.id);
    const target = await findNotification(ctx, id);
    if (!target) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    const queued = await resendNotification(ctx.s, target.order_id, `resend from the console (${request.consoleOperator!.email})`);
    await audit(ctx, request, { action: 'notifications/resend', target: target.order_id, outcome: 'ok', detail: `notification ${id} → ${queued.webhookId}` });
    request.session.flash = { kind: 'ok', text: `${s.resent} ${target.order_id}` };
    return reply.redirect('/console/notifications', 303);
  });

  app.get('/channels', viewer, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const now = ctx.s.now();
    const base = ctx.s.config.PUBLIC_BASE_URL;
    const rows: string[][] = [];
    for (const m of await ctx.s.reads.merchants()) {
      if (m.mode === 'sandbox') {
        rows.push([esc(`${m.merc_no} ${m.name}`), esc(s.sandbox), esc(s.sandboxChannel), `<span class="mono">${esc(callbackUrl(base, 'sandbox'))}</span>`, '']);
        continue;
      }
      const creds = await ctx.credentials.channelCredentialsOf(m.merc_no);
      if (creds.length === 0) rows.push([esc(`${m.merc_no} ${m.name}`), esc(s.live), esc(s.noneConfigured), '', '']);
      for (const c of creds) {
        rows.push([
          esc(`${m.merc_no} ${m.name}`),
          esc(s.live),
          esc(c.payway),
          `<span class="mono">${esc(callbackUrl(base, c.payway, m))}</span>`,
          await certificates(ctx, s, m.merc_no, c.payway, now),
        ]);
      }
    }
    const html = table([s.merchant, s.mode, s.configuredPayways, s.callbackUrl, s.certificates], rows, s.noRows, 'channels');
    return reply.type('text/html; charset=utf-8').send(shell(v, s.channelsTitle, html));
  });

  app.get<{ Querystring: { all?: string; before?: string } }>('/alerts', viewer, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const all = request.query.all === '1';
    const rows = await ctx.reads.alerts(!all, beforeId(request.query.before), PAGE);
    const canHandle = roleAllows(v.operator!.role, 'support');
    const body = rows.map((a) => [
      esc(when(a.at)),
      esc(a.kind),
      esc(a.channel),
      a.order_id ? `<a href="/console/orders/${esc(a.order_id)}">${esc(a.order_id)}</a>` : esc(a.merc_no ?? ''),
      esc(a.detail),
      `${a.count}`,
      esc(when(a.last_at)),
      a.handled_at ? `${esc(s.handled)} · ${esc(a.handled_by ?? '')} · ${esc(when(a.handled_at))}` : canHandle ? postButton(v, `/console/alerts/${a.id}/handle`, s.markHandled, { cls: 'quiet' }) : '',
    ]);
    const toggle = all ? `<a href="/console/alerts">${esc(s.showOpen)}</a>` : `<a href="/console/alerts?all=1">${esc(s.showAll)}</a>`;
    const html = `<p>${toggle}</p>` + table([s.time, s.kind, s.channel, s.target, s.detail, s.count, s.lastSeen, ''], body, s.noRows, 'alerts') + pager('/console/alerts', rows, all ? '&all=1' : '');
    return reply.type('text/html; charset=utf-8').send(shell(v, s.alertsTitle, html));
  });

  app.post<{ Params: { id: string } }>('/alerts/:id/handle', support, async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const s = stringsOf(request);
    const id = Number(request.params.id);
    const alert = Number.isSafeInteger(id) ? await ctx.reads.alert(id) : undefined;
    if (!alert) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    const handled = await handleAlert(ctx.s, id, request.consoleOperator!.email);
    await audit(ctx, request, { action: 'alerts/handle', target: alert.order_id ?? `alert ${id}`, outcome: handled.result === 'handled' ? 'ok' : 'already handled', detail: `alert ${id} ${alert.kind}` });
    request.session.flash = { kind: 'ok', text: s.handled };
    return reply.redirect('/console/alerts', 303);
  });
}

async function findNotification(ctx: ConsoleContext, id: number) {
  return Number.isSafeInteger(id) && id > 0 ? ctx.reads.notification(id) : undefined;
}

async function certificates(ctx: ConsoleContext, s: ReturnType<typeof stringsOf>, mercNo: string, payway: 'alipay' | 'wxpay' | 'unionpay', now: number): Promise<string> {
  let summary;
  try {
    const c = await loadLiveCredentials(ctx.credentials, ctx.masterKey, mercNo, payway);
    if (!c) return '';
    summary = summarizeCredentials(payway, c, now) as unknown as Record<string, unknown>;
  } catch (err) {
    return `<span class="bad">${esc((err as Error).message)}</span>`;
  }
  const certs = Object.entries(summary).filter(([, val]) => val && typeof val === 'object' && 'validTo' in (val as object)) as [string, CertSummary][];
  if (certs.length === 0) return '—';
  return certs
    .map(([name, c]) => {
      const left = Date.parse(c.validTo) - now;
      const flag = left < 0 ? ` <span class="bad">${esc(s.certExpired)}</span>` : left < CERT_WARNING_MS ? ` <span class="warn">${esc(s.certExpiresSoon)}</span>` : '';
      return `${esc(name)}: ${esc(c.validTo.slice(0, 10))}${flag}`;
    })
    .join('<br>');
}
