import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { setImmediate as tick } from 'node:timers/promises';
import { openDb, type Db } from '../../src/db/open.js';
import { tightenDatabaseFiles } from '../../src/db/file-modes.js';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { WorkerWriter, WriteError, InlineWriter } from '../../src/db/writer.js';
import type { NewMerchantRecord } from '../../src/db/rows.js';
import { sealMerchantKey } from '../../src/secrets/merchant-keys.js';
import { tempDir } from '../helper.js';
import { TEST_MASTER_KEY } from '../fixtures/merchant-keys.js';

function merchantRow(mercNo: string, over: Partial<NewMerchantRecord> = {}): NewMerchantRecord {
  return {
    merc_no: mercNo,
    name: `Shop ${mercNo}`,
    mode: 'sandbox',
    key_sealed: sealMerchantKey(TEST_MASTER_KEY, mercNo, `key-${mercNo}-`.padEnd(40, 'x')).toString('base64'),
    status: 'active',
    created_at: 1_700_000_000_000,
    updated_at: 1_700_000_000_000,
    ...over,
  };
}

const mercNo = (i: number) => `M9${String(i).padStart(14, '0')}`;

function tables(db: Db): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]);
}

function freshDb(t: Parameters<typeof tempDir>[0]): { path: string; db: Db } {
  const path = join(tempDir(t), 'nested', 'dtpay.sqlite');
  const db = openDb(path);
  t.teardown(() => {
    if (db.open) db.close();
  });
  return { path, db };
}

t.test('openDb sets the pragmas every connection needs', async (t) => {
  const { db } = freshDb(t); // also creates the missing parent directory
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL');
  t.equal(db.pragma('busy_timeout', { simple: true }), 5000);
  t.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no checkpoint on the request path');
  t.equal(db.pragma('cache_size', { simple: true }), -16384, '16 MB of page cache');
  t.equal(db.pragma('mmap_size', { simple: true }), 0, 'no memory map');
  t.equal(db.pragma('temp_store', { simple: true }), 2, 'temporary tables in memory');

  const other = openDb(join(tempDir(t), 'b.sqlite'), { synchronous: 'NORMAL', busyTimeoutMs: 1234 });
  t.teardown(() => other.close());
  t.equal(other.pragma('synchronous', { simple: true }), 1, 'NORMAL when asked');
  t.equal(other.pragma('busy_timeout', { simple: true }), 1234);
  t.equal(other.pragma('foreign_keys', { simple: true }), 1);
});

