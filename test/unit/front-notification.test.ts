import t from 'tap';
import { sign, verify } from '../../src/domain/sign.js';
import { FRONT_NOTIFICATION_FIELDS, frontNotificationFields, frontNotificationUrl } from '../../src/services/front-notification.js';
import { orderFields, orderRow } from '../fixtures/orders.js';
import { VECTOR_KEY } from '../fixtures/contract-vector.js';

const KEY = VECTOR_KEY;
const MERC = 'M100000000000001';

function paidOrder(signType: string | undefined, returnUrl: string | null) {
  const req = orderFields(MERC, 'D20180315125826', signType ? { signType } : {});
  return orderRow(MERC, Date.UTC(2026, 0, 1), {
    merc_order_no: 'D20180315125826',
    order_id: '2026010112000000000001',
    pay_status: 'p0000',
    amount_fen: 1234n,
    request_json: JSON.stringify(req),
    return_url: returnUrl,
  });
}

t.test('the signed fields: §2.1 with the merchant key and the order signType', async (t) => {
  for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
    const f = frontNotificationFields(paidOrder(signType, 'https://shop.example.com/done'), KEY);
    t.same(Object.keys(f).sort(), [...FRONT_NOTIFICATION_FIELDS].sort());
    t.equal(f.mercNo, MERC);
    t.equal(f.mercOrderNo, 'D20180315125826');
    t.equal(f.orderId, '2026010112000000000001');
    t.equal(f.payStatus, 'p0000');
    t.equal(f.tradeAmt, '12.34');
    t.equal(f.signType, signType);
    t.ok(verify(f, KEY, signType, f.signature), `${signType} verifies`);
    t.notOk(verify({ ...f, tradeAmt: '1234.00' }, KEY, signType, f.signature), 'a changed amount does not');
    t.notOk(verify(f, 'another-key', signType, f.signature), 'another key does not');
  }
  // Known answer: the string to sign is the five fields and signType, sorted, then &key=.
  const f = frontNotificationFields(paidOrder(undefined, null), KEY);
  t.equal(f.signType, 'MD5', 'MD5 when the order named no signType');
  t.equal(
    f.signature,
    sign({ mercNo: MERC, mercOrderNo: 'D20180315125826', orderId: '2026010112000000000001', payStatus: 'p0000', tradeAmt: '12.34', signType: 'MD5' }, KEY, 'MD5'),
  );
});

t.test('the URL: returnUrl with the parameters in its query string', async (t) => {
  const url = frontNotificationUrl(paidOrder('HMAC-SHA256', 'https://shop.example.com/pay/done?cart=7&orderId=stale#top'), KEY)!;
  const u = new URL(url);
  t.equal(u.origin + u.pathname, 'https://shop.example.com/pay/done');
  t.equal(u.hash, '#top', 'the fragment stays');
  t.equal(u.searchParams.get('cart'), '7', "the merchant's own parameters stay");
  t.same(u.searchParams.getAll('orderId'), ['2026010112000000000001'], 'a parameter of the same name is replaced');
  const got = Object.fromEntries(FRONT_NOTIFICATION_FIELDS.map((n) => [n, u.searchParams.get(n)!]));
  t.ok(verify(got, KEY, 'HMAC-SHA256', got.signature!), 'what the merchant reads back verifies');
  t.notOk(url.includes(KEY), 'the key is not in the URL');
});

t.test('no returnUrl, or not http(s): no front notification', async (t) => {
  t.equal(frontNotificationUrl(paidOrder('MD5', null), KEY), undefined);
  t.equal(frontNotificationUrl(paidOrder('MD5', ''), KEY), undefined);
  t.equal(frontNotificationUrl(paidOrder('MD5', 'javascript:alert(1)'), KEY), undefined);
  t.equal(frontNotificationUrl(paidOrder('MD5', 'not a url'), KEY), undefined);
});
