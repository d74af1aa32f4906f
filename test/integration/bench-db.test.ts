import t from 'tap';
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parseDbChoice } from '../../bench/db-options.js';
import { openBenchDb, type PhaseDb } from '../../bench/database.js';
import { buildHistory } from '../../bench/history.js';
import { buildPgHistory } from '../../bench/history-pg.js';
import { pgCluster } from '../pg-cluster.js';
import { freePort } from '../processes.js';
import { tempDir } from '../helper.js';
import { formatBeijing } from '../../src/domain/time.js';
import { openPool } from '../../src/db/postgres/pool.js';

// The bench's choice of database (`npm run bench -- --db postgres`): its options, the clear refusal
// of a server it cannot use, and the history it loads, the same on both backends. No figure of the
// bench is timed here.

const PAY_JS = fileURLToPath(new URL('../../bench/pay.js', import.meta.url));

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PAY_JS, ...args], { timeout: 60_000, env: { PATH: process.env.PATH ?? '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

t.test('--db and --db-url', async (t) => {
  t.same(parseDbChoice({}), { kind: 'sqlite' }, 'SQLite by default');
  t.same(parseDbChoice({ db: 'sqlite' }), { kind: 'sqlite' });
  t.same(parseDbChoice({ db: 'postgres' }), { kind: 'postgres', url: undefined }, 'PostgreSQL without a URL: a throwaway cluster');
  t.same(parseDbChoice({ db: 'postgres', 'db-url': 'postgres://u@db.internal:5432/x' }), { kind: 'postgres', url: 'postgres://u@db.internal:5432/x' });
  const wrong = (v: { db?: string; 'db-url'?: string }) => {
    const r = parseDbChoice(v);
    return r instanceof Error ? r.message : `accepted: ${JSON.stringify(r)}`;
  };
  t.match(wrong({ db: 'mysql' }), /^--db: expected sqlite or postgres, got "mysql"$/);
  t.match(wrong({ 'db-url': 'postgres://u@h/x' }), /^--db-url: only with --db postgres$/);
  t.match(wrong({ db: 'postgres', 'db-url': 'http://h/x' }), /^--db-url: expected a postgres:\/\/ or postgresql:\/\/ URL/);
  t.notMatch(wrong({ db: 'postgres', 'db-url': 'mysql://u:hunter2@h/x' }), /hunter2/, 'a refused URL is shown without its password');

  const help = await bench(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--db sqlite\|postgres/);
  t.match(help.stdout, /--db-url URL/);
  const bad = await bench(['--db', 'mysql']);
  t.equal(bad.code, 1, 'an unknown --db ends the bench as an invalid run');
  t.match(bad.stderr, /bench: --db: expected sqlite or postgres, got "mysql"/);
});

t.test('--db postgres with a server that does not answer fails at once, saying so, without the password', async (t) => {
  const port = await freePort(); // nothing listens there
  const r = await bench(['--db', 'postgres', '--db-url', `postgres://bench:s3cret-pw@127.0.0.1:${port}/x`]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`^bench: --db-url postgres://bench:\\*\\*\\*@127\\.0\\.0\\.1:${port}/x: cannot connect: .*ECONNREFUSED`, 'm'));
  t.notMatch(r.stderr + r.stdout, /s3cret-pw/);
  t.notMatch(r.stdout, /dtpay bench:/, 'no run started');
});

const N = 150;

interface HistoryFacts {
  statuses: Record<string, number>;
  events: number;
  notifications: number;
  attempts: number;
  withoutEndedAt: number;
  counts: Record<string, number>;
  /** orders whose answer, notification or request names another order than its own */
  mismatched: number;
}

async function factsOf(query: (sql: string) => Promise<Record<string, unknown>[]>): Promise<HistoryFacts> {
  const n = async (sql: string) => Number(Object.values((await query(sql))[0]!)[0]);
  const statuses: Record<string, number> = {};
  for (const r of await query('SELECT pay_status AS s, count(*) AS n FROM orders GROUP BY pay_status')) statuses[String(r.s)] = Number(r.n);
  const counts: Record<string, number> = {};
  for (const r of await query('SELECT entity, status, CAST(sum(n) AS BIGINT) AS n FROM (SELECT entity, status, n FROM status_counts UNION ALL SELECT entity, status, n FROM status_count_shards) AS c GROUP BY entity, status')) counts[`${r.entity} ${r.status}`] = Number(r.n);
  let mismatched = 0;
  const rows = await query(
    'SELECT o.order_id, o.merc_order_no, o.request_json, o.response_json, n.fields_json FROM orders o LEFT JOIN notifications n ON n.order_id = o.order_id',
  );
  for (const r of rows) {
    const answer = JSON.parse(String(r.response_json)).fields;
    const request = JSON.parse(String(r.request_json));
    const notice = r.fields_json === null ? undefined : JSON.parse(String(r.fields_json));
    if (answer.orderId !== r.order_id || answer.mercOrderNo !== r.merc_order_no || request.mercOrderNo !== r.merc_order_no) mismatched++;
    if (notice && (notice.orderId !== r.order_id || notice.mercOrderNo !== r.merc_order_no)) mismatched++;
  }
  return {
    statuses,
    events: await n('SELECT count(*) FROM order_events'),
    notifications: await n('SELECT count(*) FROM notifications'),
    attempts: await n("SELECT count(*) FROM notification_attempts WHERE outcome = 'delivered'"),
    withoutEndedAt: await n('SELECT count(*) FROM orders WHERE ended_at IS NULL'),
    counts,
    mismatched,
  };
}

t.test('the history is the same on SQLite and PostgreSQL, every order ended with its ended_at', async (t) => {
  const dir = tempDir(t);
  const sqlite = await openBenchDb({ kind: 'sqlite' }, dir);
  const sPhase: PhaseDb = await sqlite.phase('history');
  const sMerchant = await sPhase.makeMerchant();
  const sPath = sPhase.env.DATABASE_PATH!;
  const sIndexes = () => {
    const db = new Database(sPath, { readonly: true });
    try {
      return db.prepare("SELECT count(*) FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL").pluck().get() as number;
    } finally {
      db.close();
    }
  };
  const before = sIndexes();
  const sHistory = buildHistory(sPath, sMerchant, N, () => {});
  t.equal(sHistory.orders, N);
  t.equal(sIndexes(), before, 'SQLite: the indexes and triggers are back');
  const db = new Database(sPath, { readonly: true });
  t.teardown(() => db.close());
  const sFacts = await factsOf(async (sql) => db.prepare(sql).all() as Record<string, unknown>[]);
  t.equal(sFacts.withoutEndedAt, 0, 'SQLite: every ended order has its ended_at');
  t.equal(sFacts.mismatched, 0);
  t.equal(sFacts.counts['orders p0000'], sFacts.statuses.p0000, 'SQLite: the status counts are taken after the load');
  t.equal(await sPhase.countOrders(sMerchant.mercNo, 'H0000000001'), 10, 'orders counted by their mercOrderNo prefix');

  const cluster = await pgCluster(t);
  if (!cluster) {
    t.comment('no PostgreSQL on this machine: the PostgreSQL history is not compared');
    return;
  }
  const postgres = await openBenchDb({ kind: 'postgres', url: cluster.url }, dir);
  t.teardown(() => postgres.close(false));
  t.match(postgres.describe.join('\n'), /fsync=/, 'the report names the server\'s settings');
  const pPhase = await postgres.phase('history');
  t.ok(pPhase.env.DATABASE_URL && pPhase.env.MASTER_KEY, 'a gateway on it gets DATABASE_URL and MASTER_KEY');
  const pMerchant = await pPhase.makeMerchant();
  const client = new pg.Client({ connectionString: pPhase.env.DATABASE_URL! });
  await client.connect();
  t.teardown(() => client.end());
  const pIndexes = async () => Number((await client.query("SELECT count(*) AS n FROM pg_indexes WHERE schemaname = 'public'")).rows[0].n);
  const pBefore = await pIndexes();
  const pHistory = await buildPgHistory(pPhase.env.DATABASE_URL!, pMerchant, N, () => {});
  t.equal(pHistory.orders, N);
  t.equal(pHistory.notifications, sHistory.notifications);
  t.equal(await pIndexes(), pBefore, 'PostgreSQL: the indexes are back');
  const triggers = (await client.query("SELECT count(*) AS n FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'")).rows[0].n;
  t.equal(Number(triggers), 0, 'PostgreSQL: no trigger left disabled');
  const pFacts = await factsOf(async (sql) => (await client.query(sql)).rows);
  t.same(pFacts, sFacts, 'the same orders, events, notifications, attempts and counts on both');
  t.equal(await pPhase.countOrders(pMerchant.mercNo, 'H0000000001'), 10);
  // A paid order (7 of 50): ended 40 s after it was made, expiring 30 minutes after.
  const times = (r: Record<string, unknown>) => {
    const created = Number(r.created_at);
    return {
      orderId: String(r.order_id).slice(0, 17) === formatBeijing(created) + String(created % 1000).padStart(3, '0'),
      tradeEnd: r.trade_end_time === formatBeijing(created + 40_000),
      expire: JSON.parse(String(r.response_json)).fields.expireTime === formatBeijing(created + 1_800_000),
      endedAt: Number(r.ended_at) === created + 40_000,
    };
  };
  const all = { orderId: true, tradeEnd: true, expire: true, endedAt: true };
  const sampleSql = "SELECT order_id, created_at, ended_at, trade_end_time, response_json FROM orders WHERE merc_order_no = 'H00000000007'";
  t.same(times(db.prepare(sampleSql).get() as Record<string, unknown>), all, 'SQLite: the times in Beijing time, as the gateway writes them');
  t.same(times((await client.query(sampleSql)).rows[0]), all, 'PostgreSQL: the same');
});

t.test("the no-fsync gateway's PostgreSQL connections commit with synchronous_commit off; every other, on", async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) {
    t.comment('no PostgreSQL on this machine');
    return;
  }
  const setting = async (opts: { durable?: boolean }) => {
    const pool = openPool(cluster.url, { max: 1, ...opts });
    try {
      return (await pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit;
    } finally {
      await pool.end();
    }
  };
  t.equal(await setting({}), 'on');
  t.equal(await setting({ durable: true }), 'on');
  t.equal(await setting({ durable: false }), 'off');
});
