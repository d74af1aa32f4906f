import { nextCheckAt } from '../domain/check-schedule.js';
import { OPEN_STATES } from '../domain/order-states.js';
import type { Clock } from '../notify/clock.js';
import type { Services } from './context.js';
import { expireOrder } from './close-order.js';
import { reconcileOrder } from './reconcile.js';
import { reconcileRefund } from './refunds.js';
import { nextRefundCheckAt } from '../domain/refund-states.js';
import { expirePayout, isPayout, nextPayoutCheckAt, reconcilePayout } from './payouts.js';
import { CHECK_LEASE_MS } from '../db/check-claim-ops.js';

/**
 * Looks after open orders: expires those whose orderPeriod has run out (at start-up too, for
 * those that ran out while the gateway was down) and asks the channel about the others on the
 * schedule in domain/check-schedule.ts, so that a lost callback never leaves an order open.
 * The orders table is the truth; each round claims at most `batch` orders of each kind, so that
 * with several instances on one database each look is taken by one of them (CONTRACT §7).
 */
export class OrderWatcher {
  private timer: unknown;
  private round: Promise<void> | undefined;
  private stopping = false;
  private readonly busy = new Set<string>();

  constructor(
    private readonly s: Services,
    private readonly clock: Clock,
    private readonly opts = { intervalMs: 1_000, batch: 200, concurrency: 8 },
  ) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    await this.round;
  }

  /** Runs a round now, after any round already under way (tests drive it with a fake clock). */
  async runOnce(): Promise<void> {
    await this.round;
    await this.roundNow();
  }

  private async roundNow(): Promise<void> {
    const now = this.clock.now();
    const claim = { now, until: now + CHECK_LEASE_MS, limit: this.opts.batch };
    // Claimed in the database (db/check-claim-ops.ts): no other instance, and no overlapping round
    // of this one, is given these rows until the claim runs out or the job's write ends it.
    const [orders, refundIds] = await Promise.all([
      this.s.writer.run('claimOrderChecks', claim),
      this.s.writer.run('claimRefundChecks', claim),
    ]);
    // A job of this process still running past its claim may have its row claimed again: it is
    // not started a second time.
    const overdue = orders.overdue.filter((id) => !this.busy.has(id));
    const due = orders.due.filter((id) => !this.busy.has(id));
    const refunds = refundIds.filter((id) => !this.busy.has(id));
    const taken = [...overdue, ...due, ...refunds];
    for (const id of taken) this.busy.add(id);
    const jobs = [
      ...overdue.map((id) => () => this.expire(id)),
      ...due.map((id) => () => this.check(id)),
      ...refunds.map((id) => () => this.checkRefund(id)),
    ];
    // A job is started only while a channel call still fits in its claim; the rest are left to
    // run out and be claimed again, so that no other instance asks about them at the same time.
    const startBy = claim.until - Math.min(this.s.config.CHANNEL_TIMEOUT_MS, CHECK_LEASE_MS / 2);
    let next = 0;
    const worker = async () => {
      while (next < jobs.length && !this.stopping && this.clock.now() <= startBy) await jobs[next++]!();
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, jobs.length) }, worker));
    } finally {
      for (const id of taken) this.busy.delete(id);
    }
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = this.clock.setTimeout(() => {
      this.round = this.roundNow()
        .catch((err) => this.s.log.error({ err }, 'order watcher round failed'))
        .finally(() => this.schedule(this.opts.intervalMs));
    }, ms);
  }

  private async guarded(orderId: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.s.log.error({ err, orderId }, 'order watcher failed on an order');
    }
  }

  private expire(orderId: string): Promise<void> {
    return this.guarded(orderId, async () => {
      const order = await this.s.reads.order(orderId);
      if (!order) return;
      if (isPayout(order)) return expirePayout(this.s, order);
      const r = await expireOrder(this.s, order);
      if (r?.result === 'unknown') this.s.log.warn({ orderId, reason: r.reason }, 'expiry: the channel did not confirm the close; trying again');
    });
  }

  private checkRefund(refundId: string): Promise<void> {
    return this.guarded(refundId, async () => {
      const refund = await this.s.reads.refund(refundId);
      if (!refund || refund.refund_status !== 'r0001') return;
      const after = await reconcileRefund(this.s, refund);
      if (after.refund_status !== 'r0001') return;
      await this.s.writer.run('recordRefundCheck', { refundId, next: nextRefundCheckAt(refund.checks + 1, this.clock.now()) });
    });
  }

  private check(orderId: string): Promise<void> {
    return this.guarded(orderId, async () => {
      const order = await this.s.reads.order(orderId);
      if (!order || !OPEN_STATES.includes(order.pay_status)) return;
      const payout = isPayout(order);
      // A payout whose outcome is unknown is settled here, by asking about the same orderId.
      const after = payout ? await reconcilePayout(this.s, order, 'payout query') : await reconcileOrder(this.s, order, 'reconciliation query');
      if (!OPEN_STATES.includes(after.pay_status)) return;
      const now = this.clock.now();
      // Never after the expiry (a payout waiting for its payee has one): an overdue order is
      // claimed for its expiry only once its next check is due (db/check-claim-ops.ts).
      const next = payout
        ? Math.min(nextPayoutCheckAt(order.checks + 1, now), order.expire_at)
        : (nextCheckAt(order.checks + 1, now, order.expire_at) ?? null);
      await this.s.writer.run('recordCheck', { orderId, next });
    });
  }
}
