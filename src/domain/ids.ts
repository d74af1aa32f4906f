import { formatBeijing } from './time.js';

// Platform order numbers: 22 digits, yyyyMMddHHmmss (Beijing) + milliseconds (3) + a counter (5).
// Strictly increasing within a process even if the wall clock steps back, and seeded above the
// largest stored id at start-up, so a restart inside the same millisecond cannot repeat one.
//
// Several instances on one database (CONTRACT §7) each hold an instance slot (00–99, leased in the
// database): their ids carry it as the first two digits of the counter, leaving 1,000 ids per
// millisecond to each. Ids of two instances then never meet, and sort by their millisecond first,
// so they stay in creation order across instances (to the accuracy of the instances' clocks).
/** The shape of a platform order number; anything else cannot name an order. */
export const isOrderId = (s: string): boolean => /^\d{22}$/.test(s);

/** Instance slots 00–99; a slot's counter holds 1,000 ids per millisecond. */
export const INSTANCE_SLOTS = 100;
const SLOT_COUNTER = 1_000;

export class OrderIdGenerator {
  private lastMs = 0;
  private counter = 0;
  private readonly perMs: number;
  private readonly prefix: string;

  /** `slot`: this instance's slot when several share the database; none for the only one. */
  constructor(
    private readonly now: () => number = Date.now,
    readonly slot?: number,
  ) {
    if (slot !== undefined && !(Number.isInteger(slot) && slot >= 0 && slot < INSTANCE_SLOTS)) {
      throw new RangeError(`instance slot must be a whole number from 0 to ${INSTANCE_SLOTS - 1}, got ${slot}`);
    }
    this.perMs = slot === undefined ? 100_000 : SLOT_COUNTER;
    this.prefix = slot === undefined ? '' : String(slot).padStart(2, '0');
  }

  /** Makes every later id sort after `id` (an id read back from the database). */
  seedAfter(id: string | undefined): void {
    if (!id || !isOrderId(id)) return;
    const ms = idTimeMs(id);
    if (ms === undefined) return;
    // An id of another slot (or of the single-instance format) only moves the clock on.
    const sameSlot = this.prefix === '' || id.slice(17, 19) === this.prefix;
    const counter = sameSlot ? Number(id.slice(17 + this.prefix.length)) + 1 : this.perMs;
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
    } else if (this.counter >= this.perMs) {
      this.lastMs += 1; // the millisecond's counter is used up: borrow the next one
      this.counter = 0;
    }
    const id =
      formatBeijing(this.lastMs) +
      String(this.lastMs % 1000).padStart(3, '0') +
      this.prefix +
      String(this.counter).padStart(5 - this.prefix.length, '0');
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
