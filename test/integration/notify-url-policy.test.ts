import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { payFields, startGateway, type TestGateway } from '../helper.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { createMerchant, type NewMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';

// A live merchant's notifyUrl that the notification dispatcher will refuse on every attempt (an IP
// literal it never contacts, a localhost name) is refused when the order or refund is made, with
// 100001 naming notifyUrl and the rule. Names are left to the dispatcher (no DNS at order time),
// and sandbox merchants keep notifying what they like, their own machine included.

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1ub3RpZnktdXJsLTAx';

interface Live {
  gw: TestGateway;
  sim: AlipaySimulator;
  merchant: NewMerchant;
  pay(notifyUrl: string, over?: Record<string, string>): Promise<Record<string, string>>;
  orders(): Promise<number>;
}

async function liveGateway(t: Test, env: Record<string, string> = {}): Promise<Live> {
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appId = '2021000000000002';
  const sim = await AlipaySimulator.start(appId, appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  t.teardown(() => sim.close());
  const gw = await startGateway(t, { MASTER_KEY, ...env });
  const merchant = await createMerchant(gw.gateway.services, 'Live shop', 'live');
  await storeLiveCredentials(gw.gateway.services.writer, MASTER_KEY, merchant.mercNo, 'alipay', {
    appId,
    privateKeyPem: appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    alipayPublicKeyPem: sim.alipayPublicKeyPem,
    gatewayUrl: sim.gatewayUrl,
  });
  return {
    gw,
    sim,
    merchant,
    pay: async (notifyUrl, over = {}) =>
      (await gw.post('/api/pay', payFields(merchant.mercNo, { notifyUrl, ...over }), { key: merchant.key })).body,
    orders: async () => (await gw.sql.value<number>('SELECT count(*) FROM orders WHERE merc_no = ?', merchant.mercNo))!,
  };
}

const NOT_PUBLIC = /live merchants may only notify public addresses/;

t.test('live order: a notifyUrl that would never be contacted is refused with 100001', async (t) => {
  const live = await liveGateway(t);
  const refused: [string, RegExp][] = [
    ['http://127.0.0.1:8080/notify', /^notifyUrl: address 127\.0\.0\.1 is loopback: live merchants may only notify public addresses/],
    ['http://127.1/notify', /address 127\.0\.0\.1 is loopback/],
    ['http://2130706433/notify', /address 127\.0\.0\.1 is loopback/],
    ['http://0x7f.0.0.1/notify', /address 127\.0\.0\.1 is loopback/],
    ['http://[::1]/notify', /address ::1 is loopback/],
    ['http://[::ffff:127.0.0.1]/notify', /is loopback/],
    ['http://10.1.2.3/notify', /address 10\.1\.2\.3 is private/],
    ['http://192.168.0.7/notify', /is private/],
    ['http://[fd12::7]/notify', /is private/],
    ['http://169.254.169.254/latest/meta-data/', /address 169\.254\.169\.254 is metadata: never contacted/],
    ['http://[::ffff:a9fe:a9fe]/n', /address ::ffff:a9fe:a9fe is metadata/],
    ['http://169.254.10.10/n', /is link-local: never contacted/],
    ['http://[fe80::1]/n', /is link-local/],
    ['http://0.0.0.0/n', /is unspecified/],
    ['http://localhost:3000/notify', /^notifyUrl: localhost \(this machine\) is loopback/],
    ['http://LocalHost./notify', /localhost \(this machine\) is loopback/],
    ['https://shop.localhost/notify', /localhost \(this machine\) is loopback/],
  ];
  for (const [url, want] of refused) {
    const a = await live.pay(url);
    t.equal(a.respCode, '100001', `${url}: ${a.respDesc}`);
    t.match(a.respDesc, want, `${url}: names notifyUrl and the rule`);
  }
  t.equal(await live.orders(), 0, 'no order was stored for any of them');
  t.equal(live.sim.trades.size, 0, 'and none reached the channel');

  for (const url of ['https://shop.example.com/notify', 'http://8.8.8.8/notify', 'https://localhost.example.com/n', 'http://[2001:4860::1]/n']) {
    const a = await live.pay(url);
    t.equal(a.respCode, '000000', `${url} is accepted: ${a.respDesc}`);
  }
  t.equal(await live.orders(), 4);
});

t.test('live order: what the operator allows is accepted; metadata and link-local never are', async (t) => {
  const priv = await liveGateway(t, { NOTIFY_ALLOW_PRIVATE: 'true' });
  for (const url of ['http://127.0.0.1:8080/n', 'http://localhost:3000/n', 'http://10.1.2.3/n', 'http://[fd12::7]/n']) {
    t.equal((await priv.pay(url)).respCode, '000000', `${url} with NOTIFY_ALLOW_PRIVATE`);
  }
  for (const url of ['http://169.254.169.254/', 'http://100.100.100.200/', 'http://[fe80::1]/n', 'http://0/n']) {
    const a = await priv.pay(url);
    t.equal(a.respCode, '100001', `${url} even with NOTIFY_ALLOW_PRIVATE`);
    t.match(a.respDesc, /^notifyUrl: .*never contacted/);
  }

  const listed = await liveGateway(t, { NOTIFY_ALLOW_HOSTS: '10.1.2.3,localhost' });
  for (const url of ['http://10.1.2.3/n', 'http://localhost:3000/n']) {
    t.equal((await listed.pay(url)).respCode, '000000', `${url} is in NOTIFY_ALLOW_HOSTS`);
  }
  const other = await listed.pay('http://10.1.2.4/n');
  t.equal(other.respCode, '100001', 'another private address is not');
  t.match(other.respDesc, NOT_PUBLIC);
});

t.test('live refund: its own notifyUrl is held to the same rule', async (t) => {
  const live = await liveGateway(t);
  const made = await live.pay('https://shop.example.com/notify', { tradeAmt: '20.00' });
  t.equal(made.respCode, '000000');
  const trade = live.sim.trades.get(made.orderId!)!;
  trade.notifyUrl = trade.notifyUrl!.replace('http://dtpay.test', live.gw.url);
  t.same(await live.sim.pay(made.orderId!), ['success']);

  const refund = (mercRefundNo: string, notifyUrl: string) =>
    live.gw.post('/api/refund', { mercNo: live.merchant.mercNo, orderId: made.orderId!, mercRefundNo, refundAmt: '1.00', notifyUrl }, { key: live.merchant.key });
  const refunds = async () => (await live.gw.sql.value<number>('SELECT count(*) FROM refunds WHERE order_id = ?', made.orderId))!;

  for (const url of ['http://127.0.0.1/refunded', 'http://localhost/refunded', 'http://169.254.169.254/', 'http://[::ffff:192.168.1.1]/r']) {
    const a = await refund(`R-${await refunds()}-${url.length}`, url);
    t.equal(a.body.respCode, '100001', `${url}: ${a.body.respDesc}`);
    t.match(a.body.respDesc, /^notifyUrl: /);
  }
  t.equal(await refunds(), 0, 'no refund stored, no amount reserved');
  const ok = await refund('R-ok', 'https://shop.example.com/refunded');
  t.equal(ok.body.respCode, '000000', ok.text);
  const none = await refund('R-none', '');
  t.equal(none.body.respCode, '000000', 'a refund without a notifyUrl of its own is not affected');
});

t.test('sandbox merchants keep notifying their own machine', async (t) => {
  const gw = await startGateway(t);
  for (const url of ['http://127.0.0.1:3000/n', 'http://localhost:3000/n', 'http://[::1]:3000/n', 'http://10.0.0.8/n']) {
    const a = await gw.post('/api/pay', payFields(gw.merchant.mercNo, { notifyUrl: url }));
    t.equal(a.body.respCode, '000000', `${url}: ${a.body.respDesc}`);
  }
});
