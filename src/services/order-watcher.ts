import { nextCheckAt } from '../domain/check-schedule.js';
import { OPEN_STATES } from '../domain/order-states.js';
import type { Clock } from '../notify/clock.js';
import type { Services } from './context.js';
import { expireOrder } from './close-order.js';
import { reconcileOrder } from './reconcile.js';
import { reconcileRefund } from './refunds.js';
import { nextRefundCheckAt } from '../domain/refund-states.js';
import { expirePayout, isPayout, nextPayoutCheckAt, reconcilePayout } from './payouts.js';

/**
 * Looks after open orders: expires those whose orderPeriod has run out (at start-up too, for
 * those that ran out while the gateway was down) and asks the channel about the others on the
 * schedule in domain/check-schedule.ts, so that a lost callback never leaves an order open.
 * The orders table is the truth; each round reads at most `batch` orders of each kind.
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
    const { reads } = this.s;
    const [overdueIds, dueIds, refundIds] = await Promise.all([
      reads.overdueOrders(now, this.opts.batch),
      reads.ordersToCheck(now, this.opts.batch),
      reads.refundsToCheck(now, this.opts.batch),
    ]);
    // Filtered and claimed in one stretch after the last read, not when each job starts: an
    // overlapping round that read the same ids meanwhile finds them taken.
    const overdue = overdueIds.filter((id) => !this.busy.has(id));
    const due = dueIds.filter((id) => !this.busy.has(id) && !overdue.includes(id));
    const refunds = refundIds.filter((id) => !this.busy.has(id));
    const taken = [...overdue, ...due, ...refunds];
    for (const id of taken) this.busy.add(id);
    const jobs = [
      ...overdue.map((id) => () => this.expire(id)),
      ...due.map((id) => () => this.check(id)),
      ...refunds.map((id) => () => this.checkRefund(id)),
    ];
    let next = 0;
    const worker = async () => {
      while (next < jobs.length && !this.stopping) await jobs[next++]!();
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
      const next = payout ? nextPayoutCheckAt(order.checks + 1, now) : (nextCheckAt(order.checks + 1, now, order.expire_at) ?? null);
      await this.s.writer.run('recordCheck', { orderId, next });
    });
  }
}
