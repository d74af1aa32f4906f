import t from 'tap';
import { notificationFields, signedBody } from '../../src/notify/notification-body.js';
import { sign } from '../../src/domain/sign.js';
import { orderRow } from '../fixtures/orders.js';

// Seed §4.2.1/§4.2.2: the fields, their order, empty ones left out, signed per CONTRACT §2.1.

const at = Date.UTC(2026, 0, 1, 4, 0, 0); // 12:00:00 in Beijing

t.test('a paid order', async (t) => {
  const order = orderRow('M100000000000001', at, {
    pay_status: 'p0000',
    amount_fen: 999999999999999999n,
    trade_end_time: '20260101115959',
    bank_type: 'CMB',
    request_json: JSON.stringify({ mercOrderNo: 'D1', attach: 'a=1', signType: 'HMAC-SHA256' }),
  });
  const { fields, signType } = notificationFields(order, at);
  t.equal(signType, 'HMAC-SHA256', 'signed the way the merchant signed the order');
  t.same(Object.keys(fields), [
    'mercNo', 'mercOrderNo', 'orderId', 'tradeType', 'tradeAmt', 'feeType', 'tradeTime', 'tradeEndTime',
    'termType', 'payStatus', 'bankType', 'attach', 'charset', 'locale', 'version', 'signType',
  ]);
  t.equal(fields.tradeAmt, '9999999999999999.99', '16 integer digits survive');
  t.equal(fields.tradeEndTime, '20260101115959', "the channel's time of payment");
  const body = JSON.parse(signedBody(fields, 'k'.repeat(43), signType));
  t.equal(body.signature, sign(fields, 'k'.repeat(43), 'HMAC-SHA256'));
});

t.test('a failed order without channel time, no bank, no attach', async (t) => {
  const order = orderRow('M100000000000001', at, { pay_status: 'p0004' });
  const { fields, signType } = notificationFields(order, at);
  t.equal(signType, 'MD5', 'MD5 when the order named none');
  t.equal(fields.tradeEndTime, '20260101120000', 'the time it ended, in Beijing time');
  t.notOk('bankType' in fields, 'empty fields are left out');
  t.notOk('attach' in fields);
});
