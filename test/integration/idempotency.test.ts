import t, { type Test } from 'tap';
import { payFields, responseVerifies, startGateway, type ApiAnswer } from '../helper.js';
import { createMerchant } from '../../src/services/merchants.js';
import { sign } from '../../src/domain/sign.js';

// CONTRACT §2.3: (mercNo, mercOrderNo) is unique; the same parameters again get the original
// answer, different parameters get 100004, and concurrency never makes a second order.
// Also the money rules: integer fen end to end, 16 integer digits exact, two decimals back.

const gw = await startGateway(t);
const { mercNo, key } = gw.merchant;
const { sql } = gw;

const orderCount = async (merc: string, mercOrderNo: string): Promise<number> =>
  (await sql.value('SELECT count(*) FROM orders WHERE merc_no = ? AND merc_order_no = ?', merc, mercOrderNo)) as number;

const ok = (t: Test, a: ApiAnswer, k = key) => {
  t.equal(a.status, 200, 'HTTP 200');
  t.equal(a.body.respCode, '000000', `respCode 000000 (${a.body.respDesc})`);
  t.ok(responseVerifies(a.body, k), 'response signature verifies');
};

const duplicate = (t: Test, a: ApiAnswer, k = key) => {
  t.equal(a.status, 409, 'HTTP 409');
  t.equal(a.body.respCode, '100004', 'respCode 100004');
  t.match(a.body.respDesc, /mercOrderNo/, 'respDesc names mercOrderNo');
  t.ok(responseVerifies(a.body, k), 'a rejection is signed too');
};

t.test('an identical replay gets the original answer', async (t) => {
  const fields = payFields(mercNo);
  const first = await gw.post('/api/pay', fields);
  ok(t, first);
  t.match(first.body.orderId, /^\d{22}$/);
  t.ok(first.body.codeUrl, 'scan answer carries codeUrl');

  const again = await gw.post('/api/pay', fields);
  ok(t, again);
  for (const f of ['orderId', 'codeUrl', 'imgUrl', 'cashierUrl', 'expireTime', 'tradeAmt', 'payStatus', 'mercOrderNo']) {
    t.equal(again.body[f], first.body[f], `same ${f}`);
  }
  t.equal(await orderCount(mercNo, fields.mercOrderNo!), 1, 'one order row');
});

t.test('a replay signed with another signType is still the same order', async (t) => {
  const fields = payFields(mercNo, { signType: 'MD5' });
  const first = await gw.post('/api/pay', fields);
  ok(t, first);
  t.equal(first.body.signType, 'MD5');

  const hmac = await gw.post('/api/pay', { ...fields, signType: 'HMAC-SHA256' });
  ok(t, hmac);
  t.equal(hmac.body.signType, 'HMAC-SHA256', 'answered with the signType of the replay');
  t.equal(hmac.body.signature?.length, 64, 'HMAC-SHA256 signature');
  t.equal(hmac.body.orderId, first.body.orderId, 'same orderId');
  t.equal(hmac.body.codeUrl, first.body.codeUrl, 'same codeUrl');

  // signType left out (MD5 by default), version and charset given: still the same order.
  const { signType: _st, ...noSignType } = fields;
  const plain = await gw.post('/api/pay', { ...noSignType, version: '1.0', charset: 'UTF-8' });
  ok(t, plain);
  t.equal(plain.body.orderId, first.body.orderId, 'same orderId without signType, with version and charset');
  t.equal(await orderCount(mercNo, fields.mercOrderNo!), 1, 'one order row');
});

t.test('a replay sent as a form, fields in another order, empty optionals added, is the same order', async (t) => {
  const fields = payFields(mercNo);
  const first = await gw.post('/api/pay', fields);
  ok(t, first);
  const replay: Record<string, string> = { body: '', attach: '', ...Object.fromEntries(Object.entries(fields).reverse()) };
  replay.signature = sign(replay, key, 'MD5');
  const form = await gw.raw('/api/pay', new URLSearchParams(replay).toString(), 'application/x-www-form-urlencoded');
  ok(t, form);
  t.equal(form.body.orderId, first.body.orderId, 'same orderId');
  t.equal(form.body.codeUrl, first.body.codeUrl, 'same codeUrl');
  t.equal(await orderCount(mercNo, fields.mercOrderNo!), 1, 'one order row');
});

