import type { PoolClient } from '../pool.js';
import { INSTANCE_SLOTS } from '../../../domain/ids.js';
import { slotLeaseName, type LeaseArgs } from '../../lease-ops.js';

// Named leases on PostgreSQL (migrations/postgres/0016), as src/db/lease-ops.ts on SQLite. The
// conditional upsert decides: two instances inserting one name at once meet on its primary key,
// the second waits for the first to commit and then sees its row, so only one holds the lease.

async function takeLease(c: PoolClient, a: LeaseArgs): Promise<boolean> {
  const r = await c.query({
    name: 'lease_take',
    text: `INSERT INTO leases (name, holder, lease_until, taken_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until,
        taken_at = CASE WHEN leases.holder = excluded.holder THEN leases.taken_at ELSE excluded.taken_at END
      WHERE leases.holder = excluded.holder OR leases.lease_until <= excluded.taken_at`,
    values: [a.name, a.holder, a.until, a.at],
  });
  return r.rowCount === 1;
}

export const leaseOps = {
  takeLease,
  async releaseLease(c: PoolClient, a: { name: string; holder: string }): Promise<boolean> {
    const r = await c.query({ name: 'lease_release', text: 'DELETE FROM leases WHERE name = $1 AND holder = $2', values: [a.name, a.holder] });
    return r.rowCount === 1;
  },
  async claimInstanceSlot(c: PoolClient, a: { holder: string; at: number; until: number }): Promise<number | null> {
    for (let slot = 0; slot < INSTANCE_SLOTS; slot++) {
      if (await takeLease(c, { name: slotLeaseName(slot), holder: a.holder, at: a.at, until: a.until })) return slot;
    }
    return null;
  },
};
