import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { PayoutSettingsError, payoutLimit, payoutWarnings, payoutsShown, setMerchantPayouts } from '../services/payout-settings.js';
import { notFound, type CliDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { cliSecrets } from './secrets.js';
import { usageOf } from './usage.js';

// dtpay merchant payouts MERCNO --enable --daily-limit Y [--per-payout-limit Y] | --disable [--json]
// (CONTRACT §4): payouts move money out of the merchant's channel account, so they are off until
// the operator turns them on, always with a daily limit.

/** The §4 JSON shape (kept here for `merchant show`). */
export { payoutsShown };

const cliError = (err: unknown) => (err instanceof PayoutSettingsError ? new CliError(`merchant payouts: ${err.message}`) : err);

export async function runMerchantPayouts(config: Config, d: CliDatabase, args: string[], io: Io): Promise<number> {
  const { storage } = d;
  const { reads, writer } = storage;
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
  const merchant = await reads.merchant(mercNo);
  if (!merchant) throw await notFound(d, config, `no merchant ${mercNo}`);
  if (values.enable && values.disable) throw new CliError('merchant payouts: --enable and --disable exclude each other');
  let shown: ReturnType<typeof payoutsShown>;
  try {
    const daily = payoutLimit(values['daily-limit'], 'dailyLimit');
    const per = payoutLimit(values['per-payout-limit'], 'perPayoutLimit');
    const enable = values.enable ? true : values.disable ? false : undefined;
    shown = payoutsShown(await setMerchantPayouts(reads, writer, { mercNo, enable, dailyLimitFen: daily, perPayoutLimitFen: per, at: Date.now() }));
  } catch (err) {
    throw cliError(err);
  }
  if (values.enable && merchant.mode === 'live') for (const w of await payoutWarnings(storage.credentials, async () => (await cliSecrets(d, config, io, 'merchant payouts')).masterKey, mercNo)) io.err(`dtpay: warning: ${w}\n`);
  if (values.json) printJson(io, { mercNo, payouts: shown });
  else {
    const limits = [shown.dailyLimit && `daily limit ${shown.dailyLimit}`, shown.perPayoutLimit && `per payout ${shown.perPayoutLimit}`].filter(Boolean).join(', ');
    io.out(`payouts of ${mercNo} are ${shown.enabled ? 'on' : 'off'}${limits ? ` (${limits})` : ''}\n`);
  }
  return 0;
}
