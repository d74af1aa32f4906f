import type { MigrationFile } from '../runtime/resources.js';

const NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;

/**
 * Refuses a badly named file and two files with one version, for either database: only the version
 * is recorded, so a second file with the same one would be skipped as applied.
 */
export function checkMigrationNames(files: readonly MigrationFile[]): void {
  const versions = new Map<string, string>();
  for (const { name } of files) {
    if (!NAME.test(name)) throw new Error(`migration file ${name} is not named NNNN_verb_noun.sql`);
    const other = versions.get(name.slice(0, 4));
    if (other) throw new Error(`migration files ${other} and ${name} share the version ${name.slice(0, 4)}`);
    versions.set(name.slice(0, 4), name);
  }
}
