#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { runMerchant } from './merchant.js';
import { runSign } from './sign.js';
import { runMigrate } from './migrate.js';
import { runNotify } from './notify.js';
import { runBackup } from './backup.js';
import { runOrder } from './order.js';
import { runChannel } from './channel.js';
import { CliError, type Io } from './io.js';

const USAGE = `usage: dtpay <command> [options]

  serve                                   start the gateway (same as npm start)
  migrate [--json]                        apply database migrations
  merchant create --name NAME --mode sandbox|live [--json]
  merchant list [--json]
  merchant rotate-key MERCNO [--json]
  merchant disable MERCNO [--json]
  notify list [--status pending|delivered|failed|superseded] [--limit N] [--json]
  notify resend ORDERID [--json]           queue a fresh notification of the order's current state
  order show ORDERID [--json]             the order, its state changes and its notifications
  order list [--status p0001|p0002|p0000|p0004|p0005|p0006] [--merchant MERCNO] [--limit N] [--json]
                                          orders, newest first (50 unless --limit)
  channel set MERCNO alipay --app-id ID --private-key-file F --alipay-public-key-file F [--gateway-url URL]
  channel set MERCNO wxpay --mchid ID --appid ID --serial-no HEX --private-key-file F --apiv3-key KEY
        (--platform-cert-file F | --wechatpay-public-key-file F --wechatpay-public-key-id ID) [--base-url URL]
  channel set MERCNO unionpay --mer-id ID --sign-cert-file F.pfx --sign-cert-password P
        --root-cert-file F --middle-cert-file F [--base-url URL]
                                          store a live merchant's channel credentials (encrypted with MASTER_KEY)
  channel show MERCNO [--json]            its channels, secrets masked, and the callback URLs to register
  channel remove MERCNO PAYWAY [--json]
  backup FILE [--force] [--json]          a consistent copy of the database, while the gateway serves
  prune --before YYYY-MM-DD [--dry-run] [--json]  remove orders that ended before then (at least 365 days ago)
  sign --key KEY [--sign-type MD5|HMAC-SHA256]
                                          sign the JSON object on stdin; print it with "signature"
`;

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { serve } = await import('../server.js');
        await serve(config());
        return -1; // keeps running
      }
      case 'migrate':
        return runMigrate(config(), rest, io);
      case 'merchant':
        return await runMerchant(config(), rest, io);
      case 'backup':
        return await runBackup(config(), rest, io);
      case 'prune':
        return await (await import('./prune.js')).runPrune(config(), rest, io);
      case 'notify':
        return await runNotify(config(), rest, io);
      case 'order':
        return await runOrder(config(), rest, io);
      case 'channel':
        return await runChannel(config(), rest, io);
      case 'sign':
        return await runSign(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 1 : 0;
      default:
        throw new CliError(`unknown command ${command}\n\n${USAGE}`);
    }
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`dtpay: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`dtpay: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) {
  const code = await run(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  });
  if (code >= 0) process.exitCode = code;
}
