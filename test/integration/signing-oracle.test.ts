import t from 'tap';
import { isSignType, sign, signed, stringToSign, verify, type SignType } from '../../src/domain/sign.js';
import { notificationFields, signedBody } from '../../src/notify/notification-body.js';
import { createMerchant } from '../../src/services/merchants.js';
import { orderRow } from '../fixtures/orders.js';
import { createOrder, payFields, startGateway, type ApiAnswer, type TestGateway } from '../helper.js';

// Issue 10, item 1: the gateway must not be a signing oracle. An answer signed with a merchant's
// key, whose signed string (CONTRACT §2.1: name=value pairs joined by '&') holds text a caller
// chose, can be cut again into fields nobody signed: a payment notification saying p0000, which
// the merchant's own check accepts. So: nothing is signed before the request's signature verified,
// and no signed answer carries a raw '&' or '=' of the caller's.
//
// The merchant's check is built as a merchant builds it from the notification's definition
// (notify/notification-body.ts): the body's fields but `signature`, signed with the key and the
// body's own signType (MD5 when it names none), must give `signature`.

type Body = Record<string, string>;

/** What a merchant's notification handler accepts (CONTRACT §2.5). */
function notificationVerifies(body: Body, key: string): boolean {
  const { signature, ...fields } = body;
  const signType: SignType = isSignType(fields.signType) ? fields.signType : 'MD5';
  return typeof signature === 'string' && verify(fields, key, signType, signature);
}

/** The string an answer's signature covers, less its "&key=…" tail: what an attacker may re-cut. */
function signedString(answer: Body): string {
  const { signature: _s, ...fields } = answer;
  return stringToSign(fields, '').slice(0, -'&key='.length);
}

/**
 * A notification body with payStatus p0000 read out of an answer's signed string, if one can be:
 * every way of cutting the string into name=value fields (names strictly ascending, values not
 * empty, no `signature`, as stringToSign joins them) is tried, keeping those with payStatus p0000
 * whose signType the merchant would check with the answer's. Memoised on (position, last name), so
 * it stays polynomial.
 */
function forgeNotification(answer: Body): Body | undefined {
  const x = signedString(answer);
  const want: SignType = isSignType(answer.signType) ? answer.signType : 'MD5';
  const ends = [...x.matchAll(/&/g)].map((m) => m.index).concat(x.length);
  const memo = new Map<string, Array<[string, string]> | null>();
  // signType: the value of a signType field in the cut so far ('' for none).
  const go = (start: number, last: string, paid: boolean, signType: string): Array<[string, string]> | null => {
    const key = `${start}\u0000${last}\u0000${paid}\u0000${signType}`;
    if (memo.has(key)) return memo.get(key)!;
    let found: Array<[string, string]> | null = null;
    for (const end of ends) {
      if (end <= start || found) continue;
      const seg = x.slice(start, end);
      for (let eq = seg.indexOf('='); eq !== -1 && !found; eq = seg.indexOf('=', eq + 1)) {
        const name = seg.slice(0, eq);
        const value = seg.slice(eq + 1);
        if (name === '' || value === '' || name === 'signature' || !(name > last)) continue;
        if (name === 'payStatus' && value !== 'p0000') continue;
        const nowPaid = paid || name === 'payStatus';
        const nowType = name === 'signType' ? value : signType;
        if (end === x.length) {
          const checkedWith = isSignType(nowType) ? nowType : 'MD5';
          if (nowPaid && checkedWith === want) found = [[name, value]];
        } else {
          const rest = go(end + 1, name, nowPaid, nowType);
          if (rest) found = [[name, value], ...rest];
        }
      }
    }
    memo.set(key, found);
    return found;
  };
  const cut = x.length ? go(0, '', false, '') : null;
  return cut ? { ...Object.fromEntries(cut), signature: answer.signature! } : undefined;
}

/** A field payStatus=p0000 in any cut must appear as that very segment between '&'s (or the ends). */
const SEGMENT = /(^|&)payStatus=p0000(&|$)/;

// Started before any test runs: the root test ends (and tears down) once its queue drains.
const gw = await startGateway(t, { RATE_LIMIT_API_PER_MINUTE: '0' });
const M = gw.merchant;

