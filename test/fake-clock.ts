import type { Clock } from '../src/notify/clock.js';

/** A clock that only moves when told to; timers fire in due order as it passes them. */
export class FakeClock implements Clock {
  private t: number;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1, 4, 0, 0)) {
    this.t = start;
  }

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    // A zero delay still runs asynchronously, as with a real timer.
    if (ms <= 0) queueMicrotask(() => this.fire());
    return id;
  };

  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.earliest();
      if (!next || next.at > end) break;
      this.t = Math.max(this.t, next.at);
      this.timers.delete(next.id);
      next.fn();
    }
    this.t = end;
  }

  private fire(): void {
    for (;;) {
      const next = this.earliest();
      if (!next || next.at > this.t) return;
      this.timers.delete(next.id);
      next.fn();
    }
  }

  private earliest(): { id: number; at: number; fn: () => void } | undefined {
    let best: { id: number; at: number; fn: () => void } | undefined;
    for (const [id, v] of this.timers) if (!best || v.at < best.at) best = { id, ...v };
    return best;
  }
}
