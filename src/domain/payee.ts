// The payee of a payout is personal data (CONTRACT §4): shown only masked, wherever it appears.
// Pure.

import type { PayeeAccountType } from '../channels/payout-types.js';

/**
 * A card keeps its first 4 and last 4 characters (6222********1234), any other account its first
 * 3 and last 3. A value too short to hide anything that way keeps a quarter at each end at most,
 * so that at least half of it is hidden.
 */
export function maskPayeeAccount(type: PayeeAccountType | string, account: string): string {
  const chars = [...account];
  const want = type === 'BANK_CARD' ? 4 : 3;
  const keep = chars.length > 2 * want ? want : Math.floor(chars.length / 4);
  return chars.slice(0, keep).join('') + '*'.repeat(chars.length - 2 * keep) + chars.slice(chars.length - keep).join('');
}

/** Only the last character is kept (**明); a one-character name is hidden whole. */
export function maskPayeeName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return '*'.repeat(chars.length);
  return '*'.repeat(chars.length - 1) + chars[chars.length - 1];
}

const DAY_MS = 86_400_000;
const BEIJING_OFFSET_MS = 8 * 3600_000;

/** The Beijing calendar day holding `at`, as [start, end) epoch ms: the daily payout limit's day. */
export function beijingDay(at: number): { start: number; end: number } {
  const start = Math.floor((at + BEIJING_OFFSET_MS) / DAY_MS) * DAY_MS - BEIJING_OFFSET_MS;
  return { start, end: start + DAY_MS };
}
