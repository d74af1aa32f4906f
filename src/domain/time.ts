// Times shown to merchants are Beijing time (UTC+8, no daylight saving) as yyyyMMddHHmmss,
// the form every channel and the seed spec use.

const BEIJING_OFFSET_MS = 8 * 3600_000;

export function formatBeijing(epochMs: number): string {
  const d = new Date(epochMs + BEIJING_OFFSET_MS);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    p(d.getUTCFullYear(), 4) +
    p(d.getUTCMonth() + 1) +
    p(d.getUTCDate()) +
    p(d.getUTCHours()) +
    p(d.getUTCMinutes()) +
    p(d.getUTCSeconds())
  );
}

/** True when `s` is yyyyMMddHHmmss naming a date that exists (no 20240230, no hour 24). */
export function isCompactDateTime(s: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return false;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d <= daysInMonth;
}

/** yyyyMMddHHmmss in Beijing time → epoch ms; undefined when `s` is not such a time. */
export function parseBeijing(s: string): number | undefined {
  if (!isCompactDateTime(s)) return undefined;
  const n = (a: number, b: number) => Number(s.slice(a, b));
  return Date.UTC(n(0, 4), n(4, 6) - 1, n(6, 8), n(8, 10), n(10, 12), n(12, 14)) - BEIJING_OFFSET_MS;
}
