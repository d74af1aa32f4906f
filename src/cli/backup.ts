import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
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

  const started = Date.now();
  const db = openDb(config.DATABASE_PATH);
  let pages: number;
  try {
    const r = await db.backup(target, { progress: () => 0x7fffffff });
    pages = r.totalPages;
  } finally {
    db.close();
  }
  // The copy is checked before it is called a backup.
  const copy = new Database(target, { readonly: true, ...bindingOption() });
  let check: string;
  let orders: number;
  try {
    check = copy.pragma('integrity_check', { simple: true }) as string;
    orders = copy.prepare('SELECT count(*) FROM orders').pluck().get() as number;
  } finally {
    copy.close();
  }
  if (check !== 'ok') throw new CliError(`backup: the copy at ${target} fails its integrity check: ${check}`, 1);
  const result = { file: target, bytes: statSync(target).size, pages, orders, ms: Date.now() - started };
  if (values.json) printJson(io, result);
  else io.out(`backed up ${config.DATABASE_PATH} to ${target}: ${result.bytes} bytes, ${orders} orders, ${result.ms} ms\n`);
  return 0;
}
