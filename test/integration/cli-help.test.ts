import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../processes.js';
import { CLI, pooled, runNode } from '../cli-runner.js';
import { tempDir } from '../helper.js';

// Not repeated on PostgreSQL: --help opens no database, on either backend.

// `dtpay <command> --help` for every command, through the compiled CLI in a child process.

/** Every command and subcommand, as an operator types it, with the arguments its usage names. */
const EVERY_COMMAND: [string, string][] = [
  ['serve', 'serve'],
  ['migrate', 'migrate [--json]'],
  ['merchant create', 'merchant create --name NAME --mode sandbox|live'],
  ['merchant list', 'merchant list'],
  ['merchant show', 'merchant show MERCNO'],
  ['merchant rotate-key', 'merchant rotate-key MERCNO'],
  ['merchant disable', 'merchant disable MERCNO'],
  ['merchant enable', 'merchant enable MERCNO'],
  ['notify list', 'notify list'],
  ['notify resend', 'notify resend ORDERID'],
  ['order show', 'order show ORDERID'],
  ['order list', 'order list'],
  ['channel set', 'channel set MERCNO alipay'],
  ['channel show', 'channel show MERCNO'],
  ['channel remove', 'channel remove MERCNO PAYWAY'],
  ['backup', 'backup FILE'],
  ['sign', 'sign --key KEY'],
  ['help', 'help [COMMAND]'],
];

t.test('every command answers --help with its usage, on stdout, exit 0, doing nothing else', async (t) => {
  const cwd = tempDir(t);
  const db = join(cwd, 'data', 'dtpay.sqlite');
  // serve --help must start nothing: were it to serve, it would bind this port and never exit.
  const port = String(await freePort());
  const run = (args: string[]) => runNode(CLI, args, cwd, { DATABASE_PATH: db, PORT: port, HOST: '127.0.0.1' });

  const [top, topShort, topHelp, ...rest] = await pooled([
    () => run(['--help']),
    () => run(['-h']),
    () => run(['help']),
    ...EVERY_COMMAND.map(([name]) => () => run([...name.split(' '), '--help'])),
    ...EVERY_COMMAND.map(([name]) => () => run(['help', ...name.split(' ')])),
  ]);
  for (const r of [top!, topShort!, topHelp!]) {
    t.equal(r.code, 0, 'the top-level help exits 0');
    t.equal(r.stderr, '');
  }
  t.equal(topShort!.stdout, top!.stdout, '-h is --help');
  t.equal(topHelp!.stdout, top!.stdout, 'help is --help');
  for (const [, usage] of EVERY_COMMAND) t.ok(top!.stdout.includes(`  ${usage}`), `the top-level usage lists ${usage}`);

  const flagged = rest.slice(0, EVERY_COMMAND.length);
  const worded = rest.slice(EVERY_COMMAND.length);
  EVERY_COMMAND.forEach(([name, usage], i) => {
    const r = flagged[i]!;
    t.equal(r.code, 0, `${name} --help exits 0 ${r.stderr}`);
    t.equal(r.stderr, '', `${name} --help: nothing on stderr`);
    t.ok(r.stdout.startsWith(`usage: dtpay ${usage}`), `${name} --help prints its usage first: ${r.stdout.split('\n')[0]}`);
    t.ok(r.stdout.split('\n').length < 20, `${name} --help is that command's usage, not the whole list`);
    t.equal(worded[i]!.stdout, r.stdout, `dtpay help ${name} prints the same`);
  });
  t.match(flagged[EVERY_COMMAND.findIndex(([n]) => n === 'channel set')]!.stdout, /wxpay[\s\S]*unionpay/, 'channel set --help shows every payway');
  t.notOk(existsSync(join(cwd, 'data')), 'no --help created a database');

  // A group shows its commands; help after other arguments still wins; the usage errors quote the same table.
  const [group, late, withArgs, unknown, unknownSub, showUsage] = await pooled([
    () => run(['merchant', '--help']),
    () => run(['order', 'show', '2026010112000000000001', '--json', '--help']),
    () => run(['sign', '--key', 'k', '--help']),
    () => run(['frobnicate', '--help']),
    () => run(['merchant', 'frobnicate', '--help']),
    () => run(['order', 'show']),
  ]);
  t.equal(group!.code, 0);
  for (const sub of ['create', 'list', 'show', 'rotate-key', 'disable', 'enable']) t.match(group!.stdout, `merchant ${sub}`, `merchant --help lists ${sub}`);
  t.equal(late!.code, 0);
  t.ok(late!.stdout.startsWith('usage: dtpay order show ORDERID'), 'order show … --help');
  t.equal(withArgs!.code, 0, 'sign --help reads no stdin and signs nothing');
  t.ok(withArgs!.stdout.startsWith('usage: dtpay sign'));
  t.notMatch(withArgs!.stdout, /^\{/m, 'no signed object');
  t.equal(unknown!.code, 2, 'an unknown command: exit 2');
  t.match(unknown!.stderr, /unknown command frobnicate/);
  t.equal(unknownSub!.code, 2);
  t.match(unknownSub!.stderr, /unknown command merchant frobnicate[\s\S]*merchant rotate-key/, 'names the group\'s commands');
  t.equal(showUsage!.code, 2);
  t.ok(showUsage!.stderr.includes(flagged[EVERY_COMMAND.findIndex(([n]) => n === 'order show')]!.stdout.split('\n')[0]!), 'the usage error is the --help usage');
});
