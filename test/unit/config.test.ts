import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseConfig } from '../../src/config.js';
import { tempDir } from '../helper.js';

// The compiled server next to this compiled test, whatever the outDir is.
const SERVER = fileURLToPath(new URL('../../src/server.js', import.meta.url));

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('parseConfig accepted the environment');
}

// The shape `openssl rand -base64 32` prints.
const STRONG_KEY = 'Jr1mXz4Tq8vN0cWb7Ls2Hd9Gk5Ye3Pa6Uo+fRi/QwE0=';

t.test('defaults', async (t) => {
  const c = parseConfig({});
  t.equal(c.PORT, 8080);
  t.equal(c.HOST, '0.0.0.0');
  t.equal(c.DATABASE_PATH, './data/dtpay.sqlite');
  t.equal(c.PUBLIC_BASE_URL, 'http://localhost:8080');
  t.equal(c.LOG_LEVEL, 'info');
  t.same(c.NOTIFY_RETRY_SCHEDULE, [10, 10, 10, 10, 10]);
  t.equal(c.NOTIFY_TIMEOUT_MS, 5000);
  t.equal(c.MASTER_KEY, undefined);
  t.ok(Object.isFrozen(c), 'the config is frozen');
});

t.test('empty values count as unset', async (t) => {
  const c = parseConfig({ PORT: '', HOST: '', LOG_LEVEL: '', NOTIFY_RETRY_SCHEDULE: '' });
  t.equal(c.PORT, 8080);
  t.equal(c.HOST, '0.0.0.0');
  t.equal(c.LOG_LEVEL, 'info');
  t.same(c.NOTIFY_RETRY_SCHEDULE, [10, 10, 10, 10, 10]);
});

t.test('PUBLIC_BASE_URL defaults to http://localhost:$PORT', async (t) => {
  t.equal(parseConfig({ PORT: '3000' }).PUBLIC_BASE_URL, 'http://localhost:3000');
  t.equal(parseConfig({ PORT: '3000', PUBLIC_BASE_URL: 'https://pay.example.com/' }).PUBLIC_BASE_URL, 'https://pay.example.com', 'trailing slash dropped');
  t.equal(parseConfig({ PUBLIC_BASE_URL: 'https://example.com/dtpay' }).PUBLIC_BASE_URL, 'https://example.com/dtpay');
});

t.test('values are parsed', async (t) => {
  const c = parseConfig({
    PORT: '9000',
    HOST: '127.0.0.1',
    DATABASE_PATH: '/var/lib/dtpay/db.sqlite',
    LOG_LEVEL: 'debug',
    NOTIFY_RETRY_SCHEDULE: '1, 2,3 ,60',
    NOTIFY_TIMEOUT_MS: '2500',
    MASTER_KEY: STRONG_KEY,
  });
  t.equal(c.PORT, 9000);
  t.equal(c.HOST, '127.0.0.1');
  t.equal(c.DATABASE_PATH, '/var/lib/dtpay/db.sqlite');
  t.equal(c.LOG_LEVEL, 'debug');
  t.same(c.NOTIFY_RETRY_SCHEDULE, [1, 2, 3, 60]);
  t.equal(c.NOTIFY_TIMEOUT_MS, 2500);
  t.equal(c.MASTER_KEY, STRONG_KEY);
  t.equal(parseConfig({ PORT: '0' }).PORT, 0, 'port 0 (any free port) is allowed');
});

t.test('one bad variable at a time', async (t) => {
  const cases: [string, string][] = [
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['LOG_LEVEL', 'loud'],
    ['PUBLIC_BASE_URL', 'ftp://example.com'],
    ['PUBLIC_BASE_URL', 'example.com'],
    ['NOTIFY_RETRY_SCHEDULE', '10,,10'],
    ['NOTIFY_RETRY_SCHEDULE', 'ten'],
    ['NOTIFY_RETRY_SCHEDULE', '10,-5'],
    ['NOTIFY_TIMEOUT_MS', '5s'],
    ['NOTIFY_TIMEOUT_MS', '0'],
    ['RECONCILE_AT', '24:00'],
    ['RECONCILE_AT', '9:30'],
    ['RECONCILE_AT', '10:60'],
    ['RECONCILE_AT', '10.30'],
  ];
  for (const [name, value] of cases) {
    const err = configError({ [name]: value });
    t.equal(err.problems.length, 1, `${name}=${value}: one problem`);
    t.match(err.message, name, `${name}=${value}: the message names the variable`);
  }
});

t.test('several bad variables → one ConfigError naming every one', async (t) => {
  const err = configError({
    PORT: 'abc',
    LOG_LEVEL: 'loud',
    PUBLIC_BASE_URL: 'not a url',
    NOTIFY_RETRY_SCHEDULE: '10,x',
    NOTIFY_TIMEOUT_MS: 'soon',
    HOST: '127.0.0.1', // a good one among them
  });
  t.ok(err instanceof Error);
  const names = ['PORT', 'LOG_LEVEL', 'PUBLIC_BASE_URL', 'NOTIFY_RETRY_SCHEDULE', 'NOTIFY_TIMEOUT_MS'];
  for (const n of names) t.match(err.message, n, `names ${n}`);
  t.equal(err.problems.length, names.length, 'one problem per bad variable');
  t.notMatch(err.message, /HOST/, 'a good variable is not blamed');
  t.match(err.message, /abc/, 'shows the bad value of an ordinary variable');
});

