import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Writer } from '../db/writer.js';
import { slotLeaseName } from '../db/lease-ops.js';
import type { Clock } from '../notify/clock.js';

// Several instances on one PostgreSQL database (CONTRACT §7) each hold an instance slot, whose two
// digits their order ids carry (domain/ids.ts), so that no two instances ever make the same id.
// The slot is a lease (migrations/0016), renewed well before it runs out; an instance that dies
// lets its slot go when the lease ends, and the next instance to start takes it. An instance that
// cannot renew its slot before the lease ends must stop: another may take the slot, and their ids
// would collide.

export const SLOT_LEASE_MS = 60_000;
const RENEW_EVERY_MS = SLOT_LEASE_MS / 4;

/** The name this process's leases are held under: host, pid and a random part, unique per start. */
export const newInstanceName = () => `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

export class InstanceSlot {
  private timer: unknown;
  private heldUntil: number;
  private stopped = false;

  private constructor(
    readonly slot: number,
    private readonly holder: string,
    private readonly writer: Writer,
    private readonly clock: Clock,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly onLost: (err: Error) => void,
    until: number,
  ) {
    this.heldUntil = until;
  }

  /** Takes the lowest free slot; throws when all 100 are held. */
  static async claim(o: {
    holder: string;
    writer: Writer;
    /** renewals are timed by it (the gateway's clock: tests move it by hand) */
    clock: Clock;
    now: () => number;
    log: Logger;
    onLost: (err: Error) => void;
  }): Promise<InstanceSlot> {
    const at = o.now();
    const until = at + SLOT_LEASE_MS;
    const slot = await o.writer.run('claimInstanceSlot', { holder: o.holder, at, until });
    if (slot === null) throw new Error('all 100 instance slots are held: no more gateway instances can share this database');
    const s = new InstanceSlot(slot, o.holder, o.writer, o.clock, o.now, o.log, o.onLost, until);
    s.schedule();
    return s;
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => {
      void this.renew().finally(() => {
        if (!this.stopped) this.schedule();
      });
    }, RENEW_EVERY_MS);
  }

  private async renew(): Promise<void> {
    const at = this.now();
    const until = at + SLOT_LEASE_MS;
    try {
      if (await this.writer.run('takeLease', { name: slotLeaseName(this.slot), holder: this.holder, at, until })) {
        this.heldUntil = until;
        return;
      }
      this.lost(new Error(`instance slot ${this.slot} was taken over by another instance`));
    } catch (err) {
      // The database may be back before the lease runs out; only then is the slot gone.
      this.log.warn({ err: { message: (err as Error).message }, slot: this.slot }, 'could not renew the instance slot');
      if (this.now() >= this.heldUntil) this.lost(new Error(`instance slot ${this.slot} could not be renewed before its lease ran out`));
    }
  }

  private lost(err: Error): void {
    if (this.stopped) return;
    this.stop();
    this.onLost(err);
  }

  private stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }

  /** Gives the slot up, for the next instance to take at once. */
  async release(): Promise<void> {
    if (this.stopped) return;
    this.stop();
    await this.writer.run('releaseLease', { name: slotLeaseName(this.slot), holder: this.holder }).catch(() => false);
  }
}
