import t, { type Test } from 'tap';
import { payFields, responseVerifies, startGateway } from '../helper.js';
import { signSandboxBody, SANDBOX_SIGNATURE_HEADER } from '../../src/channels/sandbox/driver.js';

// CONTRACT §2.6 (the sandbox channel), §2.7 (channel callbacks) and §2.4 (states, conditional
// updates, late payments), end to end over HTTP.

const gw = await startGateway(t);
const { mercNo, key } = gw.merchant;
const secret = (await gw.sql.value<string>("select value from settings where name='sandbox_secret'"))!;

interface Row {
  order_id: string;
  pay_status: string;
  channel_state: string;
  trade_end_time: string | null;
  bank_type: string | null;
  late_payment: number;
  amount_fen: number;
  channel_trade_no: string | null;
}
interface Event {
  id: number;
  from_status: string;
  to_status: string;
  source: string;
}

const row = async (id: string) => (await gw.sql.get<Row>('SELECT * FROM orders WHERE order_id = ?', id))!;
const events = (id: string) => gw.sql.all<Event>('SELECT id, from_status, to_status, source FROM order_events WHERE order_id = ? ORDER BY id', id);
const transitions = async (id: string) => (await events(id)).map((e) => `${e.from_status}→${e.to_status}`);

async function newOrder(over: Record<string, string> = {}): Promise<string> {
  const a = await gw.post('/api/pay', payFields(mercNo, over));
  if (a.body.respCode !== '000000') throw new Error(`order not created: ${a.text}`);
  return a.body.orderId!;
}

const openPage = (id: string) => fetch(`${gw.url}/sandbox/pay/${id}`);

