import t, { type Test } from 'tap';
import { payFields, responseVerifies, startGateway, TEST_PUBLIC_BASE_URL, type ApiAnswer } from '../helper.js';

// CONTRACT §2.3's scene matrix, answered by the sandbox channel in the shape the live channel
// would use; every `—` cell is 100006 listing what is supported.

const gw = await startGateway(t);
const { mercNo, key } = gw.merchant;

type Cell = [payway: string, scene: string, field: 'codeUrl' | 'mwebUrl' | 'payInfo' | 'resultHtml'];
const SUPPORTED: Cell[] = [
  ['alipay', 'scan', 'codeUrl'],
  ['alipay', 'h5', 'mwebUrl'],
  ['alipay', 'app', 'payInfo'],
  ['alipay', 'jspay', 'payInfo'],
  ['alipay', 'gateway', 'resultHtml'],
  ['wxpay', 'scan', 'codeUrl'],
  ['wxpay', 'h5', 'mwebUrl'],
  ['wxpay', 'app', 'payInfo'],
  ['wxpay', 'jspay', 'payInfo'],
  ['unionpay', 'scan', 'codeUrl'],
  ['unionpay', 'h5', 'resultHtml'],
  ['unionpay', 'app', 'payInfo'],
  ['unionpay', 'gateway', 'resultHtml'],
  ['unionpay', 'ebank', 'resultHtml'],
];
const UNSUPPORTED: [string, string][] = [
  ['alipay', 'ebank'],
  ['wxpay', 'gateway'],
  ['wxpay', 'ebank'],
  ['unionpay', 'jspay'],
];
const RESULT_FIELDS = ['codeUrl', 'imgUrl', 'mwebUrl', 'payInfo', 'resultHtml'];

/** The cross-field rules of CONTRACT §2.3, satisfied. */
function cellFields(payway: string, scene: string): Record<string, string> {
  const extra: Record<string, string> = { paywayCode: payway, sceneCode: scene };
  if (payway === 'wxpay' && scene === 'h5') Object.assign(extra, { deviceInfo: 'WAP_SDK', mchAppName: 'Test shop', mchAppId: 'https://shop.example.com' });
  if (scene === 'ebank') extra.bankCode = 'ICBC';
  if (scene === 'jspay') extra.openId = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';
  return payFields(mercNo, extra);
}

const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

const get = (path: string) => fetch(gw.url + path);
const cashierToken = (orderId: string) => new URL(gw.gateway.services.links.cashierUrl(orderId)).searchParams.get('t');

function parseBeijing(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s)!;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, se!) - 8 * 3600_000;
}

/** The sandbox payment page of the order is where `url` leads. */
async function leadsToSandboxPage(t: Test, url: string, orderId: string) {
  t.equal(new URL(url).origin, TEST_PUBLIC_BASE_URL, 'built from PUBLIC_BASE_URL');
  t.equal(new URL(url).pathname, `/sandbox/pay/${orderId}`, 'leads to /sandbox/pay/{orderId}');
  const res = await get(pathOf(url));
  t.equal(res.status, 200, 'the sandbox page opens');
  t.match(res.headers.get('content-type'), /^text\/html/);
  t.match(await res.text(), orderId, 'the page shows the order');
}

/** An auto-submitting form whose action leads to the sandbox page. */
async function checkForm(t: Test, html: string, orderId: string) {
  const form = /<form\b[^>]*\baction="([^"]+)"[^>]*>/i.exec(html);
  t.ok(form, 'resultHtml holds a form');
  t.match(html, /<script>[^<]*\.submit\(\)/, 'the form submits itself');
  const action = form![1]!.replace(/&amp;/g, '&');
  const method = /\bmethod="([^"]+)"/i.exec(form![0])?.[1]?.toLowerCase() ?? 'get';
  t.equal(method, 'get', 'the form is submitted with GET to the sandbox page');
  await leadsToSandboxPage(t, action, orderId);
}

