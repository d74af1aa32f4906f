import type { Config } from '../config.js';
import type { Db } from '../db/open.js';
import type { StoredSecrets } from '../db/secret-rows.js';
import { UnsealError } from '../secrets/sealing.js';
import { MasterKeyFileError, MasterKeyMissingError } from '../secrets/master-key.js';
import { openSecrets, type OpenedSecrets } from '../services/secrets-at-start.js';
import { sqliteStoredSecrets } from '../db/secret-rows.js';
import type { CliDatabase } from './database.js';
import { CliError, type Io } from './io.js';

/**
 * MASTER_KEY for a command that seals or opens secrets, found as the server finds it (the variable,
 * else MASTER_KEY_FILE), with the same checks; what that step did is said on stderr. On PostgreSQL
 * none is generated, as no gateway generates one there: every instance must be given the same key,
 * so a missing one is a configuration error (exit 2).
 */
export async function cliSecrets(d: CliDatabase, config: Config, io: Io, what: string): Promise<OpenedSecrets> {
  return checkedSecrets(await d.storedSecrets(), config, io, what, d.dialect === 'postgres');
}

/** The same on a SQLite connection already open (`dtpay migrate`). */
export function sqliteCliSecrets(db: Db, config: Config, io: Io, what: string): OpenedSecrets {
  return checkedSecrets(sqliteStoredSecrets(db), config, io, what, false);
}

function checkedSecrets(stored: StoredSecrets, config: Config, io: Io, what: string, shared: boolean): OpenedSecrets {
  let secrets: OpenedSecrets;
  try {
    secrets = openSecrets(stored, config, shared ? { mayGenerate: false } : {});
  } catch (err) {
    if (err instanceof MasterKeyMissingError && shared) throw new CliError(`${what}: ${err.message}`, 2);
    if (err instanceof MasterKeyMissingError || err instanceof MasterKeyFileError || err instanceof UnsealError) {
      throw new CliError(`${what}: ${err.message}`, 1);
    }
    throw err;
  }
  const { notes } = secrets;
  if (notes.generated) {
    io.err(
      `dtpay: MASTER_KEY was not set: generated one into ${notes.generated} (0600). Back that file up apart from the ` +
        'database: without it the sealed merchant keys and channel credentials cannot be read.\n',
    );
  }
  if (notes.tightenedKeyFile) io.err(`dtpay: ${notes.tightenedKeyFile.file} was readable by other users (${notes.tightenedKeyFile.was}); it is now 0600\n`);
  if (notes.looseKeyFile) {
    const { file, mode, why } = notes.looseKeyFile;
    io.err(`dtpay: ${file} is readable by other users (${mode}) and cannot be made private here (${why}): give the file (or its mount) mode 0400 or 0600\n`);
  }
  if (notes.sealedPlaintextKeys > 0) io.err(`dtpay: sealed ${notes.sealedPlaintextKeys} merchant keys that were stored in plaintext\n`);
  return secrets;
}

/** Whether migrations/0008 left plaintext merchant keys for a start-up step to seal. */
export function plaintextKeysPending(db: Db): boolean {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merchant_keys_to_seal'").pluck().get();
  return table === 1 && db.prepare('SELECT 1 FROM merchant_keys_to_seal LIMIT 1').pluck().get() === 1;
}
