import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { createOrder, payFields, sandboxPay, startGateway, TEST_PUBLIC_BASE_URL, type ApiAnswer } from '../helper.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../../src/api/openapi.js';
import { RESP, httpStatusOf, type RespCode } from '../../src/errors.js';
import { sign, type SignType } from '../../src/domain/sign.js';
import { supportedCells } from '../../src/channels/matrix.js';
import { startReceiver } from '../receiver.js';

// GET /openapi.json and /docs against a real gateway: the document covers every merchant route, its
// request schemas give the same verdict as the routes on valid and invalid bodies (where JSON Schema
// can say the rule; where it cannot, the rule is written in the document), every answer the routes
// give fits the response schema of its HTTP status, and the docs page shows it all, escaped.

const gw = await startGateway(t, { RATE_LIMIT_API_PER_MINUTE: '0', RATE_LIMIT_PAGES_PER_MINUTE: '0' });
const M = gw.merchant;

const docRes = await fetch(`${gw.url}/openapi.json`);
const doc = (await docRes.json()) as OpenApiDocument;

const CONTRACT_PATHS = ['/api/pay', '/api/query', '/api/close', '/api/refund', '/api/refund/query', '/api/notify/resend', '/api/bill'];

type Json = Record<string, unknown>;

const ajv = new Ajv2020({ strict: true, allErrors: true });
ajv.addKeyword({ keyword: 'x-rules' });
ajv.addSchema({ $id: 'doc', $defs: doc.components.schemas });

const compiled = new Map<string, ValidateFunction>();
/** A validator for a schema of the document (a $ref into components or an inline schema). */
function validator(key: string, schema: Json): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"doc#/$defs/')) as Json;
    v = ajv.compile(rewritten);
    compiled.set(key, v);
  }
  return v;
}
/** The request schemas an operation takes: its one body, or each of a oneOf (the payments and payouts of /api/pay). */
function bodySchemas(op: { requestBody: { content: Record<string, { schema: Json }> } }): Json[] {
  const body = op.requestBody.content['application/json']!.schema;
  const refs = Array.isArray(body.oneOf) ? (body.oneOf as Json[]) : [body];
  return refs.map((r) => doc.components.schemas[String(r.$ref).replace('#/components/schemas/', '')]!);
}
const requestValidator = (path: string) => validator(`req ${path}`, doc.paths[path]!.post!.requestBody.content['application/json']!.schema);
const responseSchema = (path: string, status: number) => doc.paths[path]?.post?.responses[String(status)]?.content['application/json']?.schema;

/** Every answer a route gives must be documented under its status and fit that status's schema. */
function checkAnswer(tt: Test, path: string, a: ApiAnswer, what: string): void {
  const schema = responseSchema(path, a.status);
  if (!schema) {
    tt.fail(`${what}: status ${a.status} is not documented for ${path}`, { body: a.text });
    return;
  }
  const v = validator(`res ${path} ${a.status}`, schema);
  if (!v(a.body)) tt.fail(`${what}: the ${a.status} answer does not fit its schema`, { errors: v.errors, body: a.body });
}

// ---------------------------------------------------------------------------------------------

