import t from 'tap';
import { createOrder, sandboxPay, startGateway, until, responseVerifies, type TestGateway } from '../helper.js';
import { startReceiver, type Answer } from '../receiver.js';
import { FakeClock } from '../fake-clock.js';
import { sign, type SignType } from '../../src/domain/sign.js';
import { verifyWebhook } from '../../src/notify/webhook-signature.js';
import type { AttemptRow, NotificationRow } from '../../src/db/rows.js';

// CONTRACT §2.5 end to end: a real gateway pays sandbox orders and notifies a real receiver on
// 127.0.0.1. Schedules run on a fake clock; HTTP is real.

const notifications = (gw: TestGateway, orderId: string) =>
  gw.sql.all<NotificationRow>('SELECT * FROM notifications WHERE order_id = ? ORDER BY id', orderId);
const attempts = (gw: TestGateway, orderId: string) =>
  gw.sql.all<AttemptRow>('SELECT a.* FROM notification_attempts a JOIN notifications n ON n.id = a.notification_id WHERE n.order_id = ? ORDER BY a.id', orderId);

t.test('the retry schedule on a fake clock: attempts at 0, 10, 20, 30, 40, 50 s, then failed', async (t) => {
  const clock = new FakeClock();
  const rcv = await startReceiver(t, () => ({ status: 500, body: 'busy' }));
  const gw = await startGateway(t, {}, { clock });
  const orderId = await createOrder(gw, { notifyUrl: `${rcv.url}/notify` });
  const t0 = clock.now();
  await sandboxPay(gw, orderId);

  for (let k = 1; k <= 6; k++) {
    await until(async () => (await attempts(gw, orderId)).length === k, `attempt ${k} recorded`);
    t.equal(rcv.received.length, k, `attempt ${k} reached the receiver`);
    if (k < 6) {
      // Just short of the delay nothing happens; at the delay the next attempt goes.
      clock.advance(9_999);
      await new Promise((r) => setTimeout(r, 30));
      t.equal(rcv.received.length, k, `no attempt ${k + 1} before 10 s`);
      clock.advance(1);
    }
  }
  const log = await attempts(gw, orderId);
  t.same(
    log.map((a) => a.at - t0),
    [0, 10_000, 20_000, 30_000, 40_000, 50_000],
    'attempts at 0, 10, 20, 30, 40, 50 s after the payment',
  );
  t.same(log.map((a) => a.outcome), ['retry', 'retry', 'retry', 'retry', 'retry', 'failed']);
  t.same(log.map((a) => a.http_status), [500, 500, 500, 500, 500, 500]);
  const [n] = await notifications(gw, orderId);
  t.equal(n!.status, 'failed');
  t.equal(n!.attempts, 6);
  t.equal(n!.due_at, null);

  const ids = new Set(rcv.received.map((r) => r.headers['webhook-id']));
  t.equal(ids.size, 1, 'webhook-id is the same on every retry');
  t.same(
    rcv.received.map((r) => Number(r.headers['webhook-timestamp']) - Math.floor(t0 / 1000)),
    [0, 10, 20, 30, 40, 50],
    'webhook-timestamp is the time of each attempt',
  );

  clock.advance(3_600_000);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(rcv.received.length, 6, 'nothing after the last attempt');

  const q = await gw.post('/api/query', { mercNo: gw.merchant.mercNo, orderId });
  t.equal(q.body.notifyStatus, 'failed');
  t.equal(q.body.notifyAttempts, '6');
});

t.test('a custom schedule: NOTIFY_RETRY_SCHEDULE=1,5 means three attempts', async (t) => {
  const clock = new FakeClock();
  const rcv = await startReceiver(t, () => ({ status: 200, body: 'fail' }));
  const gw = await startGateway(t, { NOTIFY_RETRY_SCHEDULE: '1,5' }, { clock });
  const orderId = await createOrder(gw, { notifyUrl: `${rcv.url}/n` });
  const t0 = clock.now();
  await sandboxPay(gw, orderId);
  await until(async () => (await attempts(gw, orderId)).length === 1, 'first attempt');
  clock.advance(1_000);
  await until(async () => (await attempts(gw, orderId)).length === 2, 'second attempt');
  clock.advance(5_000);
  await until(async () => (await attempts(gw, orderId)).length === 3, 'third attempt');
  t.same((await attempts(gw, orderId)).map((a) => a.at - t0), [0, 1_000, 6_000]);
  t.equal((await notifications(gw, orderId))[0]!.status, 'failed');
});

