import t from 'tap';
import { PG_OPS, ONE_STATEMENT } from '../../src/db/postgres/ops/index.js';
import { fileCluster, pgBackend } from '../fixtures/backends.js';

// PgWriter runs the operations ONE_STATEMENT lists without BEGIN/COMMIT, in their statement's own
// transaction. One of them that sends a second statement would have it run outside any
// transaction: the writer refuses to send it, and the connection is not handed out again.

const cluster = await fileCluster(t);

t.test('a one-statement operation that sends a second statement fails before sending it', async (t) => {
  const b = await pgBackend(t, cluster, { max: 1 });
  if (!b) return void t.comment('no PostgreSQL on this machine');
  t.ok(ONE_STATEMENT.has('recordCheck'), 'recordCheck is run as one statement');
  const real = PG_OPS.recordCheck;
  t.teardown(() => void (PG_OPS.recordCheck = real));
  PG_OPS.recordCheck = async (c) => {
    await c.query("INSERT INTO settings (name, value) VALUES ('first', '1')");
    await c.query("INSERT INTO settings (name, value) VALUES ('second', '2')");
    return true;
  };
  const pidBefore = (await b.pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  await t.rejects(b.writer.run('recordCheck', { orderId: 'x', next: null }), {
    name: 'WriteError',
    message: /write operation recordCheck sent a second statement outside a transaction/,
  });
  t.same(await b.rows("SELECT name FROM settings WHERE name IN ('first', 'second') ORDER BY name"), [{ name: 'first' }], 'the second statement never reached the server');
  const pidAfter = (await b.pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  t.not(pidAfter, pidBefore, 'the connection was discarded, not handed out again');

  PG_OPS.recordCheck = real;
  t.equal(await b.writer.run('recordCheck', { orderId: 'none', next: null }), false, 'the real operation runs as before');
});
