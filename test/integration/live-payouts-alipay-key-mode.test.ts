import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { CLI, runNode } from '../cli-runner.js';
import { payFields, startGateway, type TestGateway } from '../helper.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { createMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';
import { buildAlipayCredentials } from '../../src/channels/alipay/credential-input.js';
import { setMerchantPayouts } from '../../src/services/payout-settings.js';
import type { NewMerchant } from '../../src/services/merchants.js';
import type { TestBackend } from '../backend.js';

// A live merchant whose Alipay credentials are in public-key mode (CONTRACT §4): payments work, but
// an alipay payout answers 100006 naming certificate mode, nothing goes to Alipay, and the operator
// turning payouts on with the compiled CLI is warned about it.

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1rZXktbW9kZS0wMDE=';

async function keyModeMerchant(t: Test, backend?: TestBackend): Promise<{ gw: TestGateway; live: NewMerchant; sim: AlipaySimulator }> {
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const appId = '2021000000000013';
  const sim = await AlipaySimulator.start(appId, appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  t.teardown(() => sim.close());
  const gw = await startGateway(t, { MASTER_KEY, NOTIFY_ALLOW_PRIVATE: 'true' }, { backend });
  const live = await createMerchant(gw.gateway.services, 'Key mode shop', 'live');
  await storeLiveCredentials(
    gw.gateway.services.writer,
    MASTER_KEY,
    live.mercNo,
    'alipay',
    buildAlipayCredentials({ appId, privateKey: appPrivatePem, alipayPublicKey: sim.alipayPublicKeyPem, gatewayUrl: sim.gatewayUrl }),
  );
  return { gw, live, sim };
}

t.test('alipay in key mode: merchant payouts --enable warns', async (t) => {
  const { gw, live } = await keyModeMerchant(t);
  const enable = await runNode(CLI, ['merchant', 'payouts', live.mercNo, '--enable', '--daily-limit', '1000.00', '--json'], gw.dir, {
    ...gw.storageEnv,
    MASTER_KEY,
  });
  t.equal(enable.code, 0, enable.stderr);
  t.match(JSON.parse(enable.stdout), { mercNo: live.mercNo, payouts: { enabled: true, dailyLimit: '1000.00' } }, 'turned on all the same');
  t.match(enable.stderr, /^dtpay: warning: alipay payouts \(tradeType 02\) answer 100006 until this is fixed: .*certificate mode/m, 'warned: key mode cannot pay out');
  t.match(enable.stderr, /--app-cert-file/, 'and told how to fix it');
});

t.test('alipay in key mode: payouts 100006 naming certificate mode', async (t) => {
  const { gw, live, sim } = await keyModeMerchant(t);
  // Turned on as `merchant payouts --enable --daily-limit 1000.00` turns them on.
  const { reads, writer } = gw.gateway.services;
  await setMerchantPayouts(reads, writer, { mercNo: live.mercNo, enable: true, dailyLimitFen: 100_000n, at: Date.now() });

  const payment = await gw.post('/api/pay', payFields(live.mercNo, { tradeAmt: '1.00' }), { key: live.key });
  t.equal(payment.body.respCode, '000000', `payments still work in key mode: ${payment.text}`);

  for (const [tradeType, payeeAccountType, payeeAccount] of [['02', 'ALIPAY_USER_ID', '2088102146225135'], ['03', 'BANK_CARD', '6216261000000000018']] as const) {
    const before = sim.requests.length;
    const a = await gw.post(
      '/api/pay',
      payFields(live.mercNo, { tradeType, sceneCode: 'transfer', signType: 'HMAC-SHA256', paywayCode: 'alipay', payeeAccountType, payeeAccount, payeeName: '欧阳明' }),
      { key: live.key },
    );
    t.equal(a.status, 422, a.text);
    t.equal(a.body.respCode, '100006', `${tradeType}: not served`);
    t.match(a.body.respDesc, /certificate mode/, 'naming certificate mode');
    t.notOk(a.body.orderId, 'no order made');
    t.equal(sim.requests.length, before, 'nothing sent to Alipay');
  }
  t.equal(await gw.sql.value("SELECT count(*) FROM orders WHERE merc_no = ? AND trade_type <> '01'", live.mercNo), 0, 'no payout row');
});
