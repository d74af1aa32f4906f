import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MerchantMode } from '../db/rows.js';
import { createMerchant, rotateMerchantKey, setMerchantStatus } from '../services/merchants.js';
import type { ConsoleContext } from './context.js';
import { audit, pageView, stringsOf } from './context.js';
import { guard, refusalPage } from './security.js';
import { csrfField, esc, postButton, shell, table, when, type PageView } from './layout.js';
import { ROLES, createOperator, normalEmail, roleAllows, setOperatorStatus } from './operators.js';
import { fenToYuan } from '../domain/money.js';
import { word } from './strings.js';
import { payoutsShown } from '../services/payout-settings.js';
import { payoutsSummary } from './merchant-payouts.js';

// Merchants (create, rotate key — shown once —, disable), operators and the audit log: admin's.
// A key is written into the page that answers the POST which made it, and nowhere else: no
// redirect to a page that could be reloaded, no list, no log.

const PAGE = 100;

function keyPage(v: PageView, mercNo: string, name: string, key: string): string {
  const { s } = v;
  return (
    `<section class="card" id="new-key"><p>${esc(s.newKeyOnce)}</p><dl class="fields"><dt>mercNo</dt><dd id="key-merc-no">${esc(mercNo)}</dd>` +
    `<dt>${esc(s.merchantName)}</dt><dd>${esc(name)}</dd><dt>key</dt><dd><div class="key mono" id="merchant-key">${esc(key)}</div></dd></dl>` +
    `<p><a href="/console/merchants">${esc(s.back)}</a></p></section>`
  );
}

