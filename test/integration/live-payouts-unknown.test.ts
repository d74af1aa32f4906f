import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { FakeClock } from '../fake-clock.js';
import { startGateway, type TestGateway } from '../helper.js';
import { startReceiver, type Receiver } from '../receiver.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { makeAlipayPki } from '../simulators/alipay-pki.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';
import { UnionpaySimulator } from '../simulators/unionpay.js';
import { createMerchant, type NewMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';
import { buildAlipayCredentials } from '../../src/channels/alipay/credential-input.js';
import { readPfx } from '../../src/channels/unionpay/credential-input.js';

// A live payout whose outcome the gateway could not learn (the channel did the transfer, and its
// answer was lost): the merchant gets 200002 with the orderId, the watcher settles it by querying
// the channel with that same orderId, the merchant is notified of p0000, and the transfer went to
// the channel exactly once. In-process, because the watcher's first check comes five seconds after
// creation and a test moves time with a fake clock rather than waiting it out; the gateway still
// talks to the simulators over real HTTP.

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1saXZlLXBheW91dHM=';
const CARD = '6216261000000000018';

interface World {
  gw: TestGateway;
  clock: FakeClock;
  live: NewMerchant;
  rcv: Receiver;
}

async function world(t: Test): Promise<World> {
  const clock = new FakeClock(Date.now());
  const rcv = await startReceiver(t);
  // A hung answer ends at this bound; honest answers on 127.0.0.1 come well within it.
  const gw = await startGateway(t, { MASTER_KEY, NOTIFY_ALLOW_PRIVATE: 'true', CHANNEL_TIMEOUT_MS: '2500' }, { clock, now: clock.now, reachable: true });
  const live = await createMerchant(gw.gateway.services, 'Unknown outcome shop', 'live');
  await gw.gateway.writer.run('setPayoutSettings', { mercNo: live.mercNo, enabled: true, dailyLimitFen: 10_000_000n, perPayoutLimitFen: null, at: clock.now() });
  return { gw, clock, live, rcv };
}

function payoutFields(w: World, over: Record<string, string>): Record<string, string> {
  return {
    mercNo: w.live.mercNo,
    mercOrderNo: `U${process.pid}${Date.now()}${Math.floor(Math.random() * 1e6)}`,
    subject: '佣金',
    tradeType: '02',
    tradeAmt: '10.00',
    tradeTime: '20240618125826',
    orderPeriod: '30',
    notifyUrl: `${w.rcv.url}/n`,
    termType: 'pc',
    sceneCode: 'transfer',
    ip: '203.0.113.7',
    signType: 'HMAC-SHA256',
    ...over,
  };
}

const status = (w: World, id: string) => w.gw.sql.value<string>('SELECT pay_status FROM orders WHERE order_id = ?', id);

/** The unknown answer, then the watcher's rounds until the payout settles; returns the orderId. */
async function unknownThenSettled(t: Test, w: World, fields: Record<string, string>, settleAtChannel: (orderId: string) => Promise<unknown>): Promise<string> {
  const a = await w.gw.post('/api/pay', fields, { key: w.live.key });
  t.equal(a.status, 504, a.text);
  t.equal(a.body.respCode, '200002', 'outcome unknown');
  const orderId = a.body.orderId!;
  t.match(orderId, /^\d{22}$/, 'the answer names the orderId to query');
  const kept = await status(w, orderId);
  t.ok(['p0001', 'p0002'].includes(String(kept)), `kept open (${kept}): the channel may have it`);

  const again = await w.gw.post('/api/pay', fields, { key: w.live.key });
  t.equal(again.body.orderId, orderId, 'sent again, the same request names the same payout');

  await settleAtChannel(orderId);
  for (let i = 0; i < 4 && (await status(w, orderId)) !== 'p0000'; i++) {
    w.clock.advance(10_000);
    await w.gw.gateway.watcher.runOnce();
  }
  t.equal(await status(w, orderId), 'p0000', 'settled by the watcher\'s query');
  const q = await w.gw.post('/api/query', { mercNo: w.live.mercNo, orderId }, { key: w.live.key });
  t.match(q.body, { respCode: '000000', payStatus: 'p0000', tradeType: '02' });
  try {
    await w.rcv.waitFor((r) => r.some((n) => n.json.orderId === orderId && n.json.payStatus === 'p0000'), 5_000);
  } catch (err) {
    t.fail(`no p0000 notification: ${(err as Error).message}`);
  }
  const n = w.rcv.received.find((r) => r.json.orderId === orderId)!;
  t.match(n?.json, { payStatus: 'p0000', tradeType: '02' }, 'notified');
  return orderId;
}

t.test('alipay (hangAfter): 200002, settled by alipay.fund.trans.common.query, transferred once', async (t) => {
  const w = await world(t);
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const appId = '2021000000000011';
  const pki = makeAlipayPki(appPrivatePem);
  const sim = await AlipaySimulator.start(appId, appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), {
    appCertPem: pki.app.certPem,
    appCertSn: pki.app.sn,
    rootSn: pki.rootSn,
    alipayCerts: [{ sn: pki.alipay.sn, filePem: pki.alipay.filePem, keyPem: pki.alipay.keyPem }],
    signWith: pki.alipay.sn,
  });
  t.teardown(() => sim.close());
  sim.fund.subscribed = false; // no fund message: only the query can tell
  await storeLiveCredentials(w.gw.gateway.services.writer, MASTER_KEY, w.live.mercNo, 'alipay', buildAlipayCredentials({
    appId, privateKey: appPrivatePem, appCert: pki.app.certPem, alipayCert: pki.alipay.filePem, alipayRootCert: pki.rootBundlePem, gatewayUrl: sim.gatewayUrl,
  }));
  sim.failNext('alipay.fund.trans.uni.transfer', { kind: 'hangAfter' });
  const fields = payoutFields(w, { paywayCode: 'alipay', payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088102146225135' });
  const orderId = await unknownThenSettled(t, w, fields, async (id) => t.equal(sim.fund.transfers.get(id)?.status, 'SUCCESS', 'Alipay did the transfer'));
  t.equal(sim.requests.filter((r) => r.method === 'alipay.fund.trans.uni.transfer').length, 1, 'the transfer was sent exactly once');
  t.ok(sim.requests.some((r) => r.method === 'alipay.fund.trans.common.query' && JSON.parse(r.params.biz_content!).out_biz_no === orderId), 'queried by the same orderId');
});

t.test('wxpay (lostAnswer): 200002, the payee confirms, settled by the bill query, transferred once', async (t) => {
  const w = await world(t);
  const sim = await WxpaySimulator.start({ keys: generateWxpayKeys() });
  t.teardown(() => sim.close());
  await storeLiveCredentials(w.gw.gateway.services.writer, MASTER_KEY, w.live.mercNo, 'wxpay', {
    ...sim.credentials('cert'),
    transferScene: { sceneId: '1000', reportInfos: [{ info_type: '活动名称', info_content: '新会员有礼' }, { info_type: '奖励说明', info_content: '一等奖' }] },
  });
  sim.fault({ kind: 'lostAnswer' });
  const CREATE = '/v3/fund-app/mch-transfer/transfer-bills';
  const fields = payoutFields(w, { paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
  const orderId = await unknownThenSettled(t, w, fields, async (id) => {
    // The watcher first finds the bill waiting for the payee; then the payee confirms and the
    // FINISHED notification is lost.
    w.clock.advance(10_000);
    await w.gw.gateway.watcher.runOnce();
    t.equal(await status(w, id), 'p0002', 'waiting for the payee');
    sim.transfers.confirm(id);
    await sim.transfers.finish(id, 'SUCCESS', { lost: true });
  });
  t.equal(sim.requests.filter((r) => r.method === 'POST' && r.path === CREATE).length, 1, 'the bill was created exactly once');
  t.ok(sim.requests.some((r) => r.method === 'GET' && r.path === `${CREATE}/out-bill-no/${orderId}`), 'queried by the same out_bill_no');
});

t.test('unionpay (lostAnswer): 200002, settled by queryTrans, transferred once', async (t) => {
  const w = await world(t);
  const sim = await UnionpaySimulator.start('777290058110048');
  t.teardown(() => sim.close());
  const { keyPem, certPem, certId } = readPfx(sim.pki.merchantPfx, sim.pki.merchantPfxPassword);
  await storeLiveCredentials(w.gw.gateway.services.writer, MASTER_KEY, w.live.mercNo, 'unionpay', {
    merId: sim.merId, signKeyPem: keyPem, signCertPem: certPem, certId, rootCertPem: sim.pki.rootCertPem, middleCertPem: sim.pki.middleCertPem,
    baseUrl: sim.baseUrl, encryptCertPem: sim.pki.encryptCertPem, encryptCertId: sim.pki.encryptCertId,
  });
  sim.failNext('back', { kind: 'lostAnswer' });
  const fields = payoutFields(w, { paywayCode: 'unionpay', payeeAccountType: 'BANK_CARD', payeeAccount: CARD, payeeName: '全渠道' });
  const orderId = await unknownThenSettled(t, w, fields, async (id) => {
    t.equal(sim.payouts.payouts.get(id)?.status, 'processing', 'UnionPay took it');
    await sim.payouts.settle(id, { lost: true });
  });
  t.equal(sim.requests.filter((r) => r.endpoint === 'back' && r.fields.txnType === '12').length, 1, 'the payout was sent exactly once');
  t.ok(sim.requests.some((r) => r.endpoint === 'query' && r.fields.orderId === orderId), 'queried by the same orderId');
});
