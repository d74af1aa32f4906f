import type { PoolClient } from '../pool.js';
import type { CheckClaimArgs, ClaimedOrderChecks } from '../../check-claim-ops.js';
// Planned with their values each time, as the watchers' "due by now" reads are: a named statement's
// generic plan would not know how few rows are due.
import { qEach as q } from './sql.js';

// The order watcher's claims (src/db/check-claim-ops.ts says what a claim is) on PostgreSQL, where
// several instances claim at once. Each statement picks the due rows from the same partial index
// the SQLite statement names and moves them on in one go; FOR UPDATE SKIP LOCKED passes over rows
// another instance's claim (or any other writer) holds at that moment, and a row it locks is
// checked again as it now stands, so a row another instance claimed and committed just before no
// longer qualifies. Two instances claiming together take different rows, and neither waits.

const claimSql = (table: 'orders' | 'refunds', id: string, time: string, open: string, extra = '') => `WITH claimed AS (
    SELECT ${id}, ${time} AS at FROM ${table}
    WHERE ${open} AND ${time} <= @now${extra}
    ORDER BY ${time}, ${id} LIMIT @limit
    FOR UPDATE SKIP LOCKED)
  UPDATE ${table} t SET next_check_at = @until FROM claimed WHERE t.${id} = claimed.${id}
  RETURNING t.${id} AS id, claimed.at`;

const OPEN_ORDER = "pay_status IN ('p0001', 'p0002')";

/** The statements, for the plan tests: the order in which they run, and what each is for. */
export const CHECK_CLAIM_SQL = {
  overdue: claimSql('orders', 'order_id', 'expire_at', OPEN_ORDER, ' AND coalesce(next_check_at, 0) <= @now'),
  due: claimSql('orders', 'order_id', 'next_check_at', OPEN_ORDER),
  refunds: claimSql('refunds', 'refund_id', 'next_check_at', "refund_status = 'r0001'"),
};

/** Claims with one statement; the rows come back in the order SQLite gives them (time, then id). */
async function claim(c: PoolClient, sql: string, a: CheckClaimArgs): Promise<string[]> {
  const r = await q<{ id: string; at: unknown }>(c, sql, { now: a.now, until: a.until, limit: a.limit });
  return r.rows
    .map((x) => ({ id: x.id, at: BigInt(x.at as bigint) }))
    .sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
    .map((x) => x.id);
}

export const checkClaimOps = {
  /** Safe: overdue orders first, in the same transaction, so the second statement sees them claimed. */
  async claimOrderChecks(c: PoolClient, a: CheckClaimArgs): Promise<ClaimedOrderChecks> {
    const overdue = await claim(c, CHECK_CLAIM_SQL.overdue, a);
    return { overdue, due: await claim(c, CHECK_CLAIM_SQL.due, a) };
  },

  async claimRefundChecks(c: PoolClient, a: CheckClaimArgs): Promise<string[]> {
    return claim(c, CHECK_CLAIM_SQL.refunds, a);
  },
};