t.test('migrate applies 0001 once', async (t) => {
  const { path, db } = freshDb(t);
  const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
  t.ok(files.length >= 1 && files[0]!.startsWith('0001_'), 'the project ships 0001');

  const first = migrate(db);
  t.same(first.applied, files, 'every shipped migration applied on an empty database');
  t.equal(first.applied[0], files[0]);
  t.equal(first.current, files.at(-1)!.slice(0, 4));
  for (const table of ['merchants', 'orders', 'order_events', 'settings', 'schema_migrations']) {
    t.ok(tables(db).includes(table), `table ${table} exists`);
  }
  const recorded = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
  t.same(recorded, files.map((f) => ({ version: f.slice(0, 4), name: f })));

  const second = migrate(db);
  t.same(second.applied, [], 'second run applies nothing');
  t.equal(second.current, first.current);

  // Another connection (another process would do the same) also finds nothing to do.
  const other = openDb(path);
  t.teardown(() => other.close());
  t.same(migrate(other).applied, []);
  t.equal(db.prepare('SELECT count(*) FROM schema_migrations').pluck().get(), files.length);

  // Foreign keys are enforced on the migrated schema.
  t.throws(
    () =>
      db
        .prepare('INSERT INTO order_events (order_id, from_status, to_status, source, at) VALUES (?, ?, ?, ?, ?)')
        .run('no-such-order', 'p0001', 'p0002', 'test', 1),
    { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' },
  );
});

t.test('two migration files with one version are refused before anything runs', async (t) => {
  const dir = tempDir(t);
  const migrations = join(dir, 'migrations');
  mkdirSync(migrations);
  writeFileSync(join(migrations, '0001_create_alpha.sql'), 'CREATE TABLE alpha (id INTEGER PRIMARY KEY);\n');
  writeFileSync(join(migrations, '0001_create_beta.sql'), 'CREATE TABLE beta (id INTEGER PRIMARY KEY);\n');
  const db = openDb(join(dir, 'd.sqlite'));
  t.teardown(() => db.close());
  t.throws(() => migrate(db, migrations), /0001_create_alpha\.sql and 0001_create_beta\.sql share the version 0001/);
  t.notOk(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'alpha'").get(), 'nothing was applied');
});

t.test('a broken migration leaves the earlier ones applied and itself unrecorded', async (t) => {
  const dir = tempDir(t);
  const migrations = join(dir, 'migrations');
  mkdirSync(migrations);
  writeFileSync(join(migrations, '0001_create_alpha.sql'), 'CREATE TABLE alpha (id INTEGER PRIMARY KEY);\nINSERT INTO alpha VALUES (1);\n');
  // The first statement works, the second does not: the whole file must roll back.
  writeFileSync(join(migrations, '0002_create_beta.sql'), 'CREATE TABLE beta (id INTEGER PRIMARY KEY);\nCREATE TABLEE broken (;\n');
  writeFileSync(join(migrations, 'README.md'), 'not a migration');
  const db = openDb(join(dir, 'db.sqlite'));
  t.teardown(() => db.close());

  t.throws(() => migrate(db, migrations), 'the broken migration throws');
  t.same(db.prepare('SELECT version FROM schema_migrations').pluck().all(), ['0001'], 'only 0001 is recorded');
  t.ok(tables(db).includes('alpha'), '0001 applied');
  t.equal(db.prepare('SELECT count(*) FROM alpha').pluck().get(), 1);
  t.notOk(tables(db).includes('beta'), "0002's first statement was rolled back with it");
  t.notOk(db.inTransaction, 'no transaction left open');

  // Fixed, it applies — and 0001 is not run again (it would fail: alpha exists).
  writeFileSync(join(migrations, '0002_create_beta.sql'), 'CREATE TABLE beta (id INTEGER PRIMARY KEY);\n');
  const r = migrate(db, migrations);
  t.same(r.applied, ['0002_create_beta.sql']);
  t.equal(r.current, '0002');
  t.ok(tables(db).includes('beta'));

  // Badly named files are refused before anything runs.
  writeFileSync(join(migrations, '3_oops.sql'), 'CREATE TABLE gamma (id INTEGER);');
  t.throws(() => migrate(db, migrations), /3_oops\.sql/);
  t.notOk(tables(db).includes('gamma'));
});

async function startWriter(t: Parameters<typeof tempDir>[0]): Promise<{ path: string; writer: WorkerWriter }> {
  const path = join(tempDir(t), 'w.sqlite');
  const db = openDb(path);
  migrate(db);
  db.close();
  const writer = await WorkerWriter.start(path);
  t.teardown(() => writer.close());
  return { path, writer };
}

t.test('WorkerWriter groups concurrent operations into batches', async (t) => {
  const { path, writer } = await startWriter(t);
  const n = 300;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => writer.run('insertMerchant', merchantRow(mercNo(i)))));
  t.equal(results.length, n);
  t.ok(results.every((r) => r === true), 'every operation resolves with its value');
  t.equal(writer.stats.operations, n);
  t.ok(writer.stats.batches < n, `${n} operations went in ${writer.stats.batches} batches`);
  t.equal(writer.stats.batches, 1, 'operations of one event-loop turn share one transaction');

  // Operations arriving over many turns while a batch is in flight wait and go together.
  const before = { ...writer.stats };
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    pending.push(writer.run('insertMerchant', merchantRow(mercNo(1000 + i))));
    if (i % 10 === 9) await tick();
  }
  await Promise.all(pending);
  const batches = writer.stats.batches - before.batches;
  t.equal(writer.stats.operations - before.operations, 200);
  t.ok(batches < 200, `200 operations over 20 turns went in ${batches} batches`);

  // The writer's own operations return values.
  t.equal(await writer.run('setMerchantStatus', { mercNo: mercNo(0), status: 'disabled', at: 2 }), true);
  t.equal(await writer.run('setMerchantStatus', { mercNo: 'M000000000000000', status: 'disabled', at: 2 }), false);
  t.equal(await writer.run('ensureSetting', { name: 's', value: 'first' }), 'first');
  t.equal(await writer.run('ensureSetting', { name: 's', value: 'second' }), 'first', 'an existing setting is kept');

  await writer.close();
  const db = openDb(path);
  t.teardown(() => db.close());
  t.equal(db.prepare('SELECT count(*) FROM merchants').pluck().get(), n + 200);
  t.equal(db.prepare('SELECT status FROM merchants WHERE merc_no = ?').pluck().get(mercNo(0)), 'disabled');
});

t.test('the next packet waits at the writer thread: it commits without this event loop reading the last answer', async (t) => {
  const { path, writer } = await startWriter(t);
  const reader = openDb(path);
  t.teardown(() => reader.close());
  const count = reader.prepare('SELECT count(*) FROM merchants').pluck();
  const first = writer.run('insertMerchant', merchantRow(mercNo(1)));
  await tick(); // the first packet is with the thread
  const second = writer.run('insertMerchant', merchantRow(mercNo(2)));
  await tick(); // the second is posted while the first may still be committing
  // This event loop is now kept busy: it reads no answer from the thread, and posts nothing.
  const until = Date.now() + 5000;
  let seen = count.get() as number;
  while (seen < 2 && Date.now() < until) seen = count.get() as number;
  t.equal(seen, 2, 'both committed while the event loop was blocked');
  t.same(await Promise.all([first, second]), [true, true]);
});

