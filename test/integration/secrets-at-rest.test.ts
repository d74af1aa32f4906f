import t from 'tap';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config.js';
import { buildGateway, type Gateway } from '../../src/app.js';
import { openDb } from '../../src/db/open.js';
import { tempDir } from '../helper.js';

// What a gateway keeps on disk is for its owner alone: the database files, the backups and the
// MASTER_KEY file are 0600, and the secrets inside the database are sealed under MASTER_KEY.

interface Booted {
  gateway: Gateway;
  /** every line the gateway logged, parsed */
  logs: Record<string, unknown>[];
}

async function boot(t: { teardown(fn: () => unknown): void }, dir: string, env: Record<string, string> = {}): Promise<Booted> {
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const config = parseConfig({ DATABASE_PATH: join(dir, 'dtpay.sqlite'), PORT: '0', HOST: '127.0.0.1', ...env });
  const gateway = await buildGateway(config, { logger });
  let closed = false;
  t.teardown(async () => {
    if (!closed) await gateway.close();
    closed = true;
  });
  return { gateway, logs };
}

const modeOf = (f: string) => (statSync(f).mode & 0o777).toString(8);

t.test('a database left readable by others is made private at start, and the log says so once', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'dtpay.sqlite');
  const old = openDb(path);
  old.exec('CREATE TABLE leftover (x)');
  old.close();
  chmodSync(path, 0o644);

  const first = await boot(t, dir);
  t.equal(modeOf(path), '600');
  const said = first.logs.filter((l) => String(l.msg).includes('readable by other users'));
  t.equal(said.length, 1, 'one line');
  t.match(said[0], { level: 40, files: [{ file: path, was: '644' }] });
  await first.gateway.close();

  const second = await boot(t, dir);
  t.equal(second.logs.filter((l) => String(l.msg).includes('readable by other users')).length, 0, 'nothing to say the next time');
});
