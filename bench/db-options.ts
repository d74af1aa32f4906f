import { isPostgresUrl, redactedUrl } from '../src/db/database-url.js';

// --db and --db-url, as the bench takes them (bench/pay.ts). Kept apart from the harness, which
// installs exit handlers on import, so that a test can parse options in its own process.

export const DB_OPTIONS = {
  db: { type: 'string', default: 'sqlite' },
  'db-url': { type: 'string' },
} as const;

export const DB_HELP: [string, string][] = [
  ['--db sqlite|postgres', 'the database the gateways run on (sqlite)'],
  ['--db-url URL', 'with --db postgres: a server to use (a role that may CREATE DATABASE); default a throwaway cluster with fsync on'],
];

export type DbChoice = { kind: 'sqlite' } | { kind: 'postgres'; url: string | undefined };

/** The choice the options make, or an Error saying which option is wrong and why. */
export function parseDbChoice(values: { db?: string; 'db-url'?: string }): DbChoice | Error {
  const db = values.db ?? 'sqlite';
  const url = values['db-url'];
  if (db !== 'sqlite' && db !== 'postgres') return new Error(`--db: expected sqlite or postgres, got ${JSON.stringify(db)}`);
  if (url !== undefined && db !== 'postgres') return new Error('--db-url: only with --db postgres');
  if (url !== undefined && !isPostgresUrl(url)) return new Error(`--db-url: expected a postgres:// or postgresql:// URL with a host, got ${JSON.stringify(redactedUrl(url))}`);
  return db === 'sqlite' ? { kind: 'sqlite' } : { kind: 'postgres', url };
}
