import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PAYWAYS, type Payway } from '../channels/types.js';
import type { RunRow } from '../db/reconcile-reads.js';
import { formatBeijing } from '../domain/time.js';
import { beijingDay } from '../reconcile/bill.js';
import { reconcileDay } from '../services/reconciliation.js';
import { itemReport, runReport } from '../services/reconciliation-report.js';
import type { ConsoleContext } from './context.js';
import { audit, pageView, stringsOf } from './context.js';
import { guard, refusalPage } from './security.js';
import { csrfField, esc, shell, table, when, type PageView } from './layout.js';
import { roleAllows } from './operators.js';
import { BadQuery } from './order-filters.js';
import { orderLink, statusBadge } from './orders.js';
import { word, type Strings } from './strings.js';

// Reconciliation (对账, CONTRACT §5): the days with stored runs, a day's runs per merchant and
// payway, a run's items — all from what the runs stored, so a page view never asks a channel for
// a bill. support and admin may run a day again (reconcileDay, as `dtpay reconcile` does), after
// a confirmation step.

const DAYS_PAGE = 30;

/** A Beijing day as YYYY-MM-DD that exists; given `now`, not after today in Beijing. */
export function checkBillDate(field: string, raw: unknown, now?: number): string {
  const d = typeof raw === 'string' ? raw.trim() : '';
  try {
    beijingDay(d);
  } catch {
    throw new BadQuery(field, 'must be a date that exists, as yyyy-MM-dd');
  }
  if (now === undefined) return d;
  const today = formatBeijing(now).replace(/^(\d{4})(\d{2})(\d{2}).*$/, '$1-$2-$3');
  if (d > today) throw new BadQuery(field, `must not be after today (${today}, Beijing)`);
  return d;
}

interface Scope {
  date: string;
  mercNo?: string;
  payway?: Payway;
}

async function scopeOf(ctx: ConsoleContext, body: Record<string, string | undefined>): Promise<Scope> {
  const date = checkBillDate('date', body.date, ctx.s.now());
  const merc = (body.merc ?? '').trim();
  const payway = (body.payway ?? '').trim();
  if (merc !== '' && !(await ctx.s.reads.merchant(merc))) throw new BadQuery('merc', 'must be a merchant that exists');
  if (payway !== '' && !(PAYWAYS as readonly string[]).includes(payway)) throw new BadQuery('payway', `must be one of ${PAYWAYS.join(', ')}`);
  return { date, ...(merc ? { mercNo: merc } : {}), ...(payway ? { payway: payway as Payway } : {}) };
}

const scopeText = (sc: Scope) => [sc.date, sc.mercNo, sc.payway].filter(Boolean).join(' ');
const num = (n: number) => `<span class="num">${n}</span>`;
const money = (y: string | undefined) => `<span class="num">${esc(y ?? '—')}</span>`;

function runStatus(s: Strings, r: Pick<RunRow, 'status' | 'error'>): string {
  const badge = `<span class="status run-${esc(r.status)}">${esc(word(s, r.status))}</span>`;
  return r.error ? `${badge} <span class="bad">${esc(r.error)}</span>` : badge;
}

async function rerunForm(ctx: ConsoleContext, v: PageView, date: string): Promise<string> {
  const { s } = v;
  const merchants = (await ctx.s.reads.merchants()).map((m) => `<option value="${esc(m.merc_no)}">${esc(`${m.merc_no} ${m.name}`)}</option>`).join('');
  return (
    `<form method="post" action="/console/reconciliation/rerun/confirm" class="filters card" id="rerun-form">${csrfField(v)}` +
    `<label>${esc(s.billDate)}<input type="date" name="date" id="rerun-date" required value="${esc(date)}"></label>` +
    `<label>${esc(s.merchant)}<select name="merc" id="rerun-merc"><option value="">${esc(s.any)}</option>${merchants}</select></label>` +
    `<label>${esc(s.payway)}<select name="payway" id="rerun-payway"><option value="">${esc(s.any)}</option>${PAYWAYS.map((p) => `<option value="${p}">${p}</option>`).join('')}</select></label>` +
    `<button type="submit" id="rerun-button">${esc(s.rerun)}</button></form>`
  );
}

