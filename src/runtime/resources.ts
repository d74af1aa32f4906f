import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getAsset, getRawAsset, isSea } from 'node:sea';
import { getEnvironmentData, setEnvironmentData, Worker, type WorkerOptions } from 'node:worker_threads';

// Where the gateway's own files come from. Run from the package (npm start, npx dtpay, the tests)
// they are files beside the compiled code and better-sqlite3 finds its binding itself. Inside the
// single executable (dist/dtpay, see scripts/build-binary.ts) they are assets embedded in it, and
// the SQLite binding is a copy that the executable writes to a private folder when it starts.

/** Asset names inside the executable; the build script writes the same names. */
export const ASSETS = {
  migrationIndex: 'migrations/index.json',
  migration: (name: string) => `migrations/${name}`,
  pgMigrationIndex: 'migrations/postgres/index.json',
  pgMigration: (name: string) => `migrations/postgres/${name}`,
  thread: (name: ThreadName) => `threads/${name}.js`,
  sqliteBinding: 'better_sqlite3.node',
} as const;

// This module sits three levels below the package root both as src/runtime/*.ts and dist/src/runtime/*.js.
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));
/** PostgreSQL's migrations: the same numbers as SQLite's from 0015 on (migrations/postgres/0015_create_schema.sql). */
export const PG_MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/postgres/', import.meta.url));

export interface MigrationFile {
  name: string;
  sql(): string;
}

/** The migrations in `dir`, or by default those this program carries: embedded ones inside the executable. */
export function migrationFiles(dir?: string): MigrationFile[] {
  return filesOf(dir, MIGRATIONS_DIR, ASSETS.migrationIndex, ASSETS.migration);
}

/** PostgreSQL's migrations in `dir`, or by default this program's own, as migrationFiles() for SQLite. */
export function pgMigrationFiles(dir?: string): MigrationFile[] {
  return filesOf(dir, PG_MIGRATIONS_DIR, ASSETS.pgMigrationIndex, ASSETS.pgMigration);
}

function filesOf(dir: string | undefined, ownDir: string, index: string, asset: (name: string) => string): MigrationFile[] {
  if (dir === undefined && isSea()) {
    const names = JSON.parse(getAsset(index, 'utf8')) as string[];
    return names.map((name) => ({ name, sql: () => getAsset(asset(name), 'utf8') }));
  }
  const from = dir ?? ownDir;
  return readdirSync(from)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: () => readFileSync(join(from, name), 'utf8') }));
}

/** How an operator runs this program's CLI: `npx dtpay` in the package, the executable as it was started. */
export function cliCommand(): string {
  return isSea() ? process.argv0 : 'npx dtpay';
}

export type ThreadName = 'writer-thread' | 'checkpoint-thread';

/** Starts one of the database threads (src/db/<name>.ts): its own bundle inside the executable. */
export function startThread(name: ThreadName, options: WorkerOptions): Worker {
  if (isSea()) return new Worker(getAsset(ASSETS.thread(name), 'utf8'), { ...options, eval: true });
  return new Worker(new URL(`../db/${name}.js`, import.meta.url), options);
}

// Worker threads get a copy of this at their start, so every thread loads the file the main thread wrote.
const BINDING_PATH = 'dtpay:sqlite-binding-path';

let binding: object | undefined;

/**
 * better-sqlite3's `nativeBinding` option for this thread: undefined (its own lookup in
 * node_modules) outside the executable; inside it, the copy written by unpackSqliteBinding().
 */
export function sqliteBinding(): object | undefined {
  if (binding || !isSea()) return binding;
  const file = getEnvironmentData(BINDING_PATH) as string | undefined;
  if (!file) throw new Error('the SQLite binding is not unpacked: unpackSqliteBinding() runs first, in the main thread');
  const addon = { exports: {} as object };
  try {
    process.dlopen(addon, file, constants.dlopen.RTLD_NOW);
  } catch (err) {
    throw new Error(
      `cannot load the SQLite binding from ${file}: ${(err as Error).message}. ` +
        'If the temporary folder is on a file system mounted noexec, set TMPDIR to a folder that is not.',
    );
  }
  return (binding = addon.exports);
}

/**
 * Writes the embedded SQLite binding into a fresh private folder under TMPDIR (the folder 0700, the
 * file 0600); `remove` deletes that folder. Only the executable's main thread calls it, once, at start.
 */
export function unpackSqliteBinding(): { dir: string; remove(): void } {
  const cannot = (err: unknown) =>
    new Error(`cannot unpack the SQLite binding into ${tmpdir()} (TMPDIR): ${(err as Error).message}`);
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'dtpay-'));
  } catch (err) {
    throw cannot(err);
  }
  const file = join(dir, ASSETS.sqliteBinding);
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    writeFileSync(file, new Uint8Array(getRawAsset(ASSETS.sqliteBinding) as ArrayBuffer), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    remove();
    throw cannot(err);
  }
  setEnvironmentData(BINDING_PATH, file);
  return { dir, remove };
}