t.test('the same mercOrderNo with different parameters is 100004', async (t) => {
  const fields = payFields(mercNo, { tradeAmt: '12.34', subject: 'Original' });
  const first = await gw.post('/api/pay', fields);
  ok(t, first);

  duplicate(t, await gw.post('/api/pay', { ...fields, tradeAmt: '12.35' }));
  duplicate(t, await gw.post('/api/pay', { ...fields, subject: 'Changed' }));
  duplicate(t, await gw.post('/api/pay', { ...fields, sceneCode: 'h5' }));
  duplicate(t, await gw.post('/api/pay', { ...fields, notifyUrl: 'http://127.0.0.1:9/other' }));

  const again = await gw.post('/api/pay', fields);
  ok(t, again);
  t.equal(again.body.orderId, first.body.orderId, 'the original still replays after conflicts');
  const row = (await sql.get('SELECT amount_fen, request_json FROM orders WHERE order_id = ?', first.body.orderId)) as {
    amount_fen: number;
    request_json: string;
  };
  t.equal(row.amount_fen, 1234, 'stored amount unchanged');
  t.equal(JSON.parse(row.request_json).subject, 'Original', 'stored subject unchanged');
  t.equal(await orderCount(mercNo, fields.mercOrderNo!), 1, 'one order row');
});

t.test('100004 names the fields that differ, from the schema’s own names', async (t) => {
  const fields = payFields(mercNo, { tradeAmt: '12.34', subject: 'Original', attach: 'a' });
  ok(t, await gw.post('/api/pay', fields));
  const desc = (over: Record<string, string>, drop: string[] = []) => {
    const f: Record<string, string> = { ...fields, ...over };
    for (const d of drop) delete f[d];
    return gw.post('/api/pay', f).then((a) => {
      duplicate(t, a);
      return a.body.respDesc;
    });
  };
  const head = `mercOrderNo ${fields.mercOrderNo} was already used with different parameters: `;
  t.equal(await desc({ tradeAmt: '12.35' }), `${head}tradeAmt differs from the first request`);
  t.equal(await desc({ subject: 'Changed' }), `${head}subject differs from the first request`);
  t.equal(await desc({ subject: 'Changed', notifyUrl: 'http://127.0.0.1:9/other', ip: '203.0.113.8' }), `${head}ip, notifyUrl, subject differ from the first request`);
  t.equal(await desc({}, ['attach']), `${head}attach differs from the first request`, 'a field left out differs too');
  t.equal(await desc({ remark: 'new' }), `${head}remark differs from the first request`, 'and one added');
});

t.test('an amount spelt another way is the same amount: 12.5 is 12.50, 5 is 5.00', async (t) => {
  for (const [first, again] of [
    ['12.50', '12.5'],
    ['12.5', '12.50'],
    ['5', '5.00'],
    ['5.00', '5.0'],
    ['0.10', '0.1'],
  ] as const) {
    const fields = payFields(mercNo, { tradeAmt: first });
    const a = await gw.post('/api/pay', fields);
    ok(t, a);
    const b = await gw.post('/api/pay', { ...fields, tradeAmt: again });
    ok(t, b);
    t.equal(b.body.orderId, a.body.orderId, `${again} after ${first}: the same order`);
    t.equal(b.body.tradeAmt, a.body.tradeAmt, 'written back the same');
    t.equal(await orderCount(mercNo, fields.mercOrderNo!), 1);
  }
  // While the first is still being made, too (the in-process path).
  const fields = payFields(mercNo, { tradeAmt: '7.50' });
  const both = await Promise.all([gw.post('/api/pay', fields), gw.post('/api/pay', { ...fields, tradeAmt: '7.5' })]);
  for (const a of both) ok(t, a);
  t.equal(both[0].body.orderId, both[1].body.orderId);
  // A different amount is still a conflict, named.
  const fields2 = payFields(mercNo, { tradeAmt: '12.50' });
  ok(t, await gw.post('/api/pay', fields2));
  const other = await gw.post('/api/pay', { ...fields2, tradeAmt: '12.05' });
  duplicate(t, other);
  t.match(other.body.respDesc, /tradeAmt differs/);
});

t.test('50 concurrent identical requests make exactly one order', async (t) => {
  const fields = payFields(mercNo);
  const answers = await Promise.all(Array.from({ length: 50 }, () => gw.post('/api/pay', fields)));
  const ids = new Set(answers.map((a) => a.body.orderId));
  t.equal(ids.size, 1, 'all 50 answers carry the same orderId');
  t.match([...ids][0], /^\d{22}$/);
  t.ok(answers.every((a) => a.status === 200 && a.body.respCode === '000000'), 'all 50 answered 200 000000');
  t.ok(answers.every((a) => responseVerifies(a.body, key)), 'all 50 answers verify');
  t.equal(new Set(answers.map((a) => a.body.codeUrl)).size, 1, 'all 50 carry the same codeUrl');
  t.equal(await orderCount(mercNo, fields.mercOrderNo!), 1, 'exactly one order row');
});

