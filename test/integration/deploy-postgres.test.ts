import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { openPool } from '../../src/db/postgres/pool.js';
import { pgBinDir } from '../pg-cluster.js';
import { freePort } from '../processes.js';

// deploy/postgres/initdb.sh, the compose file's DATABASE_URL and health check, and the backup and
// restore commands of docs/several-instances.md, run against a real PostgreSQL set up as the
// official image sets it up: superuser `postgres`, local connections trusted, TCP with a password
// (scram-sha-256). The suite's shared cluster cannot serve here: its superuser is called dtpay,
// the very role initdb.sh creates.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const asRoot = process.getuid?.() === 0;

/** Runs `sh -c cmd` as the image's entrypoint runs its scripts: as the database's OS user, on its socket. */
function shell(bin: string, dir: string, port: number, cmd: string, env: Record<string, string> = {}) {
  const vars = [`PATH=${bin}:${process.env.PATH}`, `PGHOST=${dir}`, `PGPORT=${port}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  const [file, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', 'env', ...vars, 'sh', '-c', cmd]] : ['env', [...vars, 'sh', '-c', cmd]];
  return spawnSync(file, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
}

/** The shell commands of a Markdown sh block, continuation lines joined and comments dropped. */
function commands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+#\s.*$/, '').trim())
    .filter(Boolean);
}

t.test('initdb.sh, DATABASE_URL, pg_isready and the page\'s pg_dump and pg_restore, on a real PostgreSQL', async (t) => {
  const bin = pgBinDir();
  if (!bin) {
    t.comment('no PostgreSQL on this machine: skipped');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-deploy-pg-'));
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const port = await freePort();
  const run = (cmd: string, env?: Record<string, string>) => shell(bin, dir, port, cmd, env);
  const init = run(`initdb -D ${dir}/data -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-sync`);
  t.equal(init.status, 0, `initdb: ${init.stderr}`);
  const start = run(`pg_ctl -D ${dir}/data -o "-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off" -l ${dir}/server.log -w -t 60 start`);
  t.equal(start.status, 0, `pg_ctl start: ${start.stderr}`);
  t.teardown(() => {
    run(`pg_ctl -D ${dir}/data -m immediate -w stop`);
    rmSync(dir, { recursive: true, force: true });
  });

  // What deploy/.env would hold, and the script as the image's entrypoint runs it.
  const password = randomBytes(24).toString('hex');
  const script = run(`sh ${join(ROOT, 'deploy/postgres/initdb.sh')}`, { POSTGRES_USER: 'postgres', DTPAY_DB_PASSWORD: password });
  t.equal(script.status, 0, `initdb.sh runs: ${script.stderr}`);

  // The gateways' DATABASE_URL from compose.yaml, its host and port those of this server.
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as { services: Record<string, any> };
  const given = String(compose.services['gateway-1'].environment.DATABASE_URL).replace(/\$\{DTPAY_DB_PASSWORD[^}]*\}/, password);
  const url = new URL(given);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const pool = openPool(url.toString(), { max: 1 });
  const me = (await pool.query(
    `SELECT current_user AS role, r.rolsuper, r.rolcreaterole, r.rolcreatedb, pg_get_userbyid(d.datdba) AS owner
       FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()`,
  )).rows[0];
  t.same(me, { role: 'dtpay', rolsuper: false, rolcreaterole: false, rolcreatedb: false, owner: 'dtpay' }, 'the gateways log in with the password, as a role that owns its database and nothing more');
  await pool.query('CREATE TABLE t_orders (id int8 PRIMARY KEY, amount int8 NOT NULL)');
  await pool.query('INSERT INTO t_orders SELECT g, g * 100 FROM generate_series(1, 1000) g');
  t.pass('and it can create tables in its database, as migrations do');

  const wrong = new URL(url);
  wrong.password = 'not-the-password';
  const stranger = openPool(wrong.toString(), { max: 1 });
  await t.rejects(stranger.query('SELECT 1'), /password authentication failed/, 'a wrong password is refused');
  await stranger.end();

  // compose's health check, pointed at this server's port.
  const check = compose.services.postgres.healthcheck.test as string[];
  t.equal(run(`${check.slice(1).join(' ')} -p ${port}`).status, 0, 'pg_isready as compose runs it answers ready');

  // The page's compose backup, then the restore, with `docker compose exec -T postgres` being this shell.
  const page = read('docs/several-instances.md');
  const blocks = [...page.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => commands(m[1]!));
  const backup = blocks.find((b) => b.some((c) => c.includes('pg_dump')))!;
  const restore = blocks.find((b) => b.some((c) => c.includes('pg_restore')))!;
  const inContainer = (cmds: string[]) => cmds.filter((c) => c.startsWith('docker compose exec -T postgres ')).map((c) => c.slice('docker compose exec -T postgres '.length));
  const dumpFile = /< (\S+\.dump)/.exec(restore.join('\n'))![1]!;
  const dumps = inContainer(backup);
  t.equal(dumps.length, 1, 'the page shows one pg_dump for compose');
  t.match(dumps[0], /--format=custom/, 'in the custom format');
  t.ok(backup.includes('umask 077'), 'with umask 077 before it');
  const dump = run(`umask 077; ${dumps[0]!.replace('$(date +%F)', dumpFile.replace(/^dtpay-|\.dump$/g, ''))}`);
  t.equal(dump.status, 0, `pg_dump: ${dump.stderr}`);

  await pool.query('INSERT INTO t_orders VALUES (1001, 1)');
  await pool.end();

  const steps = inContainer(restore);
  t.equal(steps.length, 2, 'the page restores in two steps: an empty database, then pg_restore');
  for (const step of steps) {
    const r = run(step);
    t.equal(r.status, 0, `${step.slice(0, 40)}…: ${r.stderr}`);
  }
  const after = openPool(url.toString(), { max: 1 });
  t.teardown(() => after.end());
  const rows = (await after.query('SELECT count(*)::int AS n, sum(amount)::int8 AS total FROM t_orders')).rows[0];
  t.same(rows, { n: 1000, total: 50_050_000n }, 'the restored database holds what the dump held, the later row not');
  const owner = (await after.query(`SELECT tableowner FROM pg_tables WHERE tablename = 't_orders'`)).rows[0];
  t.equal(owner.tableowner, 'dtpay', 'owned by the gateways\' role');
  const aside = run(`psql -U postgres -d dtpay_before_restore -Atc 'SELECT count(*) FROM t_orders'`);
  t.equal(aside.stdout.trim(), '1001', 'the database before the restore is kept aside');
});
