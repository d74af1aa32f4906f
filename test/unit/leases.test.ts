import t, { type Test } from 'tap';
import { fileCluster, pgBackend, pgInstance, sqliteBackend } from '../fixtures/backends.js';
import type { Writer } from '../../src/db/writer.js';

// Named leases (migrations/0016): one holder at a time, renewals by the holder, take-over once
// a lease has run out, instance slots handed out lowest first and never twice. Each scenario runs
// on SQLite and on PostgreSQL; PostgreSQL also shows instances asking at the same moment.

const cluster = fileCluster(t);

async function eachBackend(t: Test, name: string, fn: (t: Test, w: Writer) => Promise<void>) {
  await t.test(`${name} (sqlite)`, async (t) => fn(t, sqliteBackend(t).writer));
  await t.test(`${name} (postgres)`, async (t) => {
    const pg = await pgBackend(t, await cluster);
    if (!pg) return void t.comment('no PostgreSQL on this machine');
    await fn(t, pg.writer);
  });
}

eachBackend(t, 'a lease has one holder until it runs out', async (t, w) => {
  const lease = (holder: string, at: number, until = at + 30_000) => w.run('takeLease', { name: 'reconcile:2026-12-01', holder, at, until });
  t.equal(await lease('a', 1_000), true, 'a free lease is taken');
  t.equal(await lease('b', 2_000), false, 'not by another while it runs');
  t.equal(await lease('a', 20_000, 50_000), true, 'the holder renews it');
  t.equal(await lease('b', 40_000), false, 'the renewal holds it past the first term');
  t.equal(await lease('b', 50_000), true, 'once it has run out, another takes it over');
  t.equal(await lease('a', 50_001), false, 'and the old holder no longer has it');
  t.equal(await w.run('releaseLease', { name: 'reconcile:2026-12-01', holder: 'a' }), false, 'only the holder can give it up');
  t.equal(await w.run('releaseLease', { name: 'reconcile:2026-12-01', holder: 'b' }), true);
  t.equal(await lease('a', 50_002), true, 'a lease given up is free at once');
});

eachBackend(t, "instance slots: the lowest free one, never two holders, a dead holder's taken over", async (t, w) => {
  const claim = (holder: string, at: number) => w.run('claimInstanceSlot', { holder, at, until: at + 60_000 });
  t.equal(await claim('a', 0), 0);
  t.equal(await claim('b', 0), 1);
  t.equal(await claim('c', 0), 2);
  t.equal(await w.run('takeLease', { name: 'slot:01', holder: 'b', at: 30_000, until: 90_000 }), true, 'b renews its slot');
  t.equal(await claim('d', 61_000), 0, "a's slot, run out, goes to the next instance; b's renewed slot does not");
  const many: (number | null)[] = [];
  for (let i = 0; i < 100; i++) many.push(await claim(`x${i}`, 61_000));
  t.same(many.slice(0, 98), Array.from({ length: 98 }, (_, i) => i + 2), "c's run-out slot, then 03…99, in turn");
  t.same(many.slice(98), [null, null], 'none is left once all 100 are held');
});

t.test('instances asking at once for slots and a lease (postgres): each slot and the lease go to one', async (t) => {
  const pg = await pgBackend(t, await cluster);
  if (!pg) return void t.comment('no PostgreSQL on this machine');
  const instances = Array.from({ length: 8 }, () => pgInstance(t, pg.url, 2));
  const slots = await Promise.all(instances.map((x, i) => x.writer.run('claimInstanceSlot', { holder: `i${i}`, at: 0, until: 60_000 })));
  t.same([...slots].sort((a, b) => a! - b!), [0, 1, 2, 3, 4, 5, 6, 7], `eight instances, eight different slots: ${slots.join(' ')}`);
  const taken = await Promise.all(
    instances.map((x, i) => x.writer.run('takeLease', { name: 'reconcile:2026-12-01', holder: `i${i}`, at: 1_000, until: 31_000 })),
  );
  t.equal(taken.filter(Boolean).length, 1, 'one instance gets the day');
});