t.test('a failing operation rejects alone; the rest of its batch commits', async (t) => {
  const { path, writer } = await startWriter(t);
  await writer.run('insertMerchant', merchantRow(mercNo(1)));
  const batchesBefore = writer.stats.batches;

  const calls = [
    writer.run('insertMerchant', merchantRow(mercNo(2))),
    writer.run('insertMerchant', merchantRow(mercNo(1), { name: 'duplicate' })), // primary key taken
    writer.run('insertMerchant', merchantRow(mercNo(3))),
    writer.run('insertMerchant', merchantRow(mercNo(3), { name: 'duplicate in the same batch' })),
    writer.run('insertMerchant', merchantRow(mercNo(4), { key_sealed: 'dG9vLXNob3J0' })), // CHECK (length(key_sealed) > 37)
    writer.run('insertMerchant', merchantRow(mercNo(5))),
  ];
  const settled = await Promise.allSettled(calls);
  t.equal(writer.stats.batches - batchesBefore, 1, 'all six went in one batch');
  t.same(
    settled.map((s) => s.status),
    ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
  );
  const err = (settled[1] as PromiseRejectedResult).reason;
  t.type(err, WriteError);
  t.equal(err.code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
  t.match(err.message, /UNIQUE|PRIMARY/i);
  t.equal((settled[3] as PromiseRejectedResult).reason.code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
  t.equal((settled[4] as PromiseRejectedResult).reason.code, 'SQLITE_CONSTRAINT_CHECK');

  // The writer keeps working after a failed operation.
  t.equal(await writer.run('insertMerchant', merchantRow(mercNo(6))), true);

  await writer.close();
  const db = openDb(path);
  t.teardown(() => db.close());
  t.same(
    db.prepare('SELECT merc_no FROM merchants ORDER BY merc_no').pluck().all(),
    [1, 2, 3, 5, 6].map(mercNo),
    'every operation that resolved is committed, no failed one is',
  );
  t.equal(db.prepare('SELECT name FROM merchants WHERE merc_no = ?').pluck().get(mercNo(1)), `Shop ${mercNo(1)}`, 'the original row is untouched');
  t.equal(db.prepare('SELECT name FROM merchants WHERE merc_no = ?').pluck().get(mercNo(3)), `Shop ${mercNo(3)}`);
});

t.test('close() commits what is queued; a fresh connection sees every committed row', async (t) => {
  const { path, writer } = await startWriter(t);
  const first = writer.run('insertMerchant', merchantRow(mercNo(1)));
  await tick(); // the first batch is now in flight
  const queued = Array.from({ length: 50 }, (_, i) => writer.run('insertMerchant', merchantRow(mercNo(100 + i))));
  const closing = writer.close();
  const results = await Promise.allSettled([first, ...queued]);
  await closing;
  t.ok(results.every((r) => r.status === 'fulfilled'), 'everything queued before close() resolves');
  await t.rejects(writer.run('insertMerchant', merchantRow(mercNo(2))), 'a closed writer refuses new work');
  await writer.close(); // twice is fine

  const db = openDb(path);
  t.teardown(() => db.close());
  t.equal(db.prepare('SELECT count(*) FROM merchants').pluck().get(), 51);
});

t.test('InlineWriter runs each operation in its own transaction', async (t) => {
  const { db } = freshDb(t);
  migrate(db);
  const writer = new InlineWriter(db);
  t.equal(await writer.run('insertMerchant', merchantRow(mercNo(1))), true);
  const err = await writer.run('insertMerchant', merchantRow(mercNo(1))).catch((e: unknown) => e);
  t.type(err, WriteError);
  t.equal((err as WriteError).code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
  t.notOk(db.inTransaction);
  t.equal(db.prepare('SELECT count(*) FROM merchants').pluck().get(), 1);
  await writer.close();
});

const modeOf = (file: string) => statSync(file).mode & 0o777;

t.test('the database, its -wal and -shm, and the folder dtpay makes for them are private to the owner', async (t) => {
  const { path, db } = freshDb(t); // DATABASE_PATH in a folder that does not exist yet
  migrate(db); // a write, so that -wal and -shm exist
  t.equal(modeOf(dirname(path)).toString(8), '700', 'the folder dtpay created');
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    t.ok(existsSync(f), `${f} exists`);
    t.equal(modeOf(f).toString(8), '600', f);
  }
});

t.test('an existing database readable by others is tightened, once', async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const path = join(dir, 'dtpay.sqlite');
  // As an older version left it: created by SQLite with the process umask.
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  old.exec('CREATE TABLE x (y)');
  for (const f of [path, `${path}-wal`, `${path}-shm`]) chmodSync(f, 0o644);
  t.same(
    tightenDatabaseFiles(path).map((c) => [c.file, c.was.toString(8)]),
    [path, `${path}-wal`, `${path}-shm`].map((f) => [f, '644']),
    'each loose file is reported with the mode it had',
  );
  old.close();
  for (const f of [path, `${path}-wal`, `${path}-shm`].filter(existsSync)) t.equal(modeOf(f).toString(8), '600', f);
  t.same(tightenDatabaseFiles(path), [], 'nothing to say the second time');
  t.same(tightenDatabaseFiles(join(dir, 'missing.sqlite')), [], 'no database yet: nothing to do');
  t.equal(modeOf(dir).toString(8), '755', 'a folder the operator made keeps its mode');
});
