import t from 'tap';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config.js';
import { buildGateway, type Gateway } from '../../src/app.js';
import { openDb } from '../../src/db/open.js';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { newMerchantKey } from '../../src/services/merchants.js';
import { sign } from '../../src/domain/sign.js';
import { payFields, responseVerifies, tempDir } from '../helper.js';
import { cli } from '../cli-runner.js';

// What a gateway keeps on disk is for its owner alone: the database files, the backups and the
// MASTER_KEY file are 0600, and the secrets inside the database are sealed under MASTER_KEY.
// Not repeated on PostgreSQL: file modes, MASTER_KEY_FILE (never generated on PostgreSQL) and upgrades of old SQLite files are SQLite's; a MASTER_KEY that cannot open the sealed keys is master-key-refusal.test.ts, and a key rotated by the CLI beside a gateway is key-rotation.test.ts, both on both backends.

interface Booted {
  gateway: Gateway;
  /** every line the gateway logged, parsed */
  logs: Record<string, unknown>[];
}

async function boot(t: { teardown(fn: () => unknown): void }, dir: string, env: Record<string, string> = {}): Promise<Booted> {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const config = parseConfig({ DATABASE_PATH: join(dir, 'dtpay.sqlite'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  const gateway = await buildGateway(config, { logger });
  let closed = false;
  t.teardown(async () => {
    if (!closed) await gateway.close();
    closed = true;
  });
  return { gateway, logs };
}

const modeOf = (f: string) => (statSync(f).mode & 0o777).toString(8);

t.test('a database left readable by others is made private at start, and the log says so once', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'dtpay.sqlite');
  const old = openDb(path);
  old.exec('CREATE TABLE leftover (x)');
  old.close();
  chmodSync(path, 0o644);

  const first = await boot(t, dir);
  t.equal(modeOf(path), '600');
  const said = first.logs.filter((l) => String(l.msg).includes('readable by other users'));
  t.equal(said.length, 1, 'one line');
  t.match(said[0], { level: 40, files: [{ file: path, was: '644' }] });
  await first.gateway.close();

  const second = await boot(t, dir);
  t.equal(second.logs.filter((l) => String(l.msg).includes('readable by other users')).length, 0, 'nothing to say the next time');
});

/** POST /api/pay signed with `key`, through the gateway's own HTTP stack. */
async function pay(gateway: Gateway, mercNo: string, key: string): Promise<Record<string, string>> {
  const fields = payFields(mercNo);
  const res = await gateway.app.inject({
    method: 'POST',
    url: '/api/pay',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ ...fields, signature: sign(fields, key, 'MD5') }),
  });
  return res.json() as Record<string, string>;
}

/** Whether any file of the database (or a backup) holds `secret` as it is. */
function filesHolding(paths: string[], secret: string): string[] {
  return paths.filter((p) => existsSync(p) && readFileSync(p).includes(Buffer.from(secret)));
}

const said = (logs: Record<string, unknown>[], what: string) => logs.filter((l) => String(l.msg).includes(what));

t.test('first start without MASTER_KEY: one is generated into MASTER_KEY_FILE, and the CLI uses the same file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'master.key');
  const first = await boot(t, dir);
  t.ok(existsSync(file), 'master.key beside the database');
  t.equal(modeOf(file), '600');
  const key = readFileSync(file, 'utf8').trim();
  const lines = said(first.logs, 'generated one into MASTER_KEY_FILE');
  t.equal(lines.length, 1, 'said once');
  t.match(lines[0], { level: 40, file, msg: /Back that file up apart from the database/ });
  t.notOk(first.logs.some((l) => JSON.stringify(l).includes(key)), 'the key itself is never logged');

  // The CLI, given only DATABASE_PATH (no MASTER_KEY), seals with the same key the gateway opens.
  const made = await cli(dir, join(dir, 'dtpay.sqlite'), ['merchant', 'create', '--name', 'CLI shop', '--mode', 'sandbox', '--json']);
  t.equal(made.code, 0, made.stderr);
  t.equal(made.stderr, '', 'the CLI generated nothing');
  const m = JSON.parse(made.stdout) as { mercNo: string; key: string };
  const answer = await pay(first.gateway, m.mercNo, m.key);
  t.equal(answer.respCode, '000000', 'the gateway opens the key the CLI sealed');
  t.ok(responseVerifies(answer, m.key), 'and signs its answer with it');
  const dbFiles = ['dtpay.sqlite', 'dtpay.sqlite-wal'].map((f) => join(dir, f));
  t.same(filesHolding(dbFiles, m.key), [], 'the key is not in the database files');
  await first.gateway.close();

  const second = await boot(t, dir);
  t.equal(said(second.logs, 'generated one').length, 0, 'the next start finds the file and says nothing');
  t.equal(readFileSync(file, 'utf8').trim(), key, 'and keeps the key');
  t.equal((await pay(second.gateway, m.mercNo, m.key)).respCode, '000000');
});

