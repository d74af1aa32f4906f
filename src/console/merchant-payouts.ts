import type { FastifyInstance } from 'fastify';
import type { MerchantRow } from '../db/rows.js';
import { PayoutSettingsError, type PayoutChange, checkPayoutChange, payoutLimit, payoutWarnings, payoutsShown, setMerchantPayouts } from '../services/payout-settings.js';
import type { ConsoleContext } from './context.js';
import { audit, pageView, stringsOf } from './context.js';
import { guard, refusalPage } from './security.js';
import { csrfField, esc, shell, type PageView } from './layout.js';
import type { Strings } from './strings.js';

// A merchant's payout settings (CONTRACT §4), admin's: on with a daily limit and an optional
// per-payout limit, or off, through the code `dtpay merchant payouts` runs, with its warnings
// about configured channels that cannot pay out.

/** The console's names for the form's fields, in the checks' messages. */
const FIELD = { enable: 'payouts', dailyLimit: 'dailyLimit', perPayoutLimit: 'perPayoutLimit' } as const;
const fieldName = (f: keyof typeof FIELD) => FIELD[f];

/** "on (daily limit 5000.00, per payout 200.00)" in the page's language. */
export function payoutsSummary(s: Strings, shown: ReturnType<typeof payoutsShown>): string {
  const limits = [shown.dailyLimit && `${s.dailyLimit} ${shown.dailyLimit}`, shown.perPayoutLimit && `${s.perPayoutLimit} ${shown.perPayoutLimit}`].filter(Boolean).join(' · ');
  return `${shown.enabled ? s.on : s.off}${shown.enabled && limits ? ` (${limits})` : ''}`;
}

async function warningsOf(ctx: ConsoleContext, m: MerchantRow): Promise<string[]> {
  if (m.mode !== 'live') return [];
  try {
    return await payoutWarnings(ctx.credentials, () => ctx.masterKey, m.merc_no);
  } catch (err) {
    return [(err as Error).message];
  }
}

async function settingsPage(ctx: ConsoleContext, v: PageView, m: MerchantRow): Promise<string> {
  const { s } = v;
  const shown = payoutsShown(await ctx.s.reads.payoutSettings(m.merc_no));
  const warnings = await warningsOf(ctx, m);
  const base = `/console/merchants/${encodeURIComponent(m.merc_no)}/payouts`;
  return (
    `<section class="card"><dl class="fields"><dt>mercNo</dt><dd class="mono">${esc(m.merc_no)}</dd><dt>${esc(s.merchantName)}</dt><dd>${esc(m.name)}</dd>` +
    `<dt>${esc(s.mode)}</dt><dd>${esc(m.mode === 'live' ? s.live : s.sandbox)}</dd>` +
    `<dt>${esc(s.payoutsState)}</dt><dd id="payouts-state">${esc(payoutsSummary(s, shown))}</dd></dl></section>` +
    (warnings.length
      ? `<section class="card" id="payout-warnings"><p class="warn">${esc(s.payoutWarnings)}</p><ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></section>`
      : '') +
    `<form method="post" action="${base}" class="filters card" id="payouts-on">${csrfField(v)}<input type="hidden" name="payouts" value="on">` +
    `<label>${esc(s.dailyLimit)}<input name="dailyLimit" id="daily-limit" required inputmode="decimal" pattern="[0-9]+(\\.[0-9]{1,2})?" value="${esc(shown.dailyLimit ?? '')}"></label>` +
    `<label>${esc(s.perPayoutLimit)}<input name="perPayoutLimit" id="per-payout-limit" inputmode="decimal" pattern="[0-9]+(\\.[0-9]{1,2})?" value="${esc(shown.perPayoutLimit ?? '')}"></label>` +
    `<button type="submit" id="payouts-on-button">${esc(s.payoutsOn)}</button></form>` +
    (shown.enabled
      ? `<form method="post" action="${base}" class="actions card" id="payouts-off">${csrfField(v)}<input type="hidden" name="payouts" value="off">` +
        `<p>${esc(s.payoutsOffNote)}</p><button type="submit" class="danger" id="payouts-off-button">${esc(s.payoutsOff)}</button></form>`
      : '') +
    `<p><a href="/console/merchants">${esc(s.back)}</a></p>`
  );
}

type Params = { Params: { mercNo: string } };

export function merchantPayoutRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const admin = { preHandler: guard(ctx, 'admin') };

  app.get<Params>('/merchants/:mercNo/payouts', admin, async (request, reply) => {
    const m = await ctx.s.reads.merchant(request.params.mercNo);
    const s = stringsOf(request);
    if (!m) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    const v = pageView(request, reply);
    return reply.type('text/html; charset=utf-8').send(shell(v, `${s.payoutSettingsTitle} ${m.merc_no}`, await settingsPage(ctx, v, m)));
  });

  app.post<Params & { Body: Record<string, string | undefined> }>('/merchants/:mercNo/payouts', admin, async (request, reply) => {
    const s = stringsOf(request);
    const m = await ctx.s.reads.merchant(request.params.mercNo);
    if (!m) return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
    const body = request.body ?? {};
    const present = (x: string | undefined) => (typeof x === 'string' && x.trim() !== '' ? x.trim() : undefined);
    let change: PayoutChange;
    try {
      if (body.payouts !== 'on' && body.payouts !== 'off') throw new PayoutSettingsError('enable', 'payouts: must be on or off');
      const enable = body.payouts === 'on';
      change = {
        mercNo: m.merc_no,
        enable,
        dailyLimitFen: payoutLimit(present(body.dailyLimit), 'dailyLimit', fieldName),
        perPayoutLimitFen: payoutLimit(present(body.perPayoutLimit), 'perPayoutLimit', fieldName),
        at: ctx.s.now(),
      };
      // An off form carries no limits: the stored ones are kept.
      if (!enable) change.dailyLimitFen = change.perPayoutLimitFen = undefined;
      checkPayoutChange(change, fieldName);
    } catch (err) {
      if (!(err instanceof PayoutSettingsError)) throw err;
      await audit(ctx, request, { action: 'merchants/payouts', target: m.merc_no, outcome: 'refused', detail: err.message });
      return refusalPage(request, reply, 400, s.badRequest, err.message);
    }
    const shown = payoutsShown(await setMerchantPayouts(ctx.s.reads, ctx.s.writer, change));
    const warnings = change.enable ? await warningsOf(ctx, m) : [];
    const limits = [shown.dailyLimit && `daily limit ${shown.dailyLimit}`, shown.perPayoutLimit && `per payout ${shown.perPayoutLimit}`].filter(Boolean).join(', ');
    await audit(ctx, request, {
      action: 'merchants/payouts',
      target: m.merc_no,
      outcome: shown.enabled ? 'on' : 'off',
      ...(shown.enabled && change.dailyLimitFen !== undefined ? { amountFen: change.dailyLimitFen } : {}),
      detail: `payouts ${shown.enabled ? 'on' : 'off'}${limits ? ` (${limits})` : ''}${warnings.length ? `; warnings: ${warnings.join('; ')}` : ''}`,
    });
    request.session.flash = {
      kind: warnings.length ? 'bad' : 'ok',
      text: `${s.payoutsSet}${m.merc_no} ${payoutsSummary(s, shown)}${warnings.length ? ` · ${s.payoutWarnings} ${warnings.join('; ')}` : ''}`,
    };
    return reply.redirect(`/console/merchants/${encodeURIComponent(m.merc_no)}/payouts`, 303);
  });
}
