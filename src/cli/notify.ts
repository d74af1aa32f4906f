import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import type { NotifyStatus } from '../db/rows.js';
import { isOrderId } from '../domain/ids.js';
import { formatBeijing } from '../domain/time.js';
import { emptyDatabaseNote, notFound, withDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { subcommandsOf, usageOf } from './usage.js';

const STATUSES: readonly NotifyStatus[] = ['pending', 'delivered', 'failed', 'superseded'];

export async function runNotify(config: Config, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { status: { type: 'string' }, limit: { type: 'string', default: '50' }, json: { type: 'boolean', default: false } },
  });
  if (sub !== 'list' && sub !== 'resend') throw new CliError(`notify: expected ${subcommandsOf('notify')}`);
  if (sub === 'resend' && positionals.length !== 1) throw new CliError(usageOf('notify resend'));
  return withDatabase(config, `notify ${sub}`, async (d) => {
    const { reads, writer } = d.storage;
    switch (sub) {
      case 'list': {
        const status = values.status as NotifyStatus | undefined;
        if (status !== undefined && !STATUSES.includes(status)) throw new CliError(`notify list: --status must be one of ${STATUSES.join(', ')}`);
        const limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError('notify list: --limit must be a whole number from 1 to 100000');
        const rows = [];
        for (const n of await reads.notifications({ status, limit })) {
          const last = (await reads.attempts(n.id)).at(-1);
          rows.push({
            id: n.id,
            webhookId: n.webhook_id,
            orderId: n.order_id,
            mercNo: n.merc_no,
            payStatus: (JSON.parse(n.fields_json) as { payStatus?: string }).payStatus ?? '',
            url: n.url,
            status: n.status,
            attempts: n.attempts,
            nextAttemptAt: n.due_at === null ? null : new Date(n.due_at).toISOString(),
            createdAt: new Date(n.created_at).toISOString(),
            reason: n.reason,
            lastAttempt: last
              ? { at: new Date(last.at).toISOString(), httpStatus: last.http_status, latencyMs: last.latency_ms, error: last.error, answer: last.answer }
              : null,
          });
        }
        if (rows.length === 0) {
          const note = await emptyDatabaseNote(d, config);
          if (note) io.err(`dtpay: ${note}\n`);
        }
        if (values.json) printJson(io, rows);
        else if (rows.length === 0) io.out('no notifications\n');
        else
          for (const r of rows) {
            const last = r.lastAttempt ? ` last: ${r.lastAttempt.httpStatus ?? '-'} ${r.lastAttempt.error ?? ''}`.trimEnd() : '';
            const next = r.nextAttemptAt ? ` next: ${formatBeijing(Date.parse(r.nextAttemptAt))}` : '';
            io.out(`${r.id}  ${r.orderId}  ${r.payStatus}  ${r.status.padEnd(10)} attempts ${r.attempts}${next}${last}  ${r.url}\n`);
          }
        return 0;
      }
      default: {
        const orderId = positionals[0]!;
        if (!isOrderId(orderId) || !(await reads.order(orderId))) throw await notFound(d, config, `no order ${orderId}`);
        // The running gateway picks the row up at its next periodic look at the outbox (every second).
        const q = await writer.run('queueNotification', { orderId, at: Date.now(), reason: 'resend requested by the operator' });
        if (!q) throw await notFound(d, config, `no order ${orderId}`);
        if (values.json) printJson(io, { orderId, notificationId: q.id, webhookId: q.webhookId, payStatus: q.payStatus, status: 'pending' });
        else io.out(`queued notification ${q.id} (${q.webhookId}) of order ${orderId} in state ${q.payStatus} to ${q.url}\n`);
        return 0;
      }
    }
  });
}
