import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import type { Db } from '../db/open.js';
import type { PayoutSettings, Reads } from '../db/reads.js';
import type { Writer } from '../db/writer.js';
import { YUAN_PATTERN, fenToYuan, yuanToFen } from '../domain/money.js';
import { prepareCredentialReads } from '../db/credential-reads.js';
import { loadLiveCredentials } from '../services/live-credentials.js';
import { isLivePayway } from '../channels/credentials.js';
import type { ChannelDriver, Payway } from '../channels/types.js';
import { alipayDriver } from '../channels/alipay/driver.js';
import { wxpayDriver } from '../channels/wxpay/driver.js';
import { unionpayDriver } from '../channels/unionpay/driver.js';
import { notFound } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { cliSecrets } from './secrets.js';
import { usageOf } from './usage.js';

// dtpay merchant payouts MERCNO --enable --daily-limit Y [--per-payout-limit Y] | --disable [--json]
// (CONTRACT §4): payouts move money out of the merchant's channel account, so they are off until
// the operator turns them on, always with a daily limit.

const LIVE: Record<Payway, ChannelDriver<any>> = { alipay: alipayDriver, wxpay: wxpayDriver, unionpay: unionpayDriver };

/** The §4 JSON shape: yuan strings, a limit not set left out. */
export function payoutsShown(p: PayoutSettings | undefined): { enabled: boolean; dailyLimit?: string; perPayoutLimit?: string } {
  const shown: { enabled: boolean; dailyLimit?: string; perPayoutLimit?: string } = { enabled: p?.enabled ?? false };
  if (p?.dailyLimitFen !== undefined) shown.dailyLimit = fenToYuan(p.dailyLimitFen);
  if (p?.perPayoutLimitFen !== undefined) shown.perPayoutLimit = fenToYuan(p.perPayoutLimitFen);
  return shown;
}

function limit(value: string | undefined, flag: string): bigint | undefined {
  if (value === undefined) return undefined;
  if (!YUAN_PATTERN.test(value) || !/[1-9]/.test(value)) throw new CliError(`merchant payouts: ${flag} must be yuan greater than zero, e.g. 5000.00`);
  return yuanToFen(value);
}

export async function runMerchantPayouts(config: Config, db: Db, reads: Reads, writer: Writer, args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      enable: { type: 'boolean', default: false },
      disable: { type: 'boolean', default: false },
      'daily-limit': { type: 'string' },
      'per-payout-limit': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new CliError(usageOf('merchant payouts'));
  const mercNo = positionals[0]!;
  const merchant = reads.merchant(mercNo);
  if (!merchant) throw notFound(db, config, `no merchant ${mercNo}`);
  if (values.enable && values.disable) throw new CliError('merchant payouts: --enable and --disable exclude each other');
  const daily = limit(values['daily-limit'], '--daily-limit');
  const per = limit(values['per-payout-limit'], '--per-payout-limit');
  if (values.enable && daily === undefined) throw new CliError('merchant payouts: --enable needs --daily-limit AMOUNT (yuan, e.g. 5000.00)');
  if (!values.enable && (daily !== undefined || per !== undefined)) throw new CliError('merchant payouts: the limits are set with --enable');
  if (per !== undefined && daily !== undefined && per > daily) throw new CliError('merchant payouts: --per-payout-limit cannot be over --daily-limit');

  if (values.enable || values.disable) {
    const before = reads.payoutSettings(mercNo);
    await writer.run('setPayoutSettings', {
      mercNo,
      enabled: values.enable,
      // Turning payouts off keeps the limits, so that turning them on again is deliberate about them.
      dailyLimitFen: values.enable ? daily! : (before?.dailyLimitFen ?? null),
      perPayoutLimitFen: values.enable ? (per ?? null) : (before?.perPayoutLimitFen ?? null),
      at: Date.now(),
    });
  }
  const shown = payoutsShown(reads.payoutSettings(mercNo));
  if (values.enable && merchant.mode === 'live') for (const w of warnings(config, db, io, mercNo)) io.err(`dtpay: warning: ${w}\n`);
  if (values.json) printJson(io, { mercNo, payouts: shown });
  else {
    const limits = [shown.dailyLimit && `daily limit ${shown.dailyLimit}`, shown.perPayoutLimit && `per payout ${shown.perPayoutLimit}`].filter(Boolean).join(', ');
    io.out(`payouts of ${mercNo} are ${shown.enabled ? 'on' : 'off'}${limits ? ` (${limits})` : ''}\n`);
  }
  return 0;
}

/** What keeps a live merchant's configured channels from paying out (Alipay in key mode, …). */
function warnings(config: Config, db: Db, io: Io, mercNo: string): string[] {
  const rows = prepareCredentialReads(db).channelCredentialsOf(mercNo);
  if (rows.length === 0) return ['no live channel is configured for this merchant (dtpay channel set)'];
  const out: string[] = [];
  let masterKey: string | undefined;
  for (const { payway } of rows) {
    if (!isLivePayway(payway)) continue;
    const driver = LIVE[payway];
    if (typeof driver.transfer !== 'function') {
      out.push(`${payway} payouts are not served by this gateway's ${payway} driver`);
      continue;
    }
    if (!driver.payoutUnavailable) continue;
    masterKey ??= cliSecrets(db, config, io, 'merchant payouts').masterKey;
    const credentials = loadLiveCredentials(db, masterKey, mercNo, payway);
    for (const tradeType of ['02', '03'] as const) {
      const why = credentials && driver.payoutUnavailable(credentials, tradeType);
      if (why) {
        out.push(`${payway} payouts (tradeType ${tradeType}) answer 100006 until this is fixed: ${why}`);
        break;
      }
    }
  }
  return out;
}