t.test('the merchant check and the forgery search are sound (controls)', async (t) => {
  const key = 'k3y-For-Tests-0123456789abcdefXYZ';
  // A real notification of a paid order verifies with the check.
  const { fields, signType } = notificationFields(orderRow('M100000000000001', Date.now(), { pay_status: 'p0000' }), Date.now());
  const real = JSON.parse(signedBody(fields, key, signType)) as Body;
  t.ok(notificationVerifies(real, key), 'a real notification passes the merchant check');
  t.notOk(notificationVerifies({ ...real, tradeAmt: '100.00' }, key), 'a changed one does not');

  // An answer as the gateway used to sign it, carrying the caller's field name raw, can be re-cut.
  const old = signed(
    { respCode: '100001', respDesc: 'unknown field: junk&payStatus=p0000&tradeAmt=100.00&zz=1', interfaceCode: 'pay', mercNo: 'M100000000000001' },
    key,
    'MD5',
  );
  const forged = forgeNotification(old);
  t.ok(forged, 'the search finds the forgery in an answer signed the old way');
  t.equal(forged?.payStatus, 'p0000');
  t.equal(forged?.tradeAmt, '100.00');
  t.ok(forged && notificationVerifies(forged, key), 'and the forged notification passes the merchant check');
  t.match(signedString(old), SEGMENT);
  // The same answer in HMAC-SHA256 too: the cut must carry signType for the check to use HMAC.
  const oldHmac = signed({ respCode: '100001', respDesc: 'unknown field: a&payStatus=p0000&q=1', interfaceCode: 'query', mercNo: 'M1' }, key, 'HMAC-SHA256');
  const forgedHmac = forgeNotification(oldHmac);
  t.ok(forgedHmac && notificationVerifies(forgedHmac, key), 'found in an HMAC-SHA256 answer as well');
  // And nothing is found where there is nothing to find.
  t.equal(forgeNotification(signed({ respCode: '000000', respDesc: 'ok', payStatus: 'p0001' }, key, 'MD5')), undefined);
});

const INTERFACES = ['/api/pay', '/api/query', '/api/close', '/api/refund', '/api/refund/query', '/api/notify/resend'];
const EXPLOIT_NAME = 'junk&payStatus=p0000&tradeAmt=100.00';
const HOSTILE_NAMES = [
  EXPLOIT_NAME,
  '&payStatus=p0000',
  'payStatus=p0000&',
  'x=1&payStatus=p0000&signType=MD5',
  'a&b',
  '=',
  '&',
  'p0000&payStatus',
  'name with spaces, commas; and semicolons',
  'zz\u202epayStatus=p0000',
  'é&ü=😀',
];

/** Every signed answer the tests below receive, for the final check. */
const signedAnswers: Array<{ what: string; body: Body }> = [];
const record = (what: string, a: ApiAnswer): ApiAnswer => {
  if (a.body.signature !== undefined) signedAnswers.push({ what, body: a.body });
  return a;
};

const formOf = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = 'application/x-www-form-urlencoded';

async function signedRequest(gw: TestGateway, path: string, fields: Record<string, string>, key: string, as: 'json' | 'form' = 'json') {
  const signType = (fields.signType as SignType | undefined) ?? 'MD5';
  const body = { ...fields, signature: sign(fields, key, signType) };
  return record(`${path} ${as} ${JSON.stringify(fields).slice(0, 120)}`, as === 'json' ? await gw.raw(path, JSON.stringify(body)) : await gw.raw(path, formOf(body), FORM));
}