t.test('what counts as delivered', async (t) => {
  const cases: { name: string; answer: Answer; delivered: boolean; error?: string }[] = [
    { name: 'success', answer: { body: 'success' }, delivered: true },
    { name: 'success-newline', answer: { body: 'success\n' }, delivered: true },
    { name: 'success-spaces', answer: { body: '  success \r\n' }, delivered: true },
    { name: 'success-201', answer: { status: 201, body: 'success' }, delivered: true },
    { name: 'upper-case', answer: { body: 'SUCCESS' }, delivered: false, error: 'answer' },
    { name: 'fail', answer: { body: 'fail' }, delivered: false, error: 'answer' },
    { name: 'quoted-json', answer: { body: '"success"', headers: { 'content-type': 'application/json' } }, delivered: false, error: 'answer' },
    { name: 'empty', answer: { status: 204 }, delivered: false, error: 'answer' },
    { name: 'http-500-success', answer: { status: 500, body: 'success' }, delivered: false, error: 'status' },
    { name: 'redirect', answer: { status: 302, body: 'success', headers: { location: '/elsewhere' } }, delivered: false, error: 'redirect' },
    { name: 'too-large', answer: { body: `success${' '.repeat(4096)}` }, delivered: false, error: 'answer-too-large' },
    { name: 'too-slow', answer: { body: 'success', delayMs: 4000 }, delivered: false, error: 'timeout' },
  ];
  const byPath = new Map(cases.map((c) => [`/${c.name}`, c.answer]));
  const rcv = await startReceiver(t, (r) => byPath.get(r.path) ?? { status: 404 });
  // A timeout a busy machine never reaches for an honest answer, well below the slow one's delay.
  const gw = await startGateway(t, { NOTIFY_TIMEOUT_MS: '1500', NOTIFY_RETRY_SCHEDULE: '600' });
  const orders = new Map<string, string>();
  for (const c of cases) {
    const id = await createOrder(gw, { notifyUrl: `${rcv.url}/${c.name}` });
    orders.set(c.name, id);
    await sandboxPay(gw, id);
  }
  for (const c of cases) {
    const id = orders.get(c.name)!;
    await until(async () => (await attempts(gw, id)).length === 1, `attempt for ${c.name}`);
    const [a] = await attempts(gw, id);
    const [n] = await notifications(gw, id);
    if (c.delivered) {
      t.equal(a!.outcome, 'delivered', `${c.name}: delivered`);
      t.equal(n!.status, 'delivered', `${c.name}: notification delivered`);
      t.equal(a!.error, null, `${c.name}: no error`);
    } else {
      t.equal(a!.outcome, 'retry', `${c.name}: a failure, retried later`);
      t.equal(n!.status, 'pending', `${c.name}: still pending`);
      t.equal(a!.error, c.error, `${c.name}: error class ${c.error}`);
    }
  }
  t.notOk(rcv.received.some((r) => r.path === '/elsewhere'), 'the redirect was not followed');
  const big = (await attempts(gw, orders.get('too-large')!))[0]!;
  t.equal(Buffer.byteLength(big.answer ?? ''), 256, 'the attempt log keeps the first 256 bytes of the answer');
  const slow = (await attempts(gw, orders.get('too-slow')!))[0]!;
  t.equal(slow.http_status, null, 'no status for an answer that came too late');
  const five = (await attempts(gw, orders.get('http-500-success')!))[0]!;
  t.equal(five.http_status, 500);
  t.equal(five.answer, 'success');
  t.ok(five.latency_ms >= 0);
});

