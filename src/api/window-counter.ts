/**
 * Counts hits per key over a fixed window that starts at a key's first hit (as @fastify/rate-limit
 * does), in memory. At most `maxKeys` keys are held: windows that ended are dropped as new ones
 * start, and beyond the bound the oldest window goes first, so a flood of distinct keys costs
 * bounded memory (it can only forget, never block, the keys it drops).
 */
export class WindowCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly windowMs: number,
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Counts one hit for `key`; returns the hits in its current window and the ms until it ends. */
  hit(key: string): { count: number; ttlMs: number } {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (w) this.windows.delete(key);
      this.forgetEnded(now);
      w = { count: 0, resetAt: now + this.windowMs };
      // Insertion order is window-start order, so the oldest windows are always first.
      this.windows.set(key, w);
    }
    w.count += 1;
    return { count: w.count, ttlMs: w.resetAt - now };
  }

  get size(): number {
    return this.windows.size;
  }

  private forgetEnded(now: number): void {
    for (const [key, w] of this.windows) {
      if (w.resetAt > now && this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}
