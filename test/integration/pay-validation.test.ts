import t, { type Test } from 'tap';
import { startGateway, payFields, responseVerifies, type ApiAnswer } from '../helper.js';
import { createMerchant, type NewMerchant } from '../../src/services/merchants.js';
import { sign, type SignType } from '../../src/domain/sign.js';
import { supportedCells } from '../../src/channels/matrix.js';

// POST /api/pay, bad input by bad input: seed §4.1.2 field by field, CONTRACT §2, §2.1–§2.3.
// Each row is one change to a valid order and what the gateway must answer: the HTTP status, the
// respCode, and the field respDesc must name. No rejected request may leave an order row behind.

const gw = await startGateway(t);
const M = gw.merchant;

const disabled = await createMerchant(gw.gateway.services, 'Disabled shop', 'sandbox');
if (!(await gw.gateway.services.writer.run('setMerchantStatus', { mercNo: disabled.mercNo, status: 'disabled', at: Date.now() }))) {
  throw new Error('could not disable the second merchant');
}
const live = await createMerchant(gw.gateway.services, 'Live shop, no channels', 'live');

const orderCount = async () => (await gw.sql.value<number>('select count(*) c from orders'))!;

// ---------------------------------------------------------------------------------------------
// Rows

/** Who the answer is for: `M` (or another merchant) → signed with its key; null → unsigned; undefined → not checked. */
type Audience = NewMerchant | null | undefined;

interface Row {
  name: string;
  /** fields set on a valid order before signing */
  set?: Record<string, string>;
  /** fields removed before signing */
  drop?: string[];
  /** values put in after signing (non-strings, a broken signature…) */
  after?: Record<string, unknown>;
  /** who signs, and how (default: the test merchant, MD5 or the row's signType) */
  merchant?: NewMerchant;
  signKey?: string;
  signType?: SignType;
  status: number;
  code: string;
  /** the field respDesc must name */
  field?: string;
  /** the rule respDesc must state */
  rule?: RegExp;
  /** who the response is signed for; default: the signing merchant */
  to?: Audience;
}

const E = { status: 400, code: '100001' } as const;
const OK = { status: 200, code: '000000' } as const;

const repeat = (s: string, n: number) => s.repeat(n);
let uniq = 0;
/** A fresh mercOrderNo of exactly n characters (n ≥ 12). */
const orderNoOf = (n: number) => `V${process.pid % 1000}x${Date.now() % 1e6}x${++uniq}`.padEnd(n, 'z').slice(0, n);
const urlOf = (n: number) => {
  const base = 'https://shop.example.com/';
  return base + 'a'.repeat(n - base.length);
};

const LEN = /at most (\d+) characters/;
const REQUIRED = /is required/;

const rows: Row[] = [];

