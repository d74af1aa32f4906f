import t from 'tap';
import { join } from 'node:path';
import type { OperatorRecord } from '../../src/console/console-reads.js';
import { verifyPassword } from '../../src/console/passwords.js';
import { CLI, oneJson, runNode } from '../cli-runner.js';
import { tempDir } from '../helper.js';
import { testBackendDatabase } from '../backend-database.js';

t.test('dtpay operator create | list | reset-password | totp | disable', async (t) => {
  const dir = tempDir(t);
  const dbPath = join(dir, 'd.sqlite');
  // The file is made by `operator create`; on PostgreSQL the database is there, empty.
  const d = await testBackendDatabase(t, dbPath);
  const run = (args: string[], stdin = '') => runNode(CLI, args, dir, d.env, stdin);

  const made = await run(['operator', 'create', '--email', 'Ops@Shop.CN', '--role', 'support', '--password-stdin', '--json'], 'a long enough secret\n');
  t.equal(made.code, 0, made.stderr);
  t.same(oneJson(t, made), { email: 'ops@shop.cn', role: 'support', totp: false });

  const short = await run(['operator', 'create', '--email', 'x@shop.cn', '--role', 'viewer', '--password-stdin'], 'short\n');
  t.equal(short.code, 2);
  t.match(short.stderr, /password: must be at least 12 characters/);
  const badRole = await run(['operator', 'create', '--email', 'x@shop.cn', '--role', 'root', '--password-stdin'], 'a long enough secret\n');
  t.match(badRole.stderr, /role: must be one of viewer, support, admin/);
  const again = await run(['operator', 'create', '--email', 'ops@shop.cn', '--role', 'viewer', '--password-stdin'], 'a long enough secret\n');
  t.match(again.stderr, /exists already/);

  const reads = { operatorByEmail: async (email: string) => (await d.sql.get<OperatorRecord>('SELECT * FROM console_operators WHERE email = ?', email))! };
  const row = await reads.operatorByEmail('ops@shop.cn');
  t.ok(await verifyPassword('a long enough secret', row.password_hash), 'the newline is not part of the password');
  t.notOk(await verifyPassword('a long enough secret\n', row.password_hash));

  const reset = await run(['operator', 'reset-password', 'ops@shop.cn', '--password-stdin'], 'another long secret\r\n');
  t.equal(reset.code, 0, reset.stderr);
  const after = (await reads.operatorByEmail('ops@shop.cn'));
  t.ok(await verifyPassword('another long secret', after.password_hash));
  t.equal(after.session_epoch, row.session_epoch + 1, 'sessions end');

  const totp = await run(['operator', 'totp', 'ops@shop.cn', '--json']);
  t.equal(totp.code, 0, totp.stderr);
  const uri = oneJson(t, totp).otpauthUri as string;
  t.match(uri, /^otpauth:\/\/totp\/dtpay:ops%40shop\.cn\?issuer=dtpay&secret=[A-Z2-7]{32}&algorithm=SHA1&digits=6&period=30$/);
  const secret = new URL(uri).searchParams.get('secret')!;
  const sealed = (await reads.operatorByEmail('ops@shop.cn')).totp_sealed!;
  t.notOk(Buffer.from(sealed).toString('latin1').includes(secret), 'the secret is stored sealed');
  const second = oneJson(t, await run(['operator', 'totp', 'ops@shop.cn', '--json'])).otpauthUri as string;
  t.not(second, uri, 'a new secret each run');

  const list = await run(['operator', 'list', '--json']);
  t.match(oneJson(t, list), [{ email: 'ops@shop.cn', role: 'support', status: 'active', totp: true, lastLoginAt: null }]);
  t.notOk(list.stdout.includes('scrypt'), 'no hash in the list');

  const off = await run(['operator', 'disable', 'ops@shop.cn']);
  t.equal(off.code, 0, off.stderr);
  t.equal((await reads.operatorByEmail('ops@shop.cn')).status, 'disabled');
  const missing = await run(['operator', 'disable', 'nobody@shop.cn']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no operator nobody@shop\.cn/);
  const help = await run(['operator', 'totp', '--help']);
  t.match(help.stdout, /usage: dtpay operator totp EMAIL/);
});
