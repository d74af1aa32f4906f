import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sign } from '../../src/domain/sign.js';
import { VECTOR_BODY, VECTOR_KEY } from '../fixtures/contract-vector.js';
import { runProcess } from '../cli-runner.js';

// The signing examples of docs/merchant-guide.md are real files in docs/examples/sign/. Each one,
// run as the guide says, must give the contract's test vector (CONTRACT §2.1), and must tell a
// signed answer from a tampered one. A language whose toolchain this machine lacks is skipped, saying so.

const DIR = fileURLToPath(new URL('../../../docs/examples/sign/', import.meta.url));
const MD5 = '53E6F56EFB2874CBBD3C914E7506F214';
const HMAC = 'A8C7203E7EFBB05EB1E26A5132260B248FB75EA04DA33A081EABF203B17F5EB0';
const EXPECTED = `MD5 ${MD5}\nHMAC-SHA256 ${HMAC}\nverify signed: true\nverify tampered: false\n`;

t.test('the vector the examples print is the contract\'s, by the gateway\'s own code', async (t) => {
  t.equal(sign(VECTOR_BODY, VECTOR_KEY, 'MD5'), MD5);
  t.equal(sign({ ...VECTOR_BODY, signType: 'HMAC-SHA256' }, VECTOR_KEY, 'HMAC-SHA256'), HMAC);
});

// Go and Java want a writable cache and home; keep them out of the project and of $HOME.
const scratch = mkdtempSync(join(tmpdir(), 'dtpay-sign-examples-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

const EXAMPLES: { language: string; tool: string; versionArgs: string[]; args: string[]; env?: Record<string, string> }[] = [
  { language: 'Node.js', tool: process.execPath, versionArgs: ['--version'], args: ['sign.mjs'] },
  { language: 'Python', tool: 'python3', versionArgs: ['--version'], args: ['sign.py'], env: { PYTHONDONTWRITEBYTECODE: '1' } },
  { language: 'Java', tool: 'java', versionArgs: ['-version'], args: ['Sign.java'] },
  { language: 'PHP', tool: 'php', versionArgs: ['--version'], args: ['sign.php'] },
  {
    language: 'Go',
    tool: 'go',
    versionArgs: ['version'],
    args: ['run', 'sign.go'],
    env: { GOCACHE: join(scratch, 'go-cache'), GOPATH: join(scratch, 'go'), GOTOOLCHAIN: 'local', GOFLAGS: '-modcacherw' },
  },
];

for (const ex of EXAMPLES) {
  const probe = spawnSync(ex.tool, ex.versionArgs, { stdio: 'ignore', timeout: 30_000 });
  const missing = probe.error !== undefined || probe.status !== 0;
  t.test(`${ex.language}: docs/examples/sign/${ex.args.at(-1)}`, { skip: missing ? `${ex.tool} is not installed here: the ${ex.language} example is not run` : false }, async (t) => {
    const env = { PATH: process.env.PATH ?? '', HOME: scratch, TMPDIR: scratch, LANG: 'C.UTF-8', ...ex.env };
    const r = await runProcess(ex.tool, ex.args, { cwd: DIR, env, timeoutMs: 120_000 });
    t.equal(r.code, 0, `exits 0 ${r.stderr}`);
    t.equal(r.stdout.replaceAll('\r\n', '\n'), EXPECTED, 'the MD5 and HMAC-SHA256 vectors, and verify tells signed from tampered');
  });
}
