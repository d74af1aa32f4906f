import type { QueuedNotification } from '../db/rows.js';
import type { Services } from './context.js';

/**
 * Queues a fresh notification of the order's current state, replacing any still undelivered
 * (CONTRACT §2.5 resend). Only for orders known to exist.
 */
export async function resendNotification(s: Services, orderId: string, reason: string): Promise<QueuedNotification> {
  const queued = await s.writer.run('queueNotification', { orderId, at: s.now(), reason });
  if (!queued) throw new Error(`order ${orderId} vanished while queuing its notification`);
  s.notifier.queued(queued);
  s.log.info({ orderId, notificationId: queued.id, reason }, 'notification queued');
  return queued;
}
