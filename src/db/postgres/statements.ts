import type { Pool } from './pool.js';

// The reads' statements on PostgreSQL. Each has a name, so that a connection parses and plans it
// once and then only binds and executes it (node-postgres prepares a named statement on first use
// per connection).

/** What a read needs of the pool: `query` (a test may hand in something that explains instead). */
export type Queryable = Pick<Pool, 'query'>;

export interface Statement {
  readonly name: string;
  readonly text: string;
  /**
   * Whether a string parameter bounds a range rather than naming a key. PostgreSQL refuses text
   * holding NUL, where SQLite compares it and finds nothing; a key with a NUL matches no stored row
   * on either backend, so such a lookup answers no rows without asking. A range bound is checked by
   * its caller (dates, order ids) and goes to the server as given.
   */
  readonly ranges?: boolean;
}

export const statement = (name: string, text: string, opts: { ranges?: boolean } = {}): Statement => {
  // PostgreSQL cuts names at 63 bytes; two cut to the same would collide on a connection.
  if (Buffer.byteLength(name) > 56) throw new Error(`statement name too long: ${name}`);
  return { name: `r_${name}`, text: text.replace(/\s+/g, ' ').trim(), ...opts };
};

const hasNul = (values: readonly unknown[]) => values.some((v) => typeof v === 'string' && v.includes('\0'));

export async function rows<T = Record<string, unknown>>(pool: Queryable, st: Statement, values: unknown[]): Promise<T[]> {
  if (!st.ranges && hasNul(values)) return [];
  const r = await pool.query({ name: st.name, text: st.text, values });
  return r.rows as T[];
}

export async function first<T = Record<string, unknown>>(pool: Queryable, st: Statement, values: unknown[]): Promise<T | undefined> {
  return (await rows<T>(pool, st, values))[0];
}

/** SQLite reads a negative LIMIT as none; PostgreSQL refuses it and reads NULL as none. */
export const limitOf = (n: number): number | null => (n < 0 ? null : n);
