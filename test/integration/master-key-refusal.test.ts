import t from 'tap';
import pino from 'pino';
import { parseConfig } from '../../src/config.js';
import { buildGateway, type Gateway } from '../../src/app.js';
import { createMerchant } from '../../src/services/merchants.js';
import { tempDir } from '../helper.js';
import { ownDatabase } from '../own-database.js';

// Sealed merchant keys that MASTER_KEY cannot open stop the gateway at start-up, on either backend
// (secrets-at-rest.test.ts has the same on SQLite together with its key file and its CLI): a
// gateway that started would fail every request that needs a key.

const KEY = 'Zt4nB8vC1xM6qW9eR2yU5iO0pA3sD7fG+hJ/kL1zX4c=';
const OTHER = 'Qw8eR3tY6uI1oP4aS7dF0gH2jK5lZ9xC+vB/nM1qW3e=';

t.test('a MASTER_KEY that does not open the sealed keys, or sealed keys swapped between merchants, refuse start-up', async (t) => {
  const dir = tempDir(t);
  const db = await ownDatabase(t, dir, { masterKey: KEY });
  const boot = async (masterKey: string): Promise<Gateway> => {
    const config = parseConfig({ ...db.env, MASTER_KEY: masterKey, MASTER_KEY_FILE: `${dir}/absent.key`, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
    const gateway = await buildGateway(config, { logger: pino({ level: 'silent' }) });
    t.teardown(() => gateway.close());
    return gateway;
  };
  const first = await boot(KEY);
  const a = await createMerchant(first.services, 'A', 'sandbox');
  const b = await createMerchant(first.services, 'B', 'sandbox');
  await first.close();

  await t.rejects(boot(OTHER), {
    name: 'MerchantKeyError',
    reason: 'wrong-key',
    message: /MASTER_KEY does not decrypt the stored merchant keys \(2 of 2\)/,
  });

  const sealedOf = async (mercNo: string) => (await db.sql.value<Buffer>('SELECT key_sealed FROM merchants WHERE merc_no = ?', mercNo))!;
  const [sa, sb] = [await sealedOf(a.mercNo), await sealedOf(b.mercNo)];
  t.ok(Buffer.isBuffer(sa) && Buffer.isBuffer(sb), 'each key is stored sealed');
  await db.sql.run('UPDATE merchants SET key_sealed = ? WHERE merc_no = ?', sb, a.mercNo);
  await db.sql.run('UPDATE merchants SET key_sealed = ? WHERE merc_no = ?', sa, b.mercNo);
  const err = await boot(KEY).then(
    () => undefined,
    (e: Error & { reason?: string }) => e,
  );
  t.match(err, { name: 'MerchantKeyError', reason: 'tampered', message: /\(2 of 2\)/ }, 'each sealed key is bound to its merchant');
  t.match(err?.message, a.mercNo);
  t.notOk([a.key, b.key, KEY].some((k) => err?.message.includes(k)), 'no secret in the message');

  await db.sql.run('UPDATE merchants SET key_sealed = ? WHERE merc_no = ?', sa, a.mercNo);
  await db.sql.run('UPDATE merchants SET key_sealed = ? WHERE merc_no = ?', sb, b.mercNo);
  const again = await boot(KEY);
  t.equal((await again.services.reads.merchant(a.mercNo))?.key, a.key, 'put back, they open again');
});
