import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { InlineWriter, type Writer } from '../../src/db/writer.js';

// Named leases (migrations/0016): one holder at a time, renewals by the holder, take-over once
// a lease has run out, instance slots handed out lowest first and never twice.

async function sqliteWriter(t: { teardown(fn: () => unknown): void }): Promise<Writer> {
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-leases-'));
  const db = openDb(join(dir, 'db.sqlite'));
  migrate(db);
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return new InlineWriter(db);
}

t.test('a lease has one holder until it runs out', async (t) => {
  const w = await sqliteWriter(t);
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

t.test('instance slots: the lowest free one, never two holders, a dead holder\'s taken over', async (t) => {
  const w = await sqliteWriter(t);
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
