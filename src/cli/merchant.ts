import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { openDb } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { prepareReads } from '../db/reads.js';
import { InlineWriter } from '../db/writer.js';
import { createMerchant, rotateMerchantKey, setMerchantStatus } from '../services/merchants.js';
import { CliError, printJson, type Io } from './io.js';
import { cliSecrets } from './secrets.js';

export async function runMerchant(config: Config, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { name: { type: 'string' }, mode: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const db = openDb(config.DATABASE_PATH);
  try {
    migrate(db);
    const writer = new InlineWriter(db);
    const reads = prepareReads(db);
    switch (sub) {
      case 'create': {
        if (!values.name) throw new CliError('merchant create: --name NAME is required');
        if (values.mode !== 'sandbox' && values.mode !== 'live') throw new CliError('merchant create: --mode must be sandbox or live');
        const { merchantKeys } = cliSecrets(db, config, io, 'merchant create');
        const m = await createMerchant({ writer, merchantKeys }, values.name, values.mode);
        if (values.json) printJson(io, { mercNo: m.mercNo, key: m.key, mode: m.mode });
        else io.out(`created ${m.mode} merchant ${m.mercNo} (${m.name})\nkey: ${m.key}\nKeep the key secret; it is shown only now.\n`);
        return 0;
      }
      case 'list': {
        const rows = reads.merchants().map((m) => ({
          mercNo: m.merc_no,
          name: m.name,
          mode: m.mode,
          status: m.status,
          createdAt: new Date(m.created_at).toISOString(),
        }));
        if (values.json) printJson(io, rows);
        else if (rows.length === 0) io.out('no merchants\n');
        else for (const r of rows) io.out(`${r.mercNo}  ${r.mode.padEnd(7)}  ${r.status.padEnd(8)}  ${r.name}\n`);
        return 0;
      }
      case 'rotate-key': {
        const mercNo = one(positionals, 'merchant rotate-key MERCNO');
        if (!reads.merchant(mercNo)) throw new CliError(`no merchant ${mercNo}`, 1);
        const { merchantKeys } = cliSecrets(db, config, io, 'merchant rotate-key');
        const key = await rotateMerchantKey({ writer, merchantKeys }, mercNo);
        if (!key) throw new CliError(`no merchant ${mercNo}`, 1);
        if (values.json) printJson(io, { mercNo, key });
        else io.out(`new key for ${mercNo}: ${key}\nThe old key no longer verifies.\n`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        const mercNo = one(positionals, `merchant ${sub} MERCNO`);
        const status = sub === 'disable' ? 'disabled' : 'active';
        if (!(await setMerchantStatus(writer, mercNo, status))) throw new CliError(`no merchant ${mercNo}`, 1);
        if (values.json) printJson(io, { mercNo, status });
        else io.out(`${mercNo} is ${status}\n`);
        return 0;
      }
      default:
        throw new CliError('merchant: expected create, list, rotate-key, disable or enable');
    }
  } finally {
    db.close();
  }
}

function one(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw new CliError(`usage: dtpay ${usage}`);
  return positionals[0]!;
}