async function pay(id: string, result: string, accept = 'application/json') {
  const res = await fetch(`${gw.url}/sandbox/pay/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
    body: new URLSearchParams({ result }).toString(),
  });
  const text = await res.text();
  let body: Record<string, string> = {};
  try {
    body = JSON.parse(text);
  } catch {
    // HTML
  }
  return { status: res.status, text, body, headers: res.headers };
}

async function notify(body: unknown, opts: { secret?: string; channel?: string; signature?: string | null } = {}) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.signature !== null) headers[SANDBOX_SIGNATURE_HEADER] = opts.signature ?? signSandboxBody(raw, opts.secret ?? secret);
  const res = await fetch(`${gw.url}/channel/${opts.channel ?? 'sandbox'}/notify`, { method: 'POST', headers, body: raw });
  return { status: res.status, text: await res.text() };
}

const callbackBody = (id: string, over: Record<string, string> = {}) => ({
  orderId: id,
  tradeNo: `S${id}`,
  result: 'paid',
  amount: '1234',
  paidAt: '20240618130000',
  bankType: 'ALIPAYACCOUNT',
  ...over,
});

/** Nothing about the order changed: same row, same audit trail. */
async function unchanged(t: Test, id: string, before: { row: Row; events: Event[] }) {
  t.same(await row(id), before.row, 'order row unchanged');
  t.same(await events(id), before.events, 'no new order_events');
}
const snapshot = async (id: string) => ({ row: await row(id), events: await events(id) });

t.test('the sandbox page: Pay and Fail buttons; opening it moves p0001 → p0002', async (t) => {
  const id = await newOrder();
  t.equal((await row(id)).pay_status, 'p0001');
  const res = await openPage(id);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/html/);
  const html = await res.text();
  t.match(html, id, 'shows the order id');
  t.match(html, '12.34', 'shows the amount');
  t.match(html, new RegExp(`<form[^>]*method="post"[^>]*action="/sandbox/pay/${id}"`), 'a form posting to the same page');
  t.match(html, /<button[^>]*name="result"[^>]*value="success"[^>]*>Pay<\/button>/, 'a Pay button');
  t.match(html, /<button[^>]*name="result"[^>]*value="fail"[^>]*>Fail<\/button>/, 'a Fail button');
  t.equal((await row(id)).pay_status, 'p0002', 'opening the page moved the order to p0002');
  t.same(await transitions(id), ['p0001→p0002']);

  const again = await openPage(id);
  t.equal(again.status, 200);
  t.equal((await row(id)).pay_status, 'p0002', 'opening it again changes nothing');
  t.same(await transitions(id), ['p0001→p0002'], 'no second event');
});

t.test('Pay: p0002 → p0000 through the signed callback; a duplicate changes nothing', async (t) => {
  const id = await newOrder();
  await openPage(id);
  const paid = await pay(id, 'success');
  t.equal(paid.status, 200);
  t.match(paid.headers.get('content-type'), /application\/json/);
  t.equal(paid.body.payStatus, 'p0000');
  t.equal(paid.body.orderId, id);
  const r = await row(id);
  t.equal(r.pay_status, 'p0000');
  t.match(r.trade_end_time, /^\d{14}$/, 'trade_end_time set (yyyyMMddHHmmss)');
  t.equal(r.bank_type, 'ALIPAYACCOUNT', 'bank_type set');
  t.equal(r.late_payment, 0);
  t.same(await transitions(id), ['p0001→p0002', 'p0002→p0000']);
  t.match((await events(id))[1]!.source, /sandbox callback/, 'applied by the channel callback path');

  const before = await snapshot(id);
  const dup = await pay(id, 'success');
  t.equal(dup.status, 200);
  t.equal(dup.body.payStatus, 'p0000', 'still p0000');
  await unchanged(t, id, before);

  const failAfterPaid = await pay(id, 'fail');
  t.equal(failAfterPaid.status, 200);
  t.equal(failAfterPaid.body.payStatus, 'p0000', 'a failure after success does not undo p0000');
  await unchanged(t, id, before);
});

t.test('Fail: → p0004; a payment after that is a late payment → p0000', async (t) => {
  const id = await newOrder({ paywayCode: 'wxpay' });
  const failed = await pay(id, 'fail');
  t.equal(failed.status, 200);
  t.equal(failed.body.payStatus, 'p0004');
  t.equal((await row(id)).pay_status, 'p0004');
  t.equal((await row(id)).late_payment, 0);
  t.same(await transitions(id), ['p0001→p0004']);

  const before = await snapshot(id);
  t.equal((await pay(id, 'fail')).body.payStatus, 'p0004', 'a duplicate failure');
  await unchanged(t, id, before);

  const late = await pay(id, 'success');
  t.equal(late.status, 200);
  t.equal(late.body.payStatus, 'p0000');
  const r = await row(id);
  t.equal(r.pay_status, 'p0000', 'the money is real: p0000');
  t.equal(r.late_payment, 1, 'flagged as a late payment');
  t.equal(r.bank_type, 'OTHERS');
  t.same(await transitions(id), ['p0001→p0004', 'p0004→p0000']);
});

t.test('a 16-digit amount pays exactly: the callback amount is compared as 64-bit fen', async (t) => {
  const id = await newOrder({ tradeAmt: '9999999999999999.99' });
  const paid = await pay(id, 'success');
  t.equal(paid.status, 200);
  t.equal(paid.body.payStatus, 'p0000');
  t.equal((await row(id)).pay_status, 'p0000');
  // One fen less is a different amount, even where a double could not tell them apart.
  const other = await newOrder({ tradeAmt: '9999999999999999.99' });
  const before = await snapshot(other);
  const res = await notify(callbackBody(other, { amount: '999999999999999998' }));
  t.equal(res.text, 'fail', 'one fen short is rejected');
  await unchanged(t, other, before);
  const exact = await notify(callbackBody(other, { amount: '999999999999999999' }));
  t.equal(exact.text, 'success');
  t.equal((await row(other)).pay_status, 'p0000');
});

t.test('Accept: text/html gets a result page', async (t) => {
  const id = await newOrder({ returnUrl: 'https://shop.example.com/done?x=1&y=2' });
  const res = await pay(id, 'success', 'text/html,application/xhtml+xml');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/html/);
  t.match(res.text, /^<!doctype html>/i);
  t.match(res.text, 'Payment complete');
  t.match(res.text, id);
  t.match(res.text, 'href="https://shop.example.com/done?x=1&amp;y=2"', 'a link back to returnUrl, escaped');
  t.equal((await row(id)).pay_status, 'p0000');

  const id2 = await newOrder();
  const failed = await pay(id2, 'fail', 'text/html');
  t.equal(failed.status, 200);
  t.match(failed.text, 'Payment not completed');
  t.notMatch(failed.text, 'id="return"', 'no back link without a returnUrl');
});

t.test('a bad result value is 400 and changes nothing', async (t) => {
  const id = await newOrder();
  const before = await snapshot(id);
  for (const result of ['', 'paid', 'SUCCESS', 'success ']) {
    const res = await pay(id, result);
    t.equal(res.status, 400, `result=${JSON.stringify(result)}`);
    t.match(res.body.error, /result/);
  }
  const none = await fetch(`${gw.url}/sandbox/pay/${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'other=1',
  });
  t.equal(none.status, 400, 'no result field');
  const html = await pay(id, 'maybe', 'text/html');
  t.equal(html.status, 400);
  t.match(html.headers.get('content-type'), /^text\/html/);
  await unchanged(t, id, before);
});

