import t from 'tap';
import { Readable } from 'node:stream';
import { csvField, MERCHANT_BILL_COLUMNS, writeMerchantBill, yuanText } from '../../src/domain/merchant-bill.js';
import { BillLinks, BillTooLarge } from '../../src/services/bill-links.js';
import { HttpBodyTooLarge, readBody } from '../../src/channels/http-body.js';

// The merchant bill's CSV (RFC 4180, CRLF), the bounded store behind its links, and the transport's
// bounded body reader that bill downloads go through.

t.test('RFC 4180: quoted only where needed, quotes doubled', async (t) => {
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField(''), '');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('two\r\nlines'), '"two\r\nlines"');
  t.equal(csvField('lf\n'), '"lf\n"');
  t.equal(yuanText(0n), '0.00');
  t.equal(yuanText(7n), '0.07');
  t.equal(yuanText(-18n), '-0.18');
  t.equal(yuanText(123456789012345678n), '1234567890123456.78', 'beyond 2^53 fen, exactly');
});

t.test('rows, totals and bytes', async (t) => {
  const order = { orderId: '1', mercOrderNo: 'M,1', tradeType: '01', payway: 'alipay', scene: 'scan', amountFen: 1234n, tradeTime: '20260102000000' };
  const b = writeMerchantBill(
    [
      { ...order, payStatus: 'p0000', tradeEndTime: '20260102000100', channelTradeNo: 'T"1', feeFen: 7n },
      { ...order, orderId: '2', payStatus: 'p0004', amountFen: 300n },
    ],
    [
      { refundId: 'R1', mercRefundNo: 'r1', amountFen: 200n, refundStatus: 'r0000', refundEndTime: '20260102010000', feeFen: -1n, order },
      { refundId: 'R2', mercRefundNo: 'r2', amountFen: 50n, refundStatus: 'r0004', order },
    ],
  );
  t.equal(b.count, 4);
  t.equal(b.totalTradeFen, 1234n, 'only p0000 orders');
  t.equal(b.totalRefundFen, 200n, 'only r0000 refunds');
  t.equal(
    Buffer.from(b.bytes).toString('utf8'),
    [
      MERCHANT_BILL_COLUMNS.join(','),
      'order,1,"M,1",,,01,alipay,scan,12.34,,p0000,,20260102000000,20260102000100,"T""1",0.07',
      'order,2,"M,1",,,01,alipay,scan,3.00,,p0004,,20260102000000,,,',
      'refund,1,"M,1",R1,r1,01,alipay,scan,12.34,2.00,,r0000,20260102000000,20260102010000,,-0.01',
      'refund,1,"M,1",R2,r2,01,alipay,scan,12.34,0.50,,r0004,20260102000000,,,',
      '',
    ].join('\r\n'),
  );
  const empty = writeMerchantBill([], []);
  t.same([empty.count, empty.totalTradeFen, empty.totalRefundFen], [0, 0n, 0n]);
  t.equal(Buffer.from(empty.bytes).toString(), MERCHANT_BILL_COLUMNS.join(',') + '\r\n');
});

t.test('links: ten minutes, tokens unguessable, what is held bounded', async (t) => {
  let now = 1_000_000;
  const links = new BillLinks(() => now, { ttlMs: 600_000, perMerchant: 2, maxBytes: 100, maxLinks: 4 });
  const bytes = (n: number) => new Uint8Array(n).fill(65);
  const a = links.put('M1', bytes(10));
  t.match(a.token, /^[A-Za-z0-9_-]{43}$/, '256 random bits');
  t.equal(a.expiresAt, now + 600_000);
  t.same(links.get(a.token), bytes(10));
  t.equal(links.get(a.token.slice(1)), undefined);
  t.equal(links.get(''), undefined);

  const b = links.put('M1', bytes(10));
  const c = links.put('M1', bytes(10));
  t.equal(links.get(a.token), undefined, 'a merchant’s oldest link gives way beyond perMerchant');
  t.ok(links.get(b.token) && links.get(c.token));

  const d = links.put('M2', bytes(60));
  t.same(links.size, { links: 3, bytes: 80 });
  const e = links.put('M3', bytes(30));
  t.equal(links.get(b.token), undefined, 'the oldest overall gives way beyond maxBytes');
  t.ok(links.get(c.token) && links.get(d.token) && links.get(e.token));
  t.ok(links.size.bytes <= 100);
  links.put('M4', bytes(0));
  links.put('M5', bytes(0));
  t.ok(links.size.links <= 4, 'and beyond maxLinks');
  t.throws(() => links.put('M1', bytes(101)), BillTooLarge);

  now += 599_999;
  t.ok(links.get(e.token), 'served until ten minutes have passed');
  now += 1;
  t.equal(links.get(e.token), undefined, 'then gone');
  links.put('M6', bytes(1));
  t.same(links.size, { links: 1, bytes: 1 }, 'expired links are swept, not kept');
});

t.test('readBody: text or bytes, never past maxBytes', async (t) => {
  const stream = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));
  t.same(await readBody(stream('héllo ', 'wörld'), {}), { body: 'héllo wörld' });
  const bin = await readBody(Readable.from([Buffer.from([0xff, 0x00, 0xfe])]), { responseType: 'bytes' });
  t.equal(bin.body, '');
  t.same([...bin.bytes!], [0xff, 0x00, 0xfe], 'bytes as they came, not decoded');
  t.same(await readBody(stream('12345'), { maxBytes: 5 }), { body: '12345' });
  const long = stream('123', '456');
  await t.rejects(readBody(long, { maxBytes: 5, responseType: 'bytes' }), HttpBodyTooLarge);
  t.ok(long.destroyed, 'the rest is not read');
});
