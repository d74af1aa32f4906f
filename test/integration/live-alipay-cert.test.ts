import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { payFields, startGateway } from '../helper.js';
import { startReceiver } from '../receiver.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { makeAlipayPki } from '../simulators/alipay-pki.js';
import { createMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';
import { buildAlipayCredentials } from '../../src/channels/alipay/credential-input.js';

// A live merchant in Alipay 公钥证书 mode through the gateway: the credentials sealed and opened
// again (certificates and SNs included), a payment whose every request names the certificates, and
// the merchant's one alipay callback route taking both the trade notification and the fund message
// that ends a payout made through the API.

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1saXZlLWFsaXBheS0wMg==';

t.test('a live Alipay merchant in certificate mode: payment, callback, fund message on the same route', async (t) => {
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const appId = '2021000000000001';
  const pki = makeAlipayPki(appPrivatePem);
  const sim = await AlipaySimulator.start(appId, appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), {
    appCertPem: pki.app.certPem,
    appCertSn: pki.app.sn,
    rootSn: pki.rootSn,
    alipayCerts: [{ sn: pki.alipay.sn, filePem: pki.alipay.filePem, keyPem: pki.alipay.keyPem }],
    signWith: pki.alipay.sn,
  });
  t.teardown(() => sim.close());
  const rcv = await startReceiver(t);
  const gw = await startGateway(t, { MASTER_KEY, NOTIFY_ALLOW_PRIVATE: 'true' });
  const live = await createMerchant(gw.gateway.services, 'Cert shop', 'live');
  const post = (path: string, fields: Record<string, string>) => gw.post(path, { mercNo: live.mercNo, ...fields }, { key: live.key });

  const creds = buildAlipayCredentials({
    appId,
    privateKey: appPrivatePem,
    appCert: pki.app.certPem,
    alipayCert: pki.alipay.filePem,
    alipayRootCert: pki.rootBundlePem,
    gatewayUrl: sim.gatewayUrl,
  });
  await storeLiveCredentials(gw.gateway.services.writer, MASTER_KEY, live.mercNo, 'alipay', creds);

  const made = await post('/api/pay', payFields(live.mercNo, { notifyUrl: `${rcv.url}/n`, tradeAmt: '6.60' }));
  t.equal(made.body.respCode, '000000', made.text);
  const orderId = made.body.orderId!;
  const req = sim.requests.find((r) => r.method === 'alipay.trade.precreate')!;
  t.match(req.params, { app_cert_sn: pki.app.sn, alipay_root_cert_sn: pki.rootSn }, 'the stored credentials name the certificates');
  const trade = sim.trades.get(orderId)!;
  trade.notifyUrl = trade.notifyUrl!.replace('http://dtpay.test', gw.url);
  t.same(await sim.pay(orderId), ['success']);
  t.equal(await gw.sql.value('SELECT pay_status FROM orders WHERE order_id = ?', orderId), 'p0000');
  await rcv.waitFor((r) => r.length === 1);
  t.match(rcv.received[0]!.json, { orderId, payStatus: 'p0000' });

  // A payout (certificate mode is what fund transfers need), ended by the 消息服务 fund message on
  // the same route: the 应用网关 the operator registered.
  const route = `${gw.url}/channel/alipay/notify/${live.mercNo}`;
  sim.fund.appGatewayUrl = route;
  await gw.gateway.writer.run('setPayoutSettings', { mercNo: live.mercNo, enabled: true, dailyLimitFen: 100_000n, perPayoutLimitFen: null, at: Date.now() });
  sim.fund.planNext('dealing');
  const paid = await post(
    '/api/pay',
    payFields(live.mercNo, {
      notifyUrl: `${rcv.url}/n`, tradeType: '02', paywayCode: 'alipay', sceneCode: 'transfer', tradeAmt: '10.00',
      payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088102146225135', signType: 'HMAC-SHA256',
    }),
  );
  t.equal(paid.body.respCode, '000000', paid.text);
  t.equal(paid.body.payStatus, 'p0002', 'in progress at Alipay');
  t.equal(paid.body.payeeAccount, '208**********135', 'masked in the answer');
  const payoutId = paid.body.orderId!;
  const sent = sim.requests.find((r) => r.method === 'alipay.fund.trans.uni.transfer')!;
  t.match(sent.params, { app_cert_sn: pki.app.sn, alipay_root_cert_sn: pki.rootSn });
  t.match(JSON.parse(sent.params.biz_content!), { out_biz_no: payoutId, trans_amount: '10.00', product_code: 'TRANS_ACCOUNT_NO_PWD' });
  t.equal(await sim.fund.settle(payoutId, 'SUCCESS'), 'success', 'the fund message verified with the loaded Alipay certificate and acknowledged');
  t.equal(await gw.sql.value('SELECT pay_status FROM orders WHERE order_id = ?', payoutId), 'p0000');
  await rcv.waitFor((r) => r.length === 2);
  t.match(rcv.received[1]!.json, { orderId: payoutId, tradeType: '02', payStatus: 'p0000' });

  const send = (body: string) => fetch(route, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }).then((r) => r.text());
  t.equal(await send(sim.fund.messageBody(sim.fund.transfers.get(payoutId)!, {}, { badSignature: true })), 'fail', 'a forged one is not');
  const alert = await gw.sql.get('SELECT kind, channel, merc_no AS "mercNo" FROM alerts ORDER BY id DESC LIMIT 1');
  t.match(alert, { kind: 'callback_rejected', channel: 'alipay', mercNo: live.mercNo });
});