// Length limits (seed §4.1.2; lengths count characters, so Chinese and astral characters count once).
const lengthLimits: Array<[field: string, max: number, value: (n: number) => string, extra?: Record<string, string>]> = [
  ['mercOrderNo', 32, orderNoOf],
  ['subject', 100, (n) => repeat('测', n)],
  ['body', 200, (n) => repeat('说', n)],
  ['notifyUrl', 200, urlOf],
  ['returnUrl', 200, urlOf],
  ['refererUrl', 200, urlOf],
  ['merchantId', 8, (n) => repeat('商', n)],
  ['storeId', 8, (n) => repeat('7', n)],
  ['payeeId', 8, (n) => repeat('p', n)],
  ['remark', 100, (n) => repeat('备', n)],
  ['attach', 128, (n) => repeat('附', n)],
  ['mchAppName', 256, (n) => repeat('王', n), { paywayCode: 'wxpay', sceneCode: 'h5', deviceInfo: 'WAP_SDK', mchAppId: 'www.example.cn' }],
  ['mchAppId', 128, (n) => repeat('c', n), { paywayCode: 'wxpay', sceneCode: 'h5', deviceInfo: 'IOS_SDK', mchAppName: '王者荣耀' }],
  ['bankCode', 20, (n) => repeat('B', n), { paywayCode: 'unionpay', sceneCode: 'ebank' }],
  ['openId', 128, (n) => repeat('o', n), { paywayCode: 'wxpay', sceneCode: 'jspay' }],
  ['quickPayAttach', 1024, (n) => repeat('q', n)],
];
for (const [field, max, value, extra] of lengthLimits) {
  rows.push({ name: `${field} of ${max} characters passes`, set: { ...extra, [field]: value(max) }, ...OK });
  rows.push({ name: `${field} of ${max + 1} characters`, set: { ...extra, [field]: value(max + 1) }, ...E, field, rule: LEN });
}
rows.push(
  { name: 'subject of 100 emoji (200 UTF-16 units) passes', set: { subject: repeat('😀', 100) }, ...OK },
  { name: 'subject of 101 emoji', set: { subject: repeat('😀', 101) }, ...E, field: 'subject', rule: LEN },
  { name: 'subject of 100 mixed characters passes', set: { subject: repeat('a测😀é', 25) }, ...OK },
  { name: 'body-only order passes', drop: ['subject'], set: { body: '订单说明' }, ...OK },
  { name: 'returnUrl may be empty', set: { returnUrl: '' }, ...OK },
  { name: 'returnUrl may be left out', drop: ['returnUrl'], ...OK },
  { name: 'feeType CNY passes', set: { feeType: 'CNY' }, ...OK },
  { name: 'all optional fields at once pass', set: { merchantId: 'm1', storeId: 's1', payeeId: 'p1', remark: 'r', attach: 'a=1&b=2', refererUrl: 'http://shop.example.com/', payType: '2', version: '1.0', charset: 'UTF-8', feeType: 'CNY' }, ...OK },
  { name: 'mercNo over 32 characters is no merchant', set: { mercNo: M.mercNo + repeat('9', 33 - M.mercNo.length) }, status: 403, code: '100003', field: 'mercNo', to: null },
  { name: 'signature over 64 characters does not verify', after: { signature: repeat('A', 65) }, status: 401, code: '100002', field: 'signature', to: null },
);

// Required fields left out (and set empty).
for (const field of ['mercOrderNo', 'tradeType', 'tradeAmt', 'tradeTime', 'orderPeriod', 'notifyUrl', 'termType', 'paywayCode', 'sceneCode', 'ip']) {
  rows.push({ name: `${field} left out`, drop: [field], ...E, field, rule: REQUIRED });
  rows.push({ name: `${field} empty`, set: { [field]: '' }, ...E, field, rule: REQUIRED });
}
rows.push(
  { name: 'signature left out', drop: ['signature'], ...E, field: 'signature', rule: REQUIRED, to: null },
  { name: 'mercNo left out', drop: ['mercNo'], ...E, field: 'mercNo', rule: REQUIRED, to: null },
  { name: 'mercNo empty', set: { mercNo: '' }, ...E, field: 'mercNo', rule: REQUIRED, to: null },
);

