import type { Db } from './open.js';

// The order watcher's claims (CONTRACT §7): each look at an open order or refund — its expiry, a
// check of an open order or payout, a check of a refund — is claimed by one instance before the
// channel is asked. The claim is the row's next_check_at moved CHECK_LEASE_MS on: the rows stay
// in the partial indexes the watcher already walks (open rows only), and no other instance finds
// the row due until the claim runs out. The job's own write ends the claim early: recordCheck or
// recordRefundCheck set the real next time, a state change takes the row out of the index. A job
// that fails or dies writes nothing, and the row is due again, to any instance, once the claim
// runs out.
//
// An expiry is due by expire_at, so it is claimed only while next_check_at is not ahead of now:
// an open order's next check is never after its expiry (domain/check-schedule.ts; a payout's is
// held to it, services/order-watcher.ts), so an unclaimed overdue order always qualifies, and a
// claimed one does not until its claim has run out.

/** How long a claim lasts (CONTRACT §7: at most 30 s for work other than a notification). */
export const CHECK_LEASE_MS = 30_000;

export interface CheckClaimArgs {
  /** now, ms */
  now: number;
  /** until when the rows claimed are held, ms (now + CHECK_LEASE_MS) */
  until: number;
  /** at most this many rows of each kind */
  limit: number;
}

export interface ClaimedOrderChecks {
  /** open orders past their expiry, earliest expiry first */
  overdue: string[];
  /** open orders (and payouts) due a check, earliest first; none of them also in `overdue` */
  due: string[];
}

export function prepareCheckClaimOps(db: Db) {
  const overdue = db.prepare(`SELECT order_id FROM orders INDEXED BY orders_open_expire
    WHERE pay_status IN ('p0001', 'p0002') AND expire_at <= @now AND coalesce(next_check_at, 0) <= @now
    ORDER BY expire_at LIMIT @limit`).pluck();
  const due = db.prepare(`SELECT order_id FROM orders INDEXED BY orders_open_check
    WHERE pay_status IN ('p0001', 'p0002') AND next_check_at <= @now ORDER BY next_check_at LIMIT @limit`).pluck();
  const refunds = db.prepare(`SELECT refund_id FROM refunds INDEXED BY refunds_open_check
    WHERE refund_status = 'r0001' AND next_check_at <= @now ORDER BY next_check_at LIMIT @limit`).pluck();
  const leaseOrders = db.prepare('UPDATE orders SET next_check_at = @until WHERE order_id IN (SELECT value FROM json_each(@ids))');
  const leaseRefunds = db.prepare('UPDATE refunds SET next_check_at = @until WHERE refund_id IN (SELECT value FROM json_each(@ids))');

  const claim = (select: typeof due, lease: typeof leaseOrders, a: CheckClaimArgs): string[] => {
    const ids = select.all({ now: a.now, limit: a.limit }) as string[];
    if (ids.length) lease.run({ until: a.until, ids: JSON.stringify(ids) });
    return ids;
  };

  return {
    /**
     * Claims overdue orders, then orders due a check, in one transaction: an order claimed for
     * its expiry is no longer due, so it is never claimed twice in one round.
     */
    claimOrderChecks(a: CheckClaimArgs): ClaimedOrderChecks {
      const o = claim(overdue, leaseOrders, a);
      return { overdue: o, due: claim(due, leaseOrders, a) };
    },

    /** Claims refunds due a check, earliest first. */
    claimRefundChecks(a: CheckClaimArgs): string[] {
      return claim(refunds, leaseRefunds, a);
    },

    /** The statements, for the query-plan tests. */
    checkClaimStatements: {
      overdue: overdue.source,
      due: due.source,
      refunds: refunds.source,
      leaseOrders: leaseOrders.source,
      leaseRefunds: leaseRefunds.source,
    },
  };
}