export function reconciliationRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const viewer = { preHandler: guard(ctx, 'viewer') };
  const support = { preHandler: guard(ctx, 'support') };
  const html = (reply: FastifyReply, v: PageView, title: string, body: string) => reply.type('text/html; charset=utf-8').send(shell(v, title, body));
  const canRerun = (v: PageView) => roleAllows(v.operator!.role, 'support');

  app.get<{ Querystring: { before?: string } }>('/reconciliation', viewer, async (request, reply) => {
    const raw = request.query.before;
    const before = raw === undefined || raw === '' ? '9999-12-31' : checkBillDate('before', raw);
    const days = await ctx.reads.reconciliationDays(before, DAYS_PAGE);
    const v = pageView(request, reply);
    const { s } = v;
    const rows = days.map((d) => [
      `<a href="/console/reconciliation/${esc(d.bill_date)}">${esc(d.bill_date)}</a>`,
      num(d.runs),
      d.not_ok ? `<span class="bad">${d.not_ok}</span>` : '0',
      num(d.items),
      esc(when(d.finished_at)),
    ]);
    const more = days.length === DAYS_PAGE ? `<p class="pager"><a id="next-page" href="/console/reconciliation?before=${esc(days.at(-1)!.bill_date)}">${esc(s.nextPage)}</a></p>` : '';
    const yesterday = formatBeijing(ctx.s.now() - 86_400_000).replace(/^(\d{4})(\d{2})(\d{2}).*$/, '$1-$2-$3');
    const body =
      table([s.billDate, s.runs, `${s.failed} / ${s.not_ready}`, s.items, s.finishedAt], rows, s.noRuns, 'days') +
      more +
      (canRerun(v) ? `<h2>${esc(s.rerun)}</h2>${await rerunForm(ctx, v, yesterday)}` : '');
    return html(reply, v, s.reconciliationTitle, body);
  });

  app.get<{ Params: { date: string } }>('/reconciliation/:date', viewer, async (request, reply) => {
    const date = checkBillDate('date', request.params.date);
    const v = pageView(request, reply);
    const { s } = v;
    const runs = await ctx.s.reads.runsOfDay(date);
    const rows: string[][] = [];
    for (const r of runs) {
      const rep = await runReport(ctx.s.reads, r);
      const m = await ctx.s.reads.merchant(r.merc_no);
      rows.push([
        `<a href="/console/reconciliation/runs/${r.id}">${esc(r.merc_no)}</a> ${esc(m?.name ?? '')}`,
        esc(r.payway),
        runStatus(s, r),
        num(r.matched),
        num(r.healed),
        num(r.missing_at_channel),
        num(r.amount_mismatch),
        num(r.unknown_trade),
        money(rep.totals?.tradeAmt),
        money(rep.totals?.refundAmt),
        money(rep.totals?.feeAmt),
        money(rep.totals?.netAmt),
        esc(when(r.finished_at)),
      ]);
    }
    const head = [s.merchant, s.payway, s.status, s.matched, s.healed, s.missingAtChannel, s.amountMismatch, s.unknownTrade, s.tradeAmt, s.refundAmt, s.feeAmt, s.netAmt, s.finishedAt];
    const body =
      table(head, rows, s.noRuns, 'runs') +
      (canRerun(v) ? `<h2>${esc(s.rerun)}</h2>${await rerunForm(ctx, v, date)}` : '') +
      `<p><a href="/console/reconciliation">${esc(s.back)}</a></p>`;
    return html(reply, v, `${s.runsOfDay} ${date}`, body);
  });

  app.get<{ Params: { id: string } }>('/reconciliation/runs/:id', viewer, async (request, reply) => {
    const s = stringsOf(request);
    const id = /^[1-9][0-9]{0,15}$/.test(request.params.id) ? Number(request.params.id) : 0;
    const run = id ? await ctx.reads.reconciliationRun(id) : undefined;
    if (!run) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    const v = pageView(request, reply);
    const rep = await runReport(ctx.s.reads, run);
    const m = await ctx.s.reads.merchant(run.merc_no);
    const fields: [string, string][] = [
      [s.billDate, `<a href="/console/reconciliation/${esc(run.bill_date)}">${esc(run.bill_date)}</a>`],
      [s.merchant, esc(`${run.merc_no} ${m?.name ?? ''}`)],
      [s.payway, esc(run.payway)],
      [s.status, runStatus(s, run)],
      [s.matched, num(run.matched)],
      [s.tradeAmt, money(rep.totals?.tradeAmt)],
      [s.refundAmt, money(rep.totals?.refundAmt)],
      [s.feeAmt, money(rep.totals?.feeAmt)],
      [s.netAmt, money(rep.totals?.netAmt)],
      [s.finishedAt, esc(when(run.finished_at))],
    ];
    const dl = `<dl class="fields" id="run-fields">${fields.map(([k, val]) => `<dt>${esc(k)}</dt><dd>${val}</dd>`).join('')}</dl>`;
    const items = (await ctx.s.reads.itemsOfRun(run.id)).map((i) => {
      const it = itemReport(i);
      return [
        statusBadge(s, i.kind),
        esc(word(s, i.line)),
        it.orderId ? orderLink(it.orderId) : '',
        `<span class="mono">${esc(it.mercOrderNo ?? '')}</span>`,
        esc(it.refundId ?? ''),
        `<span class="mono">${esc(it.channelTradeNo ?? '')}</span>`,
        money(it.localAmt),
        money(it.channelAmt),
      ];
    });
    const body =
      `<section class="card">${dl}</section><h2>${esc(s.items)}</h2>` +
      table([s.kind, '', s.orderId, s.mercOrderNo, s.refundId, s.channelTradeNo, s.localAmt, s.channelAmt], items, s.noRows, 'items');
    return html(reply, v, `${s.runTitle} ${run.bill_date} ${run.merc_no} ${run.payway}`, body);
  });

  // The first step only shows what will be run; nothing is written, no channel is asked.
  app.post<{ Body: Record<string, string | undefined> }>('/reconciliation/rerun/confirm', support, async (request, reply) => {
    const sc = await scopeOf(ctx, request.body ?? {});
    const v = pageView(request, reply);
    const { s } = v;
    const body =
      `<section class="card" id="rerun-confirm"><p>${esc(s.rerunText)}</p>` +
      `<dl class="fields"><dt>${esc(s.billDate)}</dt><dd id="confirm-date">${esc(sc.date)}</dd><dt>${esc(s.merchant)}</dt><dd>${esc(sc.mercNo ?? s.any)}</dd>` +
      `<dt>${esc(s.payway)}</dt><dd>${esc(sc.payway ?? s.any)}</dd></dl>` +
      `<form method="post" action="/console/reconciliation/rerun" class="actions">${csrfField(v)}` +
      `<input type="hidden" name="date" value="${esc(sc.date)}"><input type="hidden" name="merc" value="${esc(sc.mercNo ?? '')}">` +
      `<input type="hidden" name="payway" value="${esc(sc.payway ?? '')}">` +
      `<button type="submit" class="danger" id="confirm-rerun">${esc(s.rerunConfirm)}</button> <a href="/console/reconciliation/${esc(sc.date)}">${esc(s.cancel)}</a></form></section>`;
    return html(reply, v, s.rerunTitle, body);
  });

  app.post<{ Body: Record<string, string | undefined> }>('/reconciliation/rerun', support, async (request: FastifyRequest<{ Body: Record<string, string | undefined> }>, reply) => {
    const s = stringsOf(request);
    let sc: Scope;
    try {
      sc = await scopeOf(ctx, request.body ?? {});
    } catch (err) {
      if (err instanceof BadQuery) await audit(ctx, request, { action: 'reconciliation/rerun', outcome: 'refused', detail: err.message });
      throw err;
    }
    const results = await reconcileDay(ctx.s, sc);
    const stored = results.filter((r) => r.stored);
    const summary = stored.map((r) => `${r.mercNo} ${r.payway} ${r.status}${r.error ? ` (${r.error})` : ''}`).join('; ');
    await audit(ctx, request, {
      action: 'reconciliation/rerun',
      target: scopeText(sc),
      outcome: stored.length === 0 ? 'nothing' : stored.every((r) => r.status === 'ok') ? 'ok' : 'not ok',
      detail: summary || 'no lines that day on either side',
    });
    request.session.flash = {
      kind: stored.every((r) => r.status === 'ok') ? 'ok' : 'bad',
      text: stored.length === 0 ? s.rerunNothing : `${s.rerunDone}${stored.map((r) => `${r.mercNo} ${r.payway} ${word(s, r.status)}`).join('; ')}`,
    };
    return reply.redirect(`/console/reconciliation/${sc.date}`, 303);
  });
}