// Formats and enums.
const bad = (field: string, values: string[], rule?: RegExp, extra: Record<string, string> = {}) => {
  for (const v of values) rows.push({ name: `${field} = ${JSON.stringify(v)}`, set: { ...extra, [field]: v }, ...E, field, rule });
};
const good = (field: string, values: string[], extra: Record<string, string> = {}) => {
  for (const v of values) rows.push({ name: `${field} = ${JSON.stringify(v)} passes`, set: { ...extra, [field]: v }, ...OK });
};
bad('mercOrderNo', ['abc def', 'a/b', '订单1', 'a.b', 'x\u00a0y']);
good('mercOrderNo', [`ok_-|*${Date.now()}`]);
bad('tradeAmt', ['abc', '1.234', '12345678901234567', '12345678901234567.00', '01.00', '-1', '1.', '.5', '1e3', ' 1.00', '1,00', '+1', '0x10', 'NaN', '１２'], /yuan/);
bad('tradeAmt', ['0', '0.00', '0.0', '0.00'], /greater than zero/);
good('tradeAmt', ['0.01', '5', '9999999999999999.99', '1234567890123456']);
bad('tradeTime', ['20240230120000', '20230229000000', '20240431000000', '20241301000000', '20240001000000', '20240618240000', '20240618126000', '20240618125960', '2024061812582', '202406181258260', '2024-06-18 12:58', '2024061812582a'], /date/);
good('tradeTime', ['20240229235959', '20241231000000']);
bad('orderPeriod', ['0', '43201', '1.5', '-5', 'abc', '99999', '1e3', ' 30'], /1 to 43200|whole minutes|at most/);
good('orderPeriod', ['1', '43200']);
bad('notifyUrl', ['ftp://shop.example.com/notify', 'javascript:alert(1)', 'JavaScript://%0aalert(1)', 'file:///etc/passwd', 'shop.example.com/notify', 'http://', '//shop.example.com/n', 'data:text/html,x'], /http/);
good('notifyUrl', ['https://shop.example.com/pay/notify?a=1&b=%E4%B8%AD', 'http://[2001:db8::1]:8080/n']);
bad('returnUrl', ['ftp://shop.example.com/done', 'javascript:alert(1)', 'mailto:a@b.c'], /http/);
bad('refererUrl', ['javascript:alert(1)', 'ftp://x.example/'], /http/);
bad('ip', ['not-an-ip', '256.1.1.1', '1.2.3', '1.2.3.4.5', '::g', '203.0.113.7 ', 'localhost'], /IP/);
good('ip', ['::1', '2001:0db8:0000:0000:0000:ff00:0042:8329', '10.0.0.1']);
bad('tradeType', ['04', '1', '00', 'pay'], /one of/);
bad('termType', ['mobile', 'WAP', 'web'], /one of/);
good('termType', ['wap', 'app']);
bad('paywayCode', ['paypal', 'ALIPAY', 'unionPay'], /one of/);
bad('sceneCode', ['qr', 'SCAN', 'native'], /one of/);
bad('feeType', ['USD', 'cny', 'RMB'], /one of/);
bad('deviceInfo', ['ANDROID', 'ios_sdk'], /one of/, { paywayCode: 'wxpay', sceneCode: 'h5', mchAppName: 'n', mchAppId: 'i' });
bad('payType', ['4', '0', '12'], /one of/, { paywayCode: 'unionpay', sceneCode: 'ebank', bankCode: 'ICBC' });
good('payType', ['1', '3'], { paywayCode: 'unionpay', sceneCode: 'ebank', bankCode: 'ICBC' });
bad('bankCode', ['ICBC-01', '工商银行'], /letters, digits/, { paywayCode: 'unionpay', sceneCode: 'ebank' });
bad('version', ['2.0', '1'], /one of/);
bad('charset', ['GBK', 'utf-8'], /one of/);
// An unsupported signType, but MD5 over the fields verifies: the merchant is proven, so the answer is signed (with MD5).
for (const v of ['SHA1', 'md5', 'RSA', 'hmac-sha256']) {
  rows.push({ name: `signType = ${v}`, set: { signType: v }, signType: 'MD5', ...E, field: 'signType', rule: /one of/ });
}

// Cross-field rules (CONTRACT §2.3).
const wxH5 = { paywayCode: 'wxpay', sceneCode: 'h5', deviceInfo: 'AND_SDK', mchAppName: '天猫官网', mchAppId: 'com.tencent.tmgp.sgame' };
rows.push(
  { name: 'neither subject nor body', drop: ['subject'], ...E, field: 'subject', rule: /subject or body/ },
  { name: 'subject and body both empty', set: { subject: '', body: '' }, ...E, field: 'subject', rule: /subject or body/ },
  { name: 'wxpay h5 with deviceInfo, mchAppName, mchAppId passes', set: wxH5, ...OK },
  { name: 'unionpay ebank with bankCode passes', set: { paywayCode: 'unionpay', sceneCode: 'ebank', bankCode: 'ICBC' }, ...OK },
  { name: 'alipay jspay with openId passes', set: { paywayCode: 'alipay', sceneCode: 'jspay', openId: '2088102146225135' }, ...OK },
  { name: 'ebank without bankCode', set: { paywayCode: 'unionpay', sceneCode: 'ebank' }, ...E, field: 'bankCode', rule: /ebank/ },
  { name: 'ebank with empty bankCode', set: { paywayCode: 'unionpay', sceneCode: 'ebank', bankCode: '' }, ...E, field: 'bankCode', rule: /ebank/ },
  { name: 'alipay jspay without openId', set: { paywayCode: 'alipay', sceneCode: 'jspay' }, ...E, field: 'openId', rule: /jspay/ },
  { name: 'wxpay jspay without openId', set: { paywayCode: 'wxpay', sceneCode: 'jspay' }, ...E, field: 'openId', rule: /jspay/ },
);
for (const f of ['deviceInfo', 'mchAppName', 'mchAppId'] as const) {
  rows.push({ name: `wxpay h5 without ${f}`, set: wxH5, drop: [f], ...E, field: f, rule: /WeChat H5|h5/ });
}

