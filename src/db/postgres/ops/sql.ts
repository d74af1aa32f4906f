import type { PoolClient } from '../pool.js';

// The operations write their SQL with @name parameters, as the SQLite ones do; this turns them into
// PostgreSQL's $n once per statement text. An absent value binds as NULL.
//
// Each text also gets a statement name, so that a connection parses and plans it once and then
// only binds and executes it, as the reads do (src/db/postgres/statements.ts): the texts are the
// operations' constants, a bounded set. qEach leaves a statement unnamed, planned with its values
// at every run, for a statement whose cheap plan depends on them (a range, a batch of ids).

interface Compiled {
  text: string;
  names: string[];
  name: string;
}

const compiled = new Map<string, Compiled>();

function compile(sql: string): Compiled {
  let c = compiled.get(sql);
  if (!c) {
    const names: string[] = [];
    const text = sql.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
      let i = names.indexOf(name);
      if (i < 0) i = names.push(name) - 1;
      return `$${i + 1}`;
    });
    c = { text, names, name: `w_${compiled.size}` };
    compiled.set(sql, c);
  }
  return c;
}

export interface Result<R> {
  rows: R[];
  /** rows inserted, updated or deleted (0 for a statement that touched none) */
  count: number;
}

export async function q<R = Record<string, unknown>>(c: PoolClient, sql: string, params: object = {}, each = false): Promise<Result<R>> {
  const { text, names, name } = compile(sql);
  const p = params as Record<string, unknown>;
  const values = names.map((n) => {
    if (!(n in p)) throw new Error(`no value for @${n}`);
    return p[n] ?? null;
  });
  const r = await c.query(each ? { text, values } : { name, text, values });
  return { rows: r.rows as R[], count: r.rowCount ?? 0 };
}

/** As q, planned with its values at every run (see above). */
export const qEach = <R = Record<string, unknown>>(c: PoolClient, sql: string, params: object = {}): Promise<Result<R>> =>
  q<R>(c, sql, params, true);

/** The first row, or undefined. */
export async function one<R = Record<string, unknown>>(c: PoolClient, sql: string, params: object = {}): Promise<R | undefined> {
  return (await q<R>(c, sql, params)).rows[0];
}

/**
 * A lock for the rest of the transaction on something that has no row to lock yet (an alert's
 * source, a login key, a reconciliation day): `space` keeps the kinds of key apart.
 */
export async function lockKey(c: PoolClient, space: LockSpace, key: string): Promise<void> {
  await q(c, 'SELECT pg_advisory_xact_lock(@space::int4, hashtext(@key::text))', { space, key });
}

export const LockSpace = { alertSource: 1, loginKey: 2, reconciliationDay: 3 } as const;
export type LockSpace = (typeof LockSpace)[keyof typeof LockSpace];

/** An integer column as a number (int8 arrives as a BigInt); null stays null. */
export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
/** An amount as a BigInt, whatever width the column has; null stays null. */
export const fen = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(v as bigint | number | string));
