import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { formatBeijing } from '../domain/time.js';
import { createMerchant, rotateMerchantKey, setMerchantStatus } from '../services/merchants.js';
import { emptyDatabaseNote, notFound, withDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { cliSecrets } from './secrets.js';
import { subcommandsOf, usageOf } from './usage.js';
import { payoutsShown, runMerchantPayouts } from './merchant-payouts.js';

const SUBCOMMANDS = ['create', 'list', 'show', 'rotate-key', 'disable', 'enable', 'payouts'];

export async function runMerchant(config: Config, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'payouts') {
    return withDatabase(config, 'merchant payouts', (d) => runMerchantPayouts(config, d, rest, io));
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { name: { type: 'string' }, mode: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (sub === undefined || !SUBCOMMANDS.includes(sub)) throw new CliError(`merchant: expected ${subcommandsOf('merchant')}`);
  // Only `create` may make the database: every other command needs a merchant that is already there.
  return withDatabase(config, `merchant ${sub}`, async (d) => {
    const { reads, writer } = d.storage;
    switch (sub) {
      case 'create': {
        if (!values.name) throw new CliError('merchant create: --name NAME is required');
        if (values.mode !== 'sandbox' && values.mode !== 'live') throw new CliError('merchant create: --mode must be sandbox or live');
        const { merchantKeys } = await cliSecrets(d, config, io, 'merchant create');
        const m = await createMerchant({ writer, merchantKeys }, values.name, values.mode);
        if (values.json) printJson(io, { mercNo: m.mercNo, key: m.key, mode: m.mode });
        else io.out(`created ${m.mode} merchant ${m.mercNo} (${m.name})\nkey: ${m.key}\nKeep the key secret; it is shown only now.\n`);
        return 0;
      }
      case 'list': {
        const rows = (await reads.merchants()).map((m) => ({
          mercNo: m.merc_no,
          name: m.name,
          mode: m.mode,
          status: m.status,
          createdAt: new Date(m.created_at).toISOString(),
        }));
        if (values.json) printJson(io, rows);
        else if (rows.length === 0) io.out('no merchants\n');
        else for (const r of rows) io.out(`${r.mercNo}  ${r.mode.padEnd(7)}  ${r.status.padEnd(8)}  ${r.name}\n`);
        const note = await emptyDatabaseNote(d, config);
        if (note) io.err(`dtpay: ${note}\n`);
        return 0;
      }
      case 'show': {
        const mercNo = one(positionals, 'merchant show');
        const m = await reads.merchant(mercNo);
        if (!m) throw await notFound(d, config, `no merchant ${mercNo}`);
        const shown = {
          mercNo: m.merc_no,
          name: m.name,
          mode: m.mode,
          status: m.status,
          createdAt: new Date(m.created_at).toISOString(),
          updatedAt: new Date(m.updated_at).toISOString(),
          channels: (await d.storage.credentials.channelCredentialsOf(mercNo)).map((c) => c.payway),
          payouts: payoutsShown(await reads.payoutSettings(mercNo)),
        };
        if (values.json) printJson(io, shown);
        else {
          const channels =
            shown.mode === 'sandbox' ? 'the built-in sandbox channel' : shown.channels.length ? shown.channels.join(', ') : 'none configured (dtpay channel set)';
          for (const [label, value] of [
            ['merchant', shown.mercNo],
            ['name', shown.name],
            ['mode', shown.mode],
            ['status', shown.status],
            ['created', formatBeijing(m.created_at)],
            ['updated', formatBeijing(m.updated_at)],
            ['channels', channels],
            ['payouts', payoutsLine(shown.payouts)],
          ])
            io.out(`${label!.padEnd(10)}${value}\n`);
        }
        return 0;
      }
      case 'rotate-key': {
        const mercNo = one(positionals, 'merchant rotate-key');
        if (!(await reads.merchant(mercNo))) throw await notFound(d, config, `no merchant ${mercNo}`);
        const { merchantKeys } = await cliSecrets(d, config, io, 'merchant rotate-key');
        const key = await rotateMerchantKey({ writer, merchantKeys }, mercNo);
        if (!key) throw await notFound(d, config, `no merchant ${mercNo}`);
        if (values.json) printJson(io, { mercNo, key });
        else io.out(`new key for ${mercNo}: ${key}\nThe old key no longer verifies.\n`);
        return 0;
      }
      default: {
        const mercNo = one(positionals, `merchant ${sub}`);
        const status = sub === 'disable' ? 'disabled' : 'active';
        if (!(await setMerchantStatus(writer, mercNo, status))) throw await notFound(d, config, `no merchant ${mercNo}`);
        if (values.json) printJson(io, { mercNo, status });
        else io.out(`${mercNo} is ${status}\n`);
        return 0;
      }
    }
  }, { create: sub === 'create' });
}

function payoutsLine(p: ReturnType<typeof payoutsShown>): string {
  if (!p.enabled) return 'off (dtpay merchant payouts MERCNO --enable --daily-limit AMOUNT)';
  return `on, daily limit ${p.dailyLimit ?? 'none'}${p.perPayoutLimit ? `, per payout ${p.perPayoutLimit}` : ''}`;
}

function one(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new CliError(usageOf(command));
  return positionals[0]!;
}
