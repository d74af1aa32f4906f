import { formatBeijing } from './time.js';

// Platform order numbers: 22 digits, yyyyMMddHHmmss (Beijing) + milliseconds (3) + a counter (5).
// Strictly increasing within a process even if the wall clock steps back, and seeded above the
// largest stored id at start-up, so a restart inside the same millisecond cannot repeat one.
/** The shape of a platform order number; anything else cannot name an order. */
export const isOrderId = (s: string): boolean => /^\d{22}$/.test(s);

export class OrderIdGenerator {
  private lastMs = 0;
  private counter = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Makes every later id sort after `id` (an id read back from the database). */
  seedAfter(id: string | undefined): void {
    if (!id || !isOrderId(id)) return;
    const ms = idTimeMs(id);
    if (ms === undefined) return;
    const counter = Number(id.slice(17)) + 1;
    if (ms > this.lastMs || (ms === this.lastMs && counter > this.counter)) {
      this.lastMs = ms;
      this.counter = counter;
    }
  }

  next(): string {
    const now = this.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = 0;
    } else if (this.counter > 99_999) {
      this.lastMs += 1; // more than 100k ids in one millisecond: borrow the next one
      this.counter = 0;
    }
    const id = formatBeijing(this.lastMs) + String(this.lastMs % 1000).padStart(3, '0') + String(this.counter).padStart(5, '0');
    this.counter += 1;
    return id;
  }
}

function idTimeMs(id: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})/.exec(id);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!) - 8 * 3600_000;
}