t.test('a bad MASTER_KEY is never echoed', async (t) => {
  const secret = 'sh0rt-but-S3CRET+value';
  const err = configError({ MASTER_KEY: secret, PORT: 'abc' });
  t.match(err.message, 'MASTER_KEY');
  t.match(err.message, 'PORT');
  t.notOk(err.message.includes(secret), 'the value is not in the message');
  t.notOk(err.problems.some((p) => p.includes(secret)), 'nor in the problem list');
  t.notOk(err.message.includes('S3CRET'), 'not even part of it');
  t.notOk(err.stack?.includes(secret), 'nor in the stack');

  const bad = 'x'.repeat(40) + '!$%'; // long enough, wrong alphabet
  const err2 = configError({ MASTER_KEY: bad });
  t.match(err2.message, 'MASTER_KEY');
  t.notOk(err2.message.includes(bad));
});

t.test('a MASTER_KEY with little randomness is refused, naming the variable and how to make one', async (t) => {
  const weak: [string, RegExp][] = [
    ['a'.repeat(44), /only 1 different character/],
    ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', /only 2 different characters/],
    ['01'.repeat(20), /only 2 different characters/],
    ['ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=', /only 4 different characters/], // base64 of "fff…"
    ['deadbeef'.repeat(8), /only 5 different characters/],
    ['passwordpasswordpasswordpassword1', /repeats the same few characters/],
    ['0123456789abcdef0123456789abcdef', /sequence such as abcd/],
    ['abcdefghijklmnopqrstuvwxyzABCDEFGH', /sequence such as abcd/],
    [Buffer.from('1234567890'.repeat(4)).toString('base64'), /repeats the same few bytes.*decoded from base64/],
  ];
  for (const [key, why] of weak) {
    const err = configError({ MASTER_KEY: key });
    t.equal(err.problems.length, 1, `${key}: one problem`);
    t.match(err.problems[0], /^MASTER_KEY=\(hidden\): is too weak to seal secrets with: /, `${key}: names the variable`);
    t.match(err.problems[0], why, `${key}: says why`);
    t.match(err.problems[0], 'openssl rand -base64 32', `${key}: says how to generate one`);
    t.notOk(err.message.includes(key), `${key}: never echoed`);
  }
  t.same(configError({ MASTER_KEY: 'short' }).problems, ['MASTER_KEY=(hidden): must be at least 32 characters of base64 or hex (openssl rand -base64 32)'], 'a malformed key: that one problem only');
});

t.test('strong keys in every format accepted today still pass', async (t) => {
  for (let i = 0; i < 200; i++) {
    for (const key of [
      randomBytes(32).toString('base64'), // openssl rand -base64 32
      randomBytes(32).toString('hex'), // openssl rand -hex 32
      randomBytes(16).toString('hex'), // 32 hex digits, the shortest accepted
      randomBytes(32).toString('base64url'),
    ]) {
      t.equal(parseConfig({ MASTER_KEY: key }).MASTER_KEY, key, `accepted: ${key.length} characters`);
    }
  }
  // The keys the tests of the channel credentials use.
  for (const key of ['cli-test-master-key-0123456789abcdefABCDEF=', 'bG9nLXJlZGFjdGlvbi10ZXN0LW1hc3Rlci1rZXktMDAwMQ==']) {
    t.equal(parseConfig({ MASTER_KEY: key }).MASTER_KEY, key);
  }
});

t.test('loadConfig reads .env, and the environment wins over it', async (t) => {
  const dir = tempDir(t);
  const envFile = join(dir, '.env');
  writeFileSync(envFile, 'DTPAY_TEST_ONLY=1\nNOTIFY_TIMEOUT_MS=1234\nLOG_LEVEL=warn\n');
  const saved = { NOTIFY_TIMEOUT_MS: process.env.NOTIFY_TIMEOUT_MS, LOG_LEVEL: process.env.LOG_LEVEL, DTPAY_TEST_ONLY: process.env.DTPAY_TEST_ONLY };
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  delete process.env.NOTIFY_TIMEOUT_MS;
  process.env.LOG_LEVEL = 'error';
  const c = loadConfig(envFile);
  t.equal(c.NOTIFY_TIMEOUT_MS, 1234, 'from .env');
  t.equal(c.LOG_LEVEL, 'error', 'the process environment wins');
  t.doesNotThrow(() => loadConfig(join(dir, 'missing.env')), 'a missing .env is fine');
});

t.test('the server exits 1 naming every bad variable', async (t) => {
  const cwd = tempDir(t);
  const env: Record<string, string> = {};
  // Only what node needs from the parent; no dtpay variable leaks in.
  for (const k of ['PATH', 'HOME', 'SYSTEMROOT', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  Object.assign(env, { PORT: 'abc', LOG_LEVEL: 'loud', DATABASE_PATH: join(cwd, 'db.sqlite') });
  const child = spawn(process.execPath, [SERVER], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not exit within 15 s; stderr: ${stderr}`));
    }, 15_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  t.equal(code, 1, 'exit code 1');
  t.match(stderr, 'PORT', 'stderr names PORT');
  t.match(stderr, 'LOG_LEVEL', 'stderr names LOG_LEVEL');
  t.notMatch(stderr, /at .*\.js:\d+/, 'a message, not a stack trace');
  t.notMatch(stdout, /mercNo/, 'no merchant was created');
});

t.test('RECONCILE_AT: Beijing HH:MM, 10:30 unless set', async (t) => {
  t.equal(parseConfig({}).RECONCILE_AT, '10:30');
  t.equal(parseConfig({ RECONCILE_AT: '09:05' }).RECONCILE_AT, '09:05');
  t.equal(parseConfig({ RECONCILE_AT: '23:59' }).RECONCILE_AT, '23:59');
  t.match(configError({ RECONCILE_AT: '7am' }).problems[0], /^RECONCILE_AT="7am": must be a Beijing time of day as HH:MM/);
});