function checkPayInfo(t: Test, payway: string, scene: string, payInfo: string, orderId: string) {
  if (payway === 'alipay' && scene === 'app') {
    // An order string for the Alipay SDK: URL-encoded, signed.
    t.match(payInfo, /^[A-Za-z0-9_]+=[^&]*(&[A-Za-z0-9_]+=[^&]*)+$/, 'URL-encoded key=value pairs');
    const p = new URLSearchParams(payInfo);
    t.equal(p.get('method'), 'alipay.trade.app.pay');
    t.ok(p.get('app_id'), 'app_id');
    t.ok(p.get('sign'), 'sign');
    t.ok(p.get('sign_type'), 'sign_type');
    t.ok(p.get('timestamp'), 'timestamp');
    t.equal(new URL(p.get('notify_url')!).pathname, '/channel/sandbox/notify', 'notify_url is the gateway callback');
    const biz = JSON.parse(p.get('biz_content')!) as Record<string, string>;
    t.equal(biz.out_trade_no, orderId, 'biz_content.out_trade_no is the order id');
    t.equal(biz.total_amount, '12.34', 'biz_content.total_amount in yuan');
  } else if (payway === 'alipay' && scene === 'jspay') {
    // tradePay({ tradeNO }): just the channel's trade number.
    t.match(payInfo, /^[0-9A-Za-z]{16,64}$/, 'a bare trade_no');
  } else if (payway === 'wxpay' && scene === 'app') {
    const p = JSON.parse(payInfo) as Record<string, string>;
    t.same(Object.keys(p).sort(), ['appid', 'noncestr', 'package', 'partnerid', 'prepayid', 'sign', 'timestamp']);
    t.equal(p.package, 'Sign=WXPay');
    t.match(p.timestamp, /^\d{10}$/, 'unix seconds');
    t.ok(p.appid && p.partnerid && p.prepayid && p.noncestr && p.sign, 'no empty member');
    for (const v of Object.values(p)) t.type(v, 'string');
  } else if (payway === 'wxpay' && scene === 'jspay') {
    const p = JSON.parse(payInfo) as Record<string, string>;
    t.same(Object.keys(p).sort(), ['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    t.match(p.package, /^prepay_id=.+/);
    t.match(p.timeStamp, /^\d{10}$/, 'unix seconds');
    t.ok(p.appId && p.nonceStr && p.signType && p.paySign, 'no empty member');
    for (const v of Object.values(p)) t.type(v, 'string');
  } else if (payway === 'unionpay' && scene === 'app') {
    t.match(payInfo, /^\d{21}$/, 'a 21-digit tn');
  } else {
    t.fail(`no payInfo expected for ${payway}.${scene}`);
  }
}

for (const [payway, scene, field] of SUPPORTED) {
  t.test(`${payway}.${scene} → ${field}`, async (t) => {
    const before = Date.now();
    const a = await gw.post('/api/pay', cellFields(payway, scene));
    t.equal(a.status, 200);
    t.equal(a.body.respCode, '000000', a.body.respDesc ?? '');
    t.equal(a.body.interfaceCode, 'pay');
    t.ok(responseVerifies(a.body, key), 'response verifies');
    t.equal(a.body.payStatus, 'p0001');
    t.equal(a.body.tradeAmt, '12.34');
    const orderId = a.body.orderId!;
    t.match(orderId, /^\d{22}$/);

    t.match(a.body.expireTime, /^\d{14}$/, 'expireTime is yyyyMMddHHmmss');
    const expire = parseBeijing(a.body.expireTime!);
    t.ok(
      expire >= Math.floor(before / 1000) * 1000 + 30 * 60_000 && expire <= Date.now() + 30 * 60_000,
      'expireTime is orderPeriod (30 min) after creation, Beijing time',
    );
    t.equal(a.body.cashierUrl, `${TEST_PUBLIC_BASE_URL}/cashier/${orderId}?t=${cashierToken(orderId)}`, "the cashier, with the order's token");
    const cashier = await get(pathOf(a.body.cashierUrl!));
    t.equal(cashier.status, 200, 'the cashier page opens');
    t.match(await cashier.text(), orderId);

    // Exactly the cell's result field(s), nothing of another cell's shape.
    const expected = field === 'codeUrl' ? ['codeUrl', 'imgUrl'] : [field];
    t.same(RESULT_FIELDS.filter((f) => a.body[f] !== undefined), expected, `carries only ${expected.join(' + ')}`);

    switch (field) {
      case 'codeUrl': {
        await leadsToSandboxPage(t, a.body.codeUrl!, orderId);
        t.equal(a.body.imgUrl, `${TEST_PUBLIC_BASE_URL}/qr/${orderId}.png?t=${cashierToken(orderId)}`, 'imgUrl points at the gateway, with the token');
        const png = await get(pathOf(a.body.imgUrl!));
        t.equal(png.status, 200);
        t.equal(png.headers.get('content-type'), 'image/png');
        const bytes = Buffer.from(await png.arrayBuffer());
        t.same([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
        t.ok(bytes.length > 100, 'a real image, not just a header');
        t.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR', 'first chunk is IHDR');
        break;
      }
      case 'mwebUrl':
        await leadsToSandboxPage(t, a.body.mwebUrl!, orderId);
        break;
      case 'resultHtml':
        await checkForm(t, a.body.resultHtml!, orderId);
        break;
      case 'payInfo':
        checkPayInfo(t, payway, scene, a.body.payInfo!, orderId);
        break;
    }
  });
}

for (const [payway, scene] of UNSUPPORTED) {
  t.test(`${payway}.${scene} is not a cell: 100006`, async (t) => {
    const a = await gw.post('/api/pay', cellFields(payway, scene));
    t.equal(a.status, 422);
    t.equal(a.body.respCode, '100006');
    t.ok(responseVerifies(a.body, key), 'response verifies');
    t.notOk(a.body.orderId, 'no order id');
    const desc = a.body.respDesc!;
    t.match(desc, `${payway}.${scene}`, 'names the asked cell');
    const listed = /supported: (.*)$/.exec(desc)?.[1]?.split(/,\s*/) ?? [];
    t.same(listed.sort(), SUPPORTED.map(([p, s]) => `${p}.${s}`).sort(), 'lists every supported cell and nothing else');
  });
}

t.test('the unsupported cells make no order rows', async (t) => {
  const n = await gw.sql.value(
    `SELECT count(*) FROM orders WHERE payway || '.' || scene IN (${UNSUPPORTED.map(() => '?').join(',')})`,
    ...UNSUPPORTED.map(([p, s]) => `${p}.${s}`),
  );
  t.equal(n, 0);
});

t.test('tradeType 02 and 03 are payouts: 100006 while they are off for the merchant (CONTRACT §4)', async (t) => {
  for (const tradeType of ['02', '03']) {
    const payee = { sceneCode: 'transfer', payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088123412341234' };
    const a = await gw.post('/api/pay', payFields(mercNo, { tradeType, ...payee }));
    t.equal(a.status, 422, `tradeType ${tradeType}`);
    t.equal(a.body.respCode, '100006');
    t.match(a.body.respDesc, /tradeType 02 and 03\) are off/);
    t.ok(responseVerifies(a.body, key));
  }
});

t.test('the cross-field rules of the matrix cells are enforced', async (t) => {
  const missing: [string, string, string][] = [
    ['wxpay', 'h5', 'deviceInfo'],
    ['wxpay', 'h5', 'mchAppName'],
    ['wxpay', 'h5', 'mchAppId'],
    ['unionpay', 'ebank', 'bankCode'],
    ['alipay', 'jspay', 'openId'],
    ['wxpay', 'jspay', 'openId'],
  ];
  for (const [payway, scene, field] of missing) {
    const { [field]: _drop, ...fields } = cellFields(payway, scene);
    const a = await gw.post('/api/pay', fields);
    t.equal(a.status, 400, `${payway}.${scene} without ${field}`);
    t.equal(a.body.respCode, '100001');
    t.match(a.body.respDesc, field, `respDesc names ${field}`);
  }
});

t.test('an unknown order, or one without a codeUrl, has no QR image', async (t) => {
  t.equal((await get('/qr/0000000000000000000000.png')).status, 404);
  t.equal((await get('/qr/nope.png')).status, 404);
  // An order without a codeUrl has no QR image.
  const a = await gw.post('/api/pay', cellFields('alipay', 'h5'));
  t.equal((await get(`/qr/${a.body.orderId}.png?t=${cashierToken(a.body.orderId!)}`)).status, 404, 'no QR image for an h5 order');
});
