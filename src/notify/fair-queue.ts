// Who may start next. A global limit bounds the dispatcher; a per-host limit means a merchant
// endpoint that hangs for the whole timeout ties up at most that many slots, and the deliveries
// to every other host go past it. Pure: no I/O, no clock.

export class FairQueue<T> {
  private readonly waiting = new Map<string, T[]>();
  private readonly running = new Map<string, number>();
  private active = 0;
  private queued = 0;

  constructor(
    private readonly globalLimit: number,
    private readonly hostLimit: number,
  ) {
    if (!(globalLimit >= 1 && hostLimit >= 1)) throw new RangeError('limits must be at least 1');
  }

  get size(): number {
    return this.queued;
  }

  get inFlight(): number {
    return this.active;
  }

  push(host: string, item: T): void {
    let q = this.waiting.get(host);
    if (!q) this.waiting.set(host, (q = []));
    q.push(item);
    this.queued++;
  }

  /**
   * Takes every item that may start now, counting each as running until done(host) is called.
   * Hosts take turns, one item each per round, so a long queue for one host cannot starve another.
   */
  take(): { host: string; item: T }[] {
    const out: { host: string; item: T }[] = [];
    let progress = true;
    while (progress && this.active < this.globalLimit) {
      progress = false;
      for (const [host, q] of this.waiting) {
        if (this.active >= this.globalLimit) break;
        const running = this.running.get(host) ?? 0;
        if (running >= this.hostLimit) continue;
        const item = q.shift()!;
        if (q.length === 0) this.waiting.delete(host);
        this.running.set(host, running + 1);
        this.active++;
        this.queued--;
        out.push({ host, item });
        progress = true;
      }
    }
    return out;
  }

  /**
   * The next item waiting for `host`, to follow one that holds a slot of that host now: it will
   * take over that slot (host and global) when the one before it ends, so it counts for neither.
   */
  takeNext(host: string): T | undefined {
    const q = this.waiting.get(host);
    if (!q) return undefined;
    const item = q.shift()!;
    if (q.length === 0) this.waiting.delete(host);
    this.queued--;
    return item;
  }

  /** The host's slot is free again (its exchange ended). */
  releaseHost(host: string): void {
    const n = (this.running.get(host) ?? 0) - 1;
    if (n <= 0) this.running.delete(host);
    else this.running.set(host, n);
  }

  /** The global slot is free again (the exchange ended). */
  releaseGlobal(): void {
    this.active--;
  }

  /** Drops everything not yet started and returns it. */
  drain(): T[] {
    const all = [...this.waiting.values()].flat();
    this.waiting.clear();
    this.queued = 0;
    return all;
  }
}
