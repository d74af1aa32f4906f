import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { MASTER_KEY_GENERATE, masterKeyWeakness } from './key-strength.js';

// Where MASTER_KEY comes from. The environment (or .env) may set it; otherwise it is read from
// MASTER_KEY_FILE (by default master.key beside the database), which the gateway or the CLI writes
// on first need when nothing sealed is stored yet. The server and the CLI resolve it the same way,
// so a CLI run beside the server uses the same key without being told.
//
// When MASTER_KEY is set and MASTER_KEY_FILE holds a different key, nothing starts: one of them
// sealed the stored secrets, and a process that picked the wrong one would seal new secrets that
// the other processes cannot open. The operator removes the one that is not meant.

export const MASTER_KEY_HOWTO =
  `Set MASTER_KEY in the environment or in .env, e.g. MASTER_KEY=$(${MASTER_KEY_GENERATE}), or point MASTER_KEY_FILE at the file ` +
  'that holds it, and keep it: the sealed merchant keys and channel credentials can only be read with the same MASTER_KEY.';

/** MASTER_KEY is needed (sealed secrets are stored or are being stored) but neither set nor in its file. */
export class MasterKeyMissingError extends Error {
  override name = 'MasterKeyMissingError';
}

/** MASTER_KEY_FILE cannot be used as it is, or disagrees with MASTER_KEY. */
export class MasterKeyFileError extends Error {
  override name = 'MasterKeyFileError';
}

export interface MasterKeySettings {
  MASTER_KEY?: string | undefined;
  MASTER_KEY_FILE: string;
}

export interface FoundMasterKey {
  key: string;
  from: 'environment' | 'file';
  /** the mode the file had when it let other users read it, now 0600 */
  tightenedFrom?: number;
  /**
   * The file lets other users read it and could not be made private (a read-only mount, a file
   * this user does not own): its mode and the reason. The key is still used; the operator is told.
   */
  loose?: { mode: number; why: string };
}

const FORMAT = /^[A-Za-z0-9+/=_-]{32,}$/;

/** The configured MASTER_KEY, or undefined when neither the variable nor the file gives one. */
export function findMasterKey(s: MasterKeySettings): FoundMasterKey | undefined {
  const file = readKeyFile(s.MASTER_KEY_FILE);
  if (s.MASTER_KEY !== undefined && s.MASTER_KEY !== '') {
    if (file && file.key !== s.MASTER_KEY) {
      throw new MasterKeyFileError(
        `MASTER_KEY is set and MASTER_KEY_FILE (${s.MASTER_KEY_FILE}) holds a different key; dtpay will not guess which one ` +
          'sealed the stored secrets. Keep one: unset MASTER_KEY to use the file, or move the file away (keep a copy) to use MASTER_KEY.',
      );
    }
    return { key: s.MASTER_KEY, from: 'environment' };
  }
  if (!file) return undefined;
  return { ...file, from: 'file' };
}

function readKeyFile(path: string): Omit<FoundMasterKey, 'from'> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') return undefined;
    throw new MasterKeyFileError(`MASTER_KEY_FILE (${path}) cannot be read: ${code ?? (err as Error).message}`);
  }
  const key = text.trim();
  if (!FORMAT.test(key)) {
    throw new MasterKeyFileError(
      `MASTER_KEY_FILE (${path}) must hold one key of at least 32 characters of base64 or hex (${MASTER_KEY_GENERATE})`,
    );
  }
  const weakness = masterKeyWeakness(key);
  if (weakness) {
    throw new MasterKeyFileError(`MASTER_KEY_FILE (${path}) holds a key too weak to seal secrets with: ${weakness}. Generate one with: ${MASTER_KEY_GENERATE}`);
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return { key };
  try {
    chmodSync(path, 0o600);
  } catch (err) {
    // A key mounted read-only (a Kubernetes secret volume, a read-only bind mount) or owned by
    // another user cannot be tightened here; refusing to start would not make it private either.
    const code = (err as { code?: string }).code;
    if (code === 'EROFS' || code === 'EPERM' || code === 'EACCES') return { key, loose: { mode, why: code } };
    throw err;
  }
  return { key, tightenedFrom: mode };
}

/**
 * Writes a new random MASTER_KEY into `path` (0600, its folder 0700 when made here) and returns
 * it. The file appears whole or not at all, and never replaces one: when another process made it
 * first, its key is the one returned.
 */
export function generateMasterKeyFile(path: string): string {
  const key = randomBytes(32).toString('base64');
  const folder = dirname(path);
  const partial = `${path}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const fd = openSync(partial, 'wx', 0o600);
    try {
      writeSync(fd, `${key}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(partial, path);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      return readKeyFile(path)!.key;
    }
    const dir = openSync(folder, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return key;
  } catch (err) {
    if (err instanceof MasterKeyFileError) throw err;
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new MasterKeyFileError(
      `MASTER_KEY is not set and MASTER_KEY_FILE (${path}) cannot be written: ${code}. ` +
        'Set MASTER_KEY, or MASTER_KEY_FILE to a writable place.',
    );
  } finally {
    try {
      rmSync(partial, { force: true });
    } catch {
      // nothing was made there
    }
  }
}
