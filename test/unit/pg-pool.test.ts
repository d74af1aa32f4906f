import t from 'tap';
import { pgCluster } from '../pg-cluster.js';
import { moneyRow, openPool, plainRow } from '../../src/db/postgres/pool.js';

t.test('int8 arrives exact, commits are durable, and rows take the SQLite adapter shapes', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) {
    t.comment('no PostgreSQL on this machine');
    return;
  }
  const pool = openPool(await cluster.createDatabase());
  t.teardown(() => pool.end());
  const big = 2n ** 62n + 1n;
  const r = await pool.query("SELECT $1::int8 AS amount, 5::int8 AS n, current_setting('synchronous_commit') AS sc", [big.toString()]);
  const row = r.rows[0] as Record<string, unknown>;
  t.equal(row.amount, big, 'an amount beyond 2^53 is not rounded');
  t.equal(row.sc, 'on');
  t.same(moneyRow({ ...row }, ['n']), { amount: big, n: 5, sc: 'on' });
  t.same(plainRow({ n: 7n, s: 'x' }), { n: 7, s: 'x' });
});
