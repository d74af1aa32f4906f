import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER, START_DEADLINE_MS, baseEnv, freePort, startServer } from '../processes.js';
import { tempDir } from '../helper.js';
import { DatabaseHeld, holdDatabase, lockFileOf, pidFileOf } from '../../src/db/process-lock.js';

// CONTRACT §7: on SQLite the database belongs to one gateway process. A second one on the same
// file refuses to start and names the first one's pid; a holder killed with SIGKILL leaves no lock.

/** Runs a gateway that is expected not to start: its exit code and stderr, bounded in time. */
async function refusedStart(cwd: string, dbPath: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [SERVER], {
    cwd,
    env: baseEnv({ PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_PATH: dbPath, LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), START_DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

const pidIn = (dbPath: string) => Number(readFileSync(pidFileOf(dbPath), 'utf8').trim());

t.test('in one process: a second hold is refused naming this pid; once released it is taken again', async (t) => {
  const db = join(tempDir(t), 'sub', 'g.sqlite');
  const first = holdDatabase(db);
  t.equal(pidIn(db), process.pid, 'the pid file names the holder');
  const err = (() => {
    try {
      holdDatabase(db);
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof DatabaseHeld, 'refused');
  t.equal((err as DatabaseHeld).pid, process.pid);
  t.match((err as Error).message, `the database ${db} belongs to another gateway process (pid ${process.pid})`);
  first.release();
  t.notOk(existsSync(pidFileOf(db)), 'the pid file goes with the lock');
  const again = holdDatabase(db);
  again.release();
  again.release();
  t.ok(existsSync(lockFileOf(db)), 'the lock file stays');
  t.notOk(existsSync(`${lockFileOf(db)}-journal`), 'no journal beside it');
});

t.test('a second gateway on the same file refuses to start, naming the first one’s pid', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'g.sqlite');
  const first = await startServer(t, dir, db);
  const second = await refusedStart(dir, db);
  t.equal(second.code, 1, 'exit 1');
  t.match(second.stderr, `dtpay: the database ${db} belongs to another gateway process (pid ${first.child.pid})`);
  t.equal(pidIn(db), first.child.pid, 'the pid file still names the first');
  const health = await fetch(`${first.url}/healthz`);
  t.equal(health.status, 200, 'the first one serves on');
});

t.test('a gateway killed with SIGKILL leaves no lock: the next one starts on the file', async (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'g.sqlite');
  const first = await startServer(t, dir, db);
  first.child.kill('SIGKILL');
  t.same(await first.exited, { code: null, signal: 'SIGKILL' });
  t.equal(pidIn(db), first.child.pid, 'its pid file is left behind, naming a process that is gone');
  const next = await startServer(t, dir, db);
  t.equal(pidIn(db), next.child.pid, 'the new holder named');
  t.equal((await fetch(`${next.url}/healthz`)).status, 200);
  // And it holds the file in turn.
  const third = await refusedStart(dir, db);
  t.match(third.stderr, `(pid ${next.child.pid})`);
  next.child.kill('SIGTERM');
  t.same(await next.exited, { code: 0, signal: null }, 'a clean stop');
  t.notOk(existsSync(pidFileOf(db)), 'a clean stop removes the pid file');
});
