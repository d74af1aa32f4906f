import type { Db } from './open.js';
import { INSTANCE_SLOTS } from '../domain/ids.js';

// Named leases (migrations/0016): a lease is taken when free, expired, or already the caller's
// (a renewal), in one conditional upsert, so two instances asking at once cannot both get it.

export interface LeaseArgs {
  name: string;
  holder: string;
  /** now, ms */
  at: number;
  /** until when the lease is held, ms */
  until: number;
}

export function prepareLeaseOps(db: Db) {
  const take = db.prepare(`INSERT INTO leases (name, holder, lease_until, taken_at) VALUES (@name, @holder, @until, @at)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until,
      taken_at = CASE WHEN leases.holder = excluded.holder THEN leases.taken_at ELSE excluded.taken_at END
    WHERE leases.holder = excluded.holder OR leases.lease_until <= excluded.taken_at`);
  const release = db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?');
  const takeLease = (a: LeaseArgs): boolean => take.run(a).changes === 1;
  return {
    /** Takes or renews the lease; false while another holder's lease runs. */
    takeLease,
    /** Gives the lease up (only the holder can); false if it was not the caller's. */
    releaseLease(a: { name: string; holder: string }): boolean {
      return release.run(a.name, a.holder).changes === 1;
    },
    /** The lowest instance slot free (or already the holder's), leased to the holder; null when all are held. */
    claimInstanceSlot(a: { holder: string; at: number; until: number }): number | null {
      for (let slot = 0; slot < INSTANCE_SLOTS; slot++) {
        if (takeLease({ name: slotLeaseName(slot), holder: a.holder, at: a.at, until: a.until })) return slot;
      }
      return null;
    },
  };
}

export const slotLeaseName = (slot: number) => `slot:${String(slot).padStart(2, '0')}`;