// Unknown fields, non-strings, control characters and broken Unicode.
for (const f of ['foo', 'openid', 'sign', 'TradeAmt', 'key', 'constructor', 'toString']) {
  rows.push({ name: `unknown field ${f}`, set: { [f]: 'x' }, ...E, field: f, rule: /unknown field/ });
}
const nonStrings: Array<[string, unknown]> = [
  ['tradeAmt', 12.34],
  ['subject', null],
  ['attach', ['a']],
  ['ip', { v4: '1.2.3.4' }],
  ['orderPeriod', true],
  ['remark', false],
  ['tradeTime', 20240618125826],
  ['signature', 123],
  ['signType', null],
  ['foo', 1],
];
for (const [f, v] of nonStrings) {
  // Before the signature is checked (it cannot be, over a value that is not a string): unsigned.
  rows.push({ name: `${f} = ${JSON.stringify(v)}`, after: { [f]: v }, ...E, field: f, rule: /must be a string/, to: null });
}
for (const [v, what] of [[1, 'number'], [null, 'null'], [['M'], 'array'], [{}, 'object'], [true, 'boolean']] as const) {
  rows.push({ name: `mercNo as ${what}`, after: { mercNo: v }, ...E, field: 'mercNo', rule: /must be a string/, to: null });
}
const BROKEN = /control characters|bidirectional overrides|broken Unicode/;
const odd: Array<[string, string]> = [
  ['subject', 'a\u0000b'],
  ['body', 'line1\nline2'],
  ['remark', 'del\u007f'],
  ['attach', 'tab\there'],
  ['mchAppName', 'esc\u001b[31m'],
  ['subject', 'lone \ud800 high'],
  ['attach', 'lone \udc00 low'],
  ['remark', '\udfff\ud800'],
  // C1 controls: U+0080–U+009F.
  ['subject', 'a\u0080b'],
  ['body', 'next line\u0085'],
  ['attach', 'csi\u009b31m'],
  ['remark', '\u009f'],
  // Bidirectional embeddings, overrides and isolates, which reorder what the cashier page shows.
  ['subject', 'Pay \u202eRMB 001\u202c'],
  ['subject', '\u202a'],
  ['body', '\u202b\u202d'],
  ['mchAppName', 'x\u2066y\u2069'],
  ['attach', '\u2067'],
  ['remark', '\u2068'],
  ['mercOrderNo', 'A\u202eB'],
  ['notifyUrl', 'https://shop.example.com/\u202en'],
];
// Refused before the signature is checked: unsigned.
for (const [f, v] of odd) rows.push({ name: `${f} = ${JSON.stringify(v)}`, set: { [f]: v }, ...E, field: f, rule: BROKEN, to: null });
// Right-to-left text is text: marks (U+200E, U+200F, U+061C), joiners, Hebrew and Arabic letters.
rows.push({ name: 'RTL marks and emoji are text', set: { subject: '\u200f\u200eשלום 😀 \u200d👩‍💻 مرحبا\u061c', remark: '\u00a0é\u0301\u00a0' }, ...OK });
rows.push({ name: 'the characters next to the refused ranges are text', set: { subject: '~\u00a0\u00a1\u2029\u202f\u2065\u206a' }, ...OK });

