import type { Pool } from './pool.js';

// The reads' statements on PostgreSQL. Most have a name, so that a connection parses and plans it
// once and then only binds and executes it (node-postgres prepares a named statement on first use
// per connection; after five executions PostgreSQL may settle on a generic plan, made without the
// values).
//
// A list filtered by a column whose values are far from equally common (a status, a merchant, an
// audit target) and ordered newest first has two plans: walk the filter's index, or walk the
// primary key backwards and skip rows until the page is full. Which one is cheap depends on the
// value: for the delivered notifications the second, for the few failed ones (or a merchant with
// ten orders in a history of millions) the first, where the second reads the whole history. A
// generic plan cannot tell; SQLite is told the index (INDEXED BY), which PostgreSQL has no form of.
// Likewise a range whose bound decides how much of an index it covers (the watchers' "due by
// now"). Those statements go unnamed, so each execution is planned with its values, from the
// column's statistics: a fraction of a millisecond each.

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
  /** planned with its values at every execution (see above) */
  readonly each?: boolean;
}

export const statement = (name: string, text: string, opts: { ranges?: boolean; each?: boolean } = {}): Statement => {
  // PostgreSQL cuts names at 63 bytes; two cut to the same would collide on a connection.
  if (Buffer.byteLength(name) > 56) throw new Error(`statement name too long: ${name}`);
  return { name: `r_${name}`, text: text.replace(/\s+/g, ' ').trim(), ...opts };
};

const hasNul = (values: readonly unknown[]) => values.some((v) => typeof v === 'string' && v.includes('\0'));

export async function rows<T = Record<string, unknown>>(pool: Queryable, st: Statement, values: unknown[]): Promise<T[]> {
  if (!st.ranges && hasNul(values)) return [];
  const r = await pool.query(st.each ? { text: st.text, values } : { name: st.name, text: st.text, values });
  return r.rows as T[];
}

export async function first<T = Record<string, unknown>>(pool: Queryable, st: Statement, values: unknown[]): Promise<T | undefined> {
  return (await rows<T>(pool, st, values))[0];
}

/** SQLite reads a negative LIMIT as none; PostgreSQL refuses it and reads NULL as none. */
export const limitOf = (n: number): number | null => (n < 0 ? null : n);
