import { escapeHtml } from '../domain/escape-html.js';
import type { OperatorRole } from './console-ops.js';
import { roleAllows } from './operators.js';
import type { Lang, Strings, StringKey } from './strings.js';

// The page shell every console page shares: the navigation the role may use, the language
// switch (a link on every page, the login page included), the logout form. No inline script or
// style: the stylesheet and the small script are served from /console/assets (CSP 'self').

export const esc = escapeHtml;

export interface PageView {
  s: Strings;
  lang: Lang;
  /** the page's own path and query, for the language switch to come back to */
  path: string;
  csrf: string;
  operator?: { email: string; role: OperatorRole };
  flash?: { kind: 'ok' | 'bad'; text: string };
}

const NAV: readonly { href: string; key: StringKey; role: OperatorRole }[] = [
  { href: '/console', key: 'navDashboard', role: 'viewer' },
  { href: '/console/orders', key: 'navOrders', role: 'viewer' },
  { href: '/console/payouts', key: 'navPayouts', role: 'viewer' },
  { href: '/console/refunds', key: 'navRefunds', role: 'viewer' },
  { href: '/console/notifications', key: 'navNotifications', role: 'viewer' },
  { href: '/console/merchants', key: 'navMerchants', role: 'viewer' },
  { href: '/console/channels', key: 'navChannels', role: 'viewer' },
  { href: '/console/reconciliation', key: 'navReconciliation', role: 'viewer' },
  { href: '/console/alerts', key: 'navAlerts', role: 'viewer' },
  { href: '/console/operators', key: 'navOperators', role: 'admin' },
  { href: '/console/audit', key: 'navAudit', role: 'admin' },
];

/** A hidden CSRF field for a form. */
export const csrfField = (v: PageView) => `<input type="hidden" name="_csrf" value="${esc(v.csrf)}">`;

/** A form of one button that POSTs to `action` (with the CSRF token and any hidden fields). */
export function postButton(v: PageView, action: string, label: string, opts: { hidden?: Record<string, string>; cls?: string; id?: string } = {}): string {
  const hidden = Object.entries(opts.hidden ?? {})
    .map(([k, val]) => `<input type="hidden" name="${esc(k)}" value="${esc(val)}">`)
    .join('');
  return `<form method="post" action="${esc(action)}" class="inline">${csrfField(v)}${hidden}<button type="submit"${opts.id ? ` id="${esc(opts.id)}"` : ''} class="${esc(opts.cls ?? '')}">${esc(label)}</button></form>`;
}

export function langLink(v: PageView): string {
  const to: Lang = v.lang === 'zh' ? 'en' : 'zh';
  return `<a class="lang" id="lang-switch" href="/console/lang?to=${to}&amp;back=${encodeURIComponent(v.path)}" hreflang="${to === 'zh' ? 'zh-CN' : 'en'}">${esc(v.s.otherLang)}</a>`;
}

export function shell(v: PageView, title: string, body: string): string {
  const { s } = v;
  const nav = v.operator
    ? `<nav id="nav"><ul>${NAV.filter((n) => roleAllows(v.operator!.role, n.role))
        .map((n) => `<li><a href="${n.href}">${esc(s[n.key])}</a></li>`)
        .join('')}</ul></nav>`
    : '';
  const who = v.operator
    ? `<span class="who">${esc(s.signedInAs)} ${esc(v.operator.email)} (${esc(s[v.operator.role])})</span>` +
      postButton(v, '/console/logout', s.logout, { id: 'logout', cls: 'link' })
    : '';
  const flash = v.flash ? `<p class="flash ${v.flash.kind}" role="status">${esc(v.flash.text)}</p>` : '';
  return `<!doctype html><html lang="${esc(s.lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer">
<title>${esc(title)} · ${esc(s.title)}</title><link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script></head><body>
<header><a class="brand" href="/console">${esc(s.title)}</a>${langLink(v)}${who}</header>${nav}
<main><h1>${esc(title)}</h1>${flash}${body}</main></body></html>`;
}

/** A table: header cells and rows of already-escaped HTML cells. */
export function table(head: string[], rows: string[][], empty: string, id?: string): string {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  return `<div class="scroll"><table${id ? ` id="${esc(id)}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}

/** Beijing wall time, as operators in China read it: yyyy-MM-dd HH:mm:ss. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms + 8 * 3600_000);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}