t.test('the served document is the generated one and is OpenAPI 3.1 in shape', async (t) => {
  t.equal(docRes.status, 200);
  t.match(docRes.headers.get('content-type'), /^application\/json/);
  t.same(doc, JSON.parse(JSON.stringify(buildOpenApiDocument({ serverUrl: TEST_PUBLIC_BASE_URL }))), 'built from the Zod schemas');
  t.match(doc.openapi, /^3\.1\.\d+$/);
  t.type(doc.info.title, 'string');
  t.type(doc.info.version, 'string');
  t.same(doc.servers, [{ url: TEST_PUBLIC_BASE_URL }]);
  t.type(doc.paths, 'object');
  t.type(doc.components.schemas, 'object');

  const ids = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    t.match(path, /^\//);
    for (const [method, op] of Object.entries(item)) {
      t.ok(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method), `${path}: ${method} is an HTTP method`);
      t.notOk(ids.has(op.operationId), `${op.operationId} is unique`);
      ids.add(op.operationId);
      t.same(Object.keys(op.requestBody.content).sort(), ['application/json', 'application/x-www-form-urlencoded'], `${path}: JSON or form`);
      for (const req of bodySchemas(op)) {
        t.ok(req, `${path}: the request schema exists`);
        t.equal(req.type, 'object');
        t.equal(req.additionalProperties, false, `${path}: unknown fields are refused`);
        t.ok((req.required as string[]).includes('signature') && (req.required as string[]).includes('mercNo'), `${path}: mercNo and signature are required`);
        for (const [name, p] of Object.entries(req.properties as Record<string, Json>)) {
          const types = p.anyOf ? (p.anyOf as Json[]).map((v) => v.type) : [p.type];
          t.ok(types.every((x) => x === 'string'), `${path} ${name}: every field is a string`);
        }
      }
      t.ok(op.responses['200'], `${path}: a 200 answer`);
      for (const [status, r] of Object.entries(op.responses)) {
        t.match(status, /^[1-5]\d\d$/);
        t.type(r.description, 'string');
        const s = r.content['application/json']!.schema as Json & { properties: Record<string, Json> };
        t.same(s.required, ['respCode', 'respDesc', 'interfaceCode'].concat(status === '200' ? ((doc.components.schemas[opAnswerName(op.operationId)]!.required as string[]) ?? []) : []));
        t.equal((s.properties.interfaceCode as Json).const, op['x-interfaceCode']);
        for (const code of (s.properties.respCode as Json).enum as RespCode[]) {
          if (status !== '413' && status !== '415') t.equal(httpStatusOf(code), Number(status), `${path}: ${code} is answered with ${status}`);
          else t.equal(code, RESP.INVALID);
        }
      }
    }
  }
  // Every $ref resolves.
  const refs = JSON.stringify(doc).match(/"\$ref":"[^"]*"/g) ?? [];
  t.ok(refs.length > 0);
  for (const r of refs) {
    const name = r.slice(8, -1).replace('#/components/schemas/', '');
    t.ok(doc.components.schemas[name], `${r} resolves`);
  }
  // The respCode table is errors.ts's.
  t.same(
    doc['x-respCodes'].map((c) => [c.respCode, c.httpStatus]),
    Object.values(RESP).map((c) => [c, httpStatusOf(c)]),
  );
  for (const c of Object.values(RESP)) t.match(doc.info.description, `| \`${c}\` | ${httpStatusOf(c)} |`);
  // The signature, described.
  t.match(doc.info.description, /Sort the names by byte order/);
  t.match(doc.info.description, /&key=<merchant key>/);
  t.match(doc.info.description, /53E6F56EFB2874CBBD3C914E7506F214/);
  t.match(doc.info.description, /control characters/);
});

function opAnswerName(operationId: string): string {
  return { pay: 'PayAnswer', query: 'OrderAnswer', close: 'OrderAnswer', refund: 'RefundAnswer', refundQuery: 'RefundAnswer', notifyResend: 'NotifyResendAnswer', bill: 'BillAnswer' }[
    operationId
  ]!;
}

/** The routes Fastify serves, from its route tree: [path, methods]. */
function servedRoutes(): [string, string[]][] {
  const lines = gw.gateway.app.printRoutes({ commonPrefix: false }).split('\n').filter(Boolean);
  const stack: string[] = [];
  const out: [string, string[]][] = [];
  for (const line of lines) {
    const m = /^([│├└─ ]*)(\S.*?)(?: \(([^)]*)\))?$/u.exec(line);
    if (!m) continue;
    const depth = Math.max(0, m[1]!.length / 4 - 1);
    const path = (depth > 0 ? stack[depth - 1]! : '') + m[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    if (m[3]) out.push([path, m[3].split(', ')]);
  }
  return out;
}

t.test('every merchant route is documented, and every documented path is served', async (t) => {
  const served = servedRoutes();
  t.ok(served.some(([p]) => p === '/healthz'), 'the route tree is read (sanity)');
  const api = served.filter(([p]) => p.startsWith('/api/'));
  t.same(api.map(([p]) => p).sort(), Object.keys(doc.paths).sort(), 'the routes under /api/ are the documented paths');
  for (const [path, methods] of api) {
    t.same(methods.map((m) => m.toLowerCase()).sort(), Object.keys(doc.paths[path] ?? {}).sort(), `${path}: the methods served are the documented ones`);
  }
  for (const p of CONTRACT_PATHS) t.ok(doc.paths[p]?.post, `${p} is documented`);
  for (const path of Object.keys(doc.paths)) {
    t.ok(gw.gateway.app.hasRoute({ method: 'POST', url: path }), `${path} is a route`);
    const a = await gw.raw(path, '{}');
    t.not(a.status, 404, `${path} is served`);
    t.equal(a.body.respCode, RESP.INVALID);
    checkAnswer(t, path, a, `${path} {}`);
  }
  const unknown = await gw.raw('/api/nope', '{}');
  t.equal(unknown.status, 404, 'an undocumented path is not served');
});

// ---------------------------------------------------------------------------------------------
// Request bodies: the route's verdict against the JSON Schema's

interface Row {
  name: string;
  set?: Record<string, string>;
  drop?: string[];
  /** put in after signing */
  after?: Record<string, unknown>;
  signType?: SignType;
  /**
   * undefined: JSON Schema says the rule, and both verdicts must agree.
   * RegExp: JSON Schema cannot say it: the route refuses, the schema lets it pass, and the document
   * states the rule in these words (field description, cross-field rules or the description).
   * A respCode: the route refuses with that code before validating (the merchant or the signature
   * is checked first), and the schema refuses too.
   */
  unsaid?: RegExp;
  earlier?: RespCode;
}

