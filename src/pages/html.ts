import { STATUS_NAMES } from '../domain/order-states.js';
import { escapeHtml } from '../domain/escape-html.js';

// The little HTML the gateway serves itself: no template engine, everything escaped.

export { escapeHtml };

const STYLE = `body{font-family:system-ui,sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.3rem}.amount{font-size:2rem;font-weight:600;margin:.5rem 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}dt{color:#666}dd{margin:0;word-break:break-all}
button{font-size:1rem;padding:.6rem 1.4rem;margin:.3rem .5rem 0 0;border-radius:.4rem;border:1px solid #888;cursor:pointer}
.pay{background:#1677ff;color:#fff;border-color:#1677ff}.note{color:#666;font-size:.9rem}
.status{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#eee}`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head><body>${body}</body></html>`;
}

export const STATUS_TEXT: Record<string, string> = STATUS_NAMES;

export function definitionList(rows: [string, string][]): string {
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

export function notFoundPage(): string {
  return page('Not found', '<h1>Not found</h1><p>There is no such order.</p>');
}
