import t from 'tap';
import { FakeClock } from '../fake-clock.js';
import { payFields, startGateway, type TestGateway } from '../helper.js';
import { ChannelRegistry } from '../../src/channels/registry.js';
import { supportedCells } from '../../src/channels/matrix.js';
import { sandboxDriver } from '../../src/channels/sandbox/driver.js';
import type { ChannelDriver } from '../../src/channels/types.js';
import type { PayoutCancelResult, PayoutQueryResult, PayoutResult } from '../../src/channels/payout-types.js';
import { cancelPayout } from '../../src/services/payouts.js';

// Payout behaviours only a live channel has, through a small driver made here: credentials that
// cannot pay out (payoutUnavailable), a WeChat bill that stays CANCELING, a transfer whose answer
// is lost. The gateway is real; only the wxpay cells of sandbox merchants are given to this driver.

interface Script {
  unavailable?: string;
  transfer: PayoutResult;
  cancel: PayoutCancelResult;
  query: PayoutQueryResult;
  transfers: number;
  queries: number;
}

function handMade(script: Script): ChannelDriver<unknown> {
  return {
    ...sandboxDriver,
    name: 'handmade',
    payeeAccountTypes: ['WX_OPENID'],
    payoutUnavailable: (_c, tradeType) => (tradeType === '02' ? script.unavailable : undefined),
    async transfer() {
      script.transfers++;
      return script.transfer;
    },
    async queryTransfer() {
      script.queries++;
      return script.query;
    },
    async cancelTransfer() {
      return script.cancel;
    },
  };
}

async function gatewayWith(t: Parameters<typeof startGateway>[0], script: Script, clock = new FakeClock()): Promise<TestGateway> {
  const gw = await startGateway(t, {}, { clock });
  const driver = handMade(script);
  const s = gw.gateway.services;
  s.registry = new ChannelRegistry(
    supportedCells().map((cell) => ({ mode: 'sandbox' as const, cell, driver: cell.startsWith('wxpay.') ? driver : sandboxDriver })),
  );
  const original = s.credentialsFor;
  s.credentialsFor = async (m, name) => (name === 'handmade' ? { handmade: true } : original(m, name));
  await gw.gateway.writer.run('setPayoutSettings', { mercNo: gw.merchant.mercNo, enabled: true, dailyLimitFen: 100_000n, perPayoutLimitFen: null, at: 0 });
  return gw;
}

const wx = (gw: TestGateway, over: Record<string, string> = {}) =>
  payFields(gw.merchant.mercNo, {
    tradeType: '02',
    paywayCode: 'wxpay',
    sceneCode: 'transfer',
    tradeAmt: '5.00',
    payeeAccountType: 'WX_OPENID',
    payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    signType: 'HMAC-SHA256',
    ...over,
  });

const status = (gw: TestGateway, id: string) => gw.sql.value('SELECT pay_status FROM orders WHERE order_id = ?', id);
const noticeCount = (gw: TestGateway, id: string) => gw.sql.value('SELECT count(*) FROM notifications WHERE order_id = ?', id);

const script = (over: Partial<Script> = {}): Script => ({
  transfer: { outcome: 'accepted', channelTradeNo: 'B1', payInfo: '{"mchId":"1","appId":"wx1","package":"p"}' },
  cancel: { outcome: 'cancelling' },
  query: { outcome: 'cancelling' },
  transfers: 0,
  queries: 0,
  ...over,
});

t.test('credentials that cannot pay out answer 100006 with the driver\'s reason, before the signature type', async (t) => {
  const sc = script({ unavailable: 'no transfer scene is set (channel set … --transfer-scene-id ID)' });
  const gw = await gatewayWith(t, sc);
  const a = await gw.post('/api/pay', wx(gw, { signType: 'MD5' }));
  t.equal(a.body.respCode, '100006');
  t.match(a.body.respDesc, /wxpay\.transfer cannot pay out for this merchant: no transfer scene is set/);
  const withdrawal = await gw.post('/api/pay', wx(gw, { tradeType: '03' }));
  t.equal(withdrawal.body.respCode, '000000', 'the reason is per trade type');
  t.equal(sc.transfers, 1);
});

