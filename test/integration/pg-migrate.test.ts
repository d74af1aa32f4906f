import t from 'tap';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPool, type Pool } from '../../src/db/postgres/pool.js';
import { MIGRATION_LOCK, PG_MIGRATIONS_DIR, migratePostgres } from '../../src/db/postgres/migrate.js';
import { pgCluster } from '../pg-cluster.js';
import { tempDir } from '../helper.js';

/** The PostgreSQL migrations this program ships, in order. */
const SHIPPED = readdirSync(PG_MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
const LAST = SHIPPED.at(-1)!.slice(0, 4);

// The PostgreSQL migrator (CONTRACT §7): each version once, even when several instances start at
// the same moment on one database; file names checked as SQLite's migrator checks them.

interface Teardown {
  teardown(fn: () => unknown): void;
}

const found = await pgCluster(t);
if (!found) t.comment('no PostgreSQL on this machine: the PostgreSQL migrator tests are skipped');
const cluster = found!;
const skip = !found && 'no PostgreSQL';

async function freshPool(t: Teardown, url?: string): Promise<Pool> {
  const pool = openPool(url ?? (await cluster!.createDatabase()), { max: 2 });
  t.teardown(() => pool.end());
  return pool;
}

const tables = async (pool: Pool) =>
  (await pool.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")).rows.map((r) => r.t);

/** A folder holding the program's own PostgreSQL migrations and `extra` files after them. */
function migrationsWith(t: Teardown, extra: Record<string, string>): string {
  const dir = join(tempDir(t), 'postgres');
  mkdirSync(dir);
  for (const f of readdirSync(PG_MIGRATIONS_DIR)) copyFileSync(join(PG_MIGRATIONS_DIR, f), join(dir, f));
  for (const [name, sql] of Object.entries(extra)) writeFileSync(join(dir, name), sql);
  return dir;
}

/** Sessions waiting for the migration lock: advisory locks show the 64-bit key as classid, objid. */
async function waitingForLock(pool: Pool): Promise<number> {
  const r = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid = $1 AND objid = $2 AND objsubid = 1`,
    [Number(MIGRATION_LOCK >> 32n), Number(MIGRATION_LOCK & 0xffffffffn)],
  );
  return Number(r.rows[0]!.n);
}

t.test('a fresh database starts at 0015; a second run applies nothing', { skip }, async (t) => {
  const pool = await freshPool(t);
  const own = readdirSync(PG_MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
  t.equal(own[0], '0015_create_schema.sql', 'PostgreSQL starts at the version SQLite has reached');
  const first = await migratePostgres(pool, undefined, () => 1_700_000_000_123);
  t.same(first, { applied: own, current: own.at(-1)!.slice(0, 4) });
  const rec = await pool.query('SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
  t.same(rec.rows, own.map((name) => ({ version: name.slice(0, 4), name, applied_at: 1_700_000_000_123n })), 'recorded, applied_at as int8');
  t.ok((await tables(pool)).includes('orders'));
  t.same(await migratePostgres(pool), { applied: [], current: first.current });
  t.equal((await pool.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n, own.length);
});

t.test('a role that only owns its database migrates it (no superuser, no extension)', { skip }, async (t) => {
  const role = `owner_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
  await admin.query(`CREATE DATABASE ${role} OWNER ${role}`);
  const u = new URL(cluster.url);
  u.username = role;
  u.pathname = `/${role}`;
  const pool = await freshPool(t, u.toString());
  const r = await migratePostgres(pool);
  t.same(r.applied, SHIPPED, 'every shipped migration, from 0015 on');
  const owners = await pool.query<{ owner: string }>(
    'SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = current_schema()',
  );
  t.same(owners.rows, [{ owner: role }], 'every table belongs to the role');
});

t.test('four migrators started at once: every version applied exactly once, none fails', { skip }, async (t) => {
  const url = await cluster.createDatabase();
  // 0900 fails if run twice (its table exists); 0901 counts its runs.
  const dir = migrationsWith(t, {
    '0900_create_probe.sql': 'CREATE TABLE probe (run BIGINT NOT NULL);\n',
    '0901_count_runs.sql': 'INSERT INTO probe (run) VALUES (1);\n',
  });
  const pools = await Promise.all([0, 1, 2, 3].map(() => freshPool(t, url)));
  const watcher = await freshPool(t, url);
  // The test holds the lock first, so that all four are surely inside migratePostgres together,
  // queued on the lock, before any of them may go on.
  const holder = await watcher.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
  const runs = pools.map((p) => migratePostgres(p, dir));
  for (let i = 0; (await waitingForLock(watcher)) < 4; i++) {
    if (i > 1000) throw new Error('the four migrators never queued on the lock');
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(await waitingForLock(watcher), 4, 'four sessions wait for the migration lock');
  await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
  holder.release();

  const results = await Promise.allSettled(runs);
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'], 'none fails');
  const answers = results.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof migratePostgres>>>).value);
  const all = readdirSync(dir).sort();
  t.same(answers.flatMap((a) => a.applied).sort(), all, 'each version applied by exactly one of them');
  t.same(answers.map((a) => a.current), ['0901', '0901', '0901', '0901']);
  t.same(
    (await watcher.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version),
    all.map((f) => f.slice(0, 4)),
  );
  t.equal((await watcher.query('SELECT count(*)::int AS n FROM probe')).rows[0].n, 1, '0901 ran once');
  t.equal(await waitingForLock(watcher), 0);
  // pg_locks shows the whole cluster's locks: other tests' databases may hold theirs.
  const held = await watcher.query(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  t.equal(held.rows[0].n, 0, 'no advisory lock left held on this database');
});

t.test('badly named files and two files with one version are refused before anything runs', { skip }, async (t) => {
  for (const [files, message] of [
    [{ '0900_create_probe.sql': 'CREATE TABLE probe (x BIGINT);', '0900_create_other.sql': 'CREATE TABLE other (x BIGINT);' },
      /0900_create_other\.sql and 0900_create_probe\.sql share the version 0900/],
    [{ '16_create_probe.sql': 'CREATE TABLE probe (x BIGINT);' }, /16_create_probe\.sql is not named NNNN_verb_noun\.sql/],
    [{ '0900_Create-Probe.sql': 'CREATE TABLE probe (x BIGINT);' }, /0900_Create-Probe\.sql is not named NNNN_verb_noun\.sql/],
  ] as const) {
    const pool = await freshPool(t);
    await t.rejects(migratePostgres(pool, migrationsWith(t, files)), message);
    t.same(await tables(pool), [], 'nothing applied, not even the migration record');
  }
});

t.test('a broken migration rolls back whole, is not recorded, and leaves the lock free', { skip }, async (t) => {
  const pool = await freshPool(t);
  const dir = migrationsWith(t, { '0900_create_probe.sql': 'CREATE TABLE probe (x BIGINT);\nCREATE TABLEE broken (;\n' });
  await t.rejects(migratePostgres(pool, dir), /migration 0900_create_probe\.sql failed: syntax error/);
  t.same((await pool.query('SELECT version FROM schema_migrations ORDER BY version')).rows, SHIPPED.map((f) => ({ version: f.slice(0, 4) })), `the shipped ones, to ${LAST}, applied and recorded`);
  t.notOk((await tables(pool)).includes('probe'), "0900's first statement rolled back with it");
  // Fixed, it applies at once: no lock was left behind by the failure.
  writeFileSync(join(dir, '0900_create_probe.sql'), 'CREATE TABLE probe (x BIGINT);\n');
  t.same(await migratePostgres(pool, dir), { applied: ['0900_create_probe.sql'], current: '0900' });
});
