import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from '../../src/domain/sign.js';
import { payFields, tempDir } from '../helper.js';
import { startServer } from '../processes.js';
import { CLI, cli, oneJson, pooled, runNode } from '../cli-runner.js';

// Not repeated on PostgreSQL: it is about finding the SQLite file (DATABASE_PATH, .env, the folder);
// pg-gateway.test.ts checks what the CLI says of an empty PostgreSQL database named by DATABASE_URL.

// Which database a CLI command works on: DATABASE_PATH from the environment or .env in the current
// folder, as the gateway takes it; and what it says when that is not the gateway's database.

t.test('the CLI names the database it opened when it finds nothing there, and creates none by looking', async (t) => {
  const cwd = tempDir(t);
  const db = join(cwd, 'data', 'dtpay.sqlite');
  const orderId = '2026010112000000000001';
  const mercNo = 'M123456789012345';
  const needsData = [
    ['merchant', 'list'],
    ['merchant', 'show', mercNo],
    ['merchant', 'rotate-key', mercNo],
    ['merchant', 'disable', mercNo],
    ['merchant', 'enable', mercNo],
    ['notify', 'list'],
    ['notify', 'resend', orderId],
    ['order', 'show', orderId],
    ['order', 'list', '--json'],
    ['channel', 'show', mercNo],
    ['channel', 'remove', mercNo, 'alipay'],
  ];

  // No database at all: every command that reads one says where it looked, and leaves nothing behind.
  const missing = await pooled(needsData.map((args) => () => cli(cwd, db, args)));
  needsData.forEach((args, i) => {
    const r = missing[i]!;
    t.equal(r.code, 1, `${args.join(' ')} without a database: exit 1`);
    t.equal(r.stdout, '');
    t.match(r.stderr, `no database at ${db}`, `${args.join(' ')}: names the file it looked for`);
    t.match(r.stderr, /another DATABASE_PATH, or from another folder/, `${args.join(' ')}: says a gateway elsewhere is not seen`);
    t.notMatch(r.stderr, /\n\s+at /, 'a message, not a stack trace');
  });
  t.notOk(existsSync(join(cwd, 'data')), 'looking created no database (nor its folder)');

  // A database without merchants (e.g. made by a CLI run in the wrong folder): the same warning.
  t.equal((await cli(cwd, db, ['migrate'])).code, 0);
  const [show, order, resend, notifications, orders, merchants] = await pooled([
    () => cli(cwd, db, ['merchant', 'show', mercNo]),
    () => cli(cwd, db, ['order', 'show', orderId]),
    () => cli(cwd, db, ['notify', 'resend', orderId]),
    () => cli(cwd, db, ['notify', 'list']),
    () => cli(cwd, db, ['order', 'list', '--json']),
    () => cli(cwd, db, ['merchant', 'list', '--json']),
  ]);
  for (const [what, r, thing] of [['merchant show', show, `no merchant ${mercNo}`], ['order show', order, `no order ${orderId}`], ['notify resend', resend, `no order ${orderId}`]] as const) {
    t.equal(r!.code, 1, `${what} in an empty database: exit 1`);
    t.match(r!.stderr, thing);
    t.match(r!.stderr, `the database at ${db} has no merchants`, `${what}: names the database`);
    t.match(r!.stderr, /another DATABASE_PATH, or from another folder/);
  }
  t.equal(notifications!.code, 0, 'an empty list is an answer');
  t.equal(notifications!.stdout, 'no notifications\n');
  t.match(notifications!.stderr, `the database at ${db} has no merchants`, 'with the warning beside it');
  t.same(oneJson(t, orders!), [], 'order list --json still prints one JSON document');
  t.match(orders!.stderr, /has no merchants/);
  t.same(oneJson(t, merchants!), []);
  t.match(merchants!.stderr, /has no merchants/);

  // With merchants, not finding one thing is only that, in the file named.
  t.equal((await cli(cwd, db, ['merchant', 'create', '--name', 'Shop', '--mode', 'sandbox'])).code, 0);
  const [order2, list2] = await Promise.all([cli(cwd, db, ['order', 'show', orderId]), cli(cwd, db, ['order', 'list'])]);
  t.equal(order2!.code, 1);
  t.equal(order2!.stderr, `dtpay: no order ${orderId} in ${db}\n`);
  t.equal(list2!.stderr, '', 'no warning once the database has merchants');
});

t.test('the CLI reads DATABASE_PATH from .env in the current folder, as the gateway does', async (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, '.env'), 'DATABASE_PATH=./shop/db.sqlite\n');
  const made = await runNode(CLI, ['merchant', 'create', '--name', 'Shop', '--mode', 'sandbox', '--json'], cwd, {});
  t.equal(made.code, 0, made.stderr);
  t.ok(existsSync(join(cwd, 'shop', 'db.sqlite')), 'the database named in .env, relative to the folder');
  t.notOk(existsSync(join(cwd, 'data')), 'not the default one');
  // A gateway started from that folder with that (relative) path serves the merchant the CLI made;
  // that the gateway takes .env as the CLI does is test/unit/config.test.ts's (one loadConfig for both).
  const s = await startServer(t, cwd, './shop/db.sqlite');
  const m = oneJson(t, made);
  const fields = payFields(m.mercNo);
  const res = await fetch(`${s.url}/api/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...fields, signature: sign(fields, m.key, 'MD5') }),
    signal: AbortSignal.timeout(10_000),
  });
  t.equal(((await res.json()) as { respCode: string }).respCode, '000000', 'the gateway sees the same merchant');
  t.notMatch(s.out(), /First start/, 'and creates no sandbox merchant of its own');
});
