import type { Config } from '../config.js';
import { openDb } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { printJson, type Io } from './io.js';
import { openPool } from '../db/postgres/pool.js';
import { migratePostgres } from '../db/postgres/migrate.js';
import { plaintextKeysPending, sqliteCliSecrets } from './secrets.js';

export async function runMigrate(config: Config, args: string[], io: Io): Promise<number> {
  const json = args.includes('--json');
  if (config.DATABASE_URL) return migrateOnPostgres(config.DATABASE_URL, json, io);
  const db = openDb(config.DATABASE_PATH);
  try {
    const r = migrate(db);
    // An upgrade moves plaintext merchant keys aside for sealing (migrations/0008): seal them now.
    if (plaintextKeysPending(db)) sqliteCliSecrets(db, config, io, 'migrate');
    if (json) printJson(io, { applied: r.applied, current: r.current ?? null });
    else io.out(r.applied.length ? `applied ${r.applied.join(', ')}\n` : `up to date (version ${r.current})\n`);
    return 0;
  } finally {
    db.close();
  }
}

/** The same on PostgreSQL (DATABASE_URL): under the migrator's advisory lock, beside running gateways. */
async function migrateOnPostgres(url: string, json: boolean, io: Io): Promise<number> {
  const pool = openPool(url, { max: 1, applicationName: 'dtpay migrate' });
  try {
    const r = await migratePostgres(pool);
    if (json) printJson(io, { applied: r.applied, current: r.current ?? null });
    else io.out(r.applied.length ? `applied ${r.applied.join(', ')}\n` : `up to date (version ${r.current})\n`);
    return 0;
  } finally {
    await pool.end();
  }
}
