import t from 'tap';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { openDb, type Db } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { openPool, type Pool } from '../../src/db/postgres/pool.js';
import { migratePostgres } from '../../src/db/postgres/migrate.js';
import { pgCluster } from '../pg-cluster.js';
import { tempDir } from '../helper.js';
import { prng } from '../prng.js';

// The PostgreSQL schema (migrations/postgres/) must be the schema SQLite's migrations reach: the
// same tables and columns (name, NOT NULL, kind, default, numbered by the database or not), primary
// and unique keys, foreign keys, indexes by name with their columns, whether each is partial, how
// many CHECK constraints each table has, the same triggers, the same rows in a fresh database, and
// counters that the triggers keep alike through any sequence of writes. A migration added to one
// folder without its pair in the other fails here.

const found = await pgCluster(t);
if (!found) t.comment('no PostgreSQL on this machine: the schema parity test is skipped');
const skip = !found && 'no PostgreSQL';

interface Column {
  kind: string;
  notNull: boolean;
  default: string | null;
  /** numbered by the database when not given: SQLite's INTEGER PRIMARY KEY, PostgreSQL's identity */
  auto: boolean;
}
interface Index {
  columns: string[];
  unique: boolean;
  partial: boolean;
}
interface Table {
  columns: Record<string, Column>;
  primaryKey: string[];
  /** column lists of unique keys other than the primary key, "(a,b)" plus " partial" when partial */
  uniqueKeys: string[];
  /** indexes created by name (CREATE INDEX); SQLite's autoindexes and PostgreSQL's constraint indexes are keys above */
  indexes: Record<string, Index>;
  foreignKeys: string[];
  checks: number;
}
interface Schema {
  tables: Record<string, Table>;
  /** "table.trigger" */
  triggers: string[];
}

const SQLITE_KINDS: Record<string, string> = { INTEGER: 'integer', TEXT: 'text', BLOB: 'blob', REAL: 'real' };
const PG_KINDS: Record<string, string> = { bigint: 'integer', integer: 'integer', smallint: 'integer', text: 'text', bytea: 'blob', 'double precision': 'real', real: 'real' };
const sorted = <T>(xs: T[]): T[] => [...xs].sort();

function sqliteSchema(db: Db): Schema {
  const tables: Record<string, Table> = {};
  const names = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string; sql: string }[];
  for (const { name, sql } of names) {
    const cols = db.prepare('SELECT name, type, "notnull" AS nn, dflt_value AS dflt, pk FROM pragma_table_info(?)').all(name) as {
      name: string; type: string; nn: number; dflt: string | null; pk: number;
    }[];
    const pk = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const rowidAlias = pk.length === 1 && cols.find((c) => c.name === pk[0])!.type.toUpperCase() === 'INTEGER' && !/WITHOUT ROWID/i.test(sql);
    const columns: Record<string, Column> = {};
    for (const c of cols) {
      columns[c.name] = {
        kind: SQLITE_KINDS[c.type.toUpperCase()] ?? `unknown ${c.type}`,
        // SQLite lets a primary key column other than a rowid hold NULL unless it says NOT NULL;
        // PostgreSQL never does. No code stores a NULL key, so a key column counts as NOT NULL.
        notNull: c.nn === 1 || c.pk > 0,
        default: c.dflt,
        auto: rowidAlias && c.pk === 1,
      };
    }
    const uniqueKeys: string[] = [];
    const indexes: Record<string, Index> = {};
    const list = db.prepare('SELECT name, "unique" AS u, origin, partial FROM pragma_index_list(?)').all(name) as {
      name: string; u: number; origin: string; partial: number;
    }[];
    for (const ix of list) {
      if (ix.origin === 'pk') continue;
      const columns = (db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(ix.name) as string[]);
      if (ix.u) uniqueKeys.push(`(${columns.join(',')})${ix.partial ? ' partial' : ''}`);
      if (ix.origin === 'c') indexes[ix.name] = { columns, unique: ix.u === 1, partial: ix.partial === 1 };
    }
    const fks = db.prepare('SELECT id, "table" AS ref, "from" AS col, "to" AS refcol, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq').all(name) as {
      id: number; ref: string; col: string; refcol: string | null; on_delete: string;
    }[];
    const byId = new Map<number, typeof fks>();
    for (const f of fks) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
    const foreignKeys = [...byId.values()].map((fs) => {
      // A REFERENCES without columns names the parent's primary key.
      const refCols = fs.map((f) => f.refcol ?? primaryKeyOf(db, f.ref)[0]);
      return `(${fs.map((f) => f.col).join(',')}) -> ${fs[0]!.ref}(${refCols.join(',')}) on delete ${fs[0]!.on_delete.toLowerCase()}`;
    });
    tables[name] = {
      columns,
      primaryKey: pk,
      uniqueKeys: sorted(uniqueKeys),
      indexes,
      foreignKeys: sorted(foreignKeys),
      checks: (stripComments(sql).match(/\bCHECK\s*\(/gi) ?? []).length,
    };
  }
  const triggers = db.prepare("SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'trigger'").pluck().all() as string[];
  return { tables, triggers: sorted(triggers) };
}