export function adminRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const viewer = { preHandler: guard(ctx, 'viewer') };
  const admin = { preHandler: guard(ctx, 'admin') };
  const html = (reply: FastifyReply, v: PageView, title: string, body: string) => reply.type('text/html; charset=utf-8').send(shell(v, title, body));

  app.get('/merchants', viewer, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const isAdmin = roleAllows(v.operator!.role, 'admin');
    const merchants = await ctx.s.reads.merchants();
    const payouts = await Promise.all(merchants.map((m) => ctx.s.reads.payoutSettings(m.merc_no)));
    const rows = merchants.map((m, i) => [
      `<span class="mono">${esc(m.merc_no)}</span>`,
      esc(m.name),
      esc(word(s, m.mode)),
      esc(word(s, m.status)),
      esc(when(m.created_at)),
      isAdmin
        ? `<a href="/console/merchants/${esc(m.merc_no)}/payouts" class="payouts">${esc(payoutsSummary(s, payoutsShown(payouts[i])))}</a>`
        : esc(payoutsSummary(s, payoutsShown(payouts[i]))),
      isAdmin
        ? postButton(v, `/console/merchants/${m.merc_no}/rotate-key`, s.rotateKey, { cls: 'quiet' }) +
          ' ' +
          (m.status === 'active'
            ? postButton(v, `/console/merchants/${m.merc_no}/disable`, s.disable, { cls: 'danger' })
            : postButton(v, `/console/merchants/${m.merc_no}/enable`, s.enable, { cls: 'quiet' }))
        : '',
    ]);
    const form = isAdmin
      ? `<h2>${esc(s.createMerchant)}</h2><form method="post" action="/console/merchants" class="filters card" id="create-merchant">${csrfField(v)}` +
        `<label>${esc(s.merchantName)}<input name="name" id="merchant-name" required maxlength="128"></label>` +
        `<label>${esc(s.mode)}<select name="mode" id="merchant-mode"><option value="sandbox">${esc(s.sandbox)}</option><option value="live">${esc(s.live)}</option></select></label>` +
        `<button type="submit" id="create-merchant-button">${esc(s.createMerchant)}</button></form>`
      : '';
    return html(reply, v, s.navMerchants, table(['mercNo', s.merchantName, s.mode, s.status, s.createdAt, s.payoutsState, ''], rows, s.noRows, 'merchants') + form);
  });

  app.post<{ Body: Record<string, string | undefined> }>('/merchants', admin, async (request, reply) => {
    const s = stringsOf(request);
    const name = (request.body?.name ?? '').trim();
    const mode = request.body?.mode as MerchantMode;
    if (!name || name.length > 128) return refusalPage(request, reply, 400, s.badRequest, 'name: must be 1 to 128 characters');
    if (mode !== 'sandbox' && mode !== 'live') return refusalPage(request, reply, 400, s.badRequest, 'mode: must be sandbox or live');
    const m = await createMerchant(ctx.s, name, mode, ctx.s.now());
    await audit(ctx, request, { action: 'merchants/create', target: m.mercNo, outcome: 'ok', detail: `${mode} ${name}` });
    const v = pageView(request, reply);
    return html(reply, v, s.merchantCreated, keyPage(v, m.mercNo, name, m.key));
  });

  app.post<{ Params: { mercNo: string } }>('/merchants/:mercNo/rotate-key', admin, async (request, reply) => {
    const s = stringsOf(request);
    const m = await ctx.s.reads.merchant(request.params.mercNo);
    if (!m) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    const key = await rotateMerchantKey(ctx.s, m.merc_no, ctx.s.now());
    if (!key) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    await audit(ctx, request, { action: 'merchants/rotate-key', target: m.merc_no, outcome: 'ok' });
    const v = pageView(request, reply);
    return html(reply, v, s.newKeyTitle, keyPage(v, m.merc_no, m.name, key));
  });

  for (const [verb, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    app.post<{ Params: { mercNo: string } }>(`/merchants/:mercNo/${verb}`, admin, async (request, reply) => {
      const s = stringsOf(request);
      const m = await ctx.s.reads.merchant(request.params.mercNo);
      if (!m) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
      const changed = await setMerchantStatus(ctx.s.writer, m.merc_no, status, ctx.s.now());
      await audit(ctx, request, { action: `merchants/${verb}`, target: m.merc_no, outcome: changed ? 'ok' : 'unchanged' });
      request.session.flash = { kind: 'ok', text: `${s.merchantStatusSet}${m.merc_no} ${word(s, status)}` };
      return reply.redirect('/console/merchants', 303);
    });
  }

  app.get('/operators', admin, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const rows = (await ctx.reads.operators()).map((o) => [
      esc(o.email),
      esc(word(s, o.role)),
      esc(word(s, o.status)),
      o.totp_sealed ? esc(s.on) : esc(s.off),
      o.last_login_at ? esc(when(o.last_login_at)) : esc(s.never),
      o.status === 'active' && o.id !== request.consoleOperator!.id ? postButton(v, `/console/operators/${encodeURIComponent(o.email)}/disable`, s.disable, { cls: 'danger' }) : '',
    ]);
    const form =
      `<h2>${esc(s.createOperator)}</h2><form method="post" action="/console/operators" class="filters card" id="create-operator">${csrfField(v)}` +
      `<label>${esc(s.email)}<input name="email" type="email" required></label>` +
      `<label>${esc(s.role)}<select name="role">${ROLES.map((r) => `<option value="${r}">${esc(word(s, r))}</option>`).join('')}</select></label>` +
      `<label>${esc(s.password)}<input name="password" type="password" minlength="12" required autocomplete="new-password"></label>` +
      `<button type="submit">${esc(s.createOperator)}</button></form><p class="empty">TOTP: <code>npx dtpay operator totp EMAIL</code></p>`;
    return html(reply, v, s.operatorsTitle, table([s.email, s.role, s.status, s.totp, s.lastLogin, ''], rows, s.noRows, 'operators') + form);
  });

  app.post<{ Body: Record<string, string | undefined> }>('/operators', admin, async (request, reply) => {
    const s = stringsOf(request);
    const made = await createOperator(ctx.s.writer, { email: request.body?.email ?? '', role: request.body?.role ?? '', password: request.body?.password ?? '', at: ctx.s.now() });
    await audit(ctx, request, { action: 'operators/create', target: made.email, outcome: 'ok', detail: made.role });
    request.session.flash = { kind: 'ok', text: `${s.operatorCreated} ${made.email}` };
    return reply.redirect('/console/operators', 303);
  });

  app.post<{ Params: { email: string } }>('/operators/:email/disable', admin, async (request: FastifyRequest<{ Params: { email: string } }>, reply) => {
    const s = stringsOf(request);
    const email = normalEmail(request.params.email);
    if (!(await ctx.reads.operatorByEmail(email))) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    const changed = await setOperatorStatus(ctx.s.writer, { email, status: 'disabled', at: ctx.s.now() });
    await audit(ctx, request, { action: 'operators/disable', target: email, outcome: changed ? 'ok' : 'unchanged' });
    request.session.flash = { kind: 'ok', text: `${s.operatorDisabled} ${email}` };
    return reply.redirect('/console/operators', 303);
  });

  app.get<{ Querystring: { before?: string } }>('/audit', admin, async (request, reply) => {
    const v = pageView(request, reply);
    const { s } = v;
    const raw = request.query.before;
    const before = raw && /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : Number.MAX_SAFE_INTEGER;
    const rows = await ctx.reads.audit(before, PAGE);
    const body = rows.map((a) => [
      esc(when(a.at)),
      esc(a.operator),
      esc(a.action),
      a.target && /^\d{22}$/.test(a.target) ? `<a href="/console/orders/${esc(a.target)}">${esc(a.target)}</a>` : esc(a.target ?? ''),
      a.amount_fen !== null ? fenToYuan(BigInt(a.amount_fen)) : '',
      esc(a.address),
      esc(a.outcome),
      esc(a.detail ?? ''),
    ]);
    const more = rows.length === PAGE ? `<p class="pager"><a id="next-page" href="/console/audit?before=${rows.at(-1)!.id}">→</a></p>` : '';
    return html(reply, v, s.auditTitle, table([s.time, s.operator, s.action, s.target, s.amount, s.address, s.outcome, s.detail], body, s.noRows, 'audit') + more);
  });
}
