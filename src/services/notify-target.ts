import { invalid } from '../errors.js';
import { certainRefusal } from '../notify/address-policy.js';
import type { MerchantRow } from '../db/rows.js';
import type { Services } from './context.js';

/**
 * A live merchant's notifyUrl that the dispatcher will refuse on every attempt is refused when it
 * is given (100001), rather than accepted and failed six times later. Only what needs no DNS is
 * judged here; a name is checked when sending, as it may resolve differently by then. Sandbox
 * merchants may notify anything the dispatcher allows them (their own machine included).
 */
export function refuseUncontactableNotifyUrl(
  s: Pick<Services, 'config'>,
  merchant: Pick<MerchantRow, 'mode'>,
  notifyUrl: string | undefined,
): void {
  if (merchant.mode !== 'live' || !notifyUrl) return;
  const reason = certainRefusal(notifyUrl, {
    mode: 'live',
    allowPrivate: s.config.NOTIFY_ALLOW_PRIVATE,
    allowHosts: [...s.config.NOTIFY_ALLOW_HOSTS],
  });
  if (reason) throw invalid(`notifyUrl: ${reason}`);
}
