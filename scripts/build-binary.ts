import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { ASSETS, type ThreadName } from '../src/runtime/resources.js';

// npm run build:binary → dist/dtpay: the gateway and its CLI as one linux-x64 executable, made with
// Node's single executable applications on the Node that runs this script (24 or later). The code
// is bundled with esbuild (an entry for the program and one per database thread); the migrations,
// the thread bundles and better-sqlite3's native binding travel as assets (src/runtime/resources.ts
// reads them back).

// dist/scripts/build-binary.js sits two levels below the package root.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const THREADS: ThreadName[] = ['writer-thread', 'checkpoint-thread'];
export const DEFAULT_OUTPUT = join(ROOT, 'dist', 'dtpay');

export interface BuildResult {
  output: string;
  /** hex SHA-256 of the executable, also written to `<output>.sha256` as sha256sum prints it */
  sha256: string;
  bytes: number;
  ms: number;
  node: string;
  /** the oldest glibc that runs it: the newest symbol version that Node or the SQLite binding needs */
  glibc: string;
}

/** The newest GLIBC_x.y symbol version an ELF file refers to (its version needs are plain strings in it). */
function newestGlibc(file: string): [number, number] {
  let newest: [number, number] = [0, 0];
  for (const m of readFileSync(file).toString('latin1').matchAll(/GLIBC_(\d+)\.(\d+)/g)) {
    const v: [number, number] = [Number(m[1]), Number(m[2])];
    if (v[0] > newest[0] || (v[0] === newest[0] && v[1] > newest[1])) newest = v;
  }
  return newest;
}

/** Why this machine cannot build the executable, or undefined when it can. */
export function cannotBuild(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the executable is built for linux-x64; this is ${process.platform}-${process.arch}`;
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) return `the executable is built on Node 24 or later; this is Node ${process.versions.node}`;
  // Distribution builds of node sometimes leave single executable support out.
  if (!readFileSync(process.execPath).includes(SEA_FUSE)) return `${process.execPath} has no single executable application support (no ${SEA_FUSE})`;
  return undefined;
}

// Modules in the bundle have no file of their own. import.meta.url names one only in entry checks
// (is process.argv[1] this module?), which must be false in the bundle, and in paths that the
// executable does not read (src/runtime/resources.ts takes assets instead).
const BUNDLE_URL = 'file:///dtpay-bundle/';

// better-sqlite3 looks for its binding with the `bindings` package unless it is given one; in the
// executable every connection is given it (src/db/open.ts), and one that is not says so.
const noBindingLookup: Plugin = {
  name: 'no-binding-lookup',
  setup(b) {
    b.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'no-binding-lookup' }));
    b.onLoad({ filter: /.*/, namespace: 'no-binding-lookup' }, () => ({
      contents:
        'module.exports = () => { throw new Error("better-sqlite3 opened without the nativeBinding option: ' +
        'open databases with openDb() or pass bindingOption() (src/db/open.ts)"); };',
      loader: 'js',
    }));
  },
};

async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    define: { 'import.meta.url': JSON.stringify(BUNDLE_URL) },
    plugins: [noBindingLookup],
    // Not minified: an uncaught error prints its source line, which should be readable. The code
    // is a few MB of a 120 MB file.
    legalComments: 'none',
    logLevel: 'warning',
  });
}

function run(cmd: string, args: string[], what: string, cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // postject's ELF writer warns about every note section it cannot name; the warning is harmless.
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l && !/^warning: Can't find string offset for section name/.test(l))
    .join('\n');
  if (r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${stderr}`);
}

