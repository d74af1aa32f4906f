import t from 'tap';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { createOrder, startGateway } from '../helper.js';
import { cli } from '../cli-runner.js';

// Not repeated on PostgreSQL: `dtpay backup` copies the SQLite file; on PostgreSQL backups are pg_dump's (docs/several-instances.md).

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

t.test('a backup is private to its owner and stands alone: no -wal or -shm beside it', async (t) => {
  const gw = await startGateway(t);
  await createOrder(gw);
  const file = join(gw.dir, 'private.sqlite');
  for (const args of [['backup', file], ['backup', file, '--force']]) {
    // --force over a file left readable by others makes it private as well.
    if (args.length === 3) chmodSync(file, 0o644);
    const r = await cli(gw.dir, gw.config.DATABASE_PATH, args);
    t.equal(r.code, 0, r.stderr);
    t.equal((statSync(file).mode & 0o777).toString(8), '600', `${args.join(' ')}: the copy is 0600`);
    t.same(readdirSync(gw.dir).filter((f) => f.startsWith('private.sqlite')), ['private.sqlite'], 'nothing beside it');
  }
  // The copy is a database on its own: opened and closed read-only, it still leaves nothing beside it.
  const copy = new Database(file, { readonly: true });
  t.equal(copy.prepare('SELECT count(*) FROM orders').pluck().get(), 1);
  copy.close();
  t.same(readdirSync(gw.dir).filter((f) => f.startsWith('private.sqlite')), ['private.sqlite']);
});

t.test('a backup into a folder that does not exist: one line, exit 1', async (t) => {
  const gw = await startGateway(t);
  const file = join(gw.dir, 'no', 'such', 'folder', 'b.sqlite');
  const r = await cli(gw.dir, gw.config.DATABASE_PATH, ['backup', file]);
  t.equal(r.code, 1);
  t.equal(r.stderr, `dtpay: backup: no folder ${dirname(file)}; create it first\n`);
  t.equal(r.stdout, '');
  t.notOk(existsSync(dirname(file)), 'the folder is not made on a guess');
});

t.test('neither the database nor a backup of it holds a merchant key in plaintext', async (t) => {
  const gw = await startGateway(t);
  await createOrder(gw); // orders and notifications are written beside the keys
  const made = await cli(gw.dir, gw.config.DATABASE_PATH, ['merchant', 'create', '--name', 'Backed up shop', '--mode', 'live', '--json']);
  t.equal(made.code, 0, made.stderr);
  const keys = [gw.merchant.key, JSON.parse(made.stdout).key as string];
  const rotated = await cli(gw.dir, gw.config.DATABASE_PATH, ['merchant', 'rotate-key', JSON.parse(made.stdout).mercNo, '--json']);
  t.equal(rotated.code, 0, rotated.stderr);
  keys.push(JSON.parse(rotated.stdout).key as string);

  const file = join(gw.dir, 'keys.sqlite');
  const r = await cli(gw.dir, gw.config.DATABASE_PATH, ['backup', file]);
  t.equal(r.code, 0, r.stderr);
  const db = gw.config.DATABASE_PATH;
  for (const f of [file, db, `${db}-wal`].filter((f) => existsSync(f))) {
    const bytes = readFileSync(f);
    for (const key of keys) t.notOk(bytes.includes(Buffer.from(key)), `${f} does not hold the key ${key.slice(0, 4)}…`);
  }
});
