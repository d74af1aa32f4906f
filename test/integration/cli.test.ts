import t from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { sign } from '../../src/domain/sign.js';
import { payFields, tempDir } from '../helper.js';
import { baseEnv, startServer, waitFor, type Served } from '../processes.js';
import { CLI, oneJson, runNode } from '../cli-runner.js';
import { testBackendDatabase, type BackendDatabase } from '../backend-database.js';
import { redactedUrl } from '../../src/db/database-url.js';
import { VECTOR_BODY, VECTOR_KEY } from '../fixtures/contract-vector.js';
import { startReceiver } from '../receiver.js';

const SERVER = fileURLToPath(new URL('../../src/server.js', import.meta.url));

type Teardown = Parameters<typeof tempDir>[0];

/** The CLI in `cwd` on the database `d` names (the SQLite file, or its PostgreSQL database). */
const cliOn = (cwd: string, d: BackendDatabase) => (args: string[], stdin = '') => runNode(CLI, args, cwd, d.env, stdin);



t.test('merchant commands', async (t) => {
  const cwd = tempDir(t);
  // On PostgreSQL a database with no tables yet, for migrate to make them.
  const d = await testBackendDatabase(t, join(cwd, 'data', 'dtpay.sqlite'), { empty: true });
  const cli = cliOn(cwd, d);

  const mig = await cli(['migrate', '--json']);
  t.equal(mig.code, 0, `migrate exits 0 ${mig.stderr}`);
  const m1 = oneJson(t, mig);
  const firstMigration = d.backend === 'postgres' ? '0015_create_schema.sql' : '0001_create_core_tables.sql';
  t.ok(Array.isArray(m1.applied) && m1.applied.includes(firstMigration), `migrate --json lists ${firstMigration} as applied`);
  t.equal(typeof m1.current, 'string');
  const mig2 = await cli(['migrate', '--json']);
  t.equal(mig2.code, 0);
  t.same(oneJson(t, mig2), { applied: [], current: m1.current }, 'second migrate applies nothing');

  // Steps that do not depend on each other run side by side, to keep the file quick.
  const [created, live] = await Promise.all([
    cli(['merchant', 'create', '--name', 'Shop', '--mode', 'sandbox', '--json']),
    cli(['merchant', 'create', '--name', 'Live shop', '--mode', 'live', '--json']),
  ]);
  t.equal(created.code, 0, `create exits 0 ${created.stderr}`);
  const m = oneJson(t, created);
  t.same(Object.keys(m).sort(), ['key', 'mercNo', 'mode'], 'exactly {mercNo, key, mode}');
  t.match(m.mercNo, /^M\d{15}$/);
  t.equal(m.mode, 'sandbox');
  t.type(m.key, 'string');
  t.ok(m.key.length >= 32, `key has ${m.key.length} characters`);

  t.equal(live.code, 0, `create --mode live exits 0 ${live.stderr}`);
  const l = oneJson(t, live);
  t.equal(l.mode, 'live');
  t.not(l.key, m.key, 'every merchant has its own key');
  t.not(l.mercNo, m.mercNo);

  const [list, rotated] = await Promise.all([
    cli(['merchant', 'list', '--json']),
    cli(['merchant', 'rotate-key', m.mercNo, '--json']),
  ]);
  t.equal(list.code, 0);
  const rows = oneJson(t, list) as { mercNo: string; name: string; mode: string; status: string }[];
  t.ok(Array.isArray(rows));
  t.equal(rows.length, 2);
  t.match(rows.find((r) => r.mercNo === m.mercNo), { name: 'Shop', mode: 'sandbox', status: 'active' });
  t.match(rows.find((r) => r.mercNo === l.mercNo), { name: 'Live shop', mode: 'live', status: 'active' });
  t.notOk(list.stdout.includes(m.key), 'list never shows a key');

  const [shown, shownText, shownLive] = await Promise.all([
    cli(['merchant', 'show', m.mercNo, '--json']),
    cli(['merchant', 'show', m.mercNo]),
    cli(['merchant', 'show', l.mercNo]),
  ]);
  t.equal(shown.code, 0, `merchant show exits 0 ${shown.stderr}`);
  const sj = oneJson(t, shown);
  t.same(Object.keys(sj).sort(), ['channels', 'createdAt', 'mercNo', 'mode', 'name', 'payouts', 'status', 'updatedAt']);
  t.match(sj, { mercNo: m.mercNo, name: 'Shop', mode: 'sandbox', status: 'active', channels: [], payouts: { enabled: false } });
  t.match(sj.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '--json: ISO 8601 UTC');
  t.match(shownText.stdout, new RegExp(`^merchant\\s+${m.mercNo}$`, 'm'));
  t.match(shownText.stdout, /^created\s+\d{14}$/m, 'the text: Beijing time as the API prints it');
  t.match(shownText.stdout, /^channels\s+the built-in sandbox channel$/m);
  t.match(shownLive.stdout, /^channels\s+none configured/m, 'a live merchant without channels says so');
  for (const r of [shown, shownText]) t.notOk(r.stdout.includes(m.key), 'show never shows the key');

  t.equal(rotated.code, 0, `rotate-key exits 0 ${rotated.stderr}`);
  const r = oneJson(t, rotated);
  t.equal(r.mercNo, m.mercNo);
  t.type(r.key, 'string');
  t.ok(r.key.length >= 32);
  t.not(r.key, m.key, 'a different key');

  const disabled = await cli(['merchant', 'disable', m.mercNo]);
  t.equal(disabled.code, 0, `disable exits 0 ${disabled.stderr}`);
  // The failures do not depend on each other: run them side by side.
  const notFound = [
    ['merchant', 'show', 'M999999999999999'],
    ['merchant', 'rotate-key', 'M999999999999999', '--json'],
    ['merchant', 'disable', 'M999999999999999'],
    ['merchant', 'enable', 'M999999999999999'],
  ];
  const [listDisabled, bogus, noName, unknownFlag, unknownCmd, ...missing] = await Promise.all([
    cli(['merchant', 'list', '--json']),
    cli(['merchant', 'create', '--name', 'X', '--mode', 'bogus', '--json']),
    cli(['merchant', 'create', '--mode', 'sandbox']),
    cli(['merchant', 'list', '--frobnicate']),
    cli(['frobnicate']),
    ...notFound.map((args) => cli(args)),
  ]);
  const after = oneJson(t, listDisabled!) as typeof rows;
  t.equal(after.find((x) => x.mercNo === m.mercNo)?.status, 'disabled', 'list shows it disabled');
  t.equal(after.find((x) => x.mercNo === l.mercNo)?.status, 'active', 'the other merchant is untouched');

  notFound.forEach((args, i) => {
    const res = missing[i]!;
    t.not(res.code, 0, `${args.join(' ')}: non-zero exit`);
    t.match(res.stderr, 'M999999999999999', `${args.join(' ')}: stderr names the merchant`);
    t.equal(res.stdout, '', 'nothing on stdout');
  });

  t.not(bogus!.code, 0, '--mode bogus: non-zero exit');
  t.match(bogus!.stderr, /mode/, '--mode bogus: the message names --mode');
  t.equal(bogus!.stdout, '');

  t.not(noName!.code, 0, 'missing --name: non-zero exit');
  t.match(noName!.stderr, /name/);

  t.not(unknownFlag!.code, 0, 'unknown option: non-zero exit');
  t.notMatch(unknownFlag!.stderr, /\n\s+at /, 'a message, not a stack trace');

  t.not(unknownCmd!.code, 0, 'unknown command: non-zero exit');
  t.match(unknownCmd!.stderr, /frobnicate/);

  const enabled = await cli(['merchant', 'enable', m.mercNo, '--json']);
  t.equal(enabled.code, 0);
  t.same(oneJson(t, enabled), { mercNo: m.mercNo, status: 'active' });

  const still = oneJson(t, await cli(['merchant', 'list', '--json'])) as typeof rows;
  t.equal(still.length, 2, 'failed commands created nothing');
  t.equal(still.find((x) => x.mercNo === m.mercNo)?.status, 'active', 'enable makes it active again');
});

