import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { payFields, startGateway, type TestGateway } from '../helper.js';
import type { TestBackend } from '../backend.js';
import { startReceiver, type Receiver } from '../receiver.js';
import { CLI, oneJson, runNode } from '../cli-runner.js';
import { FakeClock } from '../fake-clock.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';
import { UnionpaySimulator } from '../simulators/unionpay.js';
import { createMerchant, type NewMerchant } from '../../src/services/merchants.js';
import { storeLiveCredentials } from '../../src/services/live-credentials.js';
import { readPfx } from '../../src/channels/unionpay/credential-input.js';
import { reconcileDay } from '../../src/services/reconciliation.js';
import { dayReport, type RunReport } from '../../src/services/reconciliation-report.js';
import { listAlerts } from '../../src/services/alerts.js';
import { sign } from '../../src/domain/sign.js';
import type { OrderRow } from '../../src/db/rows.js';

// Reconciliation end to end for a live merchant on each channel (CONTRACT §5): a real gateway on
// a fake clock, orders paid through the API and the channel's simulator, and the simulator's own
// bill of the day, downloaded through the live driver. The bill leaves one paid trade out, states
// another at a different amount, and lists two payments whose callback never came (one order
// still open in dtpay, one the merchant had closed): the run reports exactly that, heals the
// silent payments through the normal state change (the closed one flagged latePayment), notifies
// each once, stores the fees, and a second run of the day changes nothing. Alipay's day is also run as an operator runs it, `dtpay reconcile --json`.
//
// The clock: payments are placed at a fixed time of a day within half a day of the wall clock (every
// certificate the simulators make is valid a day either side of it): noon Beijing for Alipay, whose
// day is the calendar day; 23:30 Beijing for UnionPay, whose clearing day runs 23:00 to 23:00, so
// that payment belongs to the next day's file; WeChat Pay at the wall clock's time (below). The gateway's clock never moves
// while orders are open (no query or expiry finds the silent payment first); the simulators are
// told the day is over when their bill is asked for.

const MASTER_KEY = 'dGVzdC1tYXN0ZXIta2V5LWZvci1saXZlLXJlY29uY2lsZQ==';
const HOUR = 3600_000;
const DAY_MS = 24 * HOUR;
const bjDate = (ms: number) => new Date(ms + 8 * HOUR).toISOString().slice(0, 10);

/** The Beijing `hh:mm` nearest the wall clock. */
function nearest(hhmm: string): number {
  const today = Date.parse(`${bjDate(Date.now())}T${hhmm}:00+08:00`);
  return [today - DAY_MS, today, today + DAY_MS].reduce((a, b) => (Math.abs(b - Date.now()) < Math.abs(a - Date.now()) ? b : a));
}

const fee = (fen: bigint) => (fen * 6n + 500n) / 1000n;
const yuan = (fen: bigint) => `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`;

interface Channel {
  payway: 'alipay' | 'wxpay' | 'unionpay';
  /** when the payments are made (gateway and simulator clock) */
  paidAt: number;
  /** the bill's day that holds them */
  date: string;
  /** the payer pays; the channel's callback reaches the gateway unless `lost` */
  pay(orderId: string, lost: boolean): Promise<void>;
  /** the channel's trade number of an order */
  tradeNo(orderId: string): string | undefined;
  bills: { leftOut: Set<string>; billedAs: Map<string, bigint>; now: () => number };
  /** makes the channel take a payment for a trade dtpay has closed (the payment crossed the close) */
  reopen(orderId: string): void;
}

interface Day {
  gw: TestGateway;
  clock: FakeClock;
  live: NewMerchant;
  rcv: Receiver;
  ch: Channel;
  matched: string;
  missing: string;
  mismatch: string;
  open: string;
  closed: string;
}

async function liveGateway(t: Test, paidAt: number, backend?: TestBackend) {
  const clock = new FakeClock(paidAt);
  const gw = await startGateway(t, { MASTER_KEY, NOTIFY_ALLOW_PRIVATE: 'true' }, { clock, reachable: true, backend });
  const live = await createMerchant(gw.gateway.services, 'Live shop', 'live');
  const rcv = await startReceiver(t);
  return { clock, gw, live, rcv };
}

