import t from 'tap';
import { createHash } from 'node:crypto';
import { canonicalFields, differingFields, requestDigest } from '../../src/services/same-request.js';
import { orderFields } from '../fixtures/orders.js';
import { prng } from '../prng.js';

// What makes two requests the same (CONTRACT §2.3), and the digest stored with each order: it is
// computed from the pairs without canonicalFields' object, so it is checked here against its
// definition, the SHA-256 of the JSON of canonicalFields' [name, value] pairs.

const defined = (req: Record<string, string | undefined>) => createHash('sha256').update(JSON.stringify(Object.entries(canonicalFields(req)))).digest('hex');

t.test('the digest is the SHA-256 of the canonical [name, value] pairs', async (t) => {
  const base = orderFields('M100000000000001', 'P-1', {});
  t.equal(requestDigest(base), defined(base), 'a unified order');
  const rng = prng(20261202);
  const values = ['', 'x', '12.5', '12.50', '0.01', 'a "quoted" \\ value', '中文', '😀', '\u2028', 'tab\there'];
  const names = ['tradeAmt', 'refundAmt', 'subject', 'body', 'signature', 'signType', 'version', 'charset', 'attach', 'notifyUrl', 'a"b', 'Z'];
  let alike = 0;
  const unlike: string[] = [];
  for (let i = 0; i < 200; i++) {
    const req: Record<string, string | undefined> = {};
    for (const n of names) if (rng.chance(0.6)) req[n] = rng.chance(0.1) ? undefined : rng.pick(values);
    if (requestDigest(req) === defined(req)) alike++;
    else unlike.push(JSON.stringify(req).replace(/[\u2028\u2029]/g, '?'));
  }
  t.same(unlike, [], 'no request digests otherwise');
  t.equal(alike, 200, '200 random requests digest alike');
});

t.test('the same request is the same whatever the spelling; what differs is named', async (t) => {
  const a = orderFields('M100000000000001', 'P-1', { tradeAmt: '12.5' });
  const b = { ...a, tradeAmt: '12.50', signature: 'other', signType: 'MD5', version: '1.0', charset: 'UTF-8', remark: '' };
  t.equal(requestDigest(a), requestDigest(b), 'amount in fen, travel fields and empty fields left out');
  t.same(differingFields(a, b), []);
  const c = { ...a, tradeAmt: '12.51', subject: 'another' };
  t.not(requestDigest(a), requestDigest(c));
  t.same(differingFields(a, c), ['subject', 'tradeAmt']);
});