t.test('sign', async (t) => {
  const cwd = tempDir(t);
  const db = join(cwd, 'unused.sqlite');
  // sign touches no database: it runs on SQLite's settings on both passes.
  const cli = (args: string[], stdin = '') => runNode(CLI, args, cwd, { DATABASE_PATH: db }, stdin);

  const noType = { ...VECTOR_BODY };
  delete noType.signType;
  const failures = [
    ['non-JSON stdin', 'mercNo=M1&x=y', []],
    ['empty stdin', '', []],
    ['a JSON array', '["a"]', []],
    ['a non-string field', '{"mercNo":"M1","tradeAmt":1}', []],
    ['a bad --sign-type', JSON.stringify(VECTOR_BODY), ['--sign-type', 'SHA1']],
    ['a bad signType field', JSON.stringify({ ...VECTOR_BODY, signType: 'RSA' }), []],
  ] as const;
  // Independent invocations: run them side by side.
  const [md5, hmac, explicitMd5, resigned, dflt, noKey, ...failed] = await Promise.all([
    cli(['sign', '--key', VECTOR_KEY], JSON.stringify(VECTOR_BODY)),
    cli(['sign', '--key', VECTOR_KEY, '--sign-type', 'HMAC-SHA256'], JSON.stringify(VECTOR_BODY)),
    cli(['sign', '--key', VECTOR_KEY, '--sign-type', 'MD5'], JSON.stringify({ ...VECTOR_BODY, signType: 'HMAC-SHA256' })),
    cli(['sign', '--key', VECTOR_KEY], JSON.stringify({ ...VECTOR_BODY, signature: 'stale' })),
    cli(['sign', '--key', VECTOR_KEY], JSON.stringify(noType)),
    cli(['sign'], JSON.stringify(VECTOR_BODY)),
    ...failures.map(([, stdin, args]) => cli(['sign', '--key', VECTOR_KEY, ...args], stdin)),
  ]);

  t.equal(md5!.code, 0, `sign exits 0 ${md5!.stderr}`);
  const out = oneJson(t, md5!);
  t.equal(out.signature, '53E6F56EFB2874CBBD3C914E7506F214', 'the MD5 vector');
  const { signature: _s, ...rest } = out;
  t.same(rest, VECTOR_BODY, 'the body is printed unchanged besides the signature');

  t.equal(hmac!.code, 0, `sign --sign-type exits 0 ${hmac!.stderr}`);
  const h = oneJson(t, hmac!);
  t.equal(h.signType, 'HMAC-SHA256', 'the output signType is the one asked for');
  t.equal(h.signature, 'A8C7203E7EFBB05EB1E26A5132260B248FB75EA04DA33A081EABF203B17F5EB0', 'the HMAC-SHA256 vector');

  t.equal(explicitMd5!.code, 0);
  t.match(oneJson(t, explicitMd5!), { signType: 'MD5', signature: '53E6F56EFB2874CBBD3C914E7506F214' }, '--sign-type MD5 overrides the field');

  t.equal(resigned!.code, 0);
  t.equal(oneJson(t, resigned!).signature, '53E6F56EFB2874CBBD3C914E7506F214', 'an old signature is replaced, not signed over');

  t.equal(dflt!.code, 0);
  t.equal(oneJson(t, dflt!).signature, sign(noType, VECTOR_KEY, 'MD5'), 'MD5 when no signType is given');

  t.not(noKey!.code, 0, 'sign without --key: non-zero exit');
  t.match(noKey!.stderr, /key/);

  failures.forEach(([what], i) => {
    const res = failed[i]!;
    t.not(res.code, 0, `${what}: non-zero exit`);
    t.equal(res.stdout, '', `${what}: nothing on stdout`);
    t.ok(res.stderr.length > 0, `${what}: a message on stderr`);
  });
});

