import t from 'tap';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { parseConfig } from '../../src/config.js';
import { buildGateway } from '../../src/app.js';
import { openPool } from '../../src/db/postgres/pool.js';
import { PgWriter } from '../../src/db/postgres/writer.js';
import { FakeClock } from '../fake-clock.js';
import { until } from '../helper.js';
import { pgCluster } from '../pg-cluster.js';

// Not repeated on PostgreSQL: it is about PostgreSQL already (instance slots exist there only).

// An instance slot (src/services/instance-slot.ts) is renewed every 15 s against a 60 s lease. An
// instance whose slot another instance has taken over must stop (the gateway's onFatal: the
// server exits), or their order ids could meet. The renewals run on the gateway's clock, moved here
// by hand.

t.test('the slot is renewed on schedule, and an instance whose slot was taken over is told to stop', async (t) => {
  const cluster = await pgCluster(t);
  if (!cluster) return void t.comment('no PostgreSQL on this machine');
  const url = await cluster.createDatabase();
  const clock = new FakeClock(Date.now());
  const fatal: Error[] = [];
  const config = parseConfig({
    DATABASE_URL: url,
    MASTER_KEY: randomBytes(32).toString('hex'),
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: 'http://dtpay.test',
    LOG_LEVEL: 'silent',
  });
  const gateway = await buildGateway(config, { logger: pino({ level: 'silent' }), clock, onFatal: (err) => void fatal.push(err) });
  t.teardown(() => gateway.close());
  const pool = openPool(url, { max: 2 });
  t.teardown(() => pool.end());
  const writer = new PgWriter(pool);
  t.teardown(() => writer.close());
  const lease = async () =>
    (await pool.query("SELECT holder, lease_until FROM leases WHERE name = 'slot:00'")).rows[0] as { holder: string; lease_until: bigint } | undefined;

  const first = await lease();
  t.ok(first, 'the gateway holds slot 00');
  t.equal(Number(first!.lease_until), clock.now() + 60_000, 'for 60 s');

  clock.advance(14_999);
  t.equal(Number((await lease())!.lease_until), clock.now() - 14_999 + 60_000, 'not renewed before 15 s');
  clock.advance(1);
  await until(async () => Number((await lease())!.lease_until) === clock.now() + 60_000, 'the renewal at 15 s');
  t.same(fatal, [], 'renewed: nothing wrong');

  // The gateway hangs past its lease; another instance takes the slot with the operation every
  // instance claims slots with.
  const now = clock.now() + 61_000;
  await pool.query("UPDATE leases SET lease_until = $1 WHERE name = 'slot:00'", [now - 1]);
  t.ok(await writer.run('takeLease', { name: 'slot:00', holder: 'other-host/1/beef', at: now, until: now + 60_000 }), 'another instance took slot 00');
  clock.advance(15_000);
  await until(() => fatal.length > 0, 'the gateway to learn it lost its slot');
  t.equal(fatal.length, 1, 'told once');
  t.match(fatal[0]!.message, /instance slot 0 was taken over by another instance/, 'saying why');
  clock.advance(60_000);
  await new Promise((r) => setImmediate(r));
  t.equal(fatal.length, 1, 'and it stops renewing');
  t.equal((await lease())!.holder, 'other-host/1/beef', 'the slot stays with the instance that took it');
});
