import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { buildGateway } from './app.js';
import { ensureFirstMerchant, firstBootMessage } from './services/first-boot.js';
import { holdDatabase } from './db/process-lock.js';
import { redactedUrl } from './db/database-url.js';

/** load config → build the gateway → listen; SIGTERM/SIGINT close it within SHUTDOWN_TIMEOUT_MS. */
export async function serve(config: Config): Promise<void> {
  const log = pino({ level: config.LOG_LEVEL });
  // Held until the process ends (CONTRACT §7): a second gateway on this file refuses to start. On
  // PostgreSQL any number share the database, and nothing is written beside DATABASE_PATH.
  const lock = config.DATABASE_URL || config.DATABASE_PATH === ':memory:' ? undefined : holdDatabase(config.DATABASE_PATH);
  let gateway: Awaited<ReturnType<typeof buildGateway>>;
  try {
    gateway = await buildGateway(config, {
      logger: log,
      // The database writer failed, or the instance slot was lost (services/instance-slot.ts).
      onFatal: (err) => {
        log.fatal({ err }, 'the gateway cannot go on; exiting');
        process.exit(1);
      },
    });
  } catch (err) {
    lock?.release();
    throw err;
  }
  try {
    await gateway.app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    await gateway.close();
    lock?.release();
    throw new Error(`cannot listen on ${config.HOST}:${config.PORT}: ${(err as Error).message}`);
  }
  // Only once the gateway serves, so that the key is never made without being shown.
  const first = await ensureFirstMerchant(gateway.services);
  // The one time a key is written to the log: a sandbox key, on first start, so that a new user
  // can try the gateway at once. Live keys are only ever printed by the CLI that makes them.
  if (first) {
    log.info({ mercNo: first.mercNo }, 'first start: created a sandbox merchant');
    // One write, so that no log line can land inside the block.
    const database = config.DATABASE_URL ? redactedUrl(config.DATABASE_URL) : resolve(config.DATABASE_PATH);
    process.stdout.write(firstBootMessage(first, config.PUBLIC_BASE_URL, database));
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    gateway.close().then(
      () => {
        lock?.release();
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

export async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dtpay: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  await serve(config);
}

// Run when executed directly (npm start), not when imported by the CLI.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err) => {
    process.stderr.write(`dtpay: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  });
}