// ---------------------------------------------------------------------------------------------
// End to end with `npm start`'s entry point.

async function stop(s: Served): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const started = Date.now();
  s.child.kill('SIGTERM');
  const ac = new AbortController();
  const timeout = sleep(10_000, 'timeout' as const, { signal: ac.signal }).catch(() => 'timeout' as const);
  const r = await Promise.race([s.exited, timeout]);
  ac.abort(); // no timer left behind to hold the test process open
  if (r === 'timeout') {
    s.child.kill('SIGKILL');
    return { code: null, signal: 'SIGKILL', ms: Date.now() - started };
  }
  return { ...r, ms: Date.now() - started };
}

async function post(url: string, fields: Record<string, string>, key: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...fields, signature: sign(fields, key, 'MD5') }),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: await res.json() };
}

t.test('npm start: first boot, orders, CLI beside a running server, clean shutdown, restart', async (t) => {
  const cwd = tempDir(t);
  const db = join(cwd, 'data', 'dtpay.sqlite');
  const d = await testBackendDatabase(t, db);
  const cli = cliOn(cwd, d);

  // First boot on an empty database.
  const s1 = await startServer(t, cwd, db, undefined, d.env);
  const [, mercNo] = await waitFor(s1, /mercNo:\s+(M\d{15})/);
  const [, key] = await waitFor(s1, /key:\s+(\S+)/);
  t.ok(mercNo, `first boot printed mercNo ${mercNo}`);
  t.ok(key!.length >= 32, 'first boot printed a key of at least 32 characters');
  t.match(s1.out(), /curl .*\/api\/pay/, 'and a curl example');
  t.match(s1.out(), 'npx dtpay sign', 'that signs with the CLI');
  // At LOG_LEVEL info the block stands apart from the JSON log lines: a blank line, a rule, the
  // block, a rule, a blank line; every other line is one JSON log record.
  await waitFor(s1, /\n={78}\n\n/);
  const lines = s1.out().split('\n');
  const top = lines.findIndex((l) => /^==== dtpay: First start =+$/.test(l));
  const bottom = lines.findIndex((l, i) => i > top && /^={78}$/.test(l));
  t.ok(top > 0 && bottom > top, 'the block is framed by two rules');
  t.equal(lines[top]!.length, 78, 'both rules are as wide');
  t.equal(lines[top - 1], '', 'a blank line before it');
  t.equal(lines[bottom + 1], '', 'a blank line after it');
  t.ok(lines.slice(top + 1, bottom).every((l) => !l.startsWith('{')), 'no log line inside the block');
  const named = d.env.DATABASE_URL ? redactedUrl(d.env.DATABASE_URL) : db;
  t.match(lines.slice(top, bottom).join('\n'), `database: ${named}`, 'it names the database the CLI must use too');
  const outside = [...lines.slice(0, top - 1), ...lines.slice(bottom + 2)].filter((l) => l !== '');
  t.ok(outside.length > 0, 'there are log lines around it');
  for (const l of outside) t.doesNotThrow(() => JSON.parse(l), `outside the block, a JSON log line: ${l.slice(0, 60)}`);

  const listed = oneJson(t, await cli(['merchant', 'list', '--json'])) as { mercNo: string; mode: string }[];
  t.equal(listed.length, 1, 'exactly one merchant after first boot');
  t.match(listed[0], { mercNo, mode: 'sandbox', status: 'active' }, 'the first-boot merchant is a sandbox merchant');

  // An order with the printed key.
  const order = payFields(mercNo!);
  const paid = await post(s1.url, order, key!);
  t.equal(paid.status, 200, `pay: HTTP 200 ${JSON.stringify(paid.body)}`);
  t.equal(paid.body.respCode, '000000');
  t.match(paid.body.orderId, /^\d{22}$/);
  t.equal(paid.body.signature, sign(paid.body, key!, 'MD5'), 'the response is signed with the merchant key');
  const orderId = paid.body.orderId as string;

  // A merchant made by the CLI while the server runs is served at once; disabled, it is refused at once.
  const made = await cli(['merchant', 'create', '--name', 'Second', '--mode', 'sandbox', '--json']);
  t.equal(made.code, 0, `merchant create beside the running server ${made.stderr}`);
  const second = oneJson(t, made);
  const ok2 = await post(s1.url, payFields(second.mercNo), second.key);
  t.equal(ok2.body.respCode, '000000', 'the new merchant can order');
  const dis = await cli(['merchant', 'disable', second.mercNo]);
  t.equal(dis.code, 0, `merchant disable beside the running server ${dis.stderr}`);
  const refused = await post(s1.url, payFields(second.mercNo), second.key);
  t.equal(refused.status, 403, 'a disabled merchant gets HTTP 403');
  t.equal(refused.body.respCode, '100003');

  // A rotated key takes effect at once too: the old one no longer verifies.
  const [reenabled, rotatedKey] = await Promise.all([
    cli(['merchant', 'enable', second.mercNo, '--json']),
    cli(['merchant', 'rotate-key', second.mercNo, '--json']),
  ]);
  t.equal(oneJson(t, reenabled!).status, 'active');
  const newKey = oneJson(t, rotatedKey!).key as string;
  t.equal((await post(s1.url, payFields(second.mercNo), second.key)).body.respCode, '100002', 'the old key is refused');
  t.equal((await post(s1.url, payFields(second.mercNo), newKey)).body.respCode, '000000', 'the new key works');

  // SIGTERM: a clean exit, quickly.
  const stopped = await stop(s1);
  t.equal(stopped.signal, null, 'not killed');
  t.equal(stopped.code, 0, `exit code 0 after SIGTERM (took ${stopped.ms} ms); stderr: ${s1.err()}`);
  t.ok(stopped.ms < 10_000, 'within 10 s');
  t.equal(s1.out().match(/First start/g)?.length, 1, 'the first-boot message was printed once');

  // Restart on the same database: no new merchant, the order is still there.
  const s2 = await startServer(t, cwd, db, undefined, d.env);
  const replay = await post(s2.url, order, key!);
  t.equal(replay.status, 200, 'replaying the same order after a restart');
  t.equal(replay.body.respCode, '000000');
  t.equal(replay.body.orderId, orderId, 'the same orderId: the order survived the restart');
  const changed = await post(s2.url, { ...order, tradeAmt: '99.99' }, key!);
  t.equal(changed.body.respCode, '100004', 'the same mercOrderNo with other parameters is a conflict');
  const fresh = await post(s2.url, payFields(mercNo!), key!);
  t.equal(fresh.body.respCode, '000000');
  t.ok(fresh.body.orderId > orderId, 'new order ids sort after those stored before the restart');

  const stopped2 = await stop(s2);
  t.equal(stopped2.code, 0, `second server exits 0 on SIGTERM; stderr: ${s2.err()}`);
  t.notMatch(s2.out(), /First start/, 'no first-boot merchant on restart');
  t.notOk(s2.out().includes(key!), 'the key is not printed again');
  const finalList = oneJson(t, await cli(['merchant', 'list', '--json'])) as unknown[];
  t.equal(finalList.length, 2, 'still only the first-boot merchant and the CLI one');
});

