import t from 'tap';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildBinary, cannotBuild } from '../../scripts/build-binary.js';
import { sign } from '../../src/domain/sign.js';
import { payFields, responseVerifies, tempDir } from '../helper.js';
import { freePort } from '../processes.js';
import { startReceiver } from '../receiver.js';
import { VECTOR_BODY, VECTOR_KEY, VECTOR_MD5 } from '../fixtures/contract-vector.js';

// CONTRACT §9: dist/dtpay, copied alone into an empty folder, runs with nothing installed: no node
// on PATH, no node_modules, an environment of a few variables. With no command it serves; its CLI
// makes a sandbox merchant; the gateway takes that merchant's signed order to p0000 and notifies,
// and stops on SIGTERM with exit 0. No unpacked SQLite binding is left behind by any of them.

// Building copies and rewrites the ~120 MB Node binary (about 25 s here): more than the suite's
// 180 s per file is left for a slow or busy machine, for this file only.
t.setTimeout(300_000);

const why = cannotBuild();

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the executable in `cwd` with exactly `env`, bounded to 30 s. */
function runBinary(exe: string, args: string[], cwd: string, env: Record<string, string>, stdin = ''): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function post(url: string, fields: Record<string, string>, key: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...fields, signature: sign(fields, key, 'MD5') }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

t.test('dist/dtpay alone in an empty folder: CLI, gateway, sandbox order to p0000, SIGTERM', { skip: why && `cannot build the single executable here: ${why}` }, async (t) => {
  const built = await buildBinary(join(tempDir(t), 'dtpay'));
  t.comment(`built ${built.output}: ${(built.bytes / 1048576).toFixed(1)} MiB, Node ${built.node}, glibc ${built.glibc}+, in ${(built.ms / 1000).toFixed(1)} s`);
  const digest = createHash('sha256').update(readFileSync(built.output)).digest('hex');
  t.equal(readFileSync(`${built.output}.sha256`, 'utf8'), `${digest}  dtpay\n`, 'its checksum file is what sha256sum -c reads');

  const dir = tempDir(t);
  const exe = join(dir, 'dtpay');
  copyFileSync(built.output, exe);
  t.same(readdirSync(dir), ['dtpay'], 'the folder holds the executable and nothing else');
  // Where the executable unpacks its SQLite binding (os.tmpdir()), watched by the test.
  const tmp = tempDir(t);
  const env = { PATH: '', TMPDIR: tmp };

  const signed = await runBinary(exe, ['sign', '--key', VECTOR_KEY], dir, env, JSON.stringify(VECTOR_BODY));
  t.equal(signed.code, 0, `sign exits 0 ${signed.stderr}`);
  t.equal(JSON.parse(signed.stdout).signature, VECTOR_MD5, 'sign reads stdin and signs the contract vector');

  const noTmp = await runBinary(exe, ['merchant', 'list'], dir, { ...env, TMPDIR: join(tmp, 'missing') });
  t.equal(noTmp.code, 1, 'a temporary folder that cannot hold the binding stops it at once');
  t.match(noTmp.stderr, `dtpay: cannot unpack the SQLite binding into ${join(tmp, 'missing')} (TMPDIR)`, 'saying so');

  const badPort = await runBinary(exe, ['serve'], dir, { ...env, PORT: 'abc' });
  t.not(badPort.code, 0, '`serve` checks the configuration and refuses a bad one, as npx dtpay serve does');
  t.match(badPort.stderr, /invalid configuration:\n  - PORT="abc"/, 'naming the variable');
  t.same(readdirSync(tmp), [], 'the CLI removed its unpacked binding when it exited');

  // No command: the executable serves, here on an empty database at the default ./data/dtpay.sqlite.
  const rcv = await startReceiver(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(exe, [], { cwd: dir, env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the executable exited (${child.exitCode}) before serving: ${stderr}`);
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
    if (ok && /key:/.test(stdout)) break;
    if (Date.now() > deadline) throw new Error(`no /healthz 200 and first-start message within 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(statSync(join(dir, 'data', 'dtpay.sqlite')).isFile(), 'the database is at the default ./data/dtpay.sqlite');
  // The first start's example names the executable as it was started, not npx.
  t.match(stdout, `| ${exe} sign --key=`, 'the first-start example signs with this executable');

  // The CLI beside the running gateway, as an operator would use it.
  const created = await runBinary(exe, ['merchant', 'create', '--name', 'Binary shop', '--mode', 'sandbox', '--json'], dir, env);
  t.equal(created.code, 0, `merchant create exits 0 ${created.stderr}`);
  const merchant = JSON.parse(created.stdout) as { mercNo: string; key: string; mode: string };
  t.equal(merchant.mode, 'sandbox', 'a sandbox merchant');

  const unpacked = readdirSync(tmp);
  t.equal(unpacked.length, 1, 'one private folder holds the unpacked binding while it serves');
  const folder = join(tmp, unpacked[0]!);
  t.equal(statSync(folder).mode & 0o777, 0o700, 'the folder is 0700');
  t.same(readdirSync(folder), ['better_sqlite3.node'], 'holding the binding alone');
  t.equal(statSync(join(folder, 'better_sqlite3.node')).mode & 0o777, 0o600, 'the binding is 0600');

  const pay = await post(`${url}/api/pay`, payFields(merchant.mercNo, { notifyUrl: `${rcv.url}/notify` }), merchant.key);
  t.match(pay, { status: 200, body: { respCode: '000000', payStatus: 'p0001' } }, 'the signed order is made');
  t.ok(responseVerifies(pay.body, merchant.key), 'the answer is signed with the merchant key');
  const orderId = pay.body.orderId!;

  const paid = await fetch(`${url}/sandbox/pay/${orderId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ result: 'success' }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  t.equal(paid.status, 200, 'the sandbox payment is accepted');
  await paid.text();

  const query = await post(`${url}/api/query`, { mercNo: merchant.mercNo, orderId }, merchant.key);
  t.match(query, { status: 200, body: { respCode: '000000', orderId, payStatus: 'p0000' } }, '/api/query says p0000');

  await rcv.waitFor((r) => r.length >= 1, 15_000);
  const note = rcv.received[0]!;
  t.match(note.json, { orderId, payStatus: 'p0000' }, 'the merchant is notified of the payment');
  t.ok(responseVerifies(note.json, merchant.key), 'the notification is signed');

  child.kill('SIGTERM');
  const end = await Promise.race([
    exited,
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref()),
  ]);
  t.same(end, { code: 0, signal: null }, `SIGTERM stops it with exit 0 ${stderr}`);
  t.same(readdirSync(tmp), [], 'the unpacked binding and its folder are gone after exit');
});
