import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { formatBeijing } from '../domain/time.js';
import { handleAlert, listAlerts } from '../services/alerts.js';
import { emptyDatabaseNote, notFound, withDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { subcommandsOf, usageOf } from './usage.js';

// `dtpay alerts list [--open]` and `dtpay alerts handle ID`: what an operator should look at
// (refused channel callbacks, reconciliation items), and marking one dealt with.

export async function runAlerts(config: Config, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'list' && sub !== 'handle') throw new CliError(`alerts: expected ${subcommandsOf('alerts')}`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: sub === 'list'
      ? { open: { type: 'boolean', default: false }, limit: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } }
      : { json: { type: 'boolean', default: false } },
  });
  if (sub === 'list' && positionals.length > 0) throw new CliError(usageOf('alerts list'));
  if (sub === 'handle' && (positionals.length !== 1 || !/^[1-9][0-9]{0,15}$/.test(positionals[0]!))) throw new CliError(usageOf('alerts handle'));
  const limit = Number((values as { limit?: string }).limit ?? '100');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError('alerts list: --limit must be a whole number from 1 to 100000');

  return withDatabase(config, `alerts ${sub}`, async (d) => {
    const { reads, writer } = d.storage;
    if (sub === 'handle') {
      const id = Number(positionals[0]);
      const r = await handleAlert({ writer, reads, now: Date.now }, id, 'cli');
      if (r.result === 'none') throw await notFound(d, config, `alerts handle: no alert ${id}`);
      if (values.json) printJson(io, r.alert);
      else io.out(r.result === 'handled' ? `alert ${id} marked handled\n` : `alert ${id} was already handled (${r.alert.handledAt})\n`);
      return 0;
    }
    const open = (values as { open?: boolean }).open === true;
    const list = await listAlerts(reads, { open, limit });
    if (list.length === 0) {
      const note = await emptyDatabaseNote(d, config);
      if (note) io.err(`dtpay: ${note}\n`);
    }
    if (values.json) printJson(io, list);
    else if (list.length === 0) io.out(open ? 'no open alerts\n' : 'no alerts\n');
    else
      for (const a of list) {
        const times = a.count > 1 ? `${a.count}× ${formatBeijing(Date.parse(a.at))}–${formatBeijing(Date.parse(a.lastAt))}` : formatBeijing(Date.parse(a.at));
        io.out(`${a.id}  ${a.status.padEnd(7)} ${a.kind}  ${a.channel}  ${a.mercNo ?? '-'}  ${times}  ${a.detail}\n`);
      }
    return 0;
  });
}
