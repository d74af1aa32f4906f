import type { StoragePort } from '../db/port.js';
import type { AlertRow } from '../db/reconcile-reads.js';
import type { Writer } from '../db/writer.js';

// Alerts as operators see them (`dtpay alerts`, the console): refused callbacks and reconciliation
// items, open until someone marks them handled.

export interface AlertView {
  id: number;
  kind: string;
  channel: string;
  mercNo?: string;
  orderId?: string;
  detail: string;
  count: number;
  /** ISO 8601 UTC: first and last seen */
  at: string;
  lastAt: string;
  status: 'open' | 'handled';
  handledAt?: string;
  handledBy?: string;
}

export function alertView(a: AlertRow): AlertView {
  return {
    id: a.id,
    kind: a.kind,
    channel: a.channel,
    ...(a.merc_no ? { mercNo: a.merc_no } : {}),
    ...(a.order_id ? { orderId: a.order_id } : {}),
    detail: a.detail,
    count: a.count,
    at: new Date(a.at).toISOString(),
    lastAt: new Date(a.last_at).toISOString(),
    status: a.handled_at === null ? 'open' : 'handled',
    ...(a.handled_at !== null ? { handledAt: new Date(a.handled_at).toISOString() } : {}),
    ...(a.handled_by ? { handledBy: a.handled_by } : {}),
  };
}

export async function listAlerts(reads: StoragePort['reads'], opts: { open: boolean; limit: number }): Promise<AlertView[]> {
  return (await reads.alerts(opts)).map(alertView);
}

/**
 * Marks an alert handled by `by` (an operator's email, or `cli`). Handling one twice keeps the
 * first; a refused callback from the same source after it opens a new alert.
 */
export async function handleAlert(
  s: { writer: Writer; reads: StoragePort['reads']; now(): number },
  id: number,
  by: string,
): Promise<{ result: 'handled' | 'already'; alert: AlertView } | { result: 'none' }> {
  const result = await s.writer.run('handleAlert', { id, at: s.now(), by });
  if (result === 'none') return { result };
  return { result, alert: alertView((await s.reads.alert(id))!) };
}