async function alipay(t: Test, paidAt: number, g: Awaited<ReturnType<typeof liveGateway>>): Promise<Channel> {
  const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const appId = '2021000000000007';
  const sim = await AlipaySimulator.start(appId, app.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  t.teardown(() => sim.close());
  sim.now = g.clock.now;
  await storeLiveCredentials(g.gw.gateway.services.writer, MASTER_KEY, g.live.mercNo, 'alipay', {
    appId,
    privateKeyPem: app.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    alipayPublicKeyPem: sim.alipayPublicKeyPem,
    gatewayUrl: sim.gatewayUrl,
  });
  return {
    payway: 'alipay',
    paidAt,
    date: bjDate(paidAt),
    pay: async (orderId, lost) => {
      const acks = await sim.pay(orderId, lost ? 'lost' : 'normal');
      if (!lost && acks[0] !== 'success') throw new Error(`the gateway answered Alipay's callback ${acks.join()}`);
    },
    tradeNo: (orderId) => sim.trades.get(orderId)?.tradeNo,
    bills: sim.bills,
    reopen: (orderId) => {
      sim.trades.get(orderId)!.status = 'WAIT_BUYER_PAY';
    },
  };
}

async function wxpay(t: Test, paidAt: number, g: Awaited<ReturnType<typeof liveGateway>>): Promise<Channel> {
  const sim = await WxpaySimulator.start({ keys: generateWxpayKeys(), now: g.clock.now });
  t.teardown(() => sim.close());
  await storeLiveCredentials(g.gw.gateway.services.writer, MASTER_KEY, g.live.mercNo, 'wxpay', sim.credentials('cert'));
  return {
    payway: 'wxpay',
    paidAt,
    date: bjDate(paidAt),
    pay: async (orderId, lost) => {
      const d = await sim.pay(orderId, { lost });
      if (!lost && !(d[0] && d[0].status >= 200 && d[0].status < 300)) throw new Error(`the gateway answered WeChat Pay's callback ${JSON.stringify(d)}`);
    },
    tradeNo: (orderId) => sim.trades.get(orderId)?.transactionId,
    bills: sim.bills,
    reopen: (orderId) => sim.setState(orderId, 'NOTPAY'),
  };
}

async function unionpay(t: Test, paidAt: number, g: Awaited<ReturnType<typeof liveGateway>>): Promise<Channel> {
  const merId = '777290058110049';
  const sim = await UnionpaySimulator.start(merId);
  t.teardown(() => sim.close());
  sim.now = g.clock.now;
  const { keyPem, certPem, certId } = readPfx(sim.pki.merchantPfx, sim.pki.merchantPfxPassword);
  await storeLiveCredentials(g.gw.gateway.services.writer, MASTER_KEY, g.live.mercNo, 'unionpay', {
    merId, signKeyPem: keyPem, signCertPem: certPem, certId, rootCertPem: sim.pki.rootCertPem, middleCertPem: sim.pki.middleCertPem, baseUrl: sim.baseUrl,
  });
  return {
    payway: 'unionpay',
    paidAt,
    // 23:30 belongs to the clearing day that ends at 23:00 the next day.
    date: bjDate(paidAt + DAY_MS),
    pay: async (orderId, lost) => {
      const acks = await sim.pay(orderId, lost ? 'lost' : 'normal');
      if (!lost && acks[0] !== 200) throw new Error(`the gateway answered UnionPay's callback ${acks.join()}`);
    },
    tradeNo: (orderId) => sim.trades.get(orderId)?.queryId,
    bills: sim.bills,
    // UnionPay has no close: dtpay's close only asks, and the payer holding the form can still pay.
    reopen: () => {},
  };
}

/** The day on the channel: five orders paid (two of them silently), the bill's knobs set, the bill ready. */
async function setUpDay(t: Test, make: typeof alipay, paidAt: number, backend?: TestBackend): Promise<Day> {
  const g = await liveGateway(t, paidAt, backend);
  const ch = await make(t, paidAt, g);
  const post = (path: string, fields: Record<string, string>) => g.gw.post(path, { mercNo: g.live.mercNo, ...fields }, { key: g.live.key });
  const order = async (amount: string) => {
    const a = await post('/api/pay', payFields(g.live.mercNo, { paywayCode: ch.payway, sceneCode: ch.payway === 'unionpay' ? 'app' : 'scan', termType: ch.payway === 'unionpay' ? 'app' : 'pc', tradeAmt: amount, notifyUrl: `${g.rcv.url}/n` }));
    if (a.body.respCode !== '000000') throw new Error(`order not created: ${a.text}`);
    return a.body.orderId!;
  };
  const paid = async (amount: string, lost = false) => {
    const id = await order(amount);
    await ch.pay(id, lost);
    return id;
  };
  const s = g.gw.gateway.services;
  const matched = await paid('12.34');
  const missing = await paid('5.00');
  const mismatch = await paid('8.00');
  const open = await paid('3.00', true);
  const closed = await order('2.00');
  const c = await post('/api/close', { orderId: closed });
  t.equal(c.body.payStatus, 'p0005', `the merchant closed ${closed} while it was unpaid: ${c.text}`);
  ch.reopen(closed);
  await ch.pay(closed, true);
  for (const id of [matched, missing, mismatch]) t.equal((await s.reads.order(id))!.pay_status, 'p0000', 'paid through the callback');
  t.equal((await s.reads.order(open))!.pay_status, 'p0001', 'the silent payment is still open in dtpay');
  ch.bills.leftOut.add(missing);
  ch.bills.billedAs.set(mismatch, 801n);
  // The simulators bill a day once it is over; the gateway's clock stays where the orders were made.
  ch.bills.now = () => g.clock.now() + 2 * DAY_MS;
  await g.rcv.waitFor((r) => [matched, missing, mismatch].every((id) => r.some((x) => x.json.orderId === id)), 5_000);
  return { ...g, ch, matched, missing, mismatch, open, closed };
}

const notesOf = (d: Day, orderId: string) => d.rcv.received.filter((r) => r.json.orderId === orderId && r.json.payStatus === 'p0000');

/** What the first run must have reported and done. */
async function checkFirstRun(t: Test, d: Day, run: RunReport | undefined) {
  const s = d.gw.gateway.services;
  const healedIds = [d.open, d.closed];
  t.match(run, { mercNo: d.live.mercNo, payway: d.ch.payway, status: 'ok' });
  if (!run) return;
  t.same(run.counts, { matched: 1, healed: healedIds.length, missing_at_channel: 1, amount_mismatch: 1, unknown_trade: 0 }, 'exactly the lines the bill was made with');
  const tradeFen = 1234n + 801n + 300n + 200n;
  const feeFen = fee(1234n) + fee(801n) + fee(300n) + fee(200n);
  t.same(run.totals, { tradeAmt: yuan(tradeFen), refundAmt: '0.00', feeAmt: yuan(feeFen), netAmt: yuan(tradeFen - feeFen) }, "the bill's own figures");
  const orders = new Map<string, OrderRow>();
  for (const id of [d.mismatch, d.missing, ...healedIds]) orders.set(id, (await s.reads.order(id))!);
  const mercOrderNo = (id: string) => orders.get(id)!.merc_order_no;
  const sorted = [...run.items].sort((a, b) => (a.kind + a.orderId).localeCompare(b.kind + b.orderId));
  const expected = [
    { kind: 'amount_mismatch', orderId: d.mismatch, mercOrderNo: mercOrderNo(d.mismatch), channelTradeNo: d.ch.tradeNo(d.mismatch), localAmt: '8.00', channelAmt: '8.01' },
    ...healedIds.map((id) => ({ kind: 'healed', orderId: id, mercOrderNo: mercOrderNo(id), channelTradeNo: d.ch.tradeNo(id), localAmt: yuan(orders.get(id)!.amount_fen), channelAmt: yuan(orders.get(id)!.amount_fen) })),
    { kind: 'missing_at_channel', orderId: d.missing, mercOrderNo: mercOrderNo(d.missing), channelTradeNo: d.ch.tradeNo(d.missing), localAmt: '5.00' },
  ].sort((a, b) => (a.kind + a.orderId).localeCompare(b.kind + b.orderId));
  t.same(sorted, expected, 'every line but the matched one, each with what it is');

  const open = (await s.reads.order(d.open))!;
  t.equal(open.pay_status, 'p0000', 'the silent payment is paid');
  t.equal(open.late_payment, 0, 'an order still open is not a late payment');
  t.equal(open.channel_trade_no, d.ch.tradeNo(d.open), "with the channel's trade number");
  const closed = (await s.reads.order(d.closed))!;
  t.equal(closed.pay_status, 'p0000', 'the closed order that was paid anyway is paid');
  t.equal(closed.late_payment, 1, 'and flagged a late payment');
  await d.rcv.waitFor((r) => healedIds.every((id) => r.some((x) => x.json.orderId === id && x.json.payStatus === 'p0000')), 5_000);
  for (const id of healedIds) {
    const [note, ...more] = notesOf(d, id);
    t.same(more, [], `${id} notified once`);
    t.equal(note?.json.signature, sign(note!.json, d.live.key, 'MD5'), 'signed with the live key');
  }

  const q = async (orderId: string) => (await d.gw.post('/api/query', { mercNo: d.live.mercNo, orderId }, { key: d.live.key })).body;
  t.match(await q(d.matched), { payStatus: 'p0000', feeAmt: '0.07' }, 'the fee of a matched trade, from the bill');
  t.match(await q(d.open), { payStatus: 'p0000', feeAmt: yuan(fee(300n)) }, 'and of a healed one');
  t.notOk((await q(d.open)).latePayment, 'not a late payment');
  t.match(await q(d.closed), { payStatus: 'p0000', latePayment: 'true', feeAmt: yuan(fee(200n)) }, 'the query says the closed one was paid late');
  for (const id of [d.missing, d.mismatch]) t.notOk((await q(id)).feeAmt, 'no fee where the bill has no line or another amount');

  const alerts = (await listAlerts(s.reads, { open: true, limit: 100 })).filter((a) => a.mercNo === d.live.mercNo);
  t.same(alerts.map((a) => `${a.kind}:${a.orderId}`).sort(), [`amount_mismatch:${d.mismatch}`, `missing_at_channel:${d.missing}`], 'one alert per discrepancy');
  t.ok(alerts.every((a) => a.channel === d.ch.payway && a.detail.includes(d.ch.date)));
}

/** What the second run must have reported and left alone. */
async function checkSecondRun(t: Test, d: Day, run: RunReport | undefined, alertsBefore: unknown) {
  const s = d.gw.gateway.services;
  const healedIds = [d.open, d.closed];
  t.same(run?.counts, { matched: 1 + healedIds.length, healed: 0, missing_at_channel: 1, amount_mismatch: 1, unknown_trade: 0 }, 'the healed lines are matched now');
  t.same(run?.items.map((i) => i.kind).sort(), ['amount_mismatch', 'missing_at_channel']);
  t.same((await listAlerts(s.reads, { open: false, limit: 100 })).filter((a) => a.mercNo === d.live.mercNo), alertsBefore, 'no new alert, none raised again');
  for (const id of healedIds) {
    const queued = (await s.reads.notificationsOfOrder(id)).filter((n) => JSON.parse(n.fields_json).payStatus === 'p0000');
    t.equal(queued.length, 1, `${id}: no second notification queued`);
    t.equal(notesOf(d, id).length, 1, `${id}: none received`);
  }
}

for (const [name, make, paidAt] of [
  ['alipay', alipay, () => nearest('12:00')],
  // The gateway checks a WeChat Pay callback's timestamp against the wall clock (parseCallback has
  // no clock of the gateway's), and the simulator signs with the clock it shares with the gateway.
  ['wxpay', wxpay, () => Date.now()],
  ['unionpay', unionpay, () => nearest('23:30')],
] as const) {
  t.test(`${name}: a bill with a trade left out, an amount changed and a silent payment; then the same day again`, async (t) => {
    const d = await setUpDay(t, make, paidAt());
    const s = d.gw.gateway.services;
    const first = await reconcileDay(s, { date: d.ch.date, mercNo: d.live.mercNo });
    t.same(first.map((r) => `${r.payway}:${r.status}:${r.stored}:${r.alertsRaised}`), [`${name}:ok:true:2`], 'one run, for the payway configured');
    await checkFirstRun(t, d, (await dayReport(s.reads, d.ch.date, { mercNo: d.live.mercNo })).runs[0]);

    const alertsBefore = (await listAlerts(s.reads, { open: false, limit: 100 })).filter((a) => a.mercNo === d.live.mercNo);
    const second = await reconcileDay(s, { date: d.ch.date, mercNo: d.live.mercNo });
    t.same(second.map((r) => r.alertsRaised), [0], 'no alert raised again');
    await checkSecondRun(t, d, (await dayReport(s.reads, d.ch.date, { mercNo: d.live.mercNo })).runs[0], alertsBefore);
    t.equal((await s.reads.runsOfDay(d.ch.date)).length, 1, 'the run was replaced, not added');
    if (name === 'unionpay') {
      // The calendar day of the payments is the clearing day before theirs: its file has none of them, and that is no discrepancy.
      const before = bjDate(d.ch.paidAt);
      const other = await reconcileDay(s, { date: before, mercNo: d.live.mercNo });
      t.same(other.map((r) => `${r.payway}:${r.status}:${r.stored}:${r.alertsRaised}`), ['unionpay:ok:false:0'], `${before}: nothing on either side of that clearing day`);
      t.same((await s.reads.runsOfDay(before)), [], 'no run kept for it');
      t.same((await listAlerts(s.reads, { open: false, limit: 100 })).filter((a) => a.mercNo === d.live.mercNo), alertsBefore, 'no alert for it');
    }
  });
}

t.test('alipay through `dtpay reconcile --date … --json`, beside the running gateway', async (t) => {
  const d = await setUpDay(t, alipay, nearest('12:00'));
  const s = d.gw.gateway.services;
  const run = () =>
    runNode(CLI, ['reconcile', '--date', d.ch.date, '--merchant', d.live.mercNo, '--json'], d.gw.dir, {
      ...d.gw.storageEnv,
      MASTER_KEY,
      CHANNEL_TIMEOUT_MS: '5000',
    });
  /** The gateway sends what the CLI queued at its next look at the outbox, on its own clock. */
  const gatewayLooks = () => d.clock.advance(Math.max(0, Date.now() - d.clock.now()) + 2_000);

  const first = await run();
  t.equal(first.code, 0, `every run compared: exit 0 ${first.stderr}`);
  const doc = oneJson(t, first);
  t.equal(doc?.date, d.ch.date);
  t.equal(doc?.runs.length, 1);
  t.same(Object.keys(doc?.runs[0] ?? {}), ['mercNo', 'payway', 'status', 'counts', 'totals', 'items'], "in the contract's order, no error");
  t.same(doc?.runs[0], (await dayReport(s.reads, d.ch.date, { mercNo: d.live.mercNo })).runs[0], 'the document is the stored report');
  gatewayLooks();
  await checkFirstRun(t, d, doc?.runs[0]);

  const alertsBefore = (await listAlerts(s.reads, { open: false, limit: 100 })).filter((a) => a.mercNo === d.live.mercNo);
  t.ok(alertsBefore.every((a) => a.count === 1));
  const second = await run();
  t.equal(second.code, 0, second.stderr);
  gatewayLooks();
  await new Promise((r) => setImmediate(r));
  await checkSecondRun(t, d, oneJson(t, second)?.runs[0], alertsBefore);
});