const stripComments = (sql: string) => sql.replace(/--[^\n]*/g, '');

function primaryKeyOf(db: Db, table: string): string[] {
  return (db.prepare('SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk').pluck().all(table) as string[]);
}

/** PostgreSQL writes a default with its type ('active'::text); SQLite as written ('active'). */
const pgDefault = (d: string | null) => (d === null ? null : d.replace(/::[a-z ]+$/, ''));

async function pgSchema(pool: Pool): Promise<Schema> {
  const tables: Record<string, Table> = {};
  const cols = await pool.query<{ t: string; c: string; type: string; nullable: string; dflt: string | null; identity: string }>(
    `SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable AS nullable, column_default AS dflt, is_identity AS identity
       FROM information_schema.columns WHERE table_schema = current_schema()`,
  );
  const table = (name: string): Table =>
    (tables[name] ??= { columns: {}, primaryKey: [], uniqueKeys: [], indexes: {}, foreignKeys: [], checks: 0 });
  for (const r of (await pool.query<{ t: string }>('SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema()')).rows) table(r.t);
  for (const r of cols.rows) {
    table(r.t).columns[r.c] = {
      kind: PG_KINDS[r.type] ?? `unknown ${r.type}`,
      notNull: r.nullable === 'NO',
      default: pgDefault(r.dflt),
      auto: r.identity === 'YES',
    };
  }
  const ixs = await pool.query<{ t: string; name: string; primary: boolean; unique: boolean; partial: boolean; cols: string[]; keyed: boolean }>(
    `SELECT c.relname AS t, i.relname AS name, x.indisprimary AS primary, x.indisunique AS unique, x.indpred IS NOT NULL AS partial,
            ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord) AS cols,
            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = c.oid AND k.contype IN ('p', 'u')) AS keyed
       FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()`,
  );
  for (const r of ixs.rows) {
    const tb = table(r.t);
    if (r.primary) tb.primaryKey = r.cols;
    else if (r.unique) tb.uniqueKeys.push(`(${r.cols.join(',')})${r.partial ? ' partial' : ''}`);
    if (!r.keyed) tb.indexes[r.name] = { columns: r.cols, unique: r.unique, partial: r.partial };
  }
  const cons = await pool.query<{ t: string; type: string; cols: string[]; ref: string | null; refcols: string[]; del: string }>(
    `SELECT c.relname AS t, k.contype AS type,
            ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS cols,
            f.relname AS ref,
            ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.ord) AS refcols,
            k.confdeltype AS del
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_class f ON f.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND k.contype IN ('c', 'f')`,
  );
  const onDelete: Record<string, string> = { a: 'no action', c: 'cascade', r: 'restrict', n: 'set null', d: 'set default' };
  for (const r of cons.rows) {
    const tb = table(r.t);
    if (r.type === 'c') tb.checks++;
    else tb.foreignKeys.push(`(${r.cols.join(',')}) -> ${r.ref}(${r.refcols.join(',')}) on delete ${onDelete[r.del]}`);
  }
  for (const tb of Object.values(tables)) {
    tb.uniqueKeys.sort();
    tb.foreignKeys.sort();
  }
  const trg = await pool.query<{ name: string }>(
    `SELECT c.relname || '.' || g.tgname AS name FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT g.tgisinternal`,
  );
  return { tables, triggers: sorted(trg.rows.map((r) => r.name)) };
}

/** Both databases, migrated, with one way to run the same statement on each. */
async function both(t: Parameters<typeof tempDir>[0]) {
  const db = openDb(join(tempDir(t), 'parity.sqlite'));
  t.teardown(() => db.close());
  migrate(db);
  const pool = openPool(await found!.createDatabase(), { max: 1 });
  t.teardown(() => pool.end());
  await migratePostgres(pool);
  const run = async (sql: string, ...params: unknown[]) => {
    db.prepare(sql).run(...params);
    let i = 0;
    await pool.query(sql.replace(/\?/g, () => `$${++i}`), params);
  };
  return { db, pool, run };
}