t.test('a payee-confirmed payout wins over a cancel still CANCELING; a close that stays CANCELING is finished by the watcher', async (t) => {
  const sc = script();
  const clock = new FakeClock();
  const gw = await gatewayWith(t, sc, clock);
  const s = gw.gateway.services;
  const noWait = { stepMs: 500, steps: 3, sleep: async () => {} };

  const a = await gw.post('/api/pay', wx(gw));
  t.equal(a.body.payStatus, 'p0002');
  const id = a.body.orderId!;
  const r = await cancelPayout(s, (await s.reads.order(id))!, 'merchant', noWait);
  t.equal(r.result, 'cancelling', 'the channel still says CANCELING after the wait');
  t.equal(sc.queries, 3, 'asked while waiting');
  t.equal(await status(gw, id), 'p0002');
  sc.query = { outcome: 'cancelled' };
  clock.advance(10_000);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0005', 'the watcher finished the close');
  t.equal(await noticeCount(gw, id), 0, 'a close the merchant asked for is not notified');

  sc.query = { outcome: 'cancelling' };
  const b = await gw.post('/api/pay', wx(gw));
  const id2 = b.body.orderId!;
  await cancelPayout(s, (await s.reads.order(id2))!, 'merchant', noWait);
  sc.query = { outcome: 'succeeded', channelTradeNo: 'B1', paidAt: '20260101120000' };
  clock.advance(10_000);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id2), 'p0000', 'the payee confirmed first: paid out');
  t.equal(await noticeCount(gw, id2), 1, 'and notified');
});

t.test('/api/close answers p0005 once a query reports the bill cancelled within the wait', async (t) => {
  const sc = script({ query: { outcome: 'cancelled' } });
  const gw = await gatewayWith(t, sc);
  const a = await gw.post('/api/pay', wx(gw));
  const c = await gw.post('/api/close', { mercNo: gw.merchant.mercNo, orderId: a.body.orderId! });
  t.match(c.body, { respCode: '000000', payStatus: 'p0005' });
});

t.test('/api/close answers 000000 with p0002 while the channel is still CANCELING', async (t) => {
  const sc = script();
  const gw = await gatewayWith(t, sc);
  const a = await gw.post('/api/pay', wx(gw));
  // Bounded: ten queries half a second apart, as the contract's five seconds.
  const c = await gw.post('/api/close', { mercNo: gw.merchant.mercNo, orderId: a.body.orderId! });
  t.match(c.body, { respCode: '000000', payStatus: 'p0002', respDesc: /CANCELING/ });
  t.equal(sc.queries, 10);
});

t.test('an unknown outcome is settled by queryTransfer with the same orderId, never sent again', async (t) => {
  const sc = script({ transfer: { outcome: 'unknown', reason: 'read timeout' }, query: { outcome: 'not_found' } });
  const clock = new FakeClock();
  const gw = await gatewayWith(t, sc, clock);
  const a = await gw.post('/api/pay', wx(gw));
  t.equal(a.status, 504);
  t.match(a.body, { respCode: '200002', payStatus: 'p0001', respDesc: /do not send it again/ });
  const id = a.body.orderId!;
  clock.advance(5_000);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0001', 'not found right away is not yet a failure: the payout may still be arriving');
  sc.query = { outcome: 'succeeded', channelTradeNo: 'B9' };
  clock.advance(10_000);
  await gw.gateway.watcher.runOnce();
  t.equal(await status(gw, id), 'p0000');
  const again = await gw.post('/api/pay', { ...wx(gw), mercOrderNo: (await gw.gateway.services.reads.order(id))!.merc_order_no });
  t.equal(again.body.orderId, id, 'the same mercOrderNo again is the same payout');
  t.equal(sc.transfers, 1, 'the channel was asked to transfer once');
});