t.test('concurrent requests, one mercOrderNo, different amounts: one order, the rest 100004', async (t) => {
  const base = payFields(mercNo);
  const amounts = Array.from({ length: 20 }, (_, i) => `${i + 1}.00`);
  const answers = await Promise.all(amounts.map((tradeAmt) => gw.post('/api/pay', { ...base, tradeAmt })));
  const winners = answers.filter((a) => a.body.respCode === '000000');
  const losers = answers.filter((a) => a.body.respCode !== '000000');
  t.equal(winners.length, 1, 'exactly one request created the order');
  t.equal(losers.length, amounts.length - 1);
  t.ok(losers.every((a) => a.status === 409 && a.body.respCode === '100004'), 'every other one is 409 100004');
  t.ok(answers.every((a) => responseVerifies(a.body, key)), 'all answers verify');
  t.equal(await orderCount(mercNo, base.mercOrderNo!), 1, 'exactly one order row');
  const winner = winners[0]!;
  const stored = (await sql.get('SELECT order_id, amount_fen FROM orders WHERE merc_no = ? AND merc_order_no = ?', mercNo, base.mercOrderNo)) as {
    order_id: string;
    amount_fen: number;
  };
  t.equal(stored.order_id, winner.body.orderId, 'the stored order is the one answered 000000');
  t.equal(`${(stored.amount_fen / 100).toFixed(2)}`, winner.body.tradeAmt, 'stored with the winner amount');
});

t.test('the same mercOrderNo at two merchants makes two orders', async (t) => {
  const b = await createMerchant(gw.gateway.services, 'B', 'sandbox');
  const mercOrderNo = payFields(mercNo).mercOrderNo!;
  const a1 = await gw.post('/api/pay', payFields(mercNo, { mercOrderNo }));
  const b1 = await gw.post('/api/pay', payFields(b.mercNo, { mercOrderNo, tradeAmt: '99.00' }), { key: b.key });
  ok(t, a1);
  ok(t, b1, b.key);
  t.equal(b1.body.mercNo, b.mercNo);
  t.not(a1.body.orderId, b1.body.orderId, 'two different orders');
  t.equal(await orderCount(mercNo, mercOrderNo), 1);
  t.equal(await orderCount(b.mercNo, mercOrderNo), 1);

  // And concurrently, each merchant its own: still one per merchant.
  const shared = payFields(mercNo).mercOrderNo!;
  const fa = payFields(mercNo, { mercOrderNo: shared });
  const fb = payFields(b.mercNo, { mercOrderNo: shared });
  const both = await Promise.all([
    ...Array.from({ length: 5 }, () => gw.post('/api/pay', fa)),
    ...Array.from({ length: 5 }, () => gw.post('/api/pay', fb, { key: b.key })),
  ]);
  t.ok(both.every((a) => a.body.respCode === '000000'), 'all answered 000000');
  t.equal(new Set(both.slice(0, 5).map((a) => a.body.orderId)).size, 1);
  t.equal(new Set(both.slice(5).map((a) => a.body.orderId)).size, 1);
  t.not(both[0]!.body.orderId, both[5]!.body.orderId);
  t.equal(await orderCount(mercNo, shared), 1);
  t.equal(await orderCount(b.mercNo, shared), 1);
});

t.test('money: integer fen end to end, two decimals back', async (t) => {
  const amountFen = (orderId: string | undefined) => sql.bigint('SELECT amount_fen FROM orders WHERE order_id = ?', orderId);
  const cases: [string, string, bigint][] = [
    ['9999999999999999.99', '9999999999999999.99', 999999999999999999n],
    ['9007199254740993', '9007199254740993.00', 900719925474099300n], // 2^53 + 1 yuan: a float would lose it
    ['1', '1.00', 100n],
    ['0.5', '0.50', 50n],
    ['0.05', '0.05', 5n],
    ['0.01', '0.01', 1n],
    ['10.1', '10.10', 1010n],
    ['100', '100.00', 10000n],
  ];
  for (const [given, written, fen] of cases) {
    const fields = payFields(mercNo, { tradeAmt: given });
    const a = await gw.post('/api/pay', fields);
    ok(t, a);
    t.equal(a.body.tradeAmt, written, `${given} is written back as ${written}`);
    t.equal(await amountFen(a.body.orderId), fen, `${given} is stored as ${fen} fen`);
    const again = await gw.post('/api/pay', fields);
    t.equal(again.body.tradeAmt, written, `${given} replays as ${written}`);
    t.equal(again.body.orderId, a.body.orderId);
  }
});
