import t from 'tap';
import { createSign, randomBytes } from 'node:crypto';
import { verifyWechatpaySignature, sameSerial } from '../../src/channels/wxpay/sign.js';
import { encryptionKeyOf } from '../../src/channels/wxpay/sensitive.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';

// A platform certificate serial is an integer written as 40 hex digits. One that begins with a zero
// byte (1 in 256 of WeChat's) comes back from node without it; it must still name the certificate,
// and be sent back as WeChat writes it.

const SERIAL = `00${randomBytes(19).toString('hex').toUpperCase()}`;

t.test('a platform certificate whose serial begins with 00', async (t) => {
  const keys = generateWxpayKeys({ certSerial: SERIAL });
  const sim = await WxpaySimulator.start({ keys });
  t.teardown(() => sim.close());
  const creds = sim.credentials('cert');
  const body = '{"code_url":"weixin://wxpay/bizpayurl?pr=abc"}';
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signature = createSign('RSA-SHA256').update(`${ts}\n${nonce}\n${body}\n`).sign(keys.platform.privateKeyPem, 'base64');
  const headers = { 'Wechatpay-Timestamp': ts, 'Wechatpay-Nonce': nonce, 'Wechatpay-Serial': SERIAL, 'Wechatpay-Signature': signature };
  t.same(verifyWechatpaySignature(headers, body, creds, Date.now()), { ok: true }, 'named with its leading zeros, as WeChat writes it');
  t.same(verifyWechatpaySignature({ ...headers, 'Wechatpay-Serial': SERIAL.slice(2).toLowerCase() }, body, creds, Date.now()), { ok: true }, 'or without them, in lower case');
  t.match(verifyWechatpaySignature({ ...headers, 'Wechatpay-Serial': `01${SERIAL.slice(2)}` }, body, creds, Date.now()), { ok: false }, 'another serial is not it');
  t.equal(encryptionKeyOf(creds)?.serial, SERIAL, 'sent as the 40 digits WeChat issued');
  t.ok(sameSerial('0A', 'a') && !sameSerial('0A', 'A0') && sameSerial('0', '00'), 'serials compare as integers');
});
