import type { Pool, PoolClient } from './pool.js';
import { pgMigrationFiles } from '../../runtime/resources.js';
import { checkMigrationNames } from '../migration-names.js';
import type { MigrationResult } from '../migrate.js';

export { PG_MIGRATIONS_DIR } from '../../runtime/resources.js';

// The advisory lock every dtpay migrator takes on its database (advisory locks are per database):
// "dtpay" in ASCII, so that it is recognisable in pg_locks (classid 0x64, objid 0x74706179).
export const MIGRATION_LOCK = 0x6474706179n;

/**
 * Applies every PostgreSQL migration not yet recorded in schema_migrations, in order, each in its
 * own transaction: those in `dir`, or by default the program's own (migrations/postgres/, or those
 * embedded in the single executable). Instances that start together queue on one session advisory
 * lock, held on one connection for the whole run, so each version is applied once; the ones that
 * wait find it recorded. A crash releases the lock with its connection.
 */
export async function migratePostgres(pool: Pool, dir?: string, now = Date.now): Promise<MigrationResult> {
  const files = pgMigrationFiles(dir);
  checkMigrationNames(files);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    try {
      return await applyPending(client, files, now);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]).catch(() => {});
    }
  } finally {
    // Not returned to the pool: closing the connection ends its session, and with it the lock,
    // whatever state a failure left it in.
    client.release(true);
  }
}

async function applyPending(
  client: PoolClient,
  files: ReturnType<typeof pgMigrationFiles>,
  now: () => number,
): Promise<MigrationResult> {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, applied_at BIGINT NOT NULL)`);
  const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
  const applied: string[] = [];
  for (const file of files) {
    const version = file.name.slice(0, 4);
    if (done.has(version)) continue;
    const sql = file.sql();
    await client.query('BEGIN');
    try {
      // No parameters: the simple protocol, which runs a file of several statements.
      await client.query(sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [version, file.name, now()]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw Object.assign(new Error(`migration ${file.name} failed: ${(err as Error).message}`, { cause: err }), {
        code: (err as { code?: string }).code,
      });
    }
    applied.push(file.name);
  }
  const last = await client.query<{ v: string | null }>('SELECT max(version) AS v FROM schema_migrations');
  return { applied, current: last.rows[0]?.v ?? undefined };
}