t.test('the exploit: its answer is not signed, so there is nothing to re-cut', async (t) => {
  for (const path of INTERFACES) {
    const json = await gw.raw(path, JSON.stringify({ mercNo: M.mercNo, [EXPLOIT_NAME]: 1, signature: 'x' }));
    const form = await gw.raw(path, formOf({ mercNo: M.mercNo, [EXPLOIT_NAME]: '1', signature: 'x' }), FORM);
    for (const [as, a] of [['JSON', json], ['form', form]] as const) {
      record(`${path} exploit ${as}`, a);
      // JSON: the value 1 is not a string (100001); form: every value is, so the signature is checked (100002).
      t.same([a.status, a.body.respCode], as === 'JSON' ? [400, '100001'] : [401, '100002'], `${path} ${as}: refused (${a.body.respDesc})`);
      t.equal(a.body.signature, undefined, `${path} ${as}: unsigned`);
      t.equal(a.body.signType, undefined, `${path} ${as}: no signType`);
      t.equal(a.body.mercNo, undefined, `${path} ${as}: no mercNo`);
      t.equal(forgeNotification(a.body), undefined, `${path} ${as}: no notification can be cut from it`);
    }
  }
  // Any body naming the merchant without a signature that verifies is answered unsigned.
  for (const body of [
    { mercNo: M.mercNo, [EXPLOIT_NAME]: '1', signature: 'x' },
    { mercNo: M.mercNo, orderId: '1', signature: sign({ mercNo: M.mercNo, orderId: '2' }, M.key, 'MD5') },
    { mercNo: M.mercNo, orderId: '1', signType: 'SHA1', signature: 'x' },
    { mercNo: M.mercNo, orderId: '1' },
  ]) {
    const a = record('unverified', await gw.raw('/api/query', JSON.stringify(body)));
    t.ok(['100001', '100002'].includes(a.body.respCode!), `${a.body.respCode}: ${a.body.respDesc}`);
    t.equal(a.body.signature, undefined, 'unsigned');
  }
});

t.test('after a valid signature, no raw & or = of the caller reaches a respDesc', async (t) => {
  const orderId = await createOrder(gw);
  for (const name of HOSTILE_NAMES) {
    for (const as of ['json', 'form'] as const) {
      const cases: Array<[string, Record<string, string>]> = [
        ['/api/pay', { ...payFields(M.mercNo), [name]: '1' }],
        ['/api/query', { mercNo: M.mercNo, orderId, [name]: 'x&payStatus=p0000' }],
        ['/api/refund', { mercNo: M.mercNo, orderId, mercRefundNo: 'R1', refundAmt: '1.00', [name]: '1' }],
        ['/api/notify/resend', { mercNo: M.mercNo, orderId, [name]: '1', signType: 'HMAC-SHA256' }],
      ];
      for (const [path, fields] of cases) {
        const a = await signedRequest(gw, path, fields, M.key, as);
        t.equal(a.body.respCode, '100001', `${path} ${as} ${JSON.stringify(name)}: ${a.body.respDesc}`);
        t.ok(a.body.signature, 'signed: the merchant proved itself');
        t.match(a.body.respDesc, /unknown field/);
        t.notMatch(a.body.respDesc, /[&=]/, `no raw & or = in ${JSON.stringify(a.body.respDesc)}`);
        t.notMatch(a.body.respDesc, /[\u202a-\u202e\u2066-\u2069]/u, 'no bidi override either');
      }
    }
  }
  // The exploit's name, named recognisably but escaped.
  const a = await signedRequest(gw, '/api/pay', { ...payFields(M.mercNo), [EXPLOIT_NAME]: '1' }, M.key);
  t.match(a.body.respDesc, 'unknown field: junk%26payStatus%3Dp0000%26tradeAmt%3D100.00');
});

