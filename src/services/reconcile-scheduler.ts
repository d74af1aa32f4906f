import type { Logger } from 'pino';
import type { Clock } from '../notify/clock.js';
import { beijingDayBefore, nextDailyRun } from '../reconcile/schedule.js';
import type { ReconcileScope, RunResult } from './reconciliation.js';

/** How long to wait before asking again for the bills that were not ready (or not reachable): 10 min doubling, six times (about ten hours in all). */
export const RECONCILE_RETRY_DELAYS_MS: readonly number[] = [10, 20, 40, 80, 160, 320].map((m) => m * 60_000);

export interface SchedulerOptions {
  clock: Clock;
  /** RECONCILE_AT, HH:MM Beijing */
  at: string;
  log: Logger;
  /** One day's reconciliation, narrowed by the scope (services/reconciliation.ts reconcileDay). */
  run(scope: ReconcileScope, signal: AbortSignal): Promise<RunResult[]>;
  retryDelaysMs?: readonly number[];
}

/**
 * The daily job: at RECONCILE_AT every day, reconciliation of the day before for every merchant;
 * then, while some channel says its bill is not ready, those merchants and payways again with
 * backoff, a bounded number of times. Stopping aborts between runs and waits for the one under way.
 */
export class ReconcileScheduler {
  private readonly timers = new Set<unknown>();
  private readonly controller = new AbortController();
  private readonly rounds = new Set<Promise<void>>();
  private stopping = false;
  private readonly delays: readonly number[];

  constructor(private readonly o: SchedulerOptions) {
    this.delays = o.retryDelaysMs ?? RECONCILE_RETRY_DELAYS_MS;
  }

  start(): void {
    this.armDaily();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.controller.abort();
    for (const t of this.timers) this.o.clock.clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.rounds]);
  }

  /** Runs a day now, with the same retries as the daily run; resolves when its first round is done. */
  runDay(date: string): Promise<void> {
    return this.track(this.round(date, [{ date }], 0));
  }

  private after(ms: number, fn: () => void): void {
    if (this.stopping) return;
    const t = this.o.clock.setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopping) fn();
    }, ms);
    this.timers.add(t);
  }

  private armDaily(): void {
    const now = this.o.clock.now();
    const next = nextDailyRun(now, this.o.at);
    this.after(next - now, () => {
      void this.runDay(beijingDayBefore(this.o.clock.now()));
      this.armDaily();
    });
  }

  private track(p: Promise<void>): Promise<void> {
    this.rounds.add(p);
    return p.finally(() => this.rounds.delete(p));
  }

  private async round(date: string, scopes: ReconcileScope[], attempt: number): Promise<void> {
    const again: ReconcileScope[] = [];
    for (const scope of scopes) {
      if (this.stopping) return;
      try {
        const results = await this.o.run(scope, this.controller.signal);
        for (const r of results) if (r.retryable && r.status !== 'ok') again.push({ date, mercNo: r.mercNo, payway: r.payway });
      } catch (err) {
        this.o.log.error({ err, date, scope }, 'reconciliation round failed');
      }
    }
    if (again.length === 0 || this.stopping) return;
    const delay = this.delays[attempt];
    if (delay === undefined) {
      this.o.log.error({ date, left: again.map((s) => `${s.mercNo}/${s.payway}`) }, 'reconciliation: bills still not ready after every retry; run `dtpay reconcile` later');
      return;
    }
    this.o.log.info({ date, count: again.length, inMs: delay }, 'reconciliation: asking again later for bills not ready yet');
    this.after(delay, () => void this.track(this.round(date, again, attempt + 1)));
  }
}