/** A row with every integer as a number and every blob as hex, whichever database read it. */
function plain(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = typeof v === 'bigint' ? Number(v) : Buffer.isBuffer(v) ? v.toString('hex') : v;
  return out;
}

t.test('the same tables, columns, keys, indexes and triggers on both', { skip }, async (t) => {
  const { db, pool } = await both(t);
  const lite = sqliteSchema(db);
  const post = await pgSchema(pool);
  t.same(sorted(Object.keys(post.tables)), sorted(Object.keys(lite.tables)), 'the same tables');
  for (const name of sorted(Object.keys(lite.tables))) {
    const a = lite.tables[name]!;
    const b = post.tables[name];
    if (!b) continue;
    t.same(sorted(Object.keys(b.columns)), sorted(Object.keys(a.columns)), `${name}: the same columns`);
    t.same(b.columns, a.columns, `${name}: each column's kind, NOT NULL, default and numbering`);
    t.same(b.primaryKey, a.primaryKey, `${name}: primary key`);
    t.same(b.uniqueKeys, a.uniqueKeys, `${name}: unique keys`);
    t.same(b.indexes, a.indexes, `${name}: indexes`);
    t.same(b.foreignKeys, a.foreignKeys, `${name}: foreign keys`);
    t.equal(b.checks, a.checks, `${name}: CHECK constraints`);
  }
  t.same(post.triggers, lite.triggers, 'the same triggers on the same tables');
  t.ok(lite.triggers.length >= 9 && Object.keys(lite.tables).length >= 20, 'the comparison saw the whole schema');
});

t.test('a fresh database holds the same rows on both (the counters, the settings)', { skip }, async (t) => {
  const { db, pool } = await both(t);
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name").pluck().all() as string[];
  for (const name of names) {
    const lite = (db.prepare(`SELECT * FROM ${name} ORDER BY 1, 2`).all() as Record<string, unknown>[]).map(plain);
    const post = (await pool.query(`SELECT * FROM ${name} ORDER BY 1, 2`)).rows.map(plain);
    t.same(post, lite, name);
  }
  t.equal((await pool.query('SELECT count(*)::int AS n FROM status_counts')).rows[0].n, 10, 'a counter row per status');
});

const SEED = process.env.DTPAY_PROP_SEED !== undefined ? Number(process.env.DTPAY_PROP_SEED) >>> 0 : randomInt(0, 2 ** 32);