t.test('the body and both signatures verify as a merchant would check them', async (t) => {
  const rcv = await startReceiver(t);
  const gw = await startGateway(t);
  const { key, mercNo } = gw.merchant;
  for (const signType of ['MD5', 'HMAC-SHA256'] as SignType[]) {
    const before = rcv.received.length;
    const orderId = await createOrder(gw, { notifyUrl: `${rcv.url}/pay/notify`, signType, attach: 'cart=42&x=y' }, {});
    await sandboxPay(gw, orderId);
    await rcv.waitFor((r) => r.length > before);
    const got = rcv.received.at(-1)!;
    t.equal(got.headers['content-type'], 'application/json; charset=utf-8');
    const body = got.json;
    t.same(Object.keys(body).sort(), [
      'attach', 'bankType', 'charset', 'feeType', 'locale', 'mercNo', 'mercOrderNo', 'orderId', 'payStatus',
      'signType', 'signature', 'termType', 'tradeAmt', 'tradeEndTime', 'tradeTime', 'tradeType', 'version',
    ]);
    t.match(body, {
      mercNo,
      orderId,
      tradeType: '01',
      tradeAmt: '12.34',
      feeType: 'CNY',
      tradeTime: '20240618125826',
      termType: 'pc',
      payStatus: 'p0000',
      attach: 'cart=42&x=y',
      charset: 'UTF-8',
      locale: 'CN',
      version: '1.0',
      signType,
    });
    t.match(body.tradeEndTime, /^\d{14}$/);
    t.ok(Object.values(body).every((v) => typeof v === 'string' && v !== ''), 'only non-empty strings');
    t.equal(sign(body, key, signType), body.signature, `${signType}: the body signature verifies (CONTRACT §2.1)`);
    t.notOk(responseVerifies({ ...body, tradeAmt: '12.35' }, key), 'and a changed body does not');
    const n = (await notifications(gw, orderId))[0]!;
    t.equal(got.headers['webhook-id'], n.webhook_id);
    t.ok(
      verifyWebhook(got.headers as Record<string, string>, got.body, key, { now: Date.now() }),
      'the Standard Webhooks signature verifies',
    );
    t.notOk(
      verifyWebhook(got.headers as Record<string, string>, got.body.replace('p0000', 'p0004'), key, { now: Date.now() }),
      'and fails on a changed body',
    );
    await until(async () => (await notifications(gw, orderId))[0]!.status === 'delivered', 'delivered');
  }
});

t.test('a failed payment and a late payment are notified; query shows the notification', async (t) => {
  const rcv = await startReceiver(t);
  const gw = await startGateway(t);
  const { mercNo } = gw.merchant;
  const orderId = await createOrder(gw, { notifyUrl: `${rcv.url}/n` });
  const q0 = await gw.post('/api/query', { mercNo, orderId });
  t.equal(q0.body.notifyStatus, undefined, 'no notification for an order still submitted');
  t.equal(q0.body.notifyAttempts, undefined);

  await sandboxPay(gw, orderId, 'fail');
  await rcv.waitFor((r) => r.length === 1);
  t.equal(rcv.received[0]!.json.payStatus, 'p0004', 'the failure is notified');
  await until(async () => (await notifications(gw, orderId))[0]!.status === 'delivered', 'first delivered');
  const q1 = await gw.post('/api/query', { mercNo, orderId });
  t.equal(q1.body.notifyStatus, 'delivered');
  t.equal(q1.body.notifyAttempts, '1');
  t.ok(responseVerifies(q1.body, gw.merchant.key));

  // The money arrives after all: the order becomes p0000 and that is announced too.
  await sandboxPay(gw, orderId, 'success');
  await rcv.waitFor((r) => r.length === 2);
  t.equal(rcv.received[1]!.json.payStatus, 'p0000');
  t.not(rcv.received[1]!.headers['webhook-id'], rcv.received[0]!.headers['webhook-id'], 'a new notification, a new webhook-id');
  const opened = await notifications(gw, orderId);
  t.equal(opened.length, 2);
});

t.test('a new state supersedes an undelivered notification of the old one', async (t) => {
  const clock = new FakeClock();
  const rcv = await startReceiver(t, () => ({ status: 503 }));
  const gw = await startGateway(t, {}, { clock });
  const orderId = await createOrder(gw, { notifyUrl: `${rcv.url}/n` });
  await sandboxPay(gw, orderId, 'fail');
  await until(async () => (await attempts(gw, orderId)).length === 1, 'the p0004 attempt');
  rcv.behave(() => ({ body: 'success' }));
  await sandboxPay(gw, orderId, 'success');
  await until(async () => (await notifications(gw, orderId))[1]?.status === 'delivered', 'the p0000 notification delivered');
  const [old, current] = await notifications(gw, orderId);
  t.equal(old!.status, 'superseded');
  t.equal(current!.status, 'delivered');
  clock.advance(60_000);
  await new Promise((r) => setTimeout(r, 50));
  t.same(
    rcv.received.map((r) => r.json.payStatus),
    ['p0004', 'p0000'],
    'the old state is never sent after the new one',
  );
});