// Merchant and signature (CONTRACT §2.1, §2.2).
rows.push(
  // A signature that does not verify proves nothing: the answer is not signed (nor names the merchant).
  { name: 'signed with the wrong key', signKey: 'not-the-key-0123456789abcdefghijklmnop', status: 401, code: '100002', field: 'signature', rule: /does not verify/, to: null },
  { name: 'a field changed after signing', after: { tradeAmt: '99.99' }, status: 401, code: '100002', field: 'signature', to: null },
  { name: 'signature of another algorithm', set: { signType: 'HMAC-SHA256' }, signType: 'MD5', status: 401, code: '100002', field: 'signature', to: null },
  { name: 'HMAC-SHA256 passes, answered in HMAC-SHA256', set: { signType: 'HMAC-SHA256' }, ...OK },
  { name: 'HMAC-SHA256 bad field, answered in HMAC-SHA256', set: { signType: 'HMAC-SHA256', ip: 'x' }, ...E, field: 'ip' },
  { name: 'unknown merchant', set: { mercNo: 'M999999999999999' }, signKey: M.key, status: 403, code: '100003', field: 'mercNo', to: null },
  { name: 'disabled merchant', merchant: disabled, status: 403, code: '100003', field: 'mercNo', rule: /disabled/, to: undefined },
);

// Combinations not served (CONTRACT §2.3) → 100006 listing what is.
rows.push(
  // A payout (CONTRACT §4) is checked with its own fields before anything else: a payment's scene is not one.
  { name: 'tradeType 02 with a payment scene', set: { tradeType: '02' }, status: 400, code: '100001', field: 'sceneCode' },
  { name: 'tradeType 03 without a payee', set: { tradeType: '03', sceneCode: 'transfer' }, status: 400, code: '100001', field: 'payeeAccountType' },
  { name: 'wxpay.gateway', set: { paywayCode: 'wxpay', sceneCode: 'gateway' }, status: 422, code: '100006', field: 'wxpay.gateway' },
  { name: 'alipay.ebank', set: { paywayCode: 'alipay', sceneCode: 'ebank', bankCode: 'ICBC' }, status: 422, code: '100006', field: 'alipay.ebank' },
  { name: 'unionpay.jspay', set: { paywayCode: 'unionpay', sceneCode: 'jspay', openId: 'o1' }, status: 422, code: '100006', field: 'unionpay.jspay' },
  { name: 'live merchant without channels', merchant: live, status: 422, code: '100006', field: 'alipay.scan', rule: /none configured/ },
);

// ---------------------------------------------------------------------------------------------
// Running a row

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Does respDesc name `field`? For 100001 as "field: rule" or in an "unknown field(s): …" list. */
function names(desc: string, field: string, code: string): boolean {
  const f = escapeRe(field);
  if (code === '100001') {
    return new RegExp(`(^|; )${f}: `).test(desc) || new RegExp(`unknown fields?: ([^;]*, )?${f}(,|;|$)`).test(desc);
  }
  return new RegExp(`(^|[^A-Za-z0-9_.])${f}([^A-Za-z0-9_]|$)`).test(desc);
}

function checkEnvelope(t: Test, res: ApiAnswer, to: Audience, signType?: string) {
  t.match(res.headers.get('content-type') ?? '', /^application\/json/, 'JSON answer');
  t.equal(res.body.interfaceCode, 'pay', 'interfaceCode');
  t.type(res.body.respDesc, 'string', 'respDesc');
  if (to === undefined) return;
  if (to === null) {
    t.equal(res.body.signature, undefined, 'unidentified caller: no signature');
    t.equal(res.body.mercNo, undefined, 'unidentified caller: no mercNo');
  } else {
    t.equal(res.body.mercNo, to.mercNo, 'answer names the merchant');
    if (signType) t.equal(res.body.signType, signType, 'answer signed with the request signType');
    t.ok(responseVerifies(res.body, to.key), 'answer signature verifies');
  }
}

