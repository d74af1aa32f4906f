import t from 'tap';
import { join } from 'node:path';
import { formatBeijing } from '../../src/domain/time.js';
import { CLI, runNode } from '../cli-runner.js';
import { testBackendDatabase } from '../backend-database.js';
import { tempDir } from '../helper.js';
import { buildHistory } from '../fixtures/history.js';

// `dtpay prune`, run as the compiled CLI in a child process, as an operator would.

const DAY = 86_400_000;
const day = (ms: number) => {
  const b = formatBeijing(ms);
  return `${b.slice(0, 4)}-${b.slice(4, 6)}-${b.slice(6, 8)}`;
};

t.test('dtpay prune --before DATE removes what ended before DATE and says what it kept', async (t) => {
  const cwd = tempDir(t);
  const dbPath = join(cwd, 'data', 'dtpay.sqlite');
  // On SQLite the file, on PostgreSQL a database of its own (DTPAY_TEST_BACKEND).
  const d = await testBackendDatabase(t, dbPath);
  const now = Date.now();
  const h = await buildHistory({ writer: d.writer(), sql: d.sql }, now);
  await d.close();
  const cli = (args: string[]) => runNode(CLI, args, cwd, d.env);
  const before = day(now - 548 * DAY);

  const [help, dry, refused, bad, missing] = await Promise.all([
    cli(['help']),
    cli(['prune', '--before', before, '--dry-run', '--json']),
    cli(['prune', '--before', day(now - 30 * DAY)]),
    cli(['prune', '--before', '2025/01/01']),
    cli(['prune']),
  ]);
  t.match(help.stdout, /^ {2}prune --before YYYY-MM-DD \[--dry-run\] \[--json\]/m, 'listed in the usage');
  t.equal(dry.code, 0, dry.stderr);
  t.match(JSON.parse(dry.stdout), { before, refundWindowDays: 365, dryRun: true, orders: 5, kept: 6 });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /^dtpay: prune: --before \d{4}-\d{2}-\d{2} is within the last 365 days \(the refund window\)/);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /YYYY-MM-DD/);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /usage: dtpay prune --before YYYY-MM-DD/);

  const text = await cli(['prune', '--before', before]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, new RegExp(`^removed 5 orders that ended before ${before} \\(Beijing time\\), with \\d+ events, 5 notifications, 5 notification attempts and 1 refunds\\nkept 6 orders`));
  const left = new Set(await d.sql.values<string>('SELECT order_id FROM orders'));
  const has = (id: string) => left.has(id);
  t.notOk(Object.values(h.gone).some(has), 'the ended orders are gone');
  t.ok(Object.values(h.kept).every(has) && has(h.recent), 'the others are there');
});
