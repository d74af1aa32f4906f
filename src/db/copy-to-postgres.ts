import type { Db } from './open.js';
import type { Pool, PoolClient } from './postgres/pool.js';

// `dtpay db copy` (CONTRACT §7): a stopped SQLite gateway's whole database into an empty, migrated
// PostgreSQL database, in one PostgreSQL transaction, so that a copy that fails or is interrupted
// leaves the target as empty as it found it. Sealed secrets are copied as the bytes they are: they
// open under the same MASTER_KEY on the other side.
//
// Tables whose rows triggers keep (the counters of migrations 0009 and 0013) are copied as they
// are, with the user triggers of the target's tables off while rows go in: counting the copied rows
// again on top of copied counters would double them. Triggers are back on before the commit.

/** SQLite's own tables and the migration record (the target has its own, from its migrator). */
const NOT_COPIED = new Set(['schema_migrations', 'sqlite_sequence', 'sqlite_stat1', 'sqlite_stat4']);

/** PostgreSQL takes at most 65535 parameters per statement. */
const MAX_PARAMS = 60_000;
const MAX_ROWS_PER_INSERT = 1_000;

/** The counter tables migrations fill with zeroed rows: holding rows is no sign a gateway used the target. */
const SEEDED_BY_MIGRATIONS = new Set(['status_counts', 'alert_counts']);

export interface TableCopy {
  table: string;
  rows: number;
  /** rows compared field by field after the copy */
  sampled: number;
}

export interface CopyReport {
  tables: TableCopy[];
  rows: number;
  schemaVersion: string;
}

export class CopyRefused extends Error {
  override name = 'CopyRefused';
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The tables to copy, each after every table it references (the target checks its foreign keys
 * row by row), otherwise in the order SQLite created them.
 */
export function sqliteTables(src: Db): string[] {
  const names = (src.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid").pluck().all() as string[]).filter(
    (n) => !NOT_COPIED.has(n) && !n.startsWith('sqlite_'),
  );
  const refs = src.prepare('SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)').pluck();
  const ordered: string[] = [];
  const placed = new Set<string>();
  const place = (name: string, path: Set<string>) => {
    if (placed.has(name) || path.has(name)) return;
    path.add(name);
    for (const parent of refs.all(name) as string[]) if (parent !== name && names.includes(parent)) place(parent, path);
    placed.add(name);
    ordered.push(name);
  };
  for (const n of names) place(n, new Set());
  return ordered;
}

/** The order rows are read in: the primary key (a table WITHOUT ROWID has no rowid), else the rowid. */
function readOrder(src: Db, table: string): string {
  const key = primaryKey(sqliteColumns(src, table));
  return key.length ? key.map(quote).join(', ') : 'rowid';
}

/** The primary key's columns, in key order; none for a table keyed by its rowid alone. */
const primaryKey = (cols: { name: string; pk: number }[]) => cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);

function sqliteColumns(src: Db, table: string): { name: string; pk: number }[] {
  return src.prepare(`SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`).all(table) as { name: string; pk: number }[];
}

async function pgColumns(client: PoolClient, table: string): Promise<Map<string, string>> {
  const r = await client.query<{ column_name: string; data_type: string }>(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1',
    [table],
  );
  return new Map(r.rows.map((c) => [c.column_name, c.data_type]));
}

/** A SQLite value as a PostgreSQL parameter: integers go as decimal text, exactly, whatever their size. */
function param(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  return v;
}

/** One value as text, for comparing a source row with its copy. */
function comparable(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Buffer.isBuffer(v)) return `bytes:${v.toString('hex')}`;
  if (v instanceof Date) return `date:${v.toISOString()}`;
  return `${typeof v === 'string' ? 's' : 'n'}:${String(v)}`;
}

/**
 * Copies every table of `src` into `pool`'s database, which must already be migrated to the same
 * schema version and hold no gateway's rows. Verifies each table's row count and `sample` rows of
 * each (spread over the table) before it commits; any difference rolls the whole copy back.
 */
