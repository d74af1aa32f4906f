import t from 'tap';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createOrder, startGateway } from '../helper.js';
import { cli } from '../cli-runner.js';

// `dtpay backup FILE` while the gateway takes orders: the copy opens, passes its integrity check,
// and holds every order acknowledged before the backup started.

t.test('an online backup under load holds every order acknowledged before it began', async (t) => {
  const gw = await startGateway(t);
  const db = gw.config.DATABASE_PATH;
  const acknowledged: string[] = [];
  let running = true;
  const load = Promise.all(
    Array.from({ length: 6 }, async () => {
      while (running) acknowledged.push(await createOrder(gw));
    }),
  );
  while (acknowledged.length < 300) await new Promise((r) => setTimeout(r, 10));

  const before = [...acknowledged];
  const file = join(gw.dir, 'backup.sqlite');
  const r = await cli(gw.dir, db, ['backup', file, '--json']);
  const duringBackup = acknowledged.length - before.length;
  running = false;
  await load;
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.equal(out.file, file);
  t.ok(out.orders >= before.length, `${out.orders} orders in the copy`);
  t.comment(`${before.length} orders acknowledged before the backup, ${duringBackup} more while it ran`);

  const copy = new Database(file, { readonly: true });
  t.teardown(() => copy.close());
  t.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  const has = copy.prepare('SELECT 1 FROM orders WHERE order_id = ?').pluck();
  const missing = before.filter((id) => has.get(id) !== 1);
  t.same(missing, [], 'every order acknowledged before the backup began is in the copy');
  t.ok(copy.prepare('SELECT count(*) FROM schema_migrations').pluck().get(), 'with its migrations recorded');

  const again = await cli(gw.dir, db, ['backup', file]);
  t.equal(again.code, 2, 'an existing file is not overwritten');
  t.match(again.stderr, /exists; pass --force/);
  const forced = await cli(gw.dir, db, ['backup', file, '--force']);
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stdout, /backed up .* orders/);
});
