import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { openCliDatabase } from './database.js';
import { REFUND_WINDOW_DAYS } from '../domain/retention.js';
import { PruneRefused, pruneHistory } from '../services/prune.js';
import { CliError, printJson, type Io } from './io.js';
import { usageOf } from './usage.js';

const USAGE = usageOf('prune');

/**
 * `dtpay prune --before DATE`: removes orders that ended before DATE (Beijing time, at least
 * REFUND_WINDOW_DAYS ago) with their events, notifications, attempts and refunds, in batches,
 * while the gateway keeps serving. Anything still open, unreconciled, to be notified or within
 * the refund window stays.
 */
export async function runPrune(config: Config, args: string[], io: Io, now = Date.now()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { before: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length || values.before === undefined) throw new CliError(USAGE);
  const d = await openCliDatabase(config, 'prune');
  try {
    const totals = await pruneHistory(d.storage.writer, { before: values.before, now, dryRun: values['dry-run'], pauseMs: 20 });
    if (values.json) printJson(io, { before: values.before, refundWindowDays: REFUND_WINDOW_DAYS, ...totals });
    else {
      const verb = totals.dryRun ? 'would remove' : 'removed';
      io.out(
        `${verb} ${totals.orders} orders that ended before ${values.before} (Beijing time), with ${totals.events} events, ` +
          `${totals.notifications} notifications, ${totals.attempts} notification attempts and ${totals.refunds} refunds\n` +
          `kept ${totals.kept} orders created before then: still open or ended since, unreconciled, still to be notified, or with a refund in progress or recent\n`,
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof PruneRefused) throw new CliError(`prune: ${err.message}`);
    throw err;
  } finally {
    await d.close();
  }
}
