// dtpay request signing in Node.js (the dtpay cashier interface spec's rule: docs/merchant-guide.md, "Signature").
// Run: node sign.mjs — prints the signatures of the contract's test vector.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The signature of `fields` (an object of strings) with the merchant key: MD5 or HMAC-SHA256, upper-case hex. */
export function sign(fields, key, signType = 'MD5') {
  const text =
    Object.keys(fields)
      .filter((name) => name !== 'signature' && fields[name] !== '' && fields[name] !== undefined && fields[name] !== null)
      .sort() // byte order: the names are ASCII
      .map((name) => `${name}=${fields[name]}`) // raw values, not URL-encoded
      .join('&') + `&key=${key}`;
  const digest = signType === 'HMAC-SHA256' ? createHmac('sha256', key).update(text, 'utf8') : createHash('md5').update(text, 'utf8');
  return digest.digest('hex').toUpperCase();
}

/** True when an answer or a notification carries the signature its other fields give with `key`. */
export function verify(fields, key) {
  const expected = Buffer.from(sign(fields, key, fields.signType || 'MD5'));
  const given = Buffer.from(String(fields.signature ?? '').toUpperCase());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const KEY = 'k3y-For-Tests-0123456789abcdefXYZ';
const BODY = {
  mercNo: 'M100000000000001', mercOrderNo: 'D20180315125826', subject: '测试商品 A&B=C', body: '',
  tradeType: '01', tradeAmt: '0.01', tradeTime: '20240618125826', orderPeriod: '30',
  notifyUrl: 'https://shop.example.com/pay/notify', returnUrl: 'https://shop.example.com/pay/done',
  termType: 'wap', paywayCode: 'wxpay', sceneCode: 'scan', ip: '203.0.113.7', signType: 'MD5',
};

// Run directly (not imported): sign the test vector.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  console.log(`MD5 ${sign(BODY, KEY)}`);
  console.log(`HMAC-SHA256 ${sign({ ...BODY, signType: 'HMAC-SHA256' }, KEY, 'HMAC-SHA256')}`);
  const signed = { ...BODY, signature: sign(BODY, KEY) };
  console.log(`verify signed: ${verify(signed, KEY)}`);
  console.log(`verify tampered: ${verify({ ...signed, tradeAmt: '100.00' }, KEY)}`);
}