const uniq = (() => {
  let n = 0;
  return (p: string) => `${p}${process.pid % 1000}x${Date.now() % 1e6}x${++n}`;
})();

/** Every text the document says about an operation's rules. */
function ruleTexts(path: string): string {
  const op = doc.paths[path]!.post!;
  const fieldTexts = bodySchemas(op).flatMap((req) => Object.values(req.properties as Record<string, Json>).map((p) => String(p.description ?? '')));
  return [doc.info.description, op.description, ...op['x-crossFieldRules'], ...fieldTexts].join('\n');
}

async function checkRows(t: Test, path: string, base: () => Record<string, string>, rows: Row[]): Promise<void> {
  const validate = requestValidator(path);
  const texts = ruleTexts(path);
  for (const row of rows) {
    const fields: Record<string, string> = { ...base(), ...row.set };
    for (const d of row.drop ?? []) delete fields[d];
    const signType = row.signType ?? 'MD5';
    const body: Record<string, unknown> = { ...fields, signature: sign(fields, M.key, signType), ...row.after };
    for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
    const a = await gw.raw(path, JSON.stringify(body));
    checkAnswer(t, path, a, row.name);
    const routeInvalid = a.status === 400 && a.body.respCode === RESP.INVALID;
    const schemaValid = validate(body);
    const why = { respDesc: a.body.respDesc, status: a.status, ajv: validate.errors?.map((e) => `${e.instancePath} ${e.message}`) };
    if (row.earlier) {
      t.equal(a.body.respCode, row.earlier, `${path} ${row.name}: refused earlier with ${row.earlier}`, why);
      t.notOk(schemaValid, `${path} ${row.name}: and the schema refuses it`, why);
    } else if (row.unsaid) {
      t.ok(routeInvalid, `${path} ${row.name}: the route refuses it`, why);
      t.ok(schemaValid, `${path} ${row.name}: JSON Schema cannot say this rule`, why);
      t.match(texts, row.unsaid, `${path} ${row.name}: the document states the rule`);
    } else {
      t.equal(!schemaValid, routeInvalid, `${path} ${row.name}: JSON Schema ${schemaValid ? 'accepts' : 'refuses'}, the route ${routeInvalid ? 'refuses' : 'accepts'}`, why);
    }
  }
}

const repeat = (s: string, n: number) => s.repeat(n);

