import { randomBytes } from 'node:crypto';

// The merchant bills' download links (POST /api/bill → billUrl): the exact bytes whose SHA-256 the
// answer signed, held in memory under an unguessable token for ten minutes. Only a request whose
// signature verified makes one, and what is held is bounded three ways — a few links per merchant,
// a total of bytes, a count — the oldest giving way first, so no caller can make the gateway hold
// more than these limits whatever it sends. Held in this process only: a restart forgets them (ask
// again), and behind several instances a link is served by the one that made it.

export interface BillLinkLimits {
  ttlMs: number;
  /** the links one merchant may hold at once; an older one is dropped for a new one */
  perMerchant: number;
  /** the bytes all links hold together; a single bill larger than this is refused */
  maxBytes: number;
  maxLinks: number;
}

export const BILL_LINK_LIMITS: BillLinkLimits = { ttlMs: 10 * 60_000, perMerchant: 8, maxBytes: 64 * 1024 * 1024, maxLinks: 1024 };

interface Held {
  mercNo: string;
  bytes: Uint8Array;
  expiresAt: number;
}

export class BillTooLarge extends Error {
  override name = 'BillTooLarge';
}

export class BillLinks {
  // Insertion order is age order (every link lives as long): the first entries are the oldest.
  private readonly held = new Map<string, Held>();
  private bytes = 0;

  constructor(
    private readonly now: () => number,
    readonly limits: BillLinkLimits = BILL_LINK_LIMITS,
  ) {}

  /** Holds `bytes` for `mercNo`; the token and when it stops being served. */
  put(mercNo: string, bytes: Uint8Array): { token: string; expiresAt: number } {
    if (bytes.byteLength > this.limits.maxBytes) {
      throw new BillTooLarge(`the bill is ${bytes.byteLength} bytes, more than the ${this.limits.maxBytes} the gateway holds for download`);
    }
    const now = this.now();
    this.sweep(now);
    const mine = [...this.held].filter(([, h]) => h.mercNo === mercNo);
    for (let i = 0; i <= mine.length - this.limits.perMerchant; i++) this.drop(mine[i]![0]);
    for (const token of this.held.keys()) {
      if (this.held.size < this.limits.maxLinks && this.bytes + bytes.byteLength <= this.limits.maxBytes) break;
      this.drop(token);
    }
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + this.limits.ttlMs;
    this.held.set(token, { mercNo, bytes, expiresAt });
    this.bytes += bytes.byteLength;
    return { token, expiresAt };
  }

  /** The bytes behind `token`, or undefined when there are none (never made, tampered, expired, dropped). */
  get(token: string): Uint8Array | undefined {
    const h = this.held.get(token);
    if (!h) return undefined;
    if (h.expiresAt <= this.now()) {
      this.drop(token);
      return undefined;
    }
    return h.bytes;
  }

  /** What is held now, for tests and metrics. */
  get size(): { links: number; bytes: number } {
    return { links: this.held.size, bytes: this.bytes };
  }

  private sweep(now: number): void {
    for (const [token, h] of this.held) {
      if (h.expiresAt > now) break;
      this.drop(token);
    }
  }

  private drop(token: string): void {
    const h = this.held.get(token);
    if (!h) return;
    this.held.delete(token);
    this.bytes -= h.bytes.byteLength;
  }
}