async function runRow(row: Row): Promise<ApiAnswer> {
  const merchant = row.merchant ?? M;
  const fields = payFields(merchant.mercNo, row.set ?? {});
  for (const f of row.drop ?? []) delete fields[f];
  const signType = row.signType ?? (fields.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5');
  const body: Record<string, unknown> = { ...fields };
  if (!row.drop?.includes('signature')) body.signature = sign(fields, row.signKey ?? merchant.key, signType);
  Object.assign(body, row.after ?? {});
  return gw.raw('/api/pay', JSON.stringify(body));
}

t.test('table of inputs', async (t) => {
  for (const row of rows) {
    await t.test(row.name, async (t) => {
      const before = await orderCount();
      const res = await runRow(row);
      t.equal(res.status, row.status, 'HTTP status');
      t.equal(res.body.respCode, row.code, `respCode (${res.body.respDesc})`);
      if (row.field) t.ok(names(res.body.respDesc ?? '', row.field, row.code), `respDesc names ${row.field}: ${res.body.respDesc}`);
      if (row.rule) t.match(res.body.respDesc, row.rule, 'respDesc states the rule');
      const to: Audience = 'to' in row ? row.to : (row.merchant ?? M);
      // Answers are signed with the request's signType when it names one, else MD5.
      const requestSignType = row.set?.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
      checkEnvelope(t, res, to, to ? requestSignType : undefined);
      if (row.code === '000000') {
        t.equal(await orderCount(), before + 1, 'one order written');
        t.match(res.body.orderId, /^\d{22}$/, 'orderId');
        t.match(res.body.tradeAmt, /^\d+\.\d\d$/, 'tradeAmt with two decimals');
      } else {
        t.equal(await orderCount(), before, 'no order written');
      }
    });
  }
});

t.test('a signature in lower-case hex is accepted', async (t) => {
  for (const signType of ['MD5', 'HMAC-SHA256'] as const) {
    const f = payFields(M.mercNo, { signType });
    const res = await gw.raw('/api/pay', JSON.stringify({ ...f, signature: sign(f, M.key, signType).toLowerCase() }));
    t.equal(res.status, 200, res.text);
    t.equal(res.body.respCode, '000000');
    t.equal(res.body.signType, signType);
    t.ok(responseVerifies(res.body, M.key), 'answer verifies');
  }
});

t.test('amounts are written back with two decimals, exactly', async (t) => {
  for (const [sent, back] of [['5', '5.00'], ['0.5', '0.50'], ['9999999999999999.99', '9999999999999999.99'], ['1234567890123456', '1234567890123456.00']]) {
    const res = await gw.post('/api/pay', payFields(M.mercNo, { tradeAmt: sent! }));
    t.equal(res.status, 200, String(sent));
    t.equal(res.body.tradeAmt, back, `${sent} → ${back}`);
  }
});

t.test('unsupported cell lists the supported ones', async (t) => {
  const res = await gw.post('/api/pay', payFields(M.mercNo, { paywayCode: 'wxpay', sceneCode: 'gateway' }));
  t.equal(res.status, 422);
  t.equal(res.body.respCode, '100006');
  const listed = (res.body.respDesc ?? '').split('supported:')[1] ?? '';
  for (const cell of supportedCells()) t.match(listed, new RegExp(`(^|[ ,])${escapeRe(cell)}(,|$)`), `lists ${cell}`);
  t.notMatch(listed, /wxpay\.gateway/, 'does not list the cell asked for');
  t.ok(responseVerifies(res.body, M.key), 'signed');
});

t.test('several bad fields are all named', async (t) => {
  const before = await orderCount();
  const res = await gw.post('/api/pay', payFields(M.mercNo, { tradeAmt: '0', ip: 'x', termType: 'tv', zzz: '1' }));
  t.equal(res.status, 400);
  t.equal(res.body.respCode, '100001');
  for (const f of ['tradeAmt', 'ip', 'termType', 'zzz']) t.ok(names(res.body.respDesc ?? '', f, '100001'), `names ${f}: ${res.body.respDesc}`);
  t.equal(await orderCount(), before);
});

// ---------------------------------------------------------------------------------------------
// Transport: form bodies, malformed and oversized bodies, content types.

const form = (fields: Record<string, string>, key = M.key, signType: SignType = 'MD5') => {
  const p = new URLSearchParams(fields);
  p.append('signature', sign(fields, key, signType));
  return p.toString();
};
const FORM = 'application/x-www-form-urlencoded';

t.test('form-encoded bodies', async (t) => {
  await t.test('a valid order → 200', async (t) => {
    const before = await orderCount();
    const fields = payFields(M.mercNo, { subject: '测试商品 A&B=C +%20', attach: 'k=v&x=y' });
    const res = await gw.raw('/api/pay', form(fields), FORM);
    t.equal(res.status, 200, res.text);
    t.equal(res.body.respCode, '000000');
    t.equal(res.body.mercOrderNo, fields.mercOrderNo);
    checkEnvelope(t, res, M, 'MD5');
    t.equal(await orderCount(), before + 1);
  });

  await t.test('with a charset parameter → 200', async (t) => {
    const res = await gw.raw('/api/pay', form(payFields(M.mercNo)), `${FORM}; charset=UTF-8`);
    t.equal(res.status, 200, res.text);
    t.equal(res.body.respCode, '000000');
  });

  await t.test('a bad field is named as in JSON', async (t) => {
    const before = await orderCount();
    const res = await gw.raw('/api/pay', form(payFields(M.mercNo, { orderPeriod: '43201' })), FORM);
    t.equal(res.status, 400);
    t.equal(res.body.respCode, '100001');
    t.ok(names(res.body.respDesc ?? '', 'orderPeriod', '100001'), String(res.body.respDesc));
    checkEnvelope(t, res, M, 'MD5');
    t.equal(await orderCount(), before);
  });

  for (const dup of ['tradeAmt', 'mercNo', 'signature']) {
    await t.test(`${dup} given twice → 400 naming it`, async (t) => {
      const before = await orderCount();
      const fields = payFields(M.mercNo);
      const body = `${form(fields)}&${dup}=${encodeURIComponent(dup === 'tradeAmt' ? '99.99' : fields[dup] ?? 'x')}`;
      const res = await gw.raw('/api/pay', body, FORM);
      t.equal(res.status, 400);
      t.equal(res.body.respCode, '100001');
      t.ok(names(res.body.respDesc ?? '', dup, '100001'), String(res.body.respDesc));
      t.match(res.body.respDesc, /more than once/);
      checkEnvelope(t, res, null);
      t.equal(await orderCount(), before);
    });
  }

  for (const f of ['__proto__', 'constructor', 'hasOwnProperty']) {
    await t.test(`a form field named ${f} is an unknown field`, async (t) => {
      const before = await orderCount();
      const res = await gw.raw('/api/pay', form(payFields(M.mercNo, { [f]: 'x' })), FORM);
      t.equal(res.status, 400, res.text);
      t.equal(res.body.respCode, '100001');
      t.ok(names(res.body.respDesc ?? '', f, '100001'), String(res.body.respDesc));
      checkEnvelope(t, res, M, 'MD5');
      t.equal(await orderCount(), before);
    });
  }

  await t.test('an empty form → mercNo is required', async (t) => {
    const res = await gw.raw('/api/pay', '', FORM);
    t.equal(res.status, 400);
    t.equal(res.body.respCode, '100001');
    t.ok(names(res.body.respDesc ?? '', 'mercNo', '100001'), String(res.body.respDesc));
    checkEnvelope(t, res, null);
  });
});

t.test('bodies that are not an order', async (t) => {
  const signedJson = () => {
    const f = payFields(M.mercNo);
    return JSON.stringify({ ...f, signature: sign(f, M.key, 'MD5') });
  };
  const cases: Array<[name: string, body: string, ct: string, status: number, field: string]> = [
    ['invalid JSON', '{"mercNo":', 'application/json', 400, 'body'],
    ['JSON with a trailing comma', '{"mercNo":"x",}', 'application/json', 400, 'body'],
    ['empty JSON body', '', 'application/json', 400, 'body'],
    ['top-level array', `[${signedJson()}]`, 'application/json', 400, 'body'],
    ['top-level number', '42', 'application/json', 400, 'body'],
    ['top-level null', 'null', 'application/json', 400, 'body'],
    ['top-level string', '"mercNo"', 'application/json', 400, 'body'],
    ['__proto__ key', `{"__proto__":{"x":1},"mercNo":"${M.mercNo}"}`, 'application/json', 400, 'body'],
    ['JSON sent as a form (curl -d without -H)', signedJson(), FORM, 400, 'body'],
    ['text/plain', signedJson(), 'text/plain', 415, 'Content-Type'],
    ['application/xml', '<pay/>', 'application/xml', 415, 'Content-Type'],
    ['multipart', '--x\r\n\r\n--x--', 'multipart/form-data; boundary=x', 415, 'Content-Type'],
    ['over the body limit', JSON.stringify({ ...payFields(M.mercNo), subject: 'x'.repeat(gw.config.BODY_LIMIT_BYTES) }), 'application/json', 413, 'body'],
    ['form over the body limit', `mercNo=${M.mercNo}&subject=${'y'.repeat(gw.config.BODY_LIMIT_BYTES)}`, FORM, 413, 'body'],
  ];
  for (const [name, body, ct, status, field] of cases) {
    await t.test(name, async (t) => {
      const before = await orderCount();
      const res = await gw.raw('/api/pay', body, ct);
      t.equal(res.status, status, res.text.slice(0, 200));
      t.equal(res.body.respCode, '100001');
      t.ok(names(res.body.respDesc ?? '', field, '100001'), String(res.body.respDesc));
      checkEnvelope(t, res, null);
      t.equal(await orderCount(), before);
    });
  }
});

t.test('more fields than any interface has: refused before they are parsed, 100001 naming the rule', async (t) => {
  const junk = (n: number, value = '1') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x${i}`, value]));
  const CAP = /^body: has more than 64 fields; no interface takes more than 64$/;
  const json = (o: unknown) => JSON.stringify(o);
  const formOf = (o: Record<string, string>) => new URLSearchParams(o).toString();
  const refused: Array<[name: string, body: string, ct: string]> = [
    ['a form of 65 fields', formOf({ mercNo: M.mercNo, ...junk(64) }), FORM],
    ['a form of 65 fields, signed', form({ mercNo: M.mercNo, ...junk(63) }), FORM],
    ['a JSON object of 65 fields', json({ mercNo: M.mercNo, ...junk(64) }), 'application/json'],
    ['65 fields in a nested object', json({ mercNo: M.mercNo, signature: 'x', nested: junk(65) }), 'application/json'],
    ['65 elements in an array', json({ mercNo: M.mercNo, signature: 'x', list: Array(65).fill('1') }), 'application/json'],
    ['60 KB of tiny form fields', formOf({ mercNo: M.mercNo, ...junk(7_000) }), FORM],
    ['60 KB of tiny JSON fields', json({ mercNo: M.mercNo, ...junk(5_000) }), 'application/json'],
  ];
  for (const [name, body, ct] of refused) {
    await t.test(name, async (t) => {
      t.ok(body.length <= gw.config.BODY_LIMIT_BYTES, `${body.length} bytes, within the body limit`);
      const res = await gw.raw('/api/pay', body, ct);
      t.equal(res.status, 400);
      t.equal(res.body.respCode, '100001');
      t.match(res.body.respDesc, CAP);
      checkEnvelope(t, res, null);
    });
  }
  // At most 64 fields, however many commas, colons and ampersands their values hold, is not refused for its size.
  const busy = 'a,b:c&d=e,'.repeat(20);
  const allowed: Array<[name: string, body: string, ct: string]> = [
    ['a form of 64 fields', formOf({ mercNo: M.mercNo, ...junk(63, busy) }), FORM],
    ['a JSON object of 64 fields', json({ mercNo: M.mercNo, ...junk(63, busy) }), 'application/json'],
    ['an order whose texts hold hundreds of commas and colons', json({ ...payFields(M.mercNo), subject: ',:'.repeat(50), body: '","'.repeat(60), remark: '\\",:'.repeat(20) }), 'application/json'],
  ];
  for (const [name, body, ct] of allowed) {
    await t.test(name, async (t) => {
      const res = await gw.raw('/api/pay', body, ct);
      t.notMatch(res.body.respDesc ?? '', /more than 64 fields/, String(res.body.respDesc));
      t.not(res.status, 500);
    });
  }
});

t.test('the server still takes a valid order afterwards', async (t) => {
  const res = await gw.post('/api/pay', payFields(M.mercNo));
  t.equal(res.status, 200);
  t.equal(res.body.respCode, '000000');
  t.ok(responseVerifies(res.body, M.key));
});