export async function copyToPostgres(
  src: Db,
  pool: Pool,
  opts: { sample?: number; onTable?: (t: TableCopy) => void } = {},
): Promise<CopyReport> {
  const sample = opts.sample ?? 100;
  const tables = sqliteTables(src);
  const srcVersion = src.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as string | null;
  const client = await pool.connect();
  try {
    const dstVersion = (await client.query<{ v: string | null }>('SELECT max(version) AS v FROM schema_migrations')).rows[0]?.v ?? null;
    if (srcVersion !== dstVersion) {
      throw new CopyRefused(`the source database is at schema version ${srcVersion ?? 'none'}, the target at ${dstVersion ?? 'none'}`);
    }
    const filled: string[] = [];
    for (const t of tables) {
      const cols = await pgColumns(client, t);
      if (cols.size === 0) throw new CopyRefused(`the target has no table ${t}`);
      if ((await client.query(`SELECT 1 FROM ${quote(t)} LIMIT 1`)).rowCount) filled.push(t);
    }
    const busy = filled.filter((t) => !SEEDED_BY_MIGRATIONS.has(t));
    if (busy.length) throw new CopyRefused(`the target database is not empty: ${busy.join(', ')} hold rows`);

    await client.query('BEGIN');
    const copies: TableCopy[] = [];
    try {
      for (const t of tables) await client.query(`ALTER TABLE ${quote(t)} DISABLE TRIGGER USER`);
      for (const t of tables) {
        if (filled.includes(t)) await client.query(`DELETE FROM ${quote(t)}`);
        const rows = await copyTable(src, client, t);
        await resetSequences(client, t);
        const sampled = await verifyTable(src, client, t, rows, sample);
        const copy = { table: t, rows, sampled };
        copies.push(copy);
        opts.onTable?.(copy);
      }
      for (const t of tables) await client.query(`ALTER TABLE ${quote(t)} ENABLE TRIGGER USER`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
    return { tables: copies, rows: copies.reduce((n, c) => n + c.rows, 0), schemaVersion: srcVersion ?? '' };
  } finally {
    client.release();
  }
}

async function copyTable(src: Db, client: PoolClient, table: string): Promise<number> {
  const cols = sqliteColumns(src, table).map((c) => c.name);
  const dst = await pgColumns(client, table);
  const missing = cols.filter((c) => !dst.has(c));
  if (missing.length) throw new CopyRefused(`the target's table ${table} has no column ${missing.join(', ')}`);
  const perInsert = Math.max(1, Math.min(MAX_ROWS_PER_INSERT, Math.floor(MAX_PARAMS / cols.length)));
  const head = `INSERT INTO ${quote(table)} (${cols.map(quote).join(', ')}) VALUES `;
  const read = src.prepare(`SELECT ${cols.map(quote).join(', ')} FROM ${quote(table)} ORDER BY ${readOrder(src, table)}`).raw(true).safeIntegers(true);
  let batch: unknown[][] = [];
  let copied = 0;
  const flush = async () => {
    if (!batch.length) return;
    const values: unknown[] = [];
    const tuples = batch.map((row) => {
      const slots = row.map((v) => {
        values.push(param(v));
        return `$${values.length}`;
      });
      return `(${slots.join(', ')})`;
    });
    await client.query(head + tuples.join(', '), values);
    copied += batch.length;
    batch = [];
  };
  for (const row of read.iterate() as IterableIterator<unknown[]>) {
    batch.push(row);
    if (batch.length >= perInsert) await flush();
  }
  await flush();
  return copied;
}

/** Rows copied with their ids: each id sequence goes on from the largest id copied. */
async function resetSequences(client: PoolClient, table: string): Promise<void> {
  const r = await client.query<{ column_name: string; seq: string | null }>(
    `SELECT column_name, pg_get_serial_sequence($1, column_name) AS seq FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $2`,
    [quote(table), table],
  );
  for (const { column_name, seq } of r.rows) {
    if (!seq) continue;
    await client.query(
      `SELECT setval($1, coalesce((SELECT max(${quote(column_name)}) FROM ${quote(table)}), 0) + 1, false)`,
      [seq],
    );
  }
}

async function verifyTable(src: Db, client: PoolClient, table: string, rows: number, sample: number): Promise<number> {
  const have = (await client.query<{ n: bigint }>(`SELECT count(*)::int8 AS n FROM ${quote(table)}`)).rows[0]!.n;
  if (BigInt(have) !== BigInt(rows)) throw new CopyRefused(`${table}: ${rows} rows read, ${have} in the target`);
  const srcCount = src.prepare(`SELECT count(*) FROM ${quote(table)}`).pluck().get() as number;
  if (srcCount !== rows) throw new CopyRefused(`${table}: ${srcCount} rows in the source, ${rows} copied`);
  const cols = sqliteColumns(src, table);
  const pk = primaryKey(cols);
  const key = pk.length ? pk : cols.map((c) => c.name);
  const names = cols.map((c) => c.name);
  if (rows === 0 || sample === 0) return 0;
  const step = Math.max(1, Math.floor(rows / sample));
  const picks = src
    .prepare(`SELECT ${names.map(quote).join(', ')} FROM (SELECT *, row_number() OVER (ORDER BY ${readOrder(src, table)}) - 1 AS n FROM ${quote(table)}) WHERE n % ? = 0 LIMIT ?`)
    .safeIntegers(true)
    .all(step, sample) as Record<string, unknown>[];
  const where = key.map((k, i) => `${quote(k)} IS NOT DISTINCT FROM $${i + 1}`).join(' AND ');
  const select = `SELECT ${names.map(quote).join(', ')} FROM ${quote(table)} WHERE ${where}`;
  for (const want of picks) {
    const got = await client.query(select, key.map((k) => param(want[k])));
    if (got.rowCount !== 1) throw new CopyRefused(`${table}: a sampled row is ${got.rowCount ? 'there more than once' : 'missing'} in the target`);
    const row = got.rows[0] as Record<string, unknown>;
    for (const n of names) {
      if (comparable(want[n]) !== comparable(row[n])) {
        throw new CopyRefused(`${table}: column ${n} of a sampled row differs in the target`);
      }
    }
  }
  return picks.length;
}
