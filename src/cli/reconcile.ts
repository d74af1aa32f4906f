import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { PAYWAYS, type Payway } from '../channels/types.js';
import { formatBeijing } from '../domain/time.js';
import { beijingDay } from '../reconcile/bill.js';
import { reconcileDay, type ReconcileScope, type RunResult } from '../services/reconciliation.js';
import { reconcileLeaseName, underLease } from '../services/leases.js';
import { newInstanceName } from '../services/instance-slot.js';
import type { Services } from '../services/context.js';
import { dayReport, reportExitCode, type DayReport } from '../services/reconciliation-report.js';
import { cliServices } from './channel-services.js';
import { notFound, openCliDatabase, type CliDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { usageOf } from './usage.js';

// `dtpay reconcile --date D [--merchant M] [--payway P]` runs reconciliation for a day now (CONTRACT §5);
// `dtpay reconcile show --date D [--merchant M]` prints what the last runs of that day found.

/** Today in Beijing, YYYY-MM-DD. */
export const beijingToday = (now: number) => formatBeijing(now).replace(/^(\d{4})(\d{2})(\d{2}).*$/, '$1-$2-$3');

/** --date as CONTRACT §5 takes it: a real day, not after today in Beijing. Usage errors (exit 2) name --date. */
export function checkDate(date: string | undefined, command: string, now: number): string {
  if (date === undefined || date === '') throw new CliError(`${command}: --date is required (YYYY-MM-DD, a Beijing day)\n${usageOf(command)}`);
  try {
    beijingDay(date);
  } catch {
    throw new CliError(`${command}: --date ${JSON.stringify(date)} is not a YYYY-MM-DD date that exists`);
  }
  const today = beijingToday(now);
  if (date > today) throw new CliError(`${command}: --date ${date} is in the future (today is ${today} in Beijing)`);
  return date;
}

export async function runReconcile(config: Config, args: string[], io: Io): Promise<number> {
  const show = args[0] === 'show';
  const command = show ? 'reconcile show' : 'reconcile';
  const { values, positionals } = parseArgs({
    args: show ? args.slice(1) : args,
    allowPositionals: true,
    options: {
      date: { type: 'string' },
      merchant: { type: 'string' },
      ...(show ? {} : { payway: { type: 'string' as const } }),
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new CliError(`${command}: unexpected ${positionals.join(' ')}\n${usageOf(command)}`);
  const date = checkDate(values.date as string | undefined, command, Date.now());
  const payway = (values as { payway?: string }).payway;
  if (payway !== undefined && !(PAYWAYS as readonly string[]).includes(payway)) throw new CliError(`${command}: --payway must be one of ${PAYWAYS.join(', ')}`);
  const mercNo = values.merchant as string | undefined;

  const d = await openCliDatabase(config, command);
  try {
    let report: DayReport;
    if (show) {
      if (mercNo !== undefined && !(await d.storage.reads.merchant(mercNo))) throw await notFound(d, config, `${command}: no merchant ${mercNo}`);
      report = await dayReport(d.storage.reads, date, { mercNo });
    } else {
      const s = await cliServices(d, config, io, command);
      if (mercNo !== undefined && !(await s.reads.merchant(mercNo))) throw await notFound(d, config, `${command}: no merchant ${mercNo}`);
      const scope = { date, mercNo, payway: payway as Payway | undefined };
      const results = await reconcileBesideGateways(d, s, scope, command);
      const covered = new Set(results.filter((r) => r.stored).map((r) => `${r.mercNo}|${r.payway}`));
      report = await dayReport(s.reads, date, { mercNo, keep: (r) => covered.has(`${r.merc_no}|${r.payway}`) });
    }
    if (values.json) printJson(io, report);
    else printReport(io, report, show);
    return reportExitCode(report);
  } finally {
    await d.close();
  }
}

/**
 * On PostgreSQL a day's reconciliation is claimed by one instance at a time (CONTRACT §7): the
 * command takes the lease a gateway would take for the same day and scope, and says so when a
 * gateway holds it now. On SQLite the database belongs to one gateway, whose own run and this
 * one take turns on the file; the later one's run replaces the earlier, as it does here.
 */
async function reconcileBesideGateways(d: CliDatabase, s: Services, scope: ReconcileScope, command: string): Promise<RunResult[]> {
  if (d.dialect === 'sqlite') return reconcileDay(s, scope);
  const r = await underLease({ writer: s.writer, now: s.now, holder: `cli/${newInstanceName()}` }, reconcileLeaseName(scope), () => reconcileDay(s, scope));
  if (!r.ran) {
    throw new CliError(
      `${command}: a gateway instance is reconciling ${scope.date}${scope.mercNo ? ` of ${scope.mercNo}` : ''}${scope.payway ? ` (${scope.payway})` : ''} ` +
        `right now; run this again once it is done, or see what it found with \`dtpay reconcile show --date ${scope.date}\``,
      1,
    );
  }
  return r.value;
}

function printReport(io: Io, report: DayReport, show: boolean): void {
  if (report.runs.length === 0) {
    io.out(`${report.date}: ${show ? 'no reconciliation runs stored' : 'nothing to reconcile: no lines that day on either side'}\n`);
    return;
  }
  const head = ['merchant', 'payway', 'status', 'matched', 'healed', 'missing', 'mismatch', 'unknown', 'trade', 'refund', 'fee', 'net'];
  const rows = report.runs.map((r) => [
    r.mercNo,
    r.payway,
    r.status,
    String(r.counts.matched),
    String(r.counts.healed),
    String(r.counts.missing_at_channel),
    String(r.counts.amount_mismatch),
    String(r.counts.unknown_trade),
    r.totals?.tradeAmt ?? '-',
    r.totals?.refundAmt ?? '-',
    r.totals?.feeAmt ?? '-',
    r.totals?.netAmt ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  io.out(`reconciliation of ${report.date} (Beijing)\n${line(head)}\n`);
  report.runs.forEach((r, k) => {
    io.out(`${line(rows[k]!)}\n`);
    if (r.error) io.out(`  error: ${r.error}\n`);
    for (const it of r.items) {
      const what = it.refundId ? `refund ${it.refundId} of order ${it.orderId ?? '?'}` : it.orderId ? `order ${it.orderId}` : 'trade';
      const extra = [
        it.mercOrderNo ? `mercOrderNo ${it.mercOrderNo}` : '',
        it.channelTradeNo ? `channel ${it.channelTradeNo}` : '',
        it.localAmt !== undefined ? `dtpay ${it.localAmt}` : '',
        it.channelAmt !== undefined ? `bill ${it.channelAmt}` : '',
      ].filter(Boolean);
      io.out(`  ${it.kind.padEnd(18)} ${what}  ${extra.join('  ')}\n`);
    }
  });
}
