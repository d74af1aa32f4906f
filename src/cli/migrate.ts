import type { Config } from '../config.js';
import { openDb } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { printJson, type Io } from './io.js';
import { cliSecrets, plaintextKeysPending } from './secrets.js';

export function runMigrate(config: Config, args: string[], io: Io): number {
  const json = args.includes('--json');
  const db = openDb(config.DATABASE_PATH);
  try {
    const r = migrate(db);
    // An upgrade moves plaintext merchant keys aside for sealing (migrations/0008): seal them now.
    if (plaintextKeysPending(db)) cliSecrets(db, config, io, 'migrate');
    if (json) printJson(io, { applied: r.applied, current: r.current ?? null });
    else io.out(r.applied.length ? `applied ${r.applied.join(', ')}\n` : `up to date (version ${r.current})\n`);
    return 0;
  } finally {
    db.close();
  }
}