/** Builds the executable at `output` from the sources and node_modules of this package, on this Node. */
export async function buildBinary(output = DEFAULT_OUTPUT): Promise<BuildResult> {
  const node = process.execPath;
  const why = cannotBuild();
  if (why) throw new Error(`cannot build the single executable: ${why}`);
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'dtpay-build-'));
  try {
    // Named relative to `work`, where the blob is made: stack traces show it as dtpay.js.
    const main = 'dtpay.js';
    await Promise.all([
      bundle('src/runtime/binary-main.ts', join(work, main)),
      ...THREADS.map((t) => bundle(`src/db/${t}.ts`, join(work, `${t}.js`))),
    ]);

    const sqlFiles = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.sql')).sort();
    const migrations = sqlFiles('migrations');
    const index = join(work, 'migrations.json');
    writeFileSync(index, JSON.stringify(migrations));
    const pgMigrations = sqlFiles('migrations/postgres');
    const pgIndex = join(work, 'pg-migrations.json');
    writeFileSync(pgIndex, JSON.stringify(pgMigrations));
    const require = createRequire(join(ROOT, 'package.json'));
    const betterSqlite = dirname(require.resolve('better-sqlite3/package.json'));
    // A binding compiled on purpose (npm rebuild) wins over the package's prebuilt one, as
    // better-sqlite3's own lookup does.
    const compiled = join(betterSqlite, 'build', 'Release', 'better_sqlite3.node');
    const binding = existsSync(compiled) ? compiled : join(betterSqlite, 'prebuilds', `${process.platform}-${process.arch}.node`);
    // The executable is this node, so the binding must load here: one built for another Node fails
    // now, with node's own message, rather than on the server.
    try {
      process.dlopen({ exports: {} }, binding);
    } catch (err) {
      throw new Error(`better-sqlite3's binding does not load in Node ${process.version} (npm rebuild better-sqlite3): ${(err as Error).message}`);
    }
    const assets: Record<string, string> = {
      [ASSETS.migrationIndex]: index,
      [ASSETS.sqliteBinding]: binding,
      ...Object.fromEntries(migrations.map((m) => [ASSETS.migration(m), join(ROOT, 'migrations', m)])),
      [ASSETS.pgMigrationIndex]: pgIndex,
      ...Object.fromEntries(pgMigrations.map((m) => [ASSETS.pgMigration(m), join(ROOT, 'migrations', 'postgres', m)])),
      ...Object.fromEntries(THREADS.map((t) => [ASSETS.thread(t), join(work, `${t}.js`)])),
    };

    const blob = join(work, 'sea.blob');
    const config = join(work, 'sea-config.json');
    writeFileSync(
      config,
      JSON.stringify({
        main,
        output: blob,
        // The "experimental feature" warning on every start tells an operator nothing they can act on.
        disableExperimentalSEAWarning: true,
        // A start-up snapshot of the bundle cannot be made (V8 fails with CheckGlobalAndEternalHandles),
        // and would freeze whatever the modules compute when loaded. The code cache is compiled
        // code only: see docs/single-executable.md for what it saves.
        useSnapshot: false,
        useCodeCache: true,
        assets,
      }),
    );
    run(node, ['--experimental-sea-config', config], 'preparing the executable blob', work);

    mkdirSync(dirname(output), { recursive: true });
    rmSync(output, { force: true });
    copyFileSync(node, output);
    chmodSync(output, 0o755);
    run(node, [require.resolve('postject/dist/cli.js'), output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], 'postject');
    const hash = createHash('sha256');
    await pipeline(createReadStream(output), hash);
    const sha256 = hash.digest('hex');
    // What `sha256sum -c dtpay.sha256` checks, next to the file.
    writeFileSync(`${output}.sha256`, `${sha256}  ${basename(output)}\n`);
    // The binding is compiled on the build machine (npm ci), so it usually needs a newer glibc than Node.
    const [a, b] = [newestGlibc(node), newestGlibc(binding)].sort((x, y) => y[0] - x[0] || y[1] - x[1])[0]!;
    return { output, sha256, bytes: statSync(output).size, ms: Date.now() - started, node: process.version, glibc: `${a}.${b}` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const output = resolve(process.argv[2] ?? DEFAULT_OUTPUT);
  buildBinary(output).then(
    (r) =>
      process.stdout.write(
        `${r.output}: ${(r.bytes / 1048576).toFixed(1)} MiB, Node ${r.node}, needs glibc ${r.glibc} or later, built in ${(r.ms / 1000).toFixed(1)} s\n` +
          `${r.output}.sha256: ${r.sha256}\n`,
      ),
    (err) => {
      process.stderr.write(`build:binary: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
