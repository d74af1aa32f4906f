import type { PayoutSettings } from '../db/reads.js';
import type { StoragePort } from '../db/port.js';
import type { Writer } from '../db/writer.js';
import { YUAN_PATTERN, fenToYuan, yuanToFen } from '../domain/money.js';
import { loadLiveCredentials } from './live-credentials.js';
import { isLivePayway } from '../channels/credentials.js';
import type { ChannelDriver, Payway } from '../channels/types.js';
import { alipayDriver } from '../channels/alipay/driver.js';
import { wxpayDriver } from '../channels/wxpay/driver.js';
import { unionpayDriver } from '../channels/unionpay/driver.js';

// A merchant's payout settings (CONTRACT §4), one way for `dtpay merchant payouts` and the console:
// payouts move money out of the merchant's channel account, so they are off until an operator
// turns them on, always with a daily limit.

const LIVE: Record<Payway, ChannelDriver<any>> = { alipay: alipayDriver, wxpay: wxpayDriver, unionpay: unionpayDriver };

/** A setting that cannot be made; `option` names the CLI flag, `field` the console's form field. */
export class PayoutSettingsError extends Error {
  constructor(readonly field: 'enable' | 'dailyLimit' | 'perPayoutLimit', message: string) {
    super(message);
  }
}

const FLAG = { enable: '--enable', dailyLimit: '--daily-limit', perPayoutLimit: '--per-payout-limit' } as const;
/** The CLI's name for a field, so both speak of the same thing in their own words. */
export const payoutFlag = (field: PayoutSettingsError['field']) => FLAG[field];

/** The §4 JSON shape: yuan strings, a limit not set left out. */
export function payoutsShown(p: PayoutSettings | undefined): { enabled: boolean; dailyLimit?: string; perPayoutLimit?: string } {
  const shown: { enabled: boolean; dailyLimit?: string; perPayoutLimit?: string } = { enabled: p?.enabled ?? false };
  if (p?.dailyLimitFen !== undefined) shown.dailyLimit = fenToYuan(p.dailyLimitFen);
  if (p?.perPayoutLimitFen !== undefined) shown.perPayoutLimit = fenToYuan(p.perPayoutLimitFen);
  return shown;
}

/** A limit in yuan, above zero; undefined when not given. */
export function payoutLimit(value: string | undefined, field: 'dailyLimit' | 'perPayoutLimit', names: (f: PayoutSettingsError['field']) => string = payoutFlag): bigint | undefined {
  if (value === undefined) return undefined;
  if (!YUAN_PATTERN.test(value) || !/[1-9]/.test(value)) throw new PayoutSettingsError(field, `${names(field)} must be yuan greater than zero, e.g. 5000.00`);
  return yuanToFen(value);
}

export interface PayoutChange {
  mercNo: string;
  /** true: on, false: off, undefined: only show */
  enable?: boolean;
  dailyLimitFen?: bigint;
  perPayoutLimitFen?: bigint;
  at: number;
}

/** Checks the change as the CLI and the console both ask it; throws PayoutSettingsError. */
export function checkPayoutChange(c: Omit<PayoutChange, 'at'>, names: (f: PayoutSettingsError['field']) => string = payoutFlag): void {
  if (c.enable === true && c.dailyLimitFen === undefined) throw new PayoutSettingsError('dailyLimit', `${names('enable')} needs ${names('dailyLimit')} AMOUNT (yuan, e.g. 5000.00)`);
  if (c.enable !== true && (c.dailyLimitFen !== undefined || c.perPayoutLimitFen !== undefined)) throw new PayoutSettingsError('enable', `the limits are set with ${names('enable')}`);
  if (c.perPayoutLimitFen !== undefined && c.dailyLimitFen !== undefined && c.perPayoutLimitFen > c.dailyLimitFen) {
    throw new PayoutSettingsError('perPayoutLimit', `${names('perPayoutLimit')} cannot be over ${names('dailyLimit')}`);
  }
}

/** Writes the change (checked first) and returns the settings as stored afterwards. */
export async function setMerchantPayouts(reads: StoragePort['reads'], writer: Writer, c: PayoutChange): Promise<PayoutSettings | undefined> {
  checkPayoutChange(c);
  if (c.enable !== undefined) {
    const before = await reads.payoutSettings(c.mercNo);
    await writer.run('setPayoutSettings', {
      mercNo: c.mercNo,
      enabled: c.enable,
      // Turning payouts off keeps the limits, so that turning them on again is deliberate about them.
      dailyLimitFen: c.enable ? c.dailyLimitFen! : (before?.dailyLimitFen ?? null),
      perPayoutLimitFen: c.enable ? (c.perPayoutLimitFen ?? null) : (before?.perPayoutLimitFen ?? null),
      at: c.at,
    });
  }
  return reads.payoutSettings(c.mercNo);
}

/**
 * What keeps a live merchant's configured channels from paying out (Alipay in key mode, …).
 * `masterKey` is asked for only when a driver needs the credentials opened.
 */
export async function payoutWarnings(credentials: StoragePort['credentials'], masterKey: () => string | Promise<string>, mercNo: string): Promise<string[]> {
  const rows = await credentials.channelCredentialsOf(mercNo);
  if (rows.length === 0) return ['no live channel is configured for this merchant (dtpay channel set)'];
  const out: string[] = [];
  let key: string | undefined;
  for (const { payway } of rows) {
    if (!isLivePayway(payway)) continue;
    const driver = LIVE[payway];
    if (typeof driver.transfer !== 'function') {
      out.push(`${payway} payouts are not served by this gateway's ${payway} driver`);
      continue;
    }
    if (!driver.payoutUnavailable) continue;
    key ??= await masterKey();
    const loaded = await loadLiveCredentials(credentials, key, mercNo, payway);
    for (const tradeType of ['02', '03'] as const) {
      const why = loaded && driver.payoutUnavailable(loaded, tradeType);
      if (why) {
        out.push(`${payway} payouts (tradeType ${tradeType}) answer 100006 until this is fixed: ${why}`);
        break;
      }
    }
  }
  return out;
}
