import type { Logger } from 'pino';
import type { Writer } from '../db/writer.js';
import type { Clock } from '../notify/clock.js';
import type { Alert } from '../db/rows.js';

export type { Alert };

interface Source {
  alert: Alert;
  /** occurrences since the last write, the first and last of them */
  pending: number;
  pendingFrom: number;
  lastAt: number;
}

// Alike occurrences are written at most once per this interval per source.
export const ALERT_FLUSH_MS = 60_000;
// A source quiet this long starts a new row when it is heard from again.
export const ALERT_QUIET_MS = 60 * 60_000;

/**
 * Alerts, counted per source (kind, channel, merchant, order). Anyone can post a refused callback,
 * as often as they like, so each one cannot be a durable write of its own: the first from a
 * source is written at once (the operator sees it, and the caller is answered only after it is
 * stored), and the ones after it are counted here and added to that row once a minute. So the
 * database gets at most two writes a minute and one row an hour per source, however many
 * requests arrive, and the count stays exact. What is pending is written on close. The log is
 * spared the same way: the caller logs the first, and each minute's count is one line here.
 *
 * The sources a stranger can reach are few: an unverified callback is only ever
 * `callback_rejected`, at the URL of a merchant and channel that exist; every other kind needs
 * the channel's own signature, and so comes from the channel.
 */
export class AlertRecorder {
  private readonly sources = new Map<string, Source>();
  private timer: unknown;
  private closed = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly writer: Writer,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Records one occurrence; true when it was written now (the first of its source this minute), false when counted. */
  async record(alert: Alert): Promise<boolean> {
    const key = JSON.stringify([alert.kind, alert.channel, alert.mercNo ?? null, alert.orderId ?? null]);
    const known = this.sources.get(key);
    if (known && alert.at - known.lastAt <= ALERT_QUIET_MS) {
      if (known.pending === 0) known.pendingFrom = alert.at;
      known.pending += 1;
      known.lastAt = Math.max(known.lastAt, alert.at);
      return false;
    }
    if (known) {
      // An hour of quiet that no flush has noticed yet (one may still be on its way to the
      // writer): what the source held goes to its old row, and this one opens a new row.
      this.sources.delete(key);
      if (known.pending > 0) {
        const { pendingFrom, pending, lastAt } = known;
        known.pending = 0;
        await this.writer.run('recordAlert', { ...known.alert, at: pendingFrom, count: pending, lastAt, since: pendingFrom - ALERT_QUIET_MS });
      }
    }
    this.sources.set(key, { alert, pending: 0, pendingFrom: alert.at, lastAt: alert.at });
    this.arm();
    await this.writer.run('recordAlert', { ...alert, since: alert.at - ALERT_QUIET_MS });
    return true;
  }

  /** Writes every pending count now; sources that had nothing new since the last flush are forgotten. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  /** Writes what is pending and stops the timer. */
  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    this.sources.clear();
  }

  private arm(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush().then(() => {
        if (this.sources.size > 0) this.arm();
      });
    }, ALERT_FLUSH_MS);
  }

  private async writePending(): Promise<void> {
    const writes: Promise<unknown>[] = [];
    for (const [key, source] of this.sources) {
      if (source.pending === 0) {
        this.sources.delete(key);
        continue;
      }
      const { alert, pending, pendingFrom, lastAt } = source;
      source.pending = 0;
      const { kind, channel, mercNo, orderId } = alert;
      this.log.warn({ kind, channel, mercNo, orderId, count: pending }, 'more alike alerts since the last one logged');
      writes.push(
        this.writer
          .run('recordAlert', { ...alert, at: pendingFrom, count: pending, lastAt, since: pendingFrom - ALERT_QUIET_MS })
          .catch((err: unknown) => this.log.error({ err, kind: alert.kind, channel: alert.channel, count: pending }, 'alert count not written')),
      );
    }
    await Promise.all(writes);
  }
}
