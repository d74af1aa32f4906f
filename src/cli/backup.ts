import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { Config } from '../config.js';
import { bindingOption, openDb } from '../db/open.js';
import { CliError, printJson, type Io } from './io.js';

/**
 * `dtpay backup FILE`: a consistent copy of the live database through SQLite's online backup API,
 * while the gateway keeps serving. The whole copy is made in one backup step, inside one read
 * transaction, so writes that commit meanwhile neither restart it nor tear it.
 */
export async function runBackup(config: Config, args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { force: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new CliError('usage: dtpay backup FILE [--force] [--json]');
  const target = resolve(positionals[0]!);
  if (target === resolve(config.DATABASE_PATH)) throw new CliError('backup: FILE must not be the database itself');
  if (existsSync(target) && !values.force) throw new CliError(`backup: ${target} exists; pass --force to overwrite it`);
  if (!existsSync(config.DATABASE_PATH)) throw new CliError(`backup: no database at ${config.DATABASE_PATH}`, 1);

  const folder = dirname(target);
  const kind = statOrUndefined(folder);
  if (!kind) throw new CliError(`backup: no folder ${folder}; create it first`, 1);
  if (!kind.isDirectory()) throw new CliError(`backup: ${folder} is not a folder`, 1);

  const started = Date.now();
  // Made beside the target and renamed over it once checked: an interrupted or failed backup never
  // leaves a broken file under the target's name (nor destroys the one --force would replace).
  const partial = `${target}.partial-${process.pid}`;
  let pages: number;
  let check: string;
  let orders: number;
  try {
    // Created 0600 before SQLite opens it; SQLite keeps an existing file's mode. A leftover of an
    // earlier run killed under the same pid is not a backup.
    rmSync(partial, { force: true });
    closeSync(openSync(partial, 'wx', 0o600));
    const db = openDb(config.DATABASE_PATH);
    try {
      const r = await db.backup(partial, { progress: () => 0x7fffffff });
      pages = r.totalPages;
    } finally {
      db.close();
    }
    // The copy carries the live database's WAL mode, and a WAL database grows -wal and -shm files
    // whenever it is opened, even read-only. A backup is one file: rollback journal mode.
    const copy = new Database(partial, bindingOption());
    try {
      copy.pragma('journal_mode = DELETE');
      check = copy.pragma('integrity_check', { simple: true }) as string;
      orders = copy.prepare('SELECT count(*) FROM orders').pluck().get() as number;
    } finally {
      copy.close();
    }
    // The copy is checked before it is called a backup.
    if (check !== 'ok') throw new CliError(`backup: the copy fails its integrity check: ${check}`, 1);
    renameSync(partial, target);
    syncFolder(folder);
  } finally {
    for (const f of [partial, `${partial}-journal`, `${partial}-wal`, `${partial}-shm`]) rmSync(f, { force: true });
  }
  const result = { file: target, bytes: statSync(target).size, pages, orders, ms: Date.now() - started };
  if (values.json) printJson(io, result);
  else io.out(`backed up ${config.DATABASE_PATH} to ${target}: ${result.bytes} bytes, ${orders} orders, ${result.ms} ms\n`);
  return 0;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT' || (err as { code?: string }).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** The rename is durable once the folder's entry is on disk. */
function syncFolder(folder: string): void {
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
