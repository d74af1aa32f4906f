import { escapeHtml } from '../domain/escape-html.js';

// GET /docs: the OpenAPI document as one self-contained page (no script, no CDN), rendered on the
// server from the document itself. Everything taken from the document is escaped.

type Json = Record<string, unknown>;

// The parts of an OpenAPI 3.1 document the page renders, declared here: the page depends on the
// document's shape, not on the module that builds it (src/api/openapi.ts, which serves the page).

export interface DocOperation {
  operationId: string;
  summary: string;
  description: string;
  'x-interfaceCode': string;
  requestBody: { content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string; content: Record<string, { schema: Json }> }>;
}

export interface DocWebhook {
  operationId: string;
  summary: string;
  description: string;
  parameters: { name: string; description: string }[];
  requestBody: { content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string }>;
}

export interface ApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, DocOperation>>;
  webhooks?: Record<string, Record<string, DocWebhook>>;
  components: { schemas: Record<string, Json> };
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.25rem;margin-top:2.5rem;border-top:1px solid #ddd;padding-top:1rem}h3{font-size:1.05rem}
code{background:#f3f3f3;padding:0 .25rem;border-radius:.2rem;font-size:.9em;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.92rem}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f7f7f7}.method{display:inline-block;background:#1677ff;color:#fff;border-radius:.3rem;padding:0 .4rem;margin-right:.4rem;font-size:.9rem}
.muted{color:#666}ul.toc{padding-left:1.2rem}td:first-child code{white-space:nowrap;word-break:normal}`;

/** Escapes, then turns `code` into <code> (the only markup the descriptions use inline). */
const inline = (s: string) => escapeHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>');

/** The small subset of Markdown the descriptions use: ## headings, lists, tables, paragraphs. */
function markdown(md: string): string {
  return md
    .split(/\n{2,}/)
    .map((block) => {
      const lines = block.split('\n');
      if (block.startsWith('## ')) return `<h3>${inline(block.slice(3))}</h3>`;
      if (lines.every((l) => l.startsWith('|'))) {
        const cells = (l: string) => l.replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
        const [head, , ...body] = lines;
        return `<table><tr>${cells(head!).map((c) => `<th>${inline(c)}</th>`).join('')}</tr>${body
          .map((r) => `<tr>${cells(r).map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`)
          .join('')}</table>`;
      }
      if (lines.every((l) => /^(\d+\.|-) /.test(l))) {
        const tag = /^\d/.test(lines[0]!) ? 'ol' : 'ul';
        return `<${tag}>${lines.map((l) => `<li>${inline(l.replace(/^(\d+\.|-) /, ''))}</li>`).join('')}</${tag}>`;
      }
      const list = lines.findIndex((l) => /^- /.test(l));
      if (list > 0 && lines.slice(list).every((l) => /^- /.test(l))) {
        return `<p>${inline(lines.slice(0, list).join(' '))}</p><ul>${lines
          .slice(list)
          .map((l) => `<li>${inline(l.slice(2))}</li>`)
          .join('')}</ul>`;
      }
      return `<p>${inline(block)}</p>`;
    })
    .join('\n');
}

/** A JSON Schema property in a few words: type, values, length, pattern. */
export function describeType(s: Json): string {
  const variants = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (variants) {
    // An optional enum is `"" or one of …`: say it as one list.
    const valuesOf = (v: Json) => (v.enum as unknown[] | undefined) ?? ('const' in v ? [v.const] : undefined);
    if (variants.every((v) => valuesOf(v))) {
      const values = variants.flatMap((v) => valuesOf(v)!);
      const named = values.filter((v) => v !== '').map(String);
      return `one of ${named.join(', ')}${values.includes('') ? ', or empty' : ''}`;
    }
    return variants.map(describeType).join(' or ');
  }
  const parts: string[] = [];
  const values = (s.enum as unknown[] | undefined) ?? ('const' in s ? [s.const] : undefined);
  if (values) parts.push(`one of ${values.map((v) => (v === '' ? '"" (empty)' : String(v))).join(', ')}`);
  else parts.push(String(s.type ?? 'any'));
  if (typeof s.minLength === 'number' && s.minLength > 0 && !values) parts.push('non-empty');
  if (typeof s.maxLength === 'number') parts.push(`≤ ${s.maxLength} characters`);
  if (typeof s.pattern === 'string') parts.push(`pattern ${s.pattern}`);
  if (typeof s.format === 'string') parts.push(`format ${s.format}`);
  return parts.join(', ');
}

function resolve(doc: ApiDocument, schema: Json): Json {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const name = ref.replace('#/components/schemas/', '');
  return doc.components.schemas[name] ?? {};
}

function fieldsTable(schema: Json): string {
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  const rows = Object.entries(props).map(
    ([name, p]) =>
      `<tr><td><code>${escapeHtml(name)}</code></td><td>${required.has(name) ? 'yes' : 'no'}</td><td>${escapeHtml(describeType(p))}</td><td>${inline(
        String(p.description ?? ''),
      )}</td></tr>`,
  );
  return `<table><tr><th>field</th><th>required</th><th>type</th><th>description</th></tr>${rows.join('')}</table>`;
}

function operationSection(doc: ApiDocument, method: string, path: string, op: DocOperation): string {
  const content = Object.keys(op.requestBody.content);
  const body = Object.values(op.requestBody.content)[0]!.schema;
  // A path that takes more than one body (the payments and payouts of /api/pay) shows each.
  const bodies = Array.isArray(body.oneOf) ? (body.oneOf as Json[]) : [body];
  const requestTables = bodies
    .map((b) => {
      const name = typeof b.$ref === 'string' ? b.$ref.replace('#/components/schemas/', '') : '';
      return `${bodies.length > 1 ? `<h4><code>${escapeHtml(name)}</code></h4>\n` : ''}${fieldsTable(resolve(doc, b))}`;
    })
    .join('\n');
  const responses = Object.entries(op.responses)
    .map(([status, r]) => {
      const codes = ((resolve(doc, r.content['application/json']?.schema ?? {}).properties as Record<string, Json> | undefined)?.respCode ?? {}) as Json;
      return `<tr><td>${escapeHtml(status)}</td><td>${escapeHtml(((codes.enum as string[] | undefined) ?? []).join(', '))}</td><td>${inline(r.description)}</td></tr>`;
    })
    .join('');
  const ok = op.responses['200']?.content['application/json']?.schema;
  return `<section id="${escapeHtml(op.operationId)}">
<h2><span class="method">${escapeHtml(method.toUpperCase())}</span><code>${escapeHtml(path)}</code> — ${escapeHtml(op.summary)}</h2>
<p class="muted">interfaceCode <code>${escapeHtml(op['x-interfaceCode'])}</code> · ${content.map((c) => `<code>${escapeHtml(c)}</code>`).join(' or ')}</p>
${markdown(op.description)}
<h3>Request fields</h3>
${requestTables}
<h3>Responses</h3>
<table><tr><th>HTTP</th><th>respCode</th><th>meaning</th></tr>${responses}</table>
${ok ? `<h3>Answer fields (200)</h3>\n${fieldsTable(resolve(doc, ok))}` : ''}
</section>`;
}

/** A notification the gateway sends: its headers, its body, the answer it wants. */
function webhookSection(doc: ApiDocument, method: string, name: string, w: DocWebhook): string {
  const body = resolve(doc, Object.values(w.requestBody.content)[0]?.schema ?? {});
  const headers = w.parameters.map((p) => `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${inline(p.description)}</td></tr>`).join('');
  const answers = Object.entries(w.responses)
    .map(([status, r]) => `<tr><td>${escapeHtml(status)}</td><td>${inline(r.description)}</td></tr>`)
    .join('');
  return `<section id="${escapeHtml(w.operationId)}">
<h2><span class="method">${escapeHtml(method.toUpperCase())}</span><code>notifyUrl</code> — ${escapeHtml(w.summary)}</h2>
<p class="muted">webhook <code>${escapeHtml(name)}</code> · ${Object.keys(w.requestBody.content).map((c) => `<code>${escapeHtml(c)}</code>`).join(' or ')}</p>
${markdown(w.description)}
<h3>Headers</h3>
<table><tr><th>header</th><th>description</th></tr>${headers}</table>
<h3>Body fields</h3>
${fieldsTable(body)}
<h3>Your answer</h3>
<table><tr><th>HTTP</th><th>meaning</th></tr>${answers}</table>
</section>`;
}

export function docsPage(doc: ApiDocument): string {
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const hooks = Object.entries(doc.webhooks ?? {}).flatMap(([name, methods]) => Object.entries(methods).map(([method, w]) => ({ name, method, w })));
  const toc = [
    ...ops.map(({ path, method, op }) => `<li><a href="#${escapeHtml(op.operationId)}">${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</a> — ${escapeHtml(op.summary)}</li>`),
    ...hooks.map(({ w }) => `<li><a href="#${escapeHtml(w.operationId)}">${escapeHtml(w.summary)}</a></li>`),
  ].join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(doc.info.title)}</title>
<style>${STYLE}</style></head><body>
<h1>${escapeHtml(doc.info.title)} <span class="muted">${escapeHtml(doc.info.version)}</span></h1>
<p class="muted">OpenAPI ${escapeHtml(doc.openapi)} document: <a href="/openapi.json">/openapi.json</a></p>
<ul class="toc">${toc}</ul>
${markdown(doc.info.description)}
${ops.map(({ path, method, op }) => operationSection(doc, method, path, op)).join('\n')}
${hooks.map(({ name, method, w }) => webhookSection(doc, method, name, w)).join('\n')}
</body></html>`;
}