t.test('an unknown order is 404', async (t) => {
  for (const id of ['2000010101000000000000', '123', 'not-an-order', '..%2F..%2Fhealthz']) {
    t.equal((await openPage(id)).status, 404, `GET ${id}`);
    t.equal((await pay(id, 'success')).status, 404, `POST ${id}`);
    t.equal((await pay(id, 'success', 'text/html')).status, 404, `POST ${id} (html)`);
  }
});

t.test('magic amount 0.91: the channel refuses → 502 200001, p0004, nothing to pay', async (t) => {
  const fields = payFields(mercNo, { tradeAmt: '0.91' });
  const a = await gw.post('/api/pay', fields);
  t.equal(a.status, 502);
  t.equal(a.body.respCode, '200001');
  t.match(a.body.respDesc, 'SANDBOX_REFUSED', "respDesc carries the channel's code");
  t.ok(responseVerifies(a.body, key));
  const id = a.body.orderId!;
  t.match(id, /^\d{22}$/, 'the order exists and is named');
  t.equal(a.body.payStatus, 'p0004');
  t.notOk(a.body.codeUrl, 'no codeUrl for a refused order');
  t.equal((await row(id)).pay_status, 'p0004');
  t.equal((await row(id)).channel_state, 'refused');

  const page = await openPage(id);
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(html, /refused/);
  t.notMatch(html, 'value="success"', 'no Pay button');
  t.equal((await row(id)).pay_status, 'p0004', 'opening the page changes nothing');

  const before = await snapshot(id);
  const p = await pay(id, 'success');
  t.equal(p.status, 409, 'the sandbox refuses payment');
  t.match(p.body.error, /refused/);
  t.equal((await pay(id, 'success', 'text/html')).status, 409);
  await unchanged(t, id, before);

  const replay = await gw.post('/api/pay', fields);
  t.equal(replay.status, 502, 'a replay gets the same answer');
  t.equal(replay.body.respCode, '200001');
  t.equal(replay.body.orderId, id);
});

t.test('magic amount 0.92: the channel times out → 504 200002, p0001 stored, replay alike', async (t) => {
  const fields = payFields(mercNo, { tradeAmt: '0.92' });
  const a = await gw.post('/api/pay', fields);
  t.equal(a.status, 504);
  t.equal(a.body.respCode, '200002');
  t.ok(responseVerifies(a.body, key));
  const id = a.body.orderId!;
  t.match(id, /^\d{22}$/);
  t.equal(a.body.payStatus, 'p0001');
  t.equal((await row(id)).pay_status, 'p0001', 'stored as p0001');
  t.equal((await row(id)).channel_state, 'unknown');
  t.same(await events(id), [], 'no state change');

  const replay = await gw.post('/api/pay', fields);
  t.equal(replay.status, 504);
  t.equal(replay.body.respCode, '200002');
  t.equal(replay.body.respDesc, a.body.respDesc);
  t.equal(replay.body.orderId, id, 'same orderId');
  t.equal(replay.body.payStatus, 'p0001');
  t.ok(responseVerifies(replay.body, key));
  t.equal(await gw.sql.value('SELECT count(*) FROM orders WHERE merc_no = ? AND merc_order_no = ?', mercNo, fields.mercOrderNo), 1);

  const conflict = await gw.post('/api/pay', { ...fields, tradeAmt: '0.93' });
  t.equal(conflict.body.respCode, '100004', 'the stored 200002 order still guards its mercOrderNo');
});

