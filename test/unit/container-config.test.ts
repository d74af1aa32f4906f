import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseEnv } from 'node:util';
import { CONFIG_VARIABLES, parseConfig } from '../../src/config.js';

// The container path as the docs give it: `.env.example` copied to `.env` and passed with
// `docker run --env-file .env` (or read by the gateway from its folder) overrides nothing, and the
// Dockerfile's database path is a volume the gateway's user may write. No Docker engine is needed
// to check that: the files are read as Docker and Node read them.

const root = new URL('../../../', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, root), 'utf8');
const example = read('.env.example');

/** What `docker run --env-file` sets from a file: every line that is not blank or a # comment. */
function dockerEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    out[eq < 0 ? line : line.slice(0, eq)] = eq < 0 ? '(taken from the host)' : line.slice(eq + 1);
  }
  return out;
}

t.test('.env.example, copied as it is, overrides no default', async (t) => {
  t.same(parseEnv(example), {}, 'as the gateway and the CLI read a .env (process.loadEnvFile): nothing set');
  t.same(dockerEnvFile(example), {}, 'as docker run --env-file reads it: nothing set, so the image keeps DATABASE_PATH=/data/dtpay.sqlite');
});

t.test('.env.example lists every variable of src/config.ts, each with its true default', async (t) => {
  const shown = new Map<string, string>();
  for (const m of example.matchAll(/^# ([A-Z][A-Z0-9_]*)=(.*)$/gm)) shown.set(m[1]!, m[2]!);
  for (const name of CONFIG_VARIABLES) t.ok(shown.has(name), `${name} is listed`);
  t.same([...shown.keys()].filter((k) => !CONFIG_VARIABLES.includes(k)), [], 'nothing the gateway does not read');
  // Uncommenting a line as it stands must change nothing either: the value shown is the default.
  const defaults = parseConfig({});
  for (const [name, value] of shown) {
    t.same(parseConfig({ [name]: value })[name as keyof typeof defaults], defaults[name as keyof typeof defaults], `${name}=${value} is the default`);
  }
});

/** The run stage of the Dockerfile: its ENV, VOLUME, USER, RUN and CMD instructions, continuation lines joined. */
function runStage(dockerfile: string) {
  const joined = dockerfile.replace(/\\\r?\n/g, ' ');
  const stages = joined.split(/^FROM /m);
  const lines = stages.at(-1)!.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  const of = (word: string) => lines.filter((l) => l.startsWith(`${word} `)).map((l) => l.slice(word.length + 1).trim());
  const env: Record<string, string> = {};
  for (const e of of('ENV')) for (const m of e.matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return { env, volumes: of('VOLUME').flatMap((v) => JSON.parse(v) as string[]), users: of('USER'), runs: of('RUN'), cmd: JSON.parse(of('CMD').at(-1)!) as string[] };
}

t.test('the image keeps its database in a volume the gateway\'s user owns, and its CLI uses the same one', async (t) => {
  const stage = runStage(read('Dockerfile'));
  const dataDir = dirname(stage.env.DATABASE_PATH!);
  t.equal(stage.env.DATABASE_PATH, '/data/dtpay.sqlite');
  t.ok(stage.volumes.includes(dataDir), `${dataDir} is a volume`);
  const user = stage.users.at(-1)!;
  t.not(user, 'root', 'the gateway does not run as root');
  t.ok(stage.runs.some((r) => new RegExp(`mkdir -p ${dataDir}\\b.*chown ${user}(:\\S+)? ${dataDir}\\b`).test(r)), `${dataDir} is made and given to ${user} before it becomes a volume`);
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };
  t.equal(`${stage.cmd.join(' ')}`, pkg.scripts.start, 'the image serves as npm start does');
  t.ok(stage.runs.some((r) => r.includes(`ln -s /app/${pkg.bin.dtpay} /usr/local/bin/dtpay`)), 'dtpay on PATH is the package\'s CLI');
  t.match(read('.dockerignore'), /^\.env$/m, 'a local .env is never copied into the image');
});
