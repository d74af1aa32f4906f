import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { MASTER_KEY_GENERATE, masterKeyWeakness } from './secrets/key-strength.js';
import { isPostgresUrl } from './db/database-url.js';

// Every setting the gateway reads, with its default. `.env.example` mirrors this list.
const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const retrySchedule = z
  .string()
  .regex(/^\s*[0-9]+(\s*,\s*[0-9]+)*\s*$/, 'must be comma-separated whole seconds, e.g. 10,10,10,10,10')
  .transform((s) => s.split(',').map((x) => Number(x.trim())));

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

const hostList = z
  .string()
  .regex(/^\s*[^\s,/]+(\s*,\s*[^\s,/]+)*\s*$/, 'must be comma-separated host names or IP addresses, e.g. shop.internal,10.0.0.5')
  .transform((s) => s.split(',').map((x) => x.trim().toLowerCase()));

const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be an http(s) URL such as https://pay.example.com')
  .transform((s) => s.replace(/\/+$/, ''));

const masterKey = z
  .string()
  .regex(/^[A-Za-z0-9+/=_-]{32,}$/, { error: `must be at least 32 characters of base64 or hex (${MASTER_KEY_GENERATE})`, abort: true })
  .superRefine((key, ctx) => {
    const weakness = masterKeyWeakness(key);
    if (weakness) ctx.addIssue({ code: 'custom', message: `is too weak to seal secrets with: ${weakness}. Generate one with: ${MASTER_KEY_GENERATE}` });
  });

const schema = z.object({
  PORT: integer(0, 65535).default(8080),
  HOST: z.string().min(1, 'must not be empty').default('0.0.0.0'),
  DATABASE_PATH: z.string().min(1, 'must not be empty').default('./data/dtpay.sqlite'),
  // PostgreSQL instead of SQLite (CONTRACT §7); wins over DATABASE_PATH.
  DATABASE_URL: z
    .string()
    .refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL, e.g. postgres://dtpay:PASSWORD@db.internal:5432/dtpay')
    .optional(),
  PUBLIC_BASE_URL: httpUrl.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NOTIFY_RETRY_SCHEDULE: retrySchedule.default([10, 10, 10, 10, 10]),
  NOTIFY_TIMEOUT_MS: integer(100, 60_000).default(5000),
  NOTIFY_CONCURRENCY: integer(1, 10_000).default(128),
  NOTIFY_HOST_CONCURRENCY: integer(1, 10_000).default(32),
  NOTIFY_ALLOW_PRIVATE: flag.default(false),
  NOTIFY_ALLOW_HOSTS: hostList.default([]),
  MASTER_KEY: masterKey.optional(),
  // Where MASTER_KEY is kept when the variable is not set (generated there on first start).
  MASTER_KEY_FILE: z.string().min(1, 'must not be empty').optional(),
  BODY_LIMIT_BYTES: integer(1024, 1_048_576).default(65_536),
  CHANNEL_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  SHUTDOWN_TIMEOUT_MS: integer(0, 120_000).default(10_000),
  // The longest a client may take to send one whole request, head and body.
  REQUEST_TIMEOUT_MS: integer(100, 300_000).default(30_000),
  // Open client connections at most; beyond it new ones are closed at once.
  MAX_CONNECTIONS: integer(1, 1_000_000).default(1000),
  // Requests a minute per merchant on /api/* (and failed ones per client address), per client
  // address on the payer's pages and on the channels' callbacks; 0 = no limit.
  RATE_LIMIT_API_PER_MINUTE: integer(0, 10_000_000).default(6000),
  RATE_LIMIT_PAGES_PER_MINUTE: integer(0, 10_000_000).default(600),
  RATE_LIMIT_CHANNEL_PER_MINUTE: integer(0, 10_000_000).default(3000),
  // When the daily reconciliation runs for the day before, Beijing time (CONTRACT §5).
  RECONCILE_AT: z
    .string()
    .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be a Beijing time of day as HH:MM, e.g. 10:30')
    .default('10:30'),
  // The operator console (/console): a session ends after this long without a request.
  CONSOLE_IDLE_MINUTES: z
    .string()
    .regex(/^[0-9]+(\.[0-9]+)?$/, 'must be a number of minutes, e.g. 30 or 0.5')
    .transform(Number)
    .pipe(z.number().gt(0, 'must be more than 0').max(1440, 'must be at most 1440 (a day)'))
    .default(30),
  // Behind a reverse proxy: the console's audit log takes the client address from X-Forwarded-For.
  TRUST_PROXY: flag.default(false),
});

/** Every variable the gateway reads; `.env.example` lists each (test/unit/container-config.test.ts checks it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export type Config = Readonly<
  Omit<z.infer<typeof schema>, 'PUBLIC_BASE_URL' | 'MASTER_KEY_FILE'> & { PUBLIC_BASE_URL: string; MASTER_KEY_FILE: string }
>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates the whole environment at once so the operator sees every problem in one message. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const present: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const shown = name === 'MASTER_KEY' || name === 'DATABASE_URL' ? '(hidden)' : JSON.stringify(present[name]);
      return `${name}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const c = result.data;
  // Every instance on one PostgreSQL database must seal and open with the same key: none may make
  // up a key of its own in a file beside it, as a lone SQLite gateway does on its first start.
  if (c.DATABASE_URL && !c.MASTER_KEY && !c.MASTER_KEY_FILE) {
    throw new ConfigError([
      'DATABASE_URL is set, so MASTER_KEY (or MASTER_KEY_FILE) must be given: every instance on the database uses the same key, ' +
        `and none is generated. ${MASTER_KEY_GENERATE} makes one; copy a SQLite gateway's master.key when moving it over.`,
    ]);
  }
  return Object.freeze({
    ...c,
    PUBLIC_BASE_URL: c.PUBLIC_BASE_URL ?? `http://localhost:${c.PORT}`,
    MASTER_KEY_FILE: c.MASTER_KEY_FILE ?? join(dirname(c.DATABASE_PATH), 'master.key'),
  });
}

/** Reads `.env` (the process environment wins over it) and validates. */
export function loadConfig(envFile = '.env'): Config {
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env);
}
