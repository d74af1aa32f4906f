import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { payFields, startGateway } from '../helper.js';
import { startReceiver } from '../receiver.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { createMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';
import { sign } from '../../src/domain/sign.js';

// A live merchant end to end, with the Alipay simulator standing in for Alipay: the signed unified
// order reaches the channel, the payer pays, Alipay's signed notification arrives at the
// merchant's callback URL, the order is paid, and the merchant is notified.

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1saXZlLWFsaXBheS0wMQ==';

t.test('a live Alipay scan order: channel, payment, callback, notification, query, refund', async (t) => {
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appId = '2021000000000001';
  const sim = await AlipaySimulator.start(appId, appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  t.teardown(() => sim.close());
  const rcv = await startReceiver(t);
  const gw = await startGateway(t, { MASTER_KEY, NOTIFY_ALLOW_PRIVATE: 'true' });
  const live = await createMerchant(gw.gateway.services, 'Live shop', 'live');
  const post = (path: string, fields: Record<string, string>) => gw.post(path, { mercNo: live.mercNo, ...fields }, { key: live.key });

  const before = await post('/api/pay', payFields(live.mercNo, { notifyUrl: `${rcv.url}/n` }));
  t.equal(before.body.respCode, '100006', 'no channel configured yet');
  t.match(before.body.respDesc, /none configured/);

  await storeLiveCredentials(gw.gateway.services.writer, MASTER_KEY, live.mercNo, 'alipay', {
    appId,
    privateKeyPem: appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    alipayPublicKeyPem: sim.alipayPublicKeyPem,
    gatewayUrl: sim.gatewayUrl,
  });

  const wx = await post('/api/pay', payFields(live.mercNo, { paywayCode: 'wxpay', notifyUrl: `${rcv.url}/n` }));
  t.equal(wx.body.respCode, '100006', 'WeChat Pay is not configured for this merchant');
  t.match(wx.body.respDesc, /supported: alipay\.scan/);

  const made = await post('/api/pay', payFields(live.mercNo, { notifyUrl: `${rcv.url}/n`, tradeAmt: '88.80' }));
  t.equal(made.body.respCode, '000000', made.text);
  const orderId = made.body.orderId!;
  const trade = sim.trades.get(orderId)!;
  t.ok(trade, 'the order reached the simulator, signed as Alipay checks it');
  t.match(made.body.codeUrl, /^https:\/\/qr\.alipay\.com\//, "codeUrl is the qr_code Alipay answered");
  t.match(made.body.imgUrl, /\/qr\/\d{22}\.png\?t=[\w-]{22}$/);
  t.equal(trade.notifyUrl, `http://dtpay.test/channel/alipay/notify/${live.mercNo}`, "the callback URL names the merchant");

  // The test's stand-in for DNS: the simulator reaches the gateway where it really listens.
  trade.notifyUrl = trade.notifyUrl!.replace('http://dtpay.test', gw.url);
  const acks = await sim.pay(orderId);
  t.same(acks, ['success'], 'the gateway acknowledged the notification as Alipay expects');
  const status = () => gw.sql.value('SELECT pay_status FROM orders WHERE order_id = ?', orderId);
  t.equal(await status(), 'p0000');

  await rcv.waitFor((r) => r.length === 1);
  const note = rcv.received[0]!.json;
  t.match(note, { orderId, payStatus: 'p0000', tradeAmt: '88.80' });
  t.equal(sign(note, live.key, 'MD5'), note.signature, 'the merchant notification is signed with the live key');

  const q = await post('/api/query', { orderId });
  t.match(q.body, { payStatus: 'p0000', tradeEndTime: /^\d{14}$/ });

  const refund = await post('/api/refund', { orderId, mercRefundNo: 'LR-1', refundAmt: '8.80' });
  t.equal(refund.body.respCode, '000000', refund.text);
  const rq = await post('/api/refund/query', { mercRefundNo: 'LR-1' });
  t.equal(rq.body.refundStatus, 'r0000', 'the refund ended at the channel');
  t.equal(rq.body.refundedAmt, '8.80');

  // A forged notification for the same order is refused and changes nothing.
  const forged = await fetch(`${gw.url}/channel/alipay/notify/${live.mercNo}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: sim.notificationBody(trade, { total_amount: '0.01' }, { badSignature: true }),
  });
  t.equal(await forged.text(), 'fail');
  const alerts = () =>
    gw.sql.all<Record<string, string | null>>('SELECT kind, channel, order_id AS "orderId", merc_no AS "mercNo" FROM alerts ORDER BY id');
  t.match((await alerts()).at(-1), { kind: 'callback_rejected', channel: 'alipay', mercNo: live.mercNo }, 'flagged for the operator');

  // A correctly signed notification with another amount is refused too, flagged, and never pays the order.
  const second = await post('/api/pay', payFields(live.mercNo, { notifyUrl: `${rcv.url}/n`, tradeAmt: '10.00' }));
  const secondTrade = sim.trades.get(second.body.orderId!)!;
  secondTrade.notifyUrl = secondTrade.notifyUrl!.replace('http://dtpay.test', gw.url);
  t.same(await sim.pay(second.body.orderId!, 'wrongAmount'), ['fail']);
  t.equal(await gw.sql.value('SELECT pay_status FROM orders WHERE order_id = ?', second.body.orderId), 'p0001');
  t.match((await alerts()).at(-1), { kind: 'callback_amount_mismatch', orderId: second.body.orderId, mercNo: live.mercNo });
  const other = await fetch(`${gw.url}/channel/alipay/notify/M000000000000000`, { method: 'POST', body: 'x=1' });
  t.equal(other.status, 404, 'a callback URL of no live merchant is not found');
});
