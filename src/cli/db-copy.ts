import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { openDb } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { openPool } from '../db/postgres/pool.js';
import { migratePostgres } from '../db/postgres/migrate.js';
import { copyToPostgres, CopyRefused, type CopyReport } from '../db/copy-to-postgres.js';
import { isPostgresUrl, redactedUrl } from '../db/database-url.js';
import { CliError, printJson, type Io } from './io.js';
import { plaintextKeysPending } from './secrets.js';
import { DatabaseHeld, holdDatabase } from '../db/process-lock.js';

/**
 * `dtpay db copy --to postgres://… [--from PATH] [--json]` (CONTRACT §7): moves a stopped SQLite
 * gateway onto PostgreSQL. The target is migrated first; the copy is one transaction on it.
 */
export async function runDbCopy(config: Config, args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { to: { type: 'string' }, from: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length || !values.to) throw new CliError('usage: dtpay db copy --to postgres://USER:PASS@HOST:PORT/DB [--from PATH] [--json]');
  if (!isPostgresUrl(values.to)) throw new CliError('db copy: --to must be a postgres:// or postgresql:// URL');
  const from = resolve(values.from ?? config.DATABASE_PATH);
  if (!existsSync(from)) throw new CliError(`db copy: no database at ${from}`, 1);
  const target = redactedUrl(values.to);

  // Held for the copy: a source a gateway still serves from is refused, and none can start on it meanwhile.
  let lock: ReturnType<typeof holdDatabase>;
  try {
    lock = holdDatabase(from);
  } catch (err) {
    if (err instanceof DatabaseHeld) throw new CliError(`db copy: ${err.message}; stop it before copying`, 1);
    throw err;
  }
  const src = openDb(from);
  const pool = openPool(values.to, { max: 2, applicationName: 'dtpay db copy' });
  let report: CopyReport;
  try {
    // Brought to this program's schema first, as the gateway would on its next start; keys still
    // waiting to be sealed (an upgrade from before migrations/0008) must be sealed by `dtpay migrate`.
    migrate(src);
    if (plaintextKeysPending(src)) throw new CliError(`db copy: ${from} has merchant keys still to seal; run \`dtpay migrate\` on it first`, 1);
    try {
      await migratePostgres(pool);
    } catch (err) {
      throw new CliError(`db copy: could not migrate ${target}: ${(err as Error).message}`, 1);
    }
    report = await copyToPostgres(src, pool, {
      onTable: values.json ? undefined : (t) => io.err(`copied ${t.table}: ${t.rows} rows (${t.sampled} compared)\n`),
    });
  } catch (err) {
    if (err instanceof CopyRefused) throw new CliError(`db copy: ${err.message}; nothing was copied`, 1);
    throw err;
  } finally {
    src.close();
    lock.release();
    await pool.end();
  }

  if (values.json) {
    printJson(io, { from, to: target, schemaVersion: report.schemaVersion, rows: report.rows, tables: report.tables });
    return 0;
  }
  const width = Math.max(...report.tables.map((t) => t.table.length));
  for (const t of report.tables) io.out(`${t.table.padEnd(width)}  ${String(t.rows).padStart(10)}\n`);
  io.out(
    `\ncopied ${report.rows} rows of ${from} into ${target}, counts and a sample of rows verified.\n` +
      'Next: start the gateways with DATABASE_URL set to that URL and the same MASTER_KEY (the sealed merchant keys and ' +
      'channel credentials open only under it); keep this SQLite file, untouched, as the backup of the moment you moved. ' +
      'See docs/several-instances.md.\n',
  );
  return 0;
}
