import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
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
  bytes: number;
  ms: number;
  node: string;
}

/** Why this machine cannot build the executable, or undefined when it can. */
export function cannotBuild(node = process.execPath): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the executable is built for linux-x64; this is ${process.platform}-${process.arch}`;
  const major = Number(process.versions.node.split('.')[0]);
  if (node === process.execPath && major < 24) return `the executable is built on Node 24 or later; this is Node ${process.versions.node}`;
  // Distribution builds of node sometimes leave single executable support out.
  if (!readFileSync(node).includes(SEA_FUSE)) return `${node} has no single executable application support (no ${SEA_FUSE})`;
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

/** Builds the executable at `output` from the sources and node_modules of this package. */
export async function buildBinary(output = DEFAULT_OUTPUT, node = process.execPath): Promise<BuildResult> {
  const why = cannotBuild(node);
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

    const migrations = readdirSync(join(ROOT, 'migrations'))
      .filter((f) => f.endsWith('.sql'))
      .sort();
    const index = join(work, 'migrations.json');
    writeFileSync(index, JSON.stringify(migrations));
    const require = createRequire(join(ROOT, 'package.json'));
    const betterSqlite = dirname(require.resolve('better-sqlite3/package.json'));
    const assets: Record<string, string> = {
      [ASSETS.migrationIndex]: index,
      [ASSETS.sqliteBinding]: join(betterSqlite, 'build', 'Release', 'better_sqlite3.node'),
      ...Object.fromEntries(migrations.map((m) => [ASSETS.migration(m), join(ROOT, 'migrations', m)])),
      ...Object.fromEntries(THREADS.map((t) => [ASSETS.thread(t), join(work, `${t}.js`)])),
    };

    const blob = join(work, 'sea.blob');
    const config = join(work, 'sea-config.json');
    writeFileSync(
      config,
      JSON.stringify({
        main,
        output: blob,
        disableExperimentalSEAWarning: true,
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
    return { output, bytes: statSync(output).size, ms: Date.now() - started, node: spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim() };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const output = resolve(process.argv[2] ?? DEFAULT_OUTPUT);
  buildBinary(output).then(
    (r) => process.stdout.write(`${r.output}: ${(r.bytes / 1048576).toFixed(1)} MiB, Node ${r.node}, built in ${(r.ms / 1000).toFixed(1)} s\n`),
    (err) => {
      process.stderr.write(`build:binary: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