t.test('after a valid signature, caller-chosen values named in a respDesc are escaped', async (t) => {
  const hostile = 'x&payStatus=p0000&z=1';
  const checks: Array<[string, Record<string, string>, string]> = [
    ['/api/query', { mercNo: M.mercNo, mercOrderNo: hostile }, '100005'],
    ['/api/query', { mercNo: M.mercNo, orderId: hostile }, '100005'],
    ['/api/close', { mercNo: M.mercNo, mercOrderNo: `${hostile}&signType` }, '100005'],
    ['/api/notify/resend', { mercNo: M.mercNo, orderId: hostile }, '100005'],
    ['/api/refund/query', { mercNo: M.mercNo, mercRefundNo: hostile }, '100005'],
    ['/api/refund/query', { mercNo: M.mercNo, refundId: hostile, signType: 'HMAC-SHA256' }, '100005'],
  ];
  for (const [path, fields, code] of checks) {
    const a = await signedRequest(gw, path, fields, M.key);
    t.equal(a.body.respCode, code, `${path}: ${a.body.respDesc}`);
    t.ok(a.body.signature, 'signed');
    t.notMatch(a.body.respDesc, /[&=]/, `no raw & or = in ${JSON.stringify(a.body.respDesc)}`);
    t.match(a.body.respDesc, /x%26payStatus%3Dp0000%26z%3D1/, 'the value is still recognisable');
  }
  // 100004 names the fields that differ from the schema's own list, not the caller's values.
  const first = payFields(M.mercNo, { subject: 'first' });
  t.equal((await signedRequest(gw, '/api/pay', first, M.key)).body.respCode, '000000');
  const conflict = await signedRequest(gw, '/api/pay', { ...first, subject: 'second&payStatus=p0000&tradeAmt=100.00' }, M.key);
  t.equal(conflict.body.respCode, '100004');
  t.notMatch(conflict.body.respDesc, /[&=]|second/);
  // 100007: refunding an order that is not paid.
  const unpaid = await createOrder(gw);
  const refused = await signedRequest(
    gw,
    '/api/refund',
    { mercNo: M.mercNo, orderId: unpaid, mercRefundNo: 'R-UNPAID', refundAmt: '1.00', refundReason: 'because&payStatus=p0000&x=1' },
    M.key,
  );
  t.equal(refused.body.respCode, '100007', String(refused.body.respDesc));
  // 100007 from close: a failed order (the sandbox refuses 0.91).
  const failed = await signedRequest(gw, '/api/pay', payFields(M.mercNo, { tradeAmt: '0.91' }), M.key);
  t.equal(failed.body.respCode, '200001');
  const close = await signedRequest(gw, '/api/close', { mercNo: M.mercNo, orderId: failed.body.orderId! }, M.key);
  t.equal(close.body.respCode, '100007');
  // A disabled merchant that proves itself is told so, signed.
  const disabled = await createMerchant(gw.gateway.services, 'Disabled', 'sandbox');
  await gw.gateway.services.writer.run('setMerchantStatus', { mercNo: disabled.mercNo, status: 'disabled', at: Date.now() });
  const d = await signedRequest(gw, '/api/query', { mercNo: disabled.mercNo, orderId: hostile }, disabled.key);
  t.equal(d.body.respCode, '100003');
  t.ok(d.body.signature);
  t.notMatch(d.body.respDesc, /[&=]/);
});

t.test('the rate limit answers: unsigned before the signature verified, signed and clean after', async (t) => {
  const limited = await startGateway(t, { RATE_LIMIT_API_PER_MINUTE: '2' });
  const m = limited.merchant;
  for (let i = 0; i < 3; i++) record('limited unsigned', await limited.raw('/api/query', JSON.stringify({ mercNo: m.mercNo, [EXPLOIT_NAME]: '1', signature: 'x' })));
  const anon = await limited.raw('/api/query', JSON.stringify({ mercNo: m.mercNo, [EXPLOIT_NAME]: '1', signature: 'x' }));
  t.equal(anon.body.respCode, '100008');
  t.equal(anon.body.signature, undefined, 'a stranger naming the merchant gets an unsigned 100008');
  for (let i = 0; i < 3; i++) await signedRequest(limited, '/api/query', { mercNo: m.mercNo, mercOrderNo: 'a&payStatus=p0000&b=1' }, m.key);
  const over = await signedRequest(limited, '/api/query', { mercNo: m.mercNo, [EXPLOIT_NAME]: '1' }, m.key);
  t.equal(over.body.respCode, '100008');
  t.ok(over.body.signature, 'the merchant itself gets a signed 100008');
  t.notMatch(over.body.respDesc, /[&=]/);
  // The answers of this gateway are signed with its own merchant's key: checked here.
  for (const { what, body } of signedAnswers.filter((s) => s.body.mercNo === m.mercNo)) {
    t.equal(forgeNotification(body), undefined, `nothing to cut from ${what}`);
  }
});

t.test('no re-cut of any signed answer above verifies as a notification with payStatus p0000', async (t) => {
  t.ok(signedAnswers.length > 100, `${signedAnswers.length} signed answers collected`);
  const keys = new Map<string, string>([[M.mercNo, M.key]]);
  for (const { what, body } of signedAnswers) {
    const x = signedString(body);
    t.notMatch(x, SEGMENT, `${what}: no payStatus=p0000 segment`);
    const forged = forgeNotification(body);
    t.equal(forged, undefined, `${what}: no notification can be cut from it`);
    const key = keys.get(body.mercNo!);
    if (forged && key) t.notOk(notificationVerifies(forged, key), 'and it would not verify');
  }
});
