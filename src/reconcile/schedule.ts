// When the daily reconciliation runs (CONTRACT §5): at RECONCILE_AT, Beijing time (UTC+8, no
// daylight saving), for the Beijing day before. Pure: the caller passes the time.

const BEIJING_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

/** The first instant strictly after `now` whose Beijing time of day is `hhmm` (HH:MM). */
export function nextDailyRun(now: number, hhmm: string): number {
  const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(hhmm);
  if (!m) throw new RangeError(`not an HH:MM time of day: ${hhmm}`);
  const offset = (Number(m[1]) * 60 + Number(m[2])) * 60_000;
  const local = now + BEIJING_OFFSET_MS;
  let at = local - (((local % DAY_MS) + DAY_MS) % DAY_MS) + offset;
  if (at <= local) at += DAY_MS;
  return at - BEIJING_OFFSET_MS;
}

/** The Beijing calendar day before the one `now` falls on, YYYY-MM-DD. */
export function beijingDayBefore(now: number): string {
  return new Date(now + BEIJING_OFFSET_MS - DAY_MS).toISOString().slice(0, 10);
}