t.test('the triggers keep the counters alike through inserts, updates and deletes', { skip }, async (t) => {
  t.comment(`seed ${SEED} (rerun: DTPAY_PROP_SEED=${SEED})`);
  const r = prng(SEED);
  const { db, pool, run } = await both(t);
  await run(`INSERT INTO merchants (merc_no, name, mode, created_at, updated_at) VALUES ('M1', 'Shop', 'sandbox', 1, 1)`);
  const PAY = ['p0000', 'p0001', 'p0002', 'p0004', 'p0005', 'p0006'];
  const NOTE = ['pending', 'delivered', 'failed', 'superseded'];
  const orders: string[] = [];
  const notes: number[] = [];
  const alerts: number[] = [];
  let next = 1;
  const newOrder = async () => {
    const id = `O${next++}`;
    await run(
      `INSERT INTO orders (order_id, merc_no, merc_order_no, request_hash, payway, scene, trade_type, amount_fen, fee_type, trade_time,
         order_period, term_type, notify_url, request_json, pay_status, channel_state, response_json, created_at, expire_at, updated_at)
       VALUES (?, 'M1', ?, 'h', 'alipay', 'qr', '01', 100, 'CNY', '20261201120000', 30, '02', 'http://x', '{}', ?, 'accepted', '{}', 1, 2, 1)`,
      id, id, r.pick(PAY),
    );
    orders.push(id);
  };
  const noteStatus = () => {
    const s = r.pick(NOTE);
    return [s, s === 'pending' ? 5 : null] as const;
  };
  const removeOrder = async (id: string) => {
    await run('DELETE FROM notifications WHERE order_id = ?', id);
    notes.splice(0, notes.length, ...(db.prepare('SELECT id FROM notifications').pluck().all() as number[]));
    await run('DELETE FROM orders WHERE order_id = ?', id);
    orders.splice(orders.indexOf(id), 1);
  };
  const steps: [() => Promise<void>, number][] = [
    [newOrder, 4],
    [async () => { if (orders.length) await run('UPDATE orders SET pay_status = ?, updated_at = 2 WHERE order_id = ?', r.pick(PAY), r.pick(orders)); }, 4],
    [async () => { if (orders.length) await run('UPDATE orders SET channel_msg = ? WHERE order_id = ?', 'm', r.pick(orders)); }, 1],
    // One statement changing many rows: the triggers run for each.
    [async () => void (await run('UPDATE orders SET pay_status = ? WHERE pay_status = ?', r.pick(PAY), r.pick(PAY))), 1],
    [async () => { if (orders.length) await removeOrder(r.pick(orders)); }, 1],
    [async () => {
      if (!orders.length) return;
      const [s, due] = noteStatus();
      const id = next++;
      await run(
        `INSERT INTO notifications (id, webhook_id, order_id, merc_no, url, fields_json, sign_type, reason, status, due_at, created_at, updated_at)
         VALUES (?, ?, ?, 'M1', 'http://x', '{}', 'MD5', 'paid', ?, ?, 1, 1)`,
        id, `w${id}`, r.pick(orders), s, due,
      );
      notes.push(id);
    }, 3],
    [async () => {
      if (!notes.length) return;
      const [s, due] = noteStatus();
      await run('UPDATE notifications SET status = ?, due_at = ? WHERE id = ?', s, due, r.pick(notes));
    }, 3],
    [async () => { if (notes.length) await run('UPDATE notifications SET attempts = attempts + 1 WHERE id = ?', r.pick(notes)); }, 1],
    [async () => {
      if (!notes.length) return;
      const id = notes.splice(r.int(notes.length), 1)[0]!;
      await run('DELETE FROM notifications WHERE id = ?', id);
    }, 1],
    [async () => {
      const id = next++;
      await run(`INSERT INTO alerts (id, kind, channel, detail, at, handled_at) VALUES (?, 'bad_signature', 'alipay', 'd', 1, ?)`, id, r.chance(0.3) ? 9 : null);
      alerts.push(id);
    }, 3],
    [async () => { if (alerts.length) await run('UPDATE alerts SET handled_at = ?, handled_by = ? WHERE id = ?', ...(r.chance(0.7) ? [9, 'ops'] : [null, null]), r.pick(alerts)); }, 3],
    [async () => { if (alerts.length) await run('UPDATE alerts SET count = count + 1, last_at = 3 WHERE id = ?', r.pick(alerts)); }, 1],
    [async () => {
      if (!alerts.length) return;
      await run('DELETE FROM alerts WHERE id = ?', alerts.splice(r.int(alerts.length), 1)[0]!);
    }, 1],
  ];
  const counts = async () => {
    // A status's count is its status_counts row plus its shards (only PostgreSQL's triggers fill them: migrations/postgres/0018).
    const q = 'SELECT k, s, CAST(sum(n) AS BIGINT) AS n FROM (SELECT entity AS k, status AS s, n FROM status_counts ' +
      'UNION ALL SELECT entity, status, n FROM status_count_shards UNION ALL SELECT \'alerts\', state, n FROM alert_counts) AS c GROUP BY k, s ORDER BY 1, 2';
    const truth =
      "SELECT 'orders' AS k, pay_status AS s, count(*) AS n FROM orders GROUP BY pay_status UNION ALL " +
      "SELECT 'notifications', status, count(*) FROM notifications GROUP BY status UNION ALL " +
      "SELECT 'alerts', 'open', count(*) FROM alerts WHERE handled_at IS NULL";
    const lite = (db.prepare(q).all() as Record<string, unknown>[]).map(plain);
    const post = (await pool.query(q)).rows.map(plain);
    const real = new Map(((await pool.query(truth)).rows as Record<string, unknown>[]).map(plain).map((x) => [`${x.k}/${x.s}`, x.n]));
    return { lite, post, real };
  };
  for (let i = 0; i < 300; i++) {
    await r.weighted(steps)();
    const { lite, post, real } = await counts();
    if (JSON.stringify(post) !== JSON.stringify(lite)) {
      t.same(post, lite, `after step ${i + 1}, PostgreSQL's counters are SQLite's`);
      return;
    }
    const wrong = post.filter((x) => (real.get(`${x.k}/${x.s}`) ?? 0) !== x.n);
    if (wrong.length) {
      t.same(wrong, [], `after step ${i + 1}, the counters count the rows`);
      return;
    }
  }
  const { post } = await counts();
  t.pass(`300 steps, counters alike: ${post.filter((x) => x.n !== 0).map((x) => `${x.k}/${x.s}=${x.n}`).join(' ')}`);
  t.ok(post.some((x) => x.k === 'orders' && (x.n as number) > 0) && post.some((x) => x.k === 'notifications' && (x.n as number) > 0), 'the steps wrote orders and notifications');
});