t.test('the channel callback route', async (t) => {
  t.test('a correctly signed callback pays; a duplicate is acknowledged and changes nothing', async (t) => {
    const id = await newOrder();
    const body = callbackBody(id, { bankType: 'CMB_DEBIT', paidAt: '20240618130102' });
    const res = await notify(body);
    t.equal(res.status, 200);
    t.equal(res.text, 'success');
    const r = await row(id);
    t.equal(r.pay_status, 'p0000');
    t.equal(r.trade_end_time, '20240618130102');
    t.equal(r.bank_type, 'CMB_DEBIT');
    t.same(await transitions(id), ['p0001→p0000']);

    const before = await snapshot(id);
    const dup = await notify(body);
    t.equal(dup.status, 200, 'a duplicate is acknowledged');
    t.equal(dup.text, 'success');
    await unchanged(t, id, before);
    const failedLater = await notify(callbackBody(id, { result: 'failed' }));
    t.equal(failedLater.status, 200, 'a failure after success is acknowledged');
    await unchanged(t, id, before);
  });

  t.test('a wrong signature is 400 fail and changes nothing', async (t) => {
    const id = await newOrder();
    const before = await snapshot(id);
    const body = callbackBody(id);
    const cases: [string, Parameters<typeof notify>[1]][] = [
      ['signed with another secret', { secret: 'not-the-sandbox-secret-0123456789abcdef' }],
      ['no signature header', { signature: null }],
      ['empty signature', { signature: '' }],
      ['upper-cased signature', { signature: signSandboxBody(JSON.stringify(body), secret).toUpperCase() }],
      ['signature of another body', { signature: signSandboxBody(JSON.stringify({ ...body, amount: '1' }), secret) }],
    ];
    for (const [what, opts] of cases) {
      const res = await notify(body, opts);
      t.equal(res.status, 400, what);
      t.equal(res.text, 'fail', what);
    }
    // Signed bytes, then one byte changed in transit.
    const raw = JSON.stringify(body);
    const tampered = await notify(raw.replace('"paid"', '"paId"'), { signature: signSandboxBody(raw, secret) });
    t.equal(tampered.status, 400, 'bytes changed after signing');
    await unchanged(t, id, before);
  });

  t.test('an amount that does not match the order is rejected and changes nothing', async (t) => {
    const id = await newOrder();
    await openPage(id);
    const before = await snapshot(id);
    for (const amount of ['1233', '1235', '123400', '12', '0', '99999999999999999999']) {
      const res = await notify(callbackBody(id, { amount }));
      t.not(res.status, 200, `amount ${amount} fen is not acknowledged as applied`);
      t.equal(res.text, 'fail', `amount ${amount}`);
    }
    await unchanged(t, id, before);
    t.equal((await row(id)).pay_status, 'p0002');
  });

  t.test('malformed but correctly signed bodies are rejected', async (t) => {
    const id = await newOrder();
    const before = await snapshot(id);
    const bodies: unknown[] = [
      'not json',
      '',
      '[]',
      // Regression guard: at c614fad, parseCallback (src/channels/sandbox/driver.ts) read body.orderId of
      // null → TypeError → 500 "internal error" instead of the channel's 400 "fail" ack.
      'null',
      '"text"',
      '1234',
      callbackBody(id, { result: 'success' }),
      callbackBody(id, { amount: '12.34' }),
      callbackBody(id, { amount: '-1234' }),
      { ...callbackBody(id), amount: 1234 },
      { ...callbackBody(id), orderId: undefined },
      { ...callbackBody(id), orderId: 42 },
      // Regression guard: at c614fad, parseCallback did not check the types of tradeNo, paidAt and bankType;
      // an object, array or boolean reached the SQLite bind in transitionOrder, which threw → 500.
      { ...callbackBody(id), tradeNo: { no: 1 } },
      { ...callbackBody(id), paidAt: ['20240618130000'] },
      { ...callbackBody(id), bankType: true },
      { ...callbackBody(id), paidAt: 'yesterday' },
      { ...callbackBody(id), paidAt: '20240230120000' },
      { ...callbackBody(id), bankType: 'B'.repeat(17) },
    ];
    for (const b of bodies) {
      const res = await notify(b);
      t.equal(res.status, 400, `rejects ${JSON.stringify(b)}`);
      t.equal(res.text, 'fail');
    }
    await unchanged(t, id, before);
  });

  t.test('a correctly signed callback for an unknown order is rejected', async (t) => {
    const res = await notify(callbackBody('2000010101000000000000'));
    t.equal(res.status, 400);
    t.equal(res.text, 'fail');
  });

  t.test('an unknown channel is 404', async (t) => {
    const id = await newOrder();
    const before = await snapshot(id);
    for (const channel of ['nosuch', 'alipay', 'SANDBOX']) {
      const res = await notify(callbackBody(id), { channel });
      t.equal(res.status, 404, channel);
    }
    await unchanged(t, id, before);
  });
});

/**
 * The invariant of racing Pay/Fail callbacks (CONTRACT §2.4): the events form one chain from
 * p0001; exactly one change into a final state, unless a payment legitimately follows the
 * failure, which is then a single p0004→p0000 flagged as late.
 */
