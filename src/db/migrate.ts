import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Db } from './open.js';

// dist/src/db/migrate.js and src/db/migrate.ts both sit three levels below the package root.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

const NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;

export interface MigrationResult {
  applied: string[];
  current: string | undefined;
}

/** Applies every migration not yet recorded, in order, each in its own transaction. */
export function migrate(db: Db, dir = MIGRATIONS_DIR, now = Date.now): MigrationResult {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  for (const f of files) {
    if (!NAME.test(f)) throw new Error(`migration file ${f} is not named NNNN_verb_noun.sql`);
  }
  const done = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: string }[]).map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: string[] = [];
  for (const f of files) {
    const version = f.slice(0, 4);
    if (done.has(version)) continue;
    const sql = readFileSync(`${dir}/${f}`, 'utf8');
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
