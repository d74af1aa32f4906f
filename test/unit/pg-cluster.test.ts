import t from 'tap';
import pg from 'pg';
import { pgCluster } from '../pg-cluster.js';

// The throwaway PostgreSQL the backend tests use: it starts, answers on 127.0.0.1, and gives each
// caller a database of its own.
t.test('a throwaway cluster gives each caller an empty database of its own', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) {
    t.comment('no PostgreSQL on this machine');
    return;
  }
  const a = await cluster.createDatabase();
  const b = await cluster.createDatabase();
  t.not(a, b);
  t.match(a, /^postgres:\/\/dtpay@127\.0\.0\.1:\d+\/t_[0-9a-f]{12}$/);
  const client = new pg.Client({ connectionString: a });
  await client.connect();
  try {
    const r = await client.query<{ n: string; sc: string }>(
      "SELECT count(*) AS n, current_setting('synchronous_commit') AS sc FROM information_schema.tables WHERE table_schema = 'public'",
    );
    t.equal(r.rows[0]!.n, '0', 'the new database has no tables');
    t.equal(r.rows[0]!.sc, 'on');
  } finally {
    await client.end();
  }
});