async function checkRaceInvariant(t: Test, id: string) {
  const r = await row(id);
  const ev = await events(id);
  t.ok(r.pay_status === 'p0000' || r.pay_status === 'p0004', `final state ${r.pay_status}`);
  let at = 'p0001';
  for (const e of ev) {
    t.equal(e.from_status, at, `event ${e.from_status}→${e.to_status} starts where the last one ended`);
    at = e.to_status;
  }
  t.equal(at, r.pay_status, 'the last event ends in the stored state');
  const intoPaid = ev.filter((e) => e.to_status === 'p0000');
  const intoFailed = ev.filter((e) => e.to_status === 'p0004');
  t.ok(intoPaid.length <= 1, 'at most one change into p0000');
  t.ok(intoFailed.length <= 1, 'at most one change into p0004');
  if (r.pay_status === 'p0004') {
    t.equal(intoFailed.length, 1, 'p0004: exactly one change into a final state');
    t.equal(intoPaid.length, 0);
    t.equal(r.late_payment, 0);
  } else if (intoFailed.length === 0) {
    t.equal(intoPaid.length, 1, 'p0000: exactly one change into a final state');
    t.not(intoPaid[0]!.from_status, 'p0004');
    t.equal(r.late_payment, 0, 'not a late payment');
  } else {
    t.equal(intoPaid.length, 1);
    t.equal(intoPaid[0]!.from_status, 'p0004', 'the payment followed the failure');
    t.ok(intoPaid[0]!.id > intoFailed[0]!.id);
    t.equal(r.late_payment, 1, 'a payment after a failure is flagged as late');
  }
  return r.pay_status === 'p0000' && intoFailed.length === 1 ? 'late' : r.pay_status;
}

t.test('racing Pay and Fail at one order: one winner, or a flagged late payment', async (t) => {
  const seen = new Set<string>();
  for (let round = 0; round < 6; round++) {
    const id = await newOrder();
    if (round % 2 === 1) await openPage(id); // from p0001 and from p0002
    // Alternate, and start with the other button every round.
    const results = Array.from({ length: 20 }, (_, i) => ((i + round) % 2 === 0 ? 'success' : 'fail'));
    const answers = await Promise.all(results.map((r) => pay(id, r)));
    t.ok(answers.every((a) => a.status === 200), `round ${round}: every POST was acknowledged`);
    answers.forEach((a, i) => {
      if (results[i] === 'success') t.equal(a.body.payStatus, 'p0000', `round ${round}: a Pay answer is p0000`);
      else t.ok(['p0000', 'p0004'].includes(a.body.payStatus!), `round ${round}: a Fail answer is final`);
    });
    seen.add(await checkRaceInvariant(t, id));
    t.equal((await row(id)).pay_status, 'p0000', 'with 10 payments racing, the order ends paid');
  }
  t.comment(`outcomes seen: ${[...seen].join(', ')}`);
});

t.test('20 concurrent identical callbacks change the order once', async (t) => {
  for (const result of ['success', 'fail'] as const) {
    const id = await newOrder();
    const answers = await Promise.all(Array.from({ length: 20 }, () => pay(id, result)));
    const want = result === 'success' ? 'p0000' : 'p0004';
    t.ok(answers.every((a) => a.status === 200 && a.body.payStatus === want), `all 20 ${result} answers are ${want}`);
    t.equal(await checkRaceInvariant(t, id), want);
    t.same(await transitions(id), [`p0001→${want}`], 'exactly one event');
  }
});

t.test('a callback naming another trade number is rejected and changes nothing', async (t) => {
  const id = await newOrder();
  const before = await snapshot(id);
  const res = await notify(callbackBody(id, { tradeNo: 'S0000000000000000000001' }));
  t.equal(res.status, 400);
  t.equal(res.text, 'fail');
  await unchanged(t, id, before);
});

t.test('a HEAD request does not open the sandbox page', async (t) => {
  const id = await newOrder();
  const res = await fetch(`${gw.url}/sandbox/pay/${id}`, { method: 'HEAD' });
  t.not(res.status, 200, 'no HEAD twin of the page');
  t.equal((await row(id)).pay_status, 'p0001', 'still submitted');
});

t.test('the hosted cashier page', async (t) => {
  const id = await newOrder({ subject: '<b>Tea & cake</b>' });
  const res = await fetch(gw.url + gw.gateway.services.links.cashierPath(id));
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/html/);
  const html = await res.text();
  t.match(html, id, 'shows the order id');
  t.match(html, '12.34');
  t.match(html, '&lt;b&gt;Tea &amp; cake&lt;/b&gt;', 'the subject is escaped');
  t.notMatch(html, '<b>Tea');
  t.match(html, `/qr/${id}.png?t=`, 'a scan order shows its QR image');

  for (const unknown of ['2000010101000000000000', 'nope', '1']) {
    const r = await fetch(`${gw.url}/cashier/${unknown}`);
    t.equal(r.status, 404, `unknown ${unknown}`);
  }
});