t.test('first boot whose listen fails still shows the sandbox key on the next start', async (t) => {
  const cwd = tempDir(t);
  const db = join(cwd, 'data', 'dtpay.sqlite');
  const d = await testBackendDatabase(t, db);
  // Something else already holds the port (a common first-run mistake: 8080 is busy).
  const blocker = createServer();
  await new Promise<void>((resolve, reject) => {
    blocker.once('error', reject);
    blocker.listen(0, '127.0.0.1', () => resolve());
  });
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const busyPort = (blocker.address() as { port: number }).port;

  const failed = spawn(process.execPath, [SERVER], {
    cwd,
    env: baseEnv({ PORT: String(busyPort), HOST: '127.0.0.1', DATABASE_PATH: db, LOG_LEVEL: 'warn', ...d.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 15_000,
    killSignal: 'SIGKILL',
  });
  let failedErr = '';
  let failedOut = '';
  failed.stderr.setEncoding('utf8').on('data', (d) => (failedErr += d));
  failed.stdout.setEncoding('utf8').on('data', (d) => (failedOut += d));
  const code = await new Promise<number | null>((resolve) => failed.on('close', (c) => resolve(c)));
  t.not(code, 0, 'a start whose port is taken fails');
  t.match(failedErr, /EADDRINUSE|in use/, 'and says why');

  const s = await startServer(t, cwd, db, undefined, d.env);
  // Either the failed start or the next one may show it, but the operator must see a working key.
  // The merchant is made only once the gateway listens, so a failed first start loses no key.
  const re = /mercNo:\s+(M\d{15})\s+key:\s+(\S+)/;
  const shown = re.exec(failedOut) ?? (await waitFor(s, re, 3000).catch(() => null));
  t.ok(shown, 'a sandbox mercNo and key were printed by one of the two starts');
  if (shown) {
    const res = await post(s.url, payFields(shown[1]!), shown[2]!);
    t.equal(res.body.respCode, '000000', 'and that key works');
  }
  const stopped = await stop(s);
  t.equal(stopped.code, 0);
});

t.test('the entry points run when reached through a symlink or a path with a space', async (t) => {
  // The compiled tree this test belongs to: <outDir>/src, and the package root above <outDir>.
  const compiledSrc = fileURLToPath(new URL('../../src/', import.meta.url));
  const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'dtpay test '));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  // A symlink to the compiled sources (what npm's node_modules/.bin and many deploy layouts do).
  symlinkSync(compiledSrc, join(dir, 'linked-src'), 'dir');
  // A real copy under a directory whose name has a space, with the package's modules and migrations beside it.
  const spaced = join(dir, 'my app');
  cpSync(compiledSrc, join(spaced, 'src'), { recursive: true });
  symlinkSync(join(packageRoot, 'node_modules'), join(spaced, 'node_modules'), 'dir');
  symlinkSync(join(packageRoot, 'migrations'), join(spaced, 'migrations'), 'dir');
  symlinkSync(join(packageRoot, 'package.json'), join(spaced, 'package.json'));

  const runEntry = (entry: string, args: string[], env: Record<string, string>, stdin = '') =>
    runNode(entry, args, dir, env, stdin);

  const body = JSON.stringify(VECTOR_BODY);
  const bad = { PORT: 'abc', DATABASE_PATH: join(dir, 'db.sqlite') };
  const [cliLinked, cliSpaced, serverLinked, serverSpaced] = await Promise.all([
    runEntry(join(dir, 'linked-src', 'cli', 'main.js'), ['sign', '--key', VECTOR_KEY], {}, body),
    runEntry(join(spaced, 'src', 'cli', 'main.js'), ['sign', '--key', VECTOR_KEY], {}, body),
    // A bad PORT makes the server exit 1 at once if (and only if) it runs at all.
    runEntry(join(dir, 'linked-src', 'server.js'), [], bad),
    runEntry(join(spaced, 'src', 'server.js'), [], bad),
  ]);

  t.equal(cliLinked.code, 0, 'the CLI through a symlink');
  t.match(cliLinked.stdout, '53E6F56EFB2874CBBD3C914E7506F214');
  // The entry check compares file URLs, so a path with a space (escaped in a URL) still runs.
  t.match(cliSpaced.stdout, '53E6F56EFB2874CBBD3C914E7506F214', 'the CLI under a path with a space signs');
  // The server's entry check resolves symlinks, so `node <symlink>/server.js` serves too.
  t.equal(serverLinked.code, 1, 'the server through a symlink runs (and rejects PORT=abc)');
  t.match(serverLinked.stderr, 'PORT');
  t.equal(serverSpaced.code, 1, 'the server under a path with a space runs (and rejects PORT=abc)');
  t.match(serverSpaced.stderr, 'PORT');
});