t.test('/api/pay: the schema and the route agree', async (t) => {
  const base = () => payFields(M.mercNo);
  const rows: Row[] = [{ name: 'a valid order' }];
  const limits: Array<[string, number, string, Record<string, string>?]> = [
    ['subject', 100, '测'],
    ['body', 200, '说'],
    ['merchantId', 8, '商'],
    ['storeId', 8, '7'],
    ['payeeId', 8, 'p'],
    ['remark', 100, '备'],
    ['attach', 128, '😀'],
    ['quickPayAttach', 1024, 'q'],
    ['mchAppName', 256, '王', { paywayCode: 'wxpay', sceneCode: 'h5', deviceInfo: 'WAP_SDK', mchAppId: 'www.example.cn' }],
    ['mchAppId', 128, 'c', { paywayCode: 'wxpay', sceneCode: 'h5', deviceInfo: 'IOS_SDK', mchAppName: 'n' }],
    ['bankCode', 20, 'B', { paywayCode: 'unionpay', sceneCode: 'ebank' }],
    ['openId', 128, 'o', { paywayCode: 'wxpay', sceneCode: 'jspay' }],
  ];
  for (const [field, max, ch, extra] of limits) {
    rows.push({ name: `${field} of ${max} characters`, set: { ...extra, [field]: repeat(ch, max) } });
    rows.push({ name: `${field} of ${max + 1} characters`, set: { ...extra, [field]: repeat(ch, max + 1) } });
  }
  rows.push(
    { name: 'subject of 100 emoji', set: { subject: repeat('😀', 100) } },
    { name: 'subject of 101 emoji', set: { subject: repeat('😀', 101) } },
    { name: 'notifyUrl of 201 characters', set: { notifyUrl: 'https://shop.example.com/' + repeat('a', 176) } },
    { name: 'mercOrderNo of 33 characters', set: { mercOrderNo: uniq('N').padEnd(33, 'z') } },
    { name: 'mercOrderNo of 32 characters', set: { mercOrderNo: uniq('N').padEnd(32, 'z') } },
  );
  for (const f of ['mercOrderNo', 'tradeType', 'tradeAmt', 'tradeTime', 'orderPeriod', 'notifyUrl', 'termType', 'paywayCode', 'sceneCode', 'ip']) {
    rows.push({ name: `${f} left out`, drop: [f] }, { name: `${f} empty`, set: { [f]: '' } });
  }
  const values = (field: string, vs: string[], extra: Record<string, string> = {}) => {
    for (const v of vs) rows.push({ name: `${field} = ${JSON.stringify(v)}`, set: { ...extra, [field]: v } });
  };
  values('mercOrderNo', ['abc def', 'a/b', '订单1', `ok_-|*${Date.now()}`]);
  values('tradeAmt', ['abc', '1.234', '01.00', '-1', '.5', '1e3', '12345678901234567', '0.01', '9999999999999999.99']);
  values('tradeType', ['04', 'pay', '01']);
  values('termType', ['mobile', 'WAP', 'wap', 'app']);
  values('paywayCode', ['paypal', 'unionpay']);
  values('sceneCode', ['qr', 'SCAN']);
  values('feeType', ['USD', 'cny', 'CNY', '']);
  values('version', ['2.0', '1.0', '']);
  values('charset', ['GBK', 'UTF-8']);
  values('payType', ['4', '2', ''], { paywayCode: 'unionpay', sceneCode: 'ebank', bankCode: 'ICBC' });
  values('deviceInfo', ['ANDROID', 'AND_SDK'], { paywayCode: 'wxpay', sceneCode: 'h5', mchAppName: 'n', mchAppId: 'i' });
  values('returnUrl', ['', 'https://shop.example.com/done']);
  rows.push(
    { name: 'signType HMAC-SHA256', set: { signType: 'HMAC-SHA256' }, signType: 'HMAC-SHA256' },
    { name: 'signType SHA1', set: { signType: 'SHA1' } },
    { name: 'an unknown field', set: { colour: 'blue' } },
    { name: 'a number instead of a string', after: { tradeAmt: 12.34 } },
    { name: 'an array instead of a string', after: { subject: ['a'] } },
    { name: 'signature left out', drop: [], after: { signature: undefined } },
    // Rules in code, not in the schema: the document says them in words.
    { name: 'tradeAmt zero', set: { tradeAmt: '0.00' }, unsaid: /greater than zero/ },
    { name: 'tradeTime not a real date', set: { tradeTime: '20240230120000' }, unsaid: /real date-time/ },
    { name: 'tradeTime of 13 digits', set: { tradeTime: '2024061812582' }, unsaid: /yyyyMMddHHmmss/ },
    { name: 'orderPeriod 0', set: { orderPeriod: '0' }, unsaid: /1 to 43200/ },
    { name: 'orderPeriod 43201', set: { orderPeriod: '43201' }, unsaid: /1 to 43200/ },
    { name: 'notifyUrl ftp://', set: { notifyUrl: 'ftp://shop.example.com/n' }, unsaid: /http:\/\/ or https:\/\// },
    { name: 'returnUrl javascript:', set: { returnUrl: 'javascript:alert(1)' }, unsaid: /http:\/\/ or https:\/\// },
    { name: 'ip not an address', set: { ip: 'not-an-ip' }, unsaid: /IPv4 or IPv6/ },
    { name: 'bankCode with a dash', set: { paywayCode: 'unionpay', sceneCode: 'ebank', bankCode: 'ICBC-01' }, unsaid: /letters, digits and _/ },
    { name: 'a control character', set: { subject: 'a\u0001b' }, unsaid: /control characters/ },
    // Rules across fields.
    { name: 'neither subject nor body', drop: ['subject'], unsaid: /subject or body/ },
    { name: 'subject and body empty', set: { subject: '', body: '' }, unsaid: /subject or body/ },
    { name: 'WeChat H5 without deviceInfo', set: { paywayCode: 'wxpay', sceneCode: 'h5', mchAppName: 'n', mchAppId: 'i' }, unsaid: /WeChat H5.*deviceInfo/ },
    { name: 'WeChat H5 without mchAppId', set: { paywayCode: 'wxpay', sceneCode: 'h5', mchAppName: 'n', deviceInfo: 'IOS_SDK' }, unsaid: /WeChat H5.*mchAppId/ },
    { name: 'ebank without bankCode', set: { paywayCode: 'unionpay', sceneCode: 'ebank' }, unsaid: /ebank.*bankCode/ },
    { name: 'jspay without openId', set: { paywayCode: 'wxpay', sceneCode: 'jspay' }, unsaid: /jspay.*openId/ },
    // Checked before the fields: an over-long mercNo is no merchant, an over-long signature does not verify.
    { name: 'mercNo of 33 characters', set: { mercNo: M.mercNo.padEnd(33, '9') }, earlier: RESP.MERCHANT_REFUSED },
    { name: 'signature of 65 characters', after: { signature: repeat('A', 65) }, earlier: RESP.BAD_SIGNATURE },
  );
  // A fresh mercOrderNo for every row (unless the row sets one), so that valid rows create orders.
  await checkRows(t, '/api/pay', base, rows);

  // Form bodies are validated the same way.
  const validate = requestValidator('/api/pay');
  for (const [name, over, ok] of [
    ['valid form', {}, true],
    ['form with an unknown field', { colour: 'x' }, false],
  ] as const) {
    const f = payFields(M.mercNo, over);
    const body = { ...f, signature: sign(f, M.key, 'MD5') };
    const a = await gw.raw('/api/pay', new URLSearchParams(body).toString(), 'application/x-www-form-urlencoded');
    t.equal(a.body.respCode === RESP.INVALID, !ok, `${name}: route`);
    t.equal(validate(body), ok, `${name}: schema`);
    checkAnswer(t, '/api/pay', a, name);
  }
});

t.test('/api/pay payouts: the PayoutRequest schema and the route agree', async (t) => {
  await gw.gateway.writer.run('setPayoutSettings', { mercNo: M.mercNo, enabled: true, dailyLimitFen: 10n ** 17n, perPayoutLimitFen: null, at: Date.now() });
  const base = () =>
    payFields(M.mercNo, {
      tradeType: '02',
      sceneCode: 'transfer',
      signType: 'HMAC-SHA256',
      payeeAccountType: 'BANK_CARD',
      payeeAccount: '6222021234567890123',
      payeeName: '张小明',
    });
  const H = 'HMAC-SHA256' as const;
  const rows: Row[] = [
    { name: 'a valid payout', signType: H },
    { name: 'a withdrawal', set: { tradeType: '03' }, signType: H },
    { name: 'to an Alipay user id', set: { payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088123412341234', payeeName: '' }, signType: H },
    { name: 'payeeAccount of 64 characters', set: { payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: repeat('a', 64) }, signType: H },
    { name: 'payeeAccount of 65 characters', set: { payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: repeat('a', 65) }, signType: H },
    { name: 'payeeName of 65 characters', set: { payeeName: repeat('名', 65) }, signType: H },
    { name: 'payeeAccountType unknown', set: { payeeAccountType: 'PAYPAL' }, signType: H },
    { name: 'payeeAccountType left out', drop: ['payeeAccountType'], signType: H },
    { name: 'payeeAccount left out', drop: ['payeeAccount'], signType: H },
    { name: 'sceneCode scan', set: { sceneCode: 'scan' }, signType: H },
    { name: 'an unknown field', set: { colour: 'blue' }, signType: H },
    { name: 'openId given', set: { openId: 'o1' }, signType: H, unsaid: /openId.*not used by payouts/ },
    { name: 'payType given', set: { payType: '1' }, signType: H, unsaid: /payType.*not used by payouts/ },
    { name: 'a card of letters', set: { payeeAccount: 'abcdefghijklm' }, signType: H, unsaid: /12 to 19 digits/ },
    { name: 'a card without a name', set: { payeeName: '' }, signType: H, unsaid: /payeeName is required for .*BANK_CARD/ },
    { name: 'bankCode for an Alipay user', set: { payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088123412341234', bankCode: 'ICBC' }, signType: H, unsaid: /bankCode only with BANK_CARD/ },
    // Signed with MD5: the fields are checked first; the signType (100002) only after them.
    { name: 'signed with MD5', set: { signType: 'MD5' }, signType: 'MD5', earlier: RESP.BAD_SIGNATURE },
  ];
  // The MD5 row is valid to the schema (the signType rule is not a field rule): checked apart.
  const md5 = rows.pop()!;
  await checkRows(t, '/api/pay', base, rows);
  const f = { ...base(), ...md5.set };
  const a = await gw.post('/api/pay', f, { signType: 'MD5' });
  t.equal(a.body.respCode, RESP.BAD_SIGNATURE);
  checkAnswer(t, '/api/pay', a, md5.name);
  t.match(ruleTexts('/api/pay'), /signed with HMAC-SHA256/);

  // Answers of payouts fit the PayAnswer and OrderAnswer schemas.
  for (const [name, over] of [
    ['a card payout', {}],
    ['a wxpay payout (payInfo)', { paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '' }],
    ['a refused payout', { tradeAmt: '0.91' }],
    ['a payout whose answer was lost', { tradeAmt: '0.92' }],
  ] as const) {
    const p = await gw.post('/api/pay', { ...base(), ...over }, { signType: H });
    checkAnswer(t, '/api/pay', p, name);
    const q = await gw.post('/api/query', { mercNo: M.mercNo, orderId: p.body.orderId! });
    checkAnswer(t, '/api/query', q, `query of ${name}`);
  }
  const over = await gw.post('/api/pay', { ...base(), tradeAmt: '9999999999999999.99' }, { signType: H });
  t.equal(over.body.respCode, RESP.STATE_CONFLICT);
  checkAnswer(t, '/api/pay', over, 'over the daily limit');
});

t.test('order interfaces: the schema and the route agree', async (t) => {
  for (const path of ['/api/query', '/api/close', '/api/notify/resend']) {
    const orderId = await createOrder(gw);
    const mercOrderNo = ((await gw.gateway.services.reads.order(orderId))!).merc_order_no;
    await checkRows(t, path, () => ({ mercNo: M.mercNo }), [
      { name: 'by orderId', set: { orderId } },
      { name: 'by mercOrderNo', set: { mercOrderNo } },
      { name: 'by both', set: { orderId, mercOrderNo } },
      { name: 'an unknown order', set: { orderId: '20990101000000000000001' } },
      { name: 'orderId of 33 characters', set: { orderId: repeat('1', 33) } },
      { name: 'mercOrderNo of 33 characters', set: { mercOrderNo: repeat('m', 33) } },
      { name: 'an unknown field', set: { orderId, tradeAmt: '1.00' } },
      { name: 'a number', set: { orderId }, after: { version: 1 } },
      { name: 'charset GBK', set: { orderId, charset: 'GBK' } },
      { name: 'neither orderId nor mercOrderNo', unsaid: /orderId or mercOrderNo/ },
      { name: 'both empty', set: { orderId: '', mercOrderNo: '' }, unsaid: /orderId or mercOrderNo/ },
    ]);
  }
});

t.test('refund interfaces: the schema and the route agree', async (t) => {
  const orderId = await createOrder(gw, { tradeAmt: '100.00' });
  await sandboxPay(gw, orderId);
  await checkRows(t, '/api/refund', () => ({ mercNo: M.mercNo, orderId, mercRefundNo: uniq('R'), refundAmt: '0.01' }), [
    { name: 'a valid refund' },
    { name: 'with a reason of 256 characters', set: { refundReason: repeat('因', 256) } },
    { name: 'with a reason of 257 characters', set: { refundReason: repeat('因', 257) } },
    { name: 'with a notifyUrl', set: { notifyUrl: 'https://shop.example.com/refund' } },
    { name: 'mercRefundNo with a slash', set: { mercRefundNo: 'a/b' } },
    { name: 'mercRefundNo of 33 characters', set: { mercRefundNo: uniq('R').padEnd(33, 'z') } },
    { name: 'mercRefundNo left out', drop: ['mercRefundNo'] },
    { name: 'refundAmt not yuan', set: { refundAmt: '1.001' } },
    { name: 'refundAmt left out', drop: ['refundAmt'] },
    { name: 'an unknown field', set: { tradeAmt: '1.00' } },
    { name: 'more than is left', set: { refundAmt: '1000.00' } },
    { name: 'refundAmt zero', set: { refundAmt: '0' }, unsaid: /greater than zero/ },
    { name: 'notifyUrl not http', set: { notifyUrl: 'ftp://x.example/' }, unsaid: /http:\/\/ or https:\/\// },
    { name: 'neither orderId nor mercOrderNo', drop: ['orderId'], unsaid: /orderId or mercOrderNo/ },
  ]);
  const refundId = (await gw.sql.value<string>('select refund_id from refunds limit 1'))!;
  await checkRows(t, '/api/refund/query', () => ({ mercNo: M.mercNo }), [
    { name: 'by refundId', set: { refundId } },
    { name: 'an unknown refund', set: { refundId: '20990101000000000000001' } },
    { name: 'refundId of 33 characters', set: { refundId: repeat('1', 33) } },
    { name: 'an unknown field', set: { refundId, orderId } },
    { name: 'neither refundId nor mercRefundNo', unsaid: /refundId or mercRefundNo/ },
  ]);
});

t.test('/api/bill: the schema and the route agree', async (t) => {
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10).replaceAll('-', '');
  await checkRows(t, '/api/bill', () => ({ mercNo: M.mercNo, billDate: '20261130' }), [
    { name: 'a past day' },
    { name: 'today', set: { billDate: today } },
    { name: 'HMAC-SHA256', set: { signType: 'HMAC-SHA256' }, signType: 'HMAC-SHA256' },
    { name: 'billDate left out', drop: ['billDate'] },
    { name: 'billDate empty', set: { billDate: '' } },
    { name: 'billDate of 9 characters', set: { billDate: '202611301' } },
    { name: 'an unknown field', set: { orderId: '1' } },
    { name: 'a number', after: { billDate: 20261130 } },
    { name: 'billDate with dashes', set: { billDate: '2026-113' }, unsaid: /real date as yyyyMMdd/ },
    { name: 'billDate not a real date', set: { billDate: '20260230' }, unsaid: /real date as yyyyMMdd/ },
    { name: 'billDate in the future', set: { billDate: '20991231' }, unsaid: /not after today in Beijing time/ },
  ]);
});

t.test('answers fit the declared response schemas', async (t) => {
  // One order per supported cell: each scene's own answer fields.
  for (const cell of supportedCells()) {
    const [paywayCode, sceneCode] = cell.split('.') as [string, string];
    const extra: Record<string, string> =
      sceneCode === 'h5' && paywayCode === 'wxpay'
        ? { deviceInfo: 'WAP_SDK', mchAppName: 'n', mchAppId: 'i' }
        : sceneCode === 'ebank'
          ? { bankCode: 'ICBC' }
          : sceneCode === 'jspay'
            ? { openId: 'o123' }
            : {};
    const f = payFields(M.mercNo, { paywayCode, sceneCode, ...extra });
    const a = await gw.post('/api/pay', f);
    t.equal(a.status, 200, cell);
    checkAnswer(t, '/api/pay', a, cell);
  }
  const unsupported = await gw.post('/api/pay', payFields(M.mercNo, { paywayCode: 'wxpay', sceneCode: 'gateway' }));
  t.equal(unsupported.status, 422);
  checkAnswer(t, '/api/pay', unsupported, 'an unsupported cell');
  const f = payFields(M.mercNo);
  await gw.post('/api/pay', f);
  const dup = await gw.post('/api/pay', { ...f, tradeAmt: '1.00' });
  t.equal(dup.status, 409);
  checkAnswer(t, '/api/pay', dup, 'a conflicting replay');

  const paid = await createOrder(gw);
  await sandboxPay(gw, paid);
  const q = await gw.post('/api/query', { mercNo: M.mercNo, orderId: paid });
  t.equal(q.body.payStatus, 'p0000');
  checkAnswer(t, '/api/query', q, 'a paid order');
  const c = await gw.post('/api/close', { mercNo: M.mercNo, orderId: paid });
  t.equal(c.status, 409);
  t.equal(c.body.payStatus, 'p0000');
  checkAnswer(t, '/api/close', c, 'closing a paid order');
  const open = await createOrder(gw);
  const closed = await gw.post('/api/close', { mercNo: M.mercNo, orderId: open });
  t.equal(closed.body.payStatus, 'p0005');
  checkAnswer(t, '/api/close', closed, 'closing an open order');
  const r = await gw.post('/api/refund', { mercNo: M.mercNo, orderId: open, mercRefundNo: uniq('R'), refundAmt: '1.00' });
  t.equal(r.status, 409);
  checkAnswer(t, '/api/refund', r, 'refunding an unpaid order');

  const bill = await gw.post('/api/bill', { mercNo: M.mercNo, billDate: new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10).replaceAll('-', '') });
  t.equal(bill.status, 200);
  t.ok(Number(bill.body.count) >= 1, 'today’s bill has the paid order');
  checkAnswer(t, '/api/bill', bill, 'a bill');
  const badSig = await gw.post('/api/query', { mercNo: M.mercNo, orderId: paid }, { key: 'wrong' });
  t.equal(badSig.status, 401);
  checkAnswer(t, '/api/query', badSig, 'a bad signature');
  const text = await gw.raw('/api/query', 'mercNo=x', 'text/plain');
  t.equal(text.status, 415);
  checkAnswer(t, '/api/query', text, 'text/plain');
});

t.test('GET /docs renders the document', async (t) => {
  const res = await fetch(`${gw.url}/docs`);
  const html = await res.text();
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/html/);
  t.match(res.headers.get('content-security-policy'), /default-src 'none'/);
  t.notMatch(html, /<script/i, 'no script');
  t.notMatch(html, /(src|href)="(https?:)?\/\//i, 'nothing from elsewhere');
  for (const [path, item] of Object.entries(doc.paths)) {
    t.ok(html.includes(`<code>${path}</code>`), `${path} is on the page`);
    const op = item.post!;
    t.ok(html.includes(`id="${op.operationId}"`), `${op.operationId} has a section`);
    for (const rule of op['x-crossFieldRules']) t.ok(html.includes(rule.replaceAll("'", '&#39;')), `${path}: "${rule}" is on the page`);
  }
  for (const field of Object.keys(doc.components.schemas.PayRequest!.properties as Json)) t.ok(html.includes(`<code>${field}</code>`), `pay field ${field}`);
  for (const code of Object.values(RESP)) t.ok(html.includes(code), `respCode ${code}`);
  t.match(html, /≤ 32 characters/, 'lengths are shown');
  t.match(html, /one of alipay, wxpay, unionpay/, 'enums are shown');
  t.ok(html.includes('&amp;key=&lt;merchant key&gt;'), 'descriptions are escaped');
  t.notOk(html.includes('<merchant key>'));
});

// ---------------------------------------------------------------------------------------------
// Notifications: the document's webhooks against what the gateway really sends

t.test('webhooks: the order and refund notifications, their headers, the success answer, the retries', async (t) => {
  const hooks = doc.webhooks;
  t.same(Object.keys(hooks).sort(), ['orderNotification', 'refundNotification']);
  for (const [name, item] of Object.entries(hooks)) {
    const w = item.post!;
    t.equal(w.operationId, name);
    t.same(
      w.parameters.map((p) => [p.name, p.in, p.required]),
      [['webhook-id', 'header', true], ['webhook-timestamp', 'header', true], ['webhook-signature', 'header', true]],
      `${name}: the Standard Webhooks headers`,
    );
    t.match(w.parameters[2]!.description, /HMAC-SHA256[\s\S]*webhook-id \+ "\." \+ webhook-timestamp \+ "\." \+ the raw body/);
    t.same(w.responses['200']!.content!['text/plain']!.schema, { type: 'string', const: 'success' }, `${name}: the answer is success`);
    t.match(w.responses['200']!.description, /2xx/);
    t.ok(w.responses.default, `${name}: anything else is a failed attempt`);
    t.match(w.description, /`10,10,10,10,10`[\s\S]*attempts at 0, 10, 20, 30, 40, 50 s, 6 in all/, `${name}: the retry schedule`);
    t.match(w.description, /NOTIFY_TIMEOUT_MS \(default 5000 ms/);
    const ref = String(w.requestBody.content['application/json']!.schema.$ref);
    t.ok(doc.components.schemas[ref.replace('#/components/schemas/', '')], `${name}: ${ref} resolves`);
  }
  t.same(
    Object.keys(doc.components.schemas.OrderNotification!.properties as Json),
    ['mercNo', 'mercOrderNo', 'orderId', 'tradeType', 'tradeAmt', 'feeType', 'tradeTime', 'tradeEndTime', 'termType', 'payStatus', 'bankType', 'attach',
      'payeeAccountType', 'payeeAccount', 'payeeName', 'charset', 'locale', 'version', 'signType', 'signature'],
    'the order notification has CONTRACT §2.5’s fields, in its order (and a payout’s payee, masked, CONTRACT §4)',
  );
  t.same(
    Object.keys(doc.components.schemas.RefundNotification!.properties as Json),
    ['mercNo', 'mercOrderNo', 'orderId', 'mercRefundNo', 'refundId', 'tradeAmt', 'refundAmt', 'refundStatus', 'refundEndTime', 'charset', 'locale', 'version', 'signType', 'signature'],
  );

  // What the gateway sends fits what the document says, headers and body.
  const rcv = await startReceiver(t);
  const orderId = await createOrder(gw, { notifyUrl: `${rcv.url}/paid`, attach: 'a1' });
  await sandboxPay(gw, orderId);
  const refund = await gw.post('/api/refund', { mercNo: M.mercNo, orderId, mercRefundNo: uniq('R'), refundAmt: '0.91', notifyUrl: `${rcv.url}/refunded`, signType: 'HMAC-SHA256' }, { signType: 'HMAC-SHA256' });
  t.equal(refund.body.refundStatus, 'r0004', 'the sandbox refuses a 0.91 refund at once, so it ends now');
  await rcv.waitFor((r) => r.some((x) => x.path === '/paid') && r.some((x) => x.path === '/refunded'), 10_000);
  for (const [path, name, schema] of [['/paid', 'orderNotification', 'OrderNotification'], ['/refunded', 'refundNotification', 'RefundNotification']] as const) {
    const got = rcv.received.find((r) => r.path === path)!;
    const v = validator(`webhook ${schema}`, { $ref: `#/components/schemas/${schema}` });
    t.ok(v(got.json), `${name}: the body fits ${schema}`, { errors: v.errors, body: got.json });
    t.match(got.headers['content-type'], /^application\/json/, `${name}: ${Object.keys(hooks[name]!.post!.requestBody.content)[0]}`);
    for (const p of hooks[name]!.post!.parameters) {
      const value = got.headers[p.name];
      t.type(value, 'string', `${name}: header ${p.name} is sent`);
      t.match(value, new RegExp(String(p.schema.pattern)), `${name}: ${p.name} fits its pattern`);
    }
    const [id, ts, sig] = ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => got.headers[h] as string);
    const mac = createHmac('sha256', M.key).update(`${id}.${ts}.${got.body}`).digest('base64');
    t.equal(sig, `v1,${mac}`, `${name}: webhook-signature is computed as the document says`);
    t.equal(got.json.signature, sign(got.json, M.key, got.json.signType as SignType), `${name}: the body is signed like an answer`);
  }
  const paid = rcv.received.find((r) => r.path === '/paid')!.json;
  t.match(paid, { orderId, payStatus: 'p0000', attach: 'a1', signType: 'MD5', locale: 'CN' });
  t.match(rcv.received.find((r) => r.path === '/refunded')!.json, { orderId, refundStatus: 'r0004', refundAmt: '0.91', signType: 'HMAC-SHA256' });

  // The page shows them too.
  const html = await (await fetch(`${gw.url}/docs`)).text();
  for (const name of Object.keys(hooks)) t.ok(html.includes(`id="${name}"`), `/docs has a section for ${name}`);
  for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) t.ok(html.includes(`<code>${h}</code>`), `/docs names ${h}`);
  t.ok(html.includes('<code>refundStatus</code>'), '/docs lists the refund notification’s fields');
});

t.test('the docs page depends on the document’s shape, not on the module that builds it', async (t) => {
  const source = readFileSync(fileURLToPath(new URL('../../../src/pages/docs-page.ts', import.meta.url)), 'utf8');
  t.notMatch(source, /from '\.\.\/api\//, 'src/pages/docs-page.ts imports nothing from src/api/');
});
