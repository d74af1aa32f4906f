import { esc } from './layout.js';

// A bar chart drawn on the server as SVG: nothing is loaded from anywhere, and every bar carries
// its figure as text (and a <title>), so the numbers read without the picture.

export interface Bar {
  label: string;
  value: number;
  /** the figure written beside the bar */
  text: string;
}

export function barChart(title: string, bars: Bar[], opts: { id?: string } = {}): string {
  const rowH = 26;
  const labelW = 90;
  const barW = 300;
  const textW = 110;
  const width = labelW + barW + textW;
  const height = Math.max(1, bars.length) * rowH + 8;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rows = bars
    .map((b, i) => {
      const y = 4 + i * rowH;
      const w = b.value > 0 ? Math.max(2, Math.round((b.value / max) * barW)) : 0;
      return (
        `<g><title>${esc(`${b.label}: ${b.text}`)}</title>` +
        `<text x="${labelW - 6}" y="${y + 16}" text-anchor="end">${esc(b.label)}</text>` +
        `<rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}" rx="2" fill="#1f6feb"></rect>` +
        `<text x="${labelW + w + 6}" y="${y + 16}">${esc(b.text)}</text></g>`
      );
    })
    .join('');
  return (
    `<svg${opts.id ? ` id="${esc(opts.id)}"` : ''} role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" width="100%" ` +
    `preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg"><title>${esc(title)}</title>${rows}</svg>`
  );
}