t.test('a hanging host does not delay another host', async (t) => {
  const hanging = await startReceiver(t, () => ({ hang: true }));
  const healthy = await startReceiver(t);
  const gw = await startGateway(t, {
    NOTIFY_TIMEOUT_MS: '8000',
    NOTIFY_CONCURRENCY: '4',
    NOTIFY_HOST_CONCURRENCY: '2',
    SHUTDOWN_TIMEOUT_MS: '1000',
  });
  const stuck: string[] = [];
  for (let i = 0; i < 6; i++) {
    const id = await createOrder(gw, { notifyUrl: `${hanging.url}/n` });
    await sandboxPay(gw, id);
    stuck.push(id);
  }
  await hanging.waitFor((r) => r.length === 2);
  const fine: string[] = [];
  for (let i = 0; i < 8; i++) {
    const id = await createOrder(gw, { notifyUrl: `${healthy.url}/n` });
    await sandboxPay(gw, id);
    fine.push(id);
  }
  await until(async () => (await Promise.all(fine.map((id) => notifications(gw, id)))).every((ns) => ns[0]?.status === 'delivered'), 'the healthy host served');
  t.equal(healthy.received.length, 8, 'every notification to the healthy host was delivered');
  t.equal(hanging.received.length, 2, 'the hanging host holds no more than its per-host share');
  t.ok(
    (await Promise.all(stuck.map((id) => attempts(gw, id)))).every((as) => as.length === 0),
    'while the hanging host has not yet answered (or timed out) a single attempt',
  );
});

t.test('resend: API and its errors', async (t) => {
  const rcv = await startReceiver(t);
  const gw = await startGateway(t);
  const { mercNo, key } = gw.merchant;
  const orderId = await createOrder(gw, { notifyUrl: `${rcv.url}/n` });
  const mercOrderNo = (await gw.post('/api/query', { mercNo, orderId })).body.mercOrderNo!;
  await sandboxPay(gw, orderId);
  await rcv.waitFor((r) => r.length === 1);
  await until(async () => (await notifications(gw, orderId))[0]!.status === 'delivered', 'delivered');

  const a = await gw.post('/api/notify/resend', { mercNo, orderId });
  t.equal(a.status, 200);
  t.equal(a.body.respCode, '000000');
  t.equal(a.body.interfaceCode, 'notifyResend');
  t.equal(a.body.payStatus, 'p0000');
  t.equal(a.body.notifyStatus, 'pending');
  t.ok(responseVerifies(a.body, key), 'signed');
  await rcv.waitFor((r) => r.length === 2);
  t.equal(rcv.received[1]!.headers['webhook-id'], a.body.webhookId, 'a fresh notification with the announced webhook-id');
  t.not(rcv.received[1]!.headers['webhook-id'], rcv.received[0]!.headers['webhook-id']);
  t.equal(rcv.received[1]!.json.payStatus, 'p0000');

  const b = await gw.post('/api/notify/resend', { mercNo, mercOrderNo });
  t.equal(b.body.respCode, '000000', 'by mercOrderNo too');
  await rcv.waitFor((r) => r.length === 3);

  const unknown = await gw.post('/api/notify/resend', { mercNo, orderId: '2099010100000000000001' });
  t.equal(unknown.status, 404);
  t.equal(unknown.body.respCode, '100005');
  const none = await gw.post('/api/notify/resend', { mercNo });
  t.equal(none.status, 400);
  t.equal(none.body.respCode, '100001');
  t.match(none.body.respDesc, /orderId/);
  const extra = await gw.post('/api/notify/resend', { mercNo, orderId, url: 'http://evil.example/' });
  t.equal(extra.body.respCode, '100001');
  t.match(extra.body.respDesc, /url/);
  const badSig = await gw.post('/api/notify/resend', { mercNo, orderId }, { key: 'x'.repeat(43) });
  t.equal(badSig.body.respCode, '100002');
  t.equal(rcv.received.length, 3, 'the refused requests queued nothing');
});