t.test('notify list and notify resend beside a running server', async (t) => {
  const cwd = tempDir(t);
  const db = join(cwd, 'data', 'dtpay.sqlite');
  const d = await testBackendDatabase(t, db);
  const cli = cliOn(cwd, d);
  const rcv = await startReceiver(t);
  const s = await startServer(t, cwd, db, undefined, d.env);
  const [, mercNo] = await waitFor(s, /mercNo:\s+(M\d{15})/);
  const [, key] = await waitFor(s, /key:\s+(\S+)/);
  const made = await post(s.url, payFields(mercNo!, { notifyUrl: `${rcv.url}/notify` }), key!);
  const orderId = made.body.orderId as string;
  const paid = await fetch(`${s.url}/sandbox/pay/${orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'result=success',
  });
  t.equal(paid.status, 200);
  await rcv.waitFor((r) => r.length === 1);

  let listed: any[] = [];
  for (let i = 0; i < 100 && listed[0]?.status !== 'delivered'; i++) {
    listed = oneJson(t, await cli(['notify', 'list', '--json']));
    if (listed[0]?.status !== 'delivered') await sleep(50);
  }
  t.equal(listed.length, 1);
  t.match(listed[0], { orderId, payStatus: 'p0000', status: 'delivered', attempts: 1, url: `${rcv.url}/notify`, nextAttemptAt: null });
  t.match(listed[0].lastAttempt, { httpStatus: 200, error: null, answer: 'success' });
  t.same(oneJson(t, await cli(['notify', 'list', '--status', 'failed', '--json'])), []);
  const text = await cli(['notify', 'list']);
  t.match(text.stdout, new RegExp(`${orderId}\\s+p0000\\s+delivered`));

  const resent = await cli(['notify', 'resend', orderId, '--json']);
  t.equal(resent.code, 0, resent.stderr);
  const r = oneJson(t, resent);
  t.match(r, { orderId, payStatus: 'p0000', status: 'pending' });
  // The running gateway looks at the outbox every second and sends it.
  await rcv.waitFor((x) => x.length === 2);
  t.equal(rcv.received[1]!.headers['webhook-id'], r.webhookId, 'the queued notification went out from the server');

  const unknown = await cli(['notify', 'resend', '2099010100000000000001']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /no order/);
  const bad = await cli(['notify', 'list', '--status', 'lost']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--status must be one of pending, delivered, failed, superseded/);
  const stopped = await stop(s);
  t.equal(stopped.code, 0);
});
