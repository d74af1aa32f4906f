import pg from 'pg';

// The PostgreSQL adapter's connections (CONTRACT §7). Every int8 arrives as a BigInt, exactly, so
// that no amount is ever rounded through a float; the adapters then give each row the shape the
// SQLite adapter gives it (amounts as BigInt where SQLite reads them with safeIntegers, every other
// integer as a number), so that services cannot tell the backends apart.

const INT8 = 20;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 && format !== 'binary') return (v: string) => BigInt(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as unknown as pg.CustomTypesConfig;

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * A pool on `url` with durable commits (synchronous_commit on, whatever the server's default).
 * `durable: false` (the bench's no-fsync gateway only) commits without waiting for the WAL flush.
 */
export function openPool(url: string, opts: { max?: number; applicationName?: string; durable?: boolean } = {}): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    types,
    application_name: opts.applicationName ?? 'dtpay',
    options: `-c synchronous_commit=${opts.durable === false ? 'off' : 'on'} -c TimeZone=UTC`,
  });
}

/** The row with every BigInt turned into a number: for tables whose integers SQLite reads as numbers. */
export function plainRow<T>(row: Record<string, unknown>): T {
  for (const k in row) if (typeof row[k] === 'bigint') row[k] = Number(row[k]);
  return row as T;
}

/** The row with the named columns turned into numbers and the other BigInts kept (amounts). */
export function moneyRow<T>(row: Record<string, unknown>, numberKeys: readonly string[]): T {
  for (const k of numberKeys) if (typeof row[k] === 'bigint') row[k] = Number(row[k]);
  return row as T;
}
