import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../helper.js';
import { freePort, startServer } from '../processes.js';

// The README's sandbox walk-through, run as written against a gateway started with PORT=<another
// port> and BASE set to it: the stand-in endpoint, the merchant, the order, the payment, the
// query and `order show`, through `npx dtpay` and curl in bash. Only the README's own lines run;
// the one the README says to change (BASE=…) and the stand-in's port are the only edits.
// Not repeated on PostgreSQL: the README's walk-through is the default setup as a newcomer runs it (SQLite in ./data, no DATABASE_URL), as the README shows it.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SH = [...README.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const standIn = SH.find((b) => b.includes('.listen(9999)'));
const steps = SH.filter((b) => /^BASE=|^# 3\. Pay it/m.test(b)).join('\n');

const haveCurl = await new Promise<boolean>((resolve) => {
  const c = spawn('curl', ['--version'], { stdio: 'ignore' });
  c.on('error', () => resolve(false));
  c.on('close', (code) => resolve(code === 0));
});

interface Shell {
  out(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(): void;
}

function bash(script: string, cwd: string, env: Record<string, string>, timeoutMs: number): Shell {
  const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL', detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  // The whole group, so that the node started by bash goes too.
  const kill = () => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  return { out: () => stdout, done, kill };
}

t.test('the README walk-through works as written on another port', { skip: !haveCurl ? 'curl is not installed' : false }, async (t) => {
  t.ok(standIn, 'the README starts a stand-in endpoint on port 9999');
  t.match(steps, /^BASE=http:\/\/localhost:8080/m, 'and sets BASE for the steps');

  // A project folder as a newcomer has it after `npm ci`: package.json (for npx dtpay) and the
  // build; the build's modules resolve from the real package. The first npx of a folder runs its
  // `prepare` (the build, already done here, and impossible without the sources): left out.
  const cwd = tempDir(t);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  delete pkg.scripts.prepare;
  writeFileSync(join(cwd, 'package.json'), JSON.stringify(pkg, null, 2));
  symlinkSync(OUT, join(cwd, 'dist'), 'dir');
  const before = readdirSync(cwd).sort();

  const [port, hookPort] = [await freePort(), await freePort()];
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: cwd,
    // npx must run the project's own dtpay, never fetch a package of that name.
    npm_config_yes: 'false',
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_cache: join(tempDir(t), 'npm-cache'),
  };
  const server = await startServer(t, cwd, './data/dtpay.sqlite', port, { HOST: '127.0.0.1' });
  t.teardown(() => server.child.kill('SIGKILL'));

  const hook = bash(standIn!.replace('.listen(9999)', `.listen(${hookPort})`), cwd, env, 120_000);
  t.teardown(hook.kill);
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(hookPort, '127.0.0.1', () => s.end(() => resolve(true)));
      s.on('error', () => resolve(false));
    });
  for (let i = 0; i < 300 && !(await listening()); i++) await sleep(50);

  const script = ['set -e -o pipefail', steps.replace(/^BASE=http:\/\/localhost:8080/m, `BASE=http://localhost:${port}`).replaceAll('127.0.0.1:9999', `127.0.0.1:${hookPort}`)].join('\n');
  const r = await bash(script, cwd, env, 150_000).done;
  t.equal(r.code, 0, `the steps exit 0; stderr: ${r.stderr}`);

  const answers = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, string>);
  const [pay, paid, query] = answers;
  t.match(pay, { respCode: '000000', interfaceCode: 'pay', mercOrderNo: 'ORDER0001', tradeAmt: '12.50', payStatus: 'p0001' }, 'the order is created');
  t.ok(pay?.codeUrl?.startsWith(`http://localhost:${port}/sandbox/pay/`), `its codeUrl is on BASE: ${pay?.codeUrl}`);
  t.match(paid, { orderId: pay?.orderId, payStatus: 'p0000' }, 'it is paid');
  t.match(query, { respCode: '000000', interfaceCode: 'query', orderId: pay?.orderId, payStatus: 'p0000' }, 'the query finds it paid');
  t.match(r.stdout, /^status\s+p0000 \(paid\)$/m, 'order show shows it paid');

  for (let i = 0; i < 200 && !/"payStatus":"p0000"/.test(hook.out()); i++) await sleep(50);
  t.match(hook.out(), new RegExp(`^msg_\\S+ \\{.*"orderId":"${pay?.orderId}".*"payStatus":"p0000"`, 'm'), 'the stand-in printed the signed notification');

  t.same(readdirSync(cwd).sort(), [...before, 'data'].sort(), 'nothing written beside the project but data/');
  t.ok(existsSync(join(cwd, 'data', 'merchant.json')), 'the key is kept under data/');
  t.match(readFileSync(join(ROOT, '.gitignore'), 'utf8'), /^data\/$/m, 'which git ignores');
});
