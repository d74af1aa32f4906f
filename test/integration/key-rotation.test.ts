import t from 'tap';
import { CLI, runNode } from '../cli-runner.js';
import { payFields, startGateway } from '../helper.js';

// A merchant key rotated by the CLI beside a running gateway takes effect at once: on SQLite the
// CLI writes the gateway's file, on PostgreSQL the database every instance reads. A gateway that
// kept keys it had opened would go on accepting the old key, and refuse the new one.

t.test('a key rotated by the CLI beside a running gateway takes effect at once', async (t) => {
  const gw = await startGateway(t, { MASTER_KEY: 'Xq7mB2vR9kLz4Wc0Ns8Ht5Yj1Gd6Pf3Ue+aKo/TiE2=' });
  const cli = (args: string[]) => runNode(CLI, args, gw.dir, gw.storageEnv);
  const made = await cli(['merchant', 'create', '--name', 'Rotating', '--mode', 'sandbox', '--json']);
  t.equal(made.code, 0, made.stderr);
  const m = JSON.parse(made.stdout) as { mercNo: string; key: string };
  const pay = async (key: string) => (await gw.post('/api/pay', payFields(m.mercNo), { key })).body.respCode;
  t.equal(await pay(m.key), '000000', 'the first key, now opened by the gateway');
  const rotated = await cli(['merchant', 'rotate-key', m.mercNo, '--json']);
  t.equal(rotated.code, 0, rotated.stderr);
  const key = (JSON.parse(rotated.stdout) as { key: string }).key;
  t.not(key, m.key);
  t.equal(await pay(key), '000000', 'the new key verifies');
  t.equal(await pay(m.key), '100002', 'the old one no longer does');
});
