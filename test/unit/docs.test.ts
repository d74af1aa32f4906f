import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/usage.js';

// The README and docs/ as a newcomer reads them: short, linked together without dead links, true
// to the CLI, and a walk-through that writes secrets only where git does not look.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
const anchorsOf = (md: string) => new Set([...md.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
/** The fenced blocks of a Markdown text, by their info string. */
const blocks = (md: string, lang: string) => [...md.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]!);

t.test('the README keeps to the first ten minutes and points on', async (t) => {
  const readme = read('README.md');
  const lines = readme.split('\n').length;
  t.ok(lines <= 150, `README.md has ${lines} lines`);
  for (const heading of ['## Set up', '## Sandbox walk-through', '## Where next']) t.match(readme, `\n${heading}\n`);
  t.match(readme, 'npm ci && npm start');
  t.match(readme, 'npm test');
  for (const doc of ['docs/merchant-guide.md', 'docs/operations.md', 'docs/live-channels.md', 'docs/architecture.md', 'docs/performance.md']) {
    t.match(readme, `](${doc}`, `the README links ${doc}`);
  }
});

t.test('every relative link in the README and docs/ leads to a file, and to a heading there', async (t) => {
  for (const doc of DOCS) {
    const md = read(doc);
    for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const path = file === '' ? doc : normalize(join(dirname(doc), file));
      t.ok(existsSync(join(ROOT, path)), `${doc}: ${target} exists`);
      if (anchor && path.endsWith('.md') && existsSync(join(ROOT, path))) t.ok(anchorsOf(read(path)).has(anchor), `${doc}: ${target} names a heading`);
    }
  }
});

t.test('the spec is called by its title, and the Alipay acknowledgement is stated as the code does it', async (t) => {
  for (const doc of DOCS) t.notMatch(read(doc), /\bseed\b/i, `${doc} does not call the spec "seed"`);
  const live = read('docs/live-channels.md');
  t.notMatch(live, /get `fail`/, 'non-payment notifications do not get fail');
  t.match(live, /`WAIT_BUYER_PAY`, `TRADE_CLOSED`\) changes nothing and is answered `success`/);
});

t.test('the docs list every CLI command with its usage', async (t) => {
  const ops = read('docs/operations.md').replaceAll('\\|', '|');
  for (const c of COMMANDS) {
    const usage = c.usage.length === 1 ? c.usage[0]! : c.name;
    t.ok(ops.includes(`\`${usage}`), `docs/operations.md lists ${usage}`);
  }
});

t.test('the walk-through uses $BASE, and writes what it keeps under data/, which git ignores', async (t) => {
  const sh = blocks(read('README.md'), 'sh').join('\n');
  t.match(sh, /^BASE=http:\/\/localhost:8080\b/m, 'BASE is set once');
  const calls = sh.split('\n').filter((l) => /curl /.test(l) && !l.trimStart().startsWith('#'));
  t.ok(calls.length >= 3);
  for (const l of calls) t.match(l, /\$BASE\//, `the gateway is reached through $BASE: ${l.trim()}`);
  t.notMatch(sh.replace(/^BASE=.*$/m, ''), /^[^#]*localhost:\d+/m, 'no other hard-coded gateway address');
  // Redirections and tee targets (not the `=>` of the stand-in's JavaScript).
  const writes = [...sh.matchAll(/(?:(?<![=>-])>|\btee)\s+([^\s;|&]+)/g)].map((m) => m[1]!);
  t.ok(writes.length > 0);
  for (const f of writes) t.match(f, /^data\//, `${f} is under data/`);
  t.match(read('.gitignore'), /^data\/$/m, '.gitignore ignores data/');
});

t.test('LICENSE is the MIT license package.json names', async (t) => {
  const license = read('LICENSE');
  t.match(license, /^MIT License\n/);
  t.match(license, /Copyright \(c\) \d{4} dtpay contributors/);
  t.equal((JSON.parse(read('package.json')) as { license: string }).license, 'MIT');
});