t.test('a CLI on a fresh database makes the key file, and says so on stderr', async (t) => {
  const dir = tempDir(t);
  const r = await cli(dir, join(dir, 'data', 'dtpay.sqlite'), ['merchant', 'create', '--name', 'First', '--mode', 'live', '--json']);
  t.equal(r.code, 0, r.stderr);
  const file = join(dir, 'data', 'master.key');
  t.equal(modeOf(file), '600');
  t.equal(modeOf(join(dir, 'data')), '700');
  t.match(r.stderr, `generated one into ${file} (0600). Back that file up apart from the database`);
  t.notOk(r.stderr.includes(readFileSync(file, 'utf8').trim()), 'never the key');
});

/** A database as the version before sealing left it: migrations up to 0006, keys in plaintext. */
function legacyDatabase(t: { teardown(fn: () => unknown): void }, dir: string, n: number, rotatedAway: string[] = []): { mercNo: string; key: string }[] {
  const older = join(tempDir(t), 'migrations');
  mkdirSync(older);
  for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < '0008')) copyFileSync(join(MIGRATIONS_DIR, f), join(older, f));
  const db = openDb(join(dir, 'dtpay.sqlite'));
  migrate(db, older);
  const merchants = Array.from({ length: n }, (_, i) => ({ mercNo: `M10000000000000${i + 1}`, key: newMerchantKey() }));
  const insert = db.prepare(`INSERT INTO merchants (merc_no, name, mode, key, status, created_at, updated_at)
    VALUES (?, ?, 'sandbox', ?, 'active', 1, 1)`);
  for (const m of merchants) insert.run(m.mercNo, `Shop ${m.mercNo}`, m.key);
  // Keys rotated away under the old version may linger in the file's free space.
  const rotate = db.prepare('UPDATE merchants SET key = ? WHERE merc_no = ?');
  for (let i = 0; i < 5; i++) {
    const key = `${newMerchantKey()}${'-'.repeat(i)}`;
    rotatedAway.push(merchants[0]!.key);
    rotate.run(key, merchants[0]!.mercNo);
    merchants[0]!.key = key;
  }
  db.close();
  return merchants;
}

t.test('an upgrade seals the plaintext keys once, in one transaction, and leaves them nowhere on disk', async (t) => {
  const dir = tempDir(t);
  const rotatedAway: string[] = [];
  const merchants = legacyDatabase(t, dir, 3, rotatedAway);
  const path = join(dir, 'dtpay.sqlite');
  t.ok(filesHolding([path, `${path}-wal`], merchants[0]!.key).length > 0, 'before: the key is in the file');
  t.ok(rotatedAway.some((k) => filesHolding([path], k).length > 0), 'and so is a key rotated away');

  const first = await boot(t, dir, { MASTER_KEY: 'Yh3kP9wX2mQ7vB0cN5rT8jL1gF4dS6aZ+uE/oKiW2s0=' });
  t.match(said(first.logs, 'sealed the merchant keys'), [{ level: 30, count: 3 }], 'said once, with the count');
  t.notOk(existsSync(join(dir, 'master.key')), 'MASTER_KEY was given: no file is made');
  for (const m of merchants) t.equal((await pay(first.gateway, m.mercNo, m.key)).respCode, '000000', `${m.mercNo}: its key still verifies`);
  t.equal(first.gateway.db.prepare('SELECT count(*) FROM merchant_keys_to_seal').pluck().get(), 0, 'nothing left to seal');
  t.equal(first.gateway.db.prepare('SELECT count(*) FROM merchants WHERE key_sealed IS NULL').pluck().get(), 0);
  t.notOk((first.gateway.db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get('merchants') as string).match(/\bkey\s+TEXT/), 'no key column');

  const backup = join(dir, 'after-upgrade.sqlite');
  const r = await cli(dir, path, ['backup', backup], '');
  t.equal(r.code, 0, r.stderr);
  for (const m of merchants) t.same(filesHolding([path, `${path}-wal`, `${path}-shm`, backup], m.key), [], `${m.mercNo}: no file holds its key`);
  t.same(rotatedAway.flatMap((k) => filesHolding([path, `${path}-wal`, backup], k)), [], 'nor one rotated away long ago');
  await first.gateway.close();

  const second = await boot(t, dir, { MASTER_KEY: 'Yh3kP9wX2mQ7vB0cN5rT8jL1gF4dS6aZ+uE/oKiW2s0=' });
  t.equal(said(second.logs, 'sealed the merchant keys').length, 0, 'the second start has nothing to seal');
  t.equal((await pay(second.gateway, merchants[1]!.mercNo, merchants[1]!.key)).respCode, '000000');
});

