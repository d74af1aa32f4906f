import { PAY_STATUSES, type PayStatus } from '../domain/order-states.js';
import { PAYWAYS } from '../channels/types.js';
import { isOrderId } from '../domain/ids.js';
import type { OrderFilter } from './console-reads.js';

// The orders page's query string, checked: a bad value is a 400 naming the field and the rule.

export class BadQuery extends Error {
  constructor(readonly field: string, readonly rule: string) {
    super(`${field}: ${rule}`);
  }
}

export interface OrderQuery {
  merc?: string;
  status?: string;
  payway?: string;
  tradeType?: string;
  from?: string;
  to?: string;
  q?: string;
  before?: string;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** yyyy-MM-dd → yyyyMMdd, checking the date exists. */
function day(field: string, s: string): { ymd: string; ms: number } {
  const m = DAY.exec(s);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== s) throw new BadQuery(field, 'must be a date as yyyy-MM-dd');
  return { ymd: s.replaceAll('-', ''), ms };
}

const ymdOf = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');

/** The filter the query asks for (dates are Beijing days: an order id begins with its Beijing time). */
export function parseOrderQuery(q: OrderQuery, limit: number): OrderFilter {
  const f: OrderFilter = { limit };
  const present = (v: string | undefined) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const merc = present(q.merc);
  if (merc !== undefined) {
    if (!/^[A-Za-z0-9]{1,32}$/.test(merc)) throw new BadQuery('merc', 'must be a merchant number such as M100000000000001');
    f.mercNo = merc;
  }
  const status = present(q.status);
  if (status !== undefined) {
    if (!PAY_STATUSES.includes(status as PayStatus)) throw new BadQuery('status', `must be one of ${PAY_STATUSES.join(', ')}`);
    f.status = status as PayStatus;
  }
  const payway = present(q.payway);
  if (payway !== undefined) {
    if (!(PAYWAYS as readonly string[]).includes(payway)) throw new BadQuery('payway', `must be one of ${PAYWAYS.join(', ')}`);
    f.payway = payway;
  }
  const tradeType = present(q.tradeType);
  if (tradeType !== undefined) {
    if (!['01', '02', '03'].includes(tradeType)) throw new BadQuery('tradeType', 'must be 01, 02 or 03');
    f.tradeType = tradeType;
  }
  const from = present(q.from);
  if (from !== undefined) f.fromId = day('from', from).ymd;
  const to = present(q.to);
  if (to !== undefined) f.toId = ymdOf(day('to', to).ms + 86_400_000); // the whole last day
  if (f.fromId && f.toId && f.fromId >= f.toId) throw new BadQuery('to', 'must not be before from');
  const before = present(q.before);
  if (before !== undefined) {
    if (!isOrderId(before)) throw new BadQuery('before', 'must be an order id (22 digits)');
    f.before = before;
  }
  return f;
}

/** The search box: an orderId, mercOrderNo or channel trade number. */
export function parseSearch(q: string | undefined): string | undefined {
  const v = typeof q === 'string' ? q.trim() : '';
  if (v === '') return undefined;
  if (v.length > 64) throw new BadQuery('q', 'must be at most 64 characters');
  return v;
}

/** The query string for the same filters (the pager's and the export's links). */
export function queryString(q: OrderQuery, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const k of ['merc', 'status', 'payway', 'tradeType', 'from', 'to', 'q'] as const) {
    const v = q[k];
    if (typeof v === 'string' && v.trim() !== '') p.set(k, v.trim());
  }
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}
