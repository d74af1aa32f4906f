import t from 'tap';
import { sign, stringToSign, verify } from '../../src/domain/sign.js';
import { VECTOR_BODY, VECTOR_HMAC_SHA256, VECTOR_KEY, VECTOR_MD5 } from '../fixtures/contract-vector.js';

const KEY = VECTOR_KEY;
const body: Record<string, string> = { ...VECTOR_BODY };

t.test('string to sign', async (t) => {
  t.equal(
    stringToSign(body, KEY),
    'ip=203.0.113.7&mercNo=M100000000000001&mercOrderNo=D20180315125826&notifyUrl=https://shop.example.com/pay/notify&orderPeriod=30&paywayCode=wxpay&returnUrl=https://shop.example.com/pay/done&sceneCode=scan&signType=MD5&subject=测试商品 A&B=C&termType=wap&tradeAmt=0.01&tradeTime=20240618125826&tradeType=01&key=k3y-For-Tests-0123456789abcdefXYZ',
  );
});

t.test('MD5 vector', async (t) => {
  t.equal(sign(body, KEY, 'MD5'), VECTOR_MD5);
  t.ok(verify({ ...body, signature: 'x' }, KEY, 'MD5', '53E6F56EFB2874CBBD3C914E7506F214'));
  t.ok(verify(body, KEY, 'MD5', '53e6f56efb2874cbbd3c914e7506f214'), 'either hex case');
  t.notOk(verify(body, KEY, 'MD5', '53E6F56EFB2874CBBD3C914E7506F215'));
  t.notOk(verify(body, KEY, 'MD5', ''), 'empty signature');
  t.notOk(verify({ ...body, tradeAmt: '0.02' }, KEY, 'MD5', '53E6F56EFB2874CBBD3C914E7506F214'), 'tampered field');
});

t.test('HMAC-SHA256 vector', async (t) => {
  const b = { ...body, signType: 'HMAC-SHA256' };
  t.equal(sign(b, KEY, 'HMAC-SHA256'), VECTOR_HMAC_SHA256);
  t.notOk(verify(b, 'another-key-0123456789abcdefghijkl', 'HMAC-SHA256', sign(b, KEY, 'HMAC-SHA256')));
});

t.test('byte order sorting, astral characters', async (t) => {
  // U+FF21 sorts before U+1F600 in UTF-8 bytes, though not in UTF-16 code units.
  const s = stringToSign({ '\u{1F600}': 'a', '\uFF21': 'b' }, 'k');
  t.equal(s, '\uFF21=b&\u{1F600}=a&key=k');
});