t.test('`dtpay migrate` seals an upgraded database too', async (t) => {
  const dir = tempDir(t);
  const [m] = legacyDatabase(t, dir, 1);
  const r = await cli(dir, join(dir, 'dtpay.sqlite'), ['migrate']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /applied .*0008_seal_merchant_keys\.sql/);
  t.match(r.stderr, 'generated one into');
  t.match(r.stderr, 'sealed 1 merchant keys that were stored in plaintext');
  t.same(filesHolding(['dtpay.sqlite', 'dtpay.sqlite-wal'].map((f) => join(dir, f)), m!.key), []);
  const started = await boot(t, dir);
  t.equal((await pay(started.gateway, m!.mercNo, m!.key)).respCode, '000000', 'the gateway opens what the CLI sealed');
});

t.test('a sealed value MASTER_KEY cannot open refuses start-up, saying what to do', async (t) => {
  const dir = tempDir(t);
  const first = await boot(t, dir);
  const make = (name: string) => cli(dir, join(dir, 'dtpay.sqlite'), ['merchant', 'create', '--name', name, '--mode', 'sandbox', '--json']);
  const [a, b] = (await Promise.all([make('A'), make('B')])).map((r) => JSON.parse(r.stdout) as { mercNo: string; key: string });
  await first.gateway.close();
  const file = join(dir, 'master.key');
  const fileKey = readFileSync(file, 'utf8').trim();

  // Another key in the variable while the file holds the first: which one is meant is not guessed.
  const other = 'Qw8eR3tY6uI1oP4aS7dF0gH2jK5lZ9xC+vB/nM1qW3e=';
  await t.rejects(boot(t, dir, { MASTER_KEY: other }), { name: 'MasterKeyFileError', message: /MASTER_KEY is set and MASTER_KEY_FILE .* holds a different key/ });
  await t.resolves(boot(t, dir, { MASTER_KEY: fileKey }).then((g) => g.gateway.close()), 'the same key both ways is fine');

  // The file moved away: sealed keys are stored, so no new key is made in its place.
  renameSync(file, `${file}.away`);
  await t.rejects(boot(t, dir), { name: 'MasterKeyMissingError', message: /MASTER_KEY is not set and MASTER_KEY_FILE .* does not exist, but sealed secrets are stored \(\d+ merchant keys\).*openssl rand -base64 32/ });
  t.notOk(existsSync(file), 'no key was generated over the stored secrets');
  await t.rejects(boot(t, dir, { MASTER_KEY: other }), {
    name: 'MerchantKeyError',
    reason: 'wrong-key',
    message: /MASTER_KEY does not decrypt the stored merchant keys \(2 of 2\)/,
  });
  renameSync(`${file}.away`, file);

  // Sealed keys swapped between two merchants do not open: each is bound to its merchant.
  const db = openDb(join(dir, 'dtpay.sqlite'));
  const get = db.prepare('SELECT key_sealed FROM merchants WHERE merc_no = ?').pluck();
  const [sa, sb] = [get.get(a!.mercNo), get.get(b!.mercNo)];
  const put = db.prepare('UPDATE merchants SET key_sealed = ? WHERE merc_no = ?');
  put.run(sb, a!.mercNo);
  put.run(sa, b!.mercNo);
  db.close();
  const err = await boot(t, dir).then(
    () => undefined,
    (e: Error & { reason?: string }) => e,
  );
  t.match(err, { name: 'MerchantKeyError', reason: 'tampered', message: /\(2 of 2\)/ });
  t.match(err?.message, a!.mercNo);
  t.notOk([a!.key, b!.key, fileKey].some((k) => err?.message.includes(k)), 'no secret in the message');
});
