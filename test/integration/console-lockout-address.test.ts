import t from 'tap';
import { createOrder, sandboxPay, startGateway } from '../helper.js';
import { ConsoleClient, PASSWORD, TEST_MASTER_KEY, auditRows, makeOperators, setupConsole as setup } from '../console-client.js';

// The console's login limits over HTTP: per client address (CONTRACT §6), each failure a real scrypt check.

t.test('fifty failed logins from one address lock that address', async (t) => {
  const { client } = await setup(t, { TRUST_PROXY: 'true' });
  const from = (ip: string) => client({ 'x-forwarded-for': `198.51.100.9, ${ip}` });
  for (let i = 0; i < 49; i++) t.equal((await from('203.0.113.5').login(`nobody${i}@shop.test`, 'wrong wrong wrong')).status, 401);
  t.equal((await from('203.0.113.5').login('nobody@shop.test', 'wrong wrong wrong')).status, 429, 'the fiftieth locks the address');
  t.equal((await from('203.0.113.5').login('admin@shop.test', PASSWORD)).status, 429, 'even for a good login');
  t.equal((await from('203.0.113.6').login('admin@shop.test', PASSWORD)).status, 303, 'another address is not locked');
});
