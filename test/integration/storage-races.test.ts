import t from 'tap';
import { createOrder, payFields, startGateway } from '../helper.js';
import { FakeClock } from '../fake-clock.js';
import { ChannelRegistry } from '../../src/channels/registry.js';
import { supportedCells } from '../../src/channels/matrix.js';
import { sandboxDriver } from '../../src/channels/sandbox/driver.js';
import type { ChannelDriver } from '../../src/channels/types.js';
import type { Services } from '../../src/services/context.js';
import { OrderCreator } from '../../src/services/create-order.js';
import { PayoutCreator } from '../../src/services/create-payout.js';
import { OrderWatcher } from '../../src/services/order-watcher.js';
import { payRequestSchema } from '../../src/api/pay-schema.js';
import { payoutRequestSchema } from '../../src/api/payout-schema.js';

// Every read of the storage port answers a promise (CONTRACT §7), so between a read and what
// follows it other requests run. Calls started in the same moment interleave at each await, the
// way requests do once the database is a network away: what decides must not be the read.

/** The services with a sandbox channel that counts what it is asked. */
function counted(base: Services) {
  const calls = { create: 0, close: 0, transfer: 0 };
  const driver: ChannelDriver<any> = {
    ...sandboxDriver,
    createPayment: (...a: Parameters<typeof sandboxDriver.createPayment>) => {
      calls.create++;
      return sandboxDriver.createPayment(...a);
    },
    closePayment: (...a: Parameters<typeof sandboxDriver.closePayment>) => {
      calls.close++;
      return sandboxDriver.closePayment(...a);
    },
    transfer: (...a: Parameters<NonNullable<typeof sandboxDriver.transfer>>) => {
      calls.transfer++;
      return sandboxDriver.transfer!(...a);
    },
  };
  const registry = new ChannelRegistry(supportedCells().map((cell) => ({ mode: 'sandbox' as const, cell, driver })));
  const s: Services = { ...base, registry };
  return { s, calls };
}

t.test('identical orders started in the same moment are one creation: the channel is asked once', async (t) => {
  const gw = await startGateway(t);
  const { s, calls } = counted(gw.gateway.services);
  const merchant = (await s.reads.merchant(gw.merchant.mercNo))!;
  const req = payRequestSchema.parse({ ...payFields(gw.merchant.mercNo), signature: 'checked before this' });
  const creator = new OrderCreator(s);
  const answers = await Promise.all([creator.create(merchant, req), creator.create(merchant, req), creator.create(merchant, req)]);
  t.equal(calls.create, 1, 'one payment created at the channel');
  t.same(new Set(answers.map((a) => a.fields.orderId)).size, 1, 'one orderId in every answer');
  t.ok(answers.every((a) => a.respCode === '000000'), 'every answer is the first one');
  const stored = await s.reads.orderByMercNo(merchant.merc_no, req.mercOrderNo);
  t.equal(stored?.order_id, answers[0]!.fields.orderId, 'the stored order is the one answered');
});

t.test('a look for the stored order that answers late still joins the creation under way', async (t) => {
  // The second request's look finds nothing (the first has not stored its order yet) but answers
  // only after the first has finished, as a look over the network may: the second must not go to
  // the channel on the strength of what it saw.
  const gw = await startGateway(t);
  const { s: counting, calls } = counted(gw.gateway.services);
  let looks = 0;
  let answerLate!: () => void;
  const late = new Promise<void>((resolve) => (answerLate = resolve));
  const look = counting.reads.orderByMercNo;
  const s: Services = {
    ...counting,
    reads: {
      ...counting.reads,
      orderByMercNo: async (mercNo: string, mercOrderNo: string) => {
        const n = ++looks;
        const found = await look(mercNo, mercOrderNo);
        if (n === 2) await late;
        return found;
      },
    },
  };
  const merchant = (await s.reads.merchant(gw.merchant.mercNo))!;
  const req = payRequestSchema.parse({ ...payFields(gw.merchant.mercNo), signature: 'checked before this' });
  const creator = new OrderCreator(s);
  const first = creator.create(merchant, req);
  const second = creator.create(merchant, req);
  void first.finally(answerLate);
  const answers = await Promise.all([first, second]);
  t.equal(calls.create, 1, 'one payment created at the channel');
  t.equal(answers[1]!.fields.orderId, answers[0]!.fields.orderId, 'the second answer is the first one');
});

t.test('identical payouts started in the same moment are one creation: the channel is asked once', async (t) => {
  const gw = await startGateway(t);
  const { s, calls } = counted(gw.gateway.services);
  const mercNo = gw.merchant.mercNo;
  await s.writer.run('setPayoutSettings', { mercNo, enabled: true, dailyLimitFen: 1_000_000n, perPayoutLimitFen: null, at: s.now() });
  const merchant = (await s.reads.merchant(mercNo))!;
  const req = payoutRequestSchema.parse({
    ...payFields(mercNo, { tradeType: '02', paywayCode: 'alipay', sceneCode: 'transfer', tradeAmt: '1.00' }),
    payeeAccountType: 'BANK_CARD',
    payeeAccount: '6222021234567890',
    payeeName: '张三',
    signType: 'HMAC-SHA256',
    signature: 'checked before this',
  });
  const creator = new PayoutCreator(s);
  const answers = await Promise.all([creator.create(merchant, 'HMAC-SHA256', req), creator.create(merchant, 'HMAC-SHA256', req)]);
  t.equal(calls.transfer, 1, 'one payout sent to the channel');
  t.same(new Set(answers.map((a) => a.fields.orderId)).size, 1, 'one orderId in both answers');
});

t.test('two watcher rounds at once take an overdue order once: the channel is asked to close it once', async (t) => {
  const clock = new FakeClock();
  const gw = await startGateway(t, {}, { clock });
  const orderId = await createOrder(gw, { orderPeriod: '1' });
  const { s, calls } = counted(gw.gateway.services);
  // The gateway's own watcher keeps the gateway's time; this one looks an hour later.
  const watcher = new OrderWatcher(s, new FakeClock(clock.now() + 3600_000));
  await Promise.all([watcher.runOnce(), watcher.runOnce()]);
  t.equal(calls.close, 1, 'closed at the channel once');
  t.equal((await s.reads.order(orderId))?.pay_status, 'p0006', 'expired');
});
