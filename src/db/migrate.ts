import type { Db } from './open.js';
import { migrationFiles } from '../runtime/resources.js';
import { checkMigrationNames } from './migration-names.js';

export { MIGRATIONS_DIR } from '../runtime/resources.js';

export interface MigrationResult {
  applied: string[];
  current: string | undefined;
}

/**
 * Applies every migration not yet recorded, in order, each in its own transaction: those in `dir`,
 * or by default the program's own (migrations/, or those embedded in the single executable).
 */
export function migrate(db: Db, dir?: string, now = Date.now): MigrationResult {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
  const files = migrationFiles(dir);
  checkMigrationNames(files);
  const done = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: string }[]).map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: string[] = [];
  for (const file of files) {
    const f = file.name;
    const version = f.slice(0, 4);
    if (done.has(version)) continue;
    const sql = file.sql();
    // Re-checked under the write lock: a second process may have applied it meanwhile.
    const ran = db.transaction(() => {
      if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(version)) return false;
      db.exec(sql);
      record.run(version, f, now());
      return true;
    }).immediate();
    if (ran) applied.push(f);
  }
  const last = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: string | null };
  return { applied, current: last.v ?? undefined };
}
