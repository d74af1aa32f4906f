import type { TransitionArgs, TransitionResult } from '../db/write-ops.js';
import type { Services } from './context.js';

/**
 * Every order state change goes through here: the conditional update and its outbox row commit
 * together in the writer, then the dispatcher is told, so the first attempt leaves at once.
 */
export async function applyTransition(s: Services, args: TransitionArgs): Promise<TransitionResult> {
  const result = await s.writer.run('transitionOrder', args);
  if (result.changed) {
    s.log.info({ orderId: args.orderId, from: result.from, to: result.to, source: args.source }, 'order state changed');
    s.notifier.queued(result.notification);
  }
  return result;
}
