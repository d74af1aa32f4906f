// A hashed timer wheel for the notification dispatcher. Pure: it never reads a real clock or
// sets a timer; time enters only through the injected clock and advance().
//
// The wheel is deliberately bounded by a horizon (tickMs * slots ahead of its position): the
// outbox table is the truth, and the dispatcher keeps in memory only what falls due soon, so
// a million rows due next week never cost memory. A refused schedule() is always safe; the
// dispatcher's periodic load picks the row up once it comes within the horizon.

export interface TimerWheelOptions {
  /** Width of one slot in ms; items in the same tick are still returned in exact dueAt order. */
  tickMs: number;
  /** Number of slots; the horizon is tickMs * slots. */
  slots: number;
  /** Clock in ms (Date.now-like); read at construction and when advance() is called without a time. */
  now: () => number;
}

interface Entry<T> {
  id: string;
  dueAt: number;
  item: T;
  // Absolute tick the entry was filed under; a slot may hold entries of two rotations.
  tick: number;
  // Insertion order, so items due at the same ms come out in the order they were scheduled.
  seq: number;
}

export class TimerWheel<T> {
  readonly tickMs: number;
  readonly slots: number;
  readonly horizonMs: number;

  private readonly clock: () => number;
  private readonly wheel: Map<string, Entry<T>>[];
  private readonly byId = new Map<string, Entry<T>>();
  // Position of the wheel: the latest time advance() saw, and its tick. Both only move forward.
  private position: number;
  private cursor: number;
  private seq = 0;

  constructor(opts: TimerWheelOptions) {
    if (!Number.isFinite(opts.tickMs) || opts.tickMs <= 0) throw new RangeError('tickMs must be a positive number');
    if (!Number.isInteger(opts.slots) || opts.slots < 1) throw new RangeError('slots must be a positive integer');
    this.tickMs = opts.tickMs;
    this.slots = opts.slots;
    this.horizonMs = opts.tickMs * opts.slots;
    this.clock = opts.now;
    this.wheel = Array.from({ length: opts.slots }, () => new Map<string, Entry<T>>());
    this.position = opts.now();
    this.cursor = this.tickOf(this.position);
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Files `item` under `id`, replacing any earlier entry with that id. Returns false, and holds
   * nothing for `id`, when `dueAt` lies beyond the horizon: keeping the old entry would fire a
   * time the caller has just moved away from.
   * Items already due are accepted and come out of the next advance().
   */
  schedule(id: string, dueAt: number, item: T): boolean {
    if (!Number.isFinite(dueAt)) throw new RangeError('dueAt must be a finite number');
    this.cancel(id);
    // Measured from the wheel's own position rather than the clock, so every entry's tick stays
    // within one rotation of the cursor; that bound is what keeps advance() and nextDueAt() cheap.
    if (dueAt > this.position + this.horizonMs) return false;
    const tick = Math.max(this.tickOf(dueAt), this.cursor);
    const entry: Entry<T> = { id, dueAt, item, tick, seq: this.seq++ };
    this.wheel[tick % this.slots]!.set(id, entry);
    this.byId.set(id, entry);
    return true;
  }

  cancel(id: string): boolean {
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.byId.delete(id);
    this.wheel[entry.tick % this.slots]!.delete(id);
    return true;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Removes and returns every item due at or before `now`, earliest first. */
  advance(now: number = this.clock()): T[] {
    // A clock that steps backwards must not rewind the wheel: entries are filed relative to it.
    const target = Math.max(this.tickOf(now), this.cursor);
    const due: Entry<T>[] = [];
    // After a long pause every slot gets visited once, not once per elapsed tick.
    const visits = Math.min(target - this.cursor + 1, this.slots);
    for (let i = 0; i < visits; i++) {
      const slot = this.wheel[(this.cursor + i) % this.slots]!;
      if (slot.size === 0) continue;
      for (const entry of slot.values()) {
        // The same slot also holds the next rotation, and the current tick may be only partly due.
        if (entry.dueAt <= now) {
          slot.delete(entry.id);
          this.byId.delete(entry.id);
          due.push(entry);
        }
      }
    }
    this.cursor = target;
    if (now > this.position) this.position = now;
    due.sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
    return due.map((e) => e.item);
  }

  /** Earliest dueAt held, for the dispatcher to sleep exactly until then. */
  nextDueAt(): number | undefined {
    if (this.byId.size === 0) return undefined;
    // Every entry's tick lies in [cursor, cursor + slots], and ticks order dueAt, so the first
    // tick holding anything holds the minimum.
    for (let tick = this.cursor; tick <= this.cursor + this.slots; tick++) {
      const slot = this.wheel[tick % this.slots]!;
      if (slot.size === 0) continue;
      let min: number | undefined;
      for (const entry of slot.values()) {
        if (entry.tick === tick && (min === undefined || entry.dueAt < min)) min = entry.dueAt;
      }
      if (min !== undefined) return min;
    }
    // Unreachable while the invariant holds; a full scan keeps the answer right regardless.
    let min = Infinity;
    for (const entry of this.byId.values()) if (entry.dueAt < min) min = entry.dueAt;
    return min;
  }

  private tickOf(t: number): number {
    return Math.floor(t / this.tickMs);
  }
}
