import { formatBeijing } from './time.js';

// What `dtpay prune` may remove (history retention). Pure.
//
// An order is history once nothing can still happen to it: it ended (paid, failed, closed or
// expired) before the cut-off, its outcome at the channel is known, no notification of it (or of
// its refunds) is still to be delivered, and no refund of it is in progress or ended after the
// cut-off. The cut-off must lie at least REFUND_WINDOW_DAYS in the past: a paid order can be
// refunded for a year (Alipay, WeChat Pay and UnionPay all accept refunds for about 12 months), and
// a channel may still report a late payment of an order that failed or expired until then.
// (The storage adapters add one rule of their own: the order owning the newest notification waits
// for a later prune, so that no notification id is given out twice; src/db/prune-ops.ts.)

export const REFUND_WINDOW_DAYS = 365;

const DAY_MS = 86_400_000;
const BEIJING_OFFSET_MS = 8 * 3600_000;

export const ENDED_STATES = ['p0000', 'p0004', 'p0005', 'p0006'] as const;

export type Cutoff = { ok: true; endedBeforeMs: number; orderIdBelow: string } | { ok: false; reason: string };

/**
 * The cut-off for `--before YYYY-MM-DD`: midnight at the start of that day, Beijing time (the
 * contract's time zone), and the order number every order created before it sorts below (order
 * numbers begin with their creation time, src/domain/ids.ts).
 */
export function pruneCutoff(date: string, now: number): Cutoff {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return { ok: false, reason: `--before must be a date as YYYY-MM-DD, got ${JSON.stringify(date)}` };
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const utc = Date.UTC(y, mo - 1, d);
  const check = new Date(utc);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || y < 2000) {
    return { ok: false, reason: `--before ${date} is not a date` };
  }
  const endedBeforeMs = utc - BEIJING_OFFSET_MS;
  const latest = now - REFUND_WINDOW_DAYS * DAY_MS;
  if (endedBeforeMs > latest) {
    return {
      ok: false,
      reason: `--before ${date} is within the last ${REFUND_WINDOW_DAYS} days (the refund window); the latest allowed today is ${isoDay(latest)}`,
    };
  }
  return { ok: true, endedBeforeMs, orderIdBelow: `${formatBeijing(endedBeforeMs)}00000000` };
}

/** The Beijing calendar day on or before `ms`, as YYYY-MM-DD. */
function isoDay(ms: number): string {
  const b = formatBeijing(ms);
  return `${b.slice(0, 4)}-${b.slice(4, 6)}-${b.slice(6, 8)}`;
}
