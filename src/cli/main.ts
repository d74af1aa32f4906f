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
import { runOperator } from './operator.js';
import { CliError, type Io } from './io.js';
import { helpFor, topUsage } from './usage.js';

function config(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

/**
 * `dtpay backup` copies the SQLite file. A PostgreSQL database is no file the gateway holds: it is
 * backed up with PostgreSQL's own tools, which read one consistent snapshot while gateways serve.
 */
function backupConfig(): Config {
  const c = config();
  if (c.DATABASE_URL) {
    throw new CliError(
      'backup: this command copies the SQLite database (DATABASE_PATH), and DATABASE_URL is set. ' +
        'Back a PostgreSQL database up with pg_dump, e.g. `pg_dump --format=custom --file=dtpay-$(date +%F).dump "$DATABASE_URL"` ' +
        '(docs/several-instances.md, "Backup and restore").',
    );
  }
  return c;
}

/** The words naming the command whose help is asked for: `help WORDS…`, or those before the first option. */
function helpWords(argv: string[]): string[] {
  if (argv[0] === 'help') {
    const words = argv.slice(1).filter((a) => !a.startsWith('-'));
    return words.length === 0 && argv.length > 1 ? ['help'] : words; // `help --help`: help's own usage
  }
  const firstOption = argv.findIndex((a) => a.startsWith('-'));
  return argv.slice(0, firstOption);
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    // Help is answered before anything runs: `serve --help` starts nothing, `sign --help` reads no stdin.
    if (command === 'help' || argv.includes('--help') || argv.includes('-h')) {
      const words = helpWords(argv);
      const help = helpFor(words);
      if (help === undefined) throw new CliError(`unknown command ${words.join(' ')}\n\n${helpFor(words.slice(0, 1)) ?? topUsage()}`);
      io.out(help);
      return 0;
    }
    switch (command) {
      case 'serve': {
        const { serve } = await import('../server.js');
        await serve(config());
        return -1; // keeps running
      }
      case 'migrate':
        return await runMigrate(config(), rest, io);
      case 'merchant':
        return await runMerchant(config(), rest, io);
      case 'backup':
        return await runBackup(backupConfig(), rest, io);
      case 'db':
        if (rest[0] !== 'copy') throw new CliError(`unknown command db ${rest[0] ?? ''}\n\n${topUsage()}`);
        return await (await import('./db-copy.js')).runDbCopy(config(), rest.slice(1), io);
      case 'prune':
        return await (await import('./prune.js')).runPrune(config(), rest, io);
      case 'notify':
        return await runNotify(config(), rest, io);
      case 'order':
        return await runOrder(config(), rest, io);
      case 'channel':
        return await runChannel(config(), rest, io);
      case 'reconcile':
        return await (await import('./reconcile.js')).runReconcile(config(), rest, io);
      case 'alerts':
        return await (await import('./alerts.js')).runAlerts(config(), rest, io);
      case 'operator':
        return await runOperator(config(), rest, io);
      case 'sign':
        return await runSign(rest, io);
      case undefined:
        io.out(topUsage());
        return 1;
      default:
        throw new CliError(`unknown command ${command}\n\n${topUsage()}`);
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

/** The process's own streams, for the entry points (this one and the single executable's). */
const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** Runs a command line and sets the exit code; `serve` keeps the process running. */
export function runMain(argv: string[]): Promise<void> {
  return run(argv, processIo).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}

// No top-level await here: the single executable bundles this module as CommonJS, which has none.
const isMain = process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) void runMain(process.argv.slice(2));
