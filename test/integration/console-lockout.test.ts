import t from 'tap';
import { createOrder, sandboxPay, startGateway } from '../helper.js';
import { ConsoleClient, PASSWORD, TEST_MASTER_KEY, auditRows, makeOperators, setupConsole as setup } from '../console-client.js';

// The console's login limits over HTTP: per email (CONTRACT §6); per address in console-lockout-address.test.ts.

t.test('ten failed logins lock the email for 15 minutes, even against the right password', async (t) => {
  let now = Date.now();
  const { gw, client } = await setup(t, {}, { now: () => now });
  for (let i = 0; i < 9; i++) t.equal((await client().login('admin@shop.test', `wrong password ${i}`)).status, 401);
  t.equal((await client().login('admin@shop.test', 'wrong password 9')).status, 429, 'the tenth locks');
  const refused = await client().login('admin@shop.test', PASSWORD);
  t.equal(refused.status, 429, 'the right password is refused while locked');
  t.match(refused.text, /已暂时锁定/);
  t.equal((await client().login('viewer@shop.test', PASSWORD)).status, 303, 'another email from the same address still logs in');
  now += 15 * 60_000 + 1;
  t.equal((await client().login('admin@shop.test', PASSWORD)).status, 303, 'after 15 minutes the lock is over');
  t.ok((await auditRows(gw)).some((a) => a.operator === 'admin@shop.test' && a.outcome === 'locked'));

  // A success before the tenth resets the count.
  for (let i = 0; i < 9; i++) await client().login('support@shop.test', 'nope nope nope');
  t.equal((await client().login('support@shop.test', PASSWORD)).status, 303);
  t.equal((await client().login('support@shop.test', 'nope nope nope')).status, 401, 'counted from zero again');
});
