import t, { type Test } from 'tap';
import { createHmac, createVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startServer } from '../processes.js';
import { CLI, runNode } from '../cli-runner.js';
import { startReceiver, type Received } from '../receiver.js';
import { rsaKeyPair } from '../fixtures/channel-credentials.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';
import { UnionpaySimulator, parseForm } from '../simulators/unionpay.js';
import { sign } from '../../src/domain/sign.js';

// Issue 5, "Done when": every supported cell of the scene matrix, for every payway, end to end
// over real HTTP between processes on 127.0.0.1:
//   merchant → gateway (child process): signed POST /api/pay
//   gateway → channel simulator (this process): the signed channel request, where the cell has one
//   payer → simulator: exactly what the pay answer handed over (QR content, redirect URL, the
//     auto-submitting form, the app order string / tn / prepay parameters)
//   simulator → gateway: the channel's signed (WeChat: encrypted) callback
//   gateway → merchant receiver (this process): the signed p0000 notification
//   merchant → gateway: query shows p0000; a partial refund ends r0000 (refund query + notification).
// The live merchant and its three channels are set up with the real CLI; every key, certificate
// and .pfx is generated here.

const MASTER_KEY = Buffer.from('dtpay-live-channels-e2e-master-k', 'utf8').toString('base64'); // 32 bytes
const WAIT_MS = 5_000;

interface Answer {
  status: number;
  body: Record<string, string>;
  text: string;
}

interface Cell {
  payway: 'alipay' | 'wxpay' | 'unionpay';
  scene: 'scan' | 'h5' | 'app' | 'jspay' | 'gateway' | 'ebank';
  /** the pay answer's field the payer acts on */
  field: 'codeUrl' | 'mwebUrl' | 'payInfo' | 'resultHtml';
  extra?: Record<string, string>;
  tradeAmt: string;
  refundAmt: string;
}

const CELLS: Cell[] = [
  { payway: 'alipay', scene: 'scan', field: 'codeUrl', tradeAmt: '12.34', refundAmt: '2.34' },
  { payway: 'alipay', scene: 'h5', field: 'mwebUrl', tradeAmt: '20.00', refundAmt: '0.01' },
  { payway: 'alipay', scene: 'app', field: 'payInfo', tradeAmt: '0.50', refundAmt: '0.25' },
  { payway: 'alipay', scene: 'jspay', field: 'payInfo', extra: { openId: '2088102146225135' }, tradeAmt: '8.88', refundAmt: '1.00' },
  { payway: 'alipay', scene: 'gateway', field: 'resultHtml', tradeAmt: '99.99', refundAmt: '9.99' },
  { payway: 'wxpay', scene: 'scan', field: 'codeUrl', tradeAmt: '12.34', refundAmt: '2.34' },
  {
    payway: 'wxpay',
    scene: 'h5',
    field: 'mwebUrl',
    extra: { deviceInfo: 'IOS_SDK', mchAppName: 'dtpay shop', mchAppId: 'com.example.shop' },
    tradeAmt: '3.00',
    refundAmt: '1.50',
  },
  { payway: 'wxpay', scene: 'app', field: 'payInfo', tradeAmt: '0.02', refundAmt: '0.01' },
  { payway: 'wxpay', scene: 'jspay', field: 'payInfo', extra: { openId: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, tradeAmt: '66.60', refundAmt: '6.60' },
  { payway: 'unionpay', scene: 'scan', field: 'codeUrl', tradeAmt: '12.34', refundAmt: '2.34' },
  { payway: 'unionpay', scene: 'h5', field: 'resultHtml', tradeAmt: '5.00', refundAmt: '4.99' },
  { payway: 'unionpay', scene: 'app', field: 'payInfo', tradeAmt: '1.00', refundAmt: '0.10' },
  { payway: 'unionpay', scene: 'gateway', field: 'resultHtml', tradeAmt: '250.00', refundAmt: '50.00' },
  { payway: 'unionpay', scene: 'ebank', field: 'resultHtml', extra: { bankCode: 'ICBC', payType: '1' }, tradeAmt: '18.00', refundAmt: '8.00' },
];

const yuanToFen = (y: string) => {
  const [w, f = ''] = y.split('.');
  return BigInt(w!) * 100n + BigInt(f.padEnd(2, '0'));
};

/** The WeChat client's check of parameters signed with the merchant key (lines, each ending in \n). */
const wxSignatureVerifies = (lines: string[], signature: string, publicKeyPem: string) =>
  createVerify('RSA-SHA256').update(lines.map((l) => `${l}\n`).join('')).verify(publicKeyPem, signature, 'base64');

t.test('live merchant: every cell of the matrix, paid, notified, queried and partly refunded, across processes', async (t) => {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-live-channels-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'dtpay.sqlite');
  const file = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };

  // --- the channels: three simulators on 127.0.0.1, with keys made now ------------------------
  const appKey = rsaKeyPair();
  const alipayAppId = '2021000000000005';
  const ali = await AlipaySimulator.start(alipayAppId, appKey.publicKeyPem);
  t.teardown(() => ali.close());
  const wxKeys = generateWxpayKeys();
  const wx = await WxpaySimulator.start({ keys: wxKeys, mchid: '1900000109', appid: 'wxd678efh567hg6787' });
  t.teardown(() => wx.close());
  const up = await UnionpaySimulator.start('777290058110048'); // builds its test PKI and the merchant .pfx
  t.teardown(() => up.close());
  const rcv = await startReceiver(t);

  // --- the gateway: the real server, its own process ------------------------------------------
  const port = await freePort();
  const publicBaseUrl = `http://127.0.0.1:${port}`;
  const gw = await startServer(t, dir, dbPath, port, {
    MASTER_KEY,
    PUBLIC_BASE_URL: publicBaseUrl,
    NOTIFY_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'warn',
    CHANNEL_TIMEOUT_MS: '5000',
  });
  t.equal(gw.url, publicBaseUrl);

  // --- the operator: a live merchant and its channels, with the real CLI ----------------------
  const cli = async (args: string[]) => {
    const r = await runNode(CLI, args, dir, { DATABASE_PATH: dbPath, MASTER_KEY, PUBLIC_BASE_URL: publicBaseUrl });
    if (r.code !== 0) throw new Error(`dtpay ${args.slice(0, 3).join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, any>;
  };
  const merchant = await cli(['merchant', 'create', '--name', 'Live e2e shop', '--mode', 'live', '--json']);
  t.equal(merchant.mode, 'live');
  const mercNo = merchant.mercNo as string;
  const key = merchant.key as string;

  const aliSet = await cli([
    'channel', 'set', mercNo, 'alipay', '--json',
    '--app-id', alipayAppId,
    '--private-key-file', file('alipay_app_private_key.pem', appKey.privateKeyPem),
    '--alipay-public-key-file', file('alipay_public_key.pem', ali.alipayPublicKeyPem),
    '--gateway-url', ali.gatewayUrl,
  ]);
  const wxSet = await cli([
    'channel', 'set', mercNo, 'wxpay', '--json',
    '--mchid', wx.mchid,
    '--appid', wx.appid,
    '--serial-no', wxKeys.merchant.serialNo,
    '--private-key-file', file('apiclient_key.pem', wxKeys.merchant.privateKeyPem),
    '--apiv3-key', wxKeys.apiv3Key,
    '--platform-cert-file', file('wechatpay_platform.pem', wxKeys.platform.certPem),
    '--base-url', wx.baseUrl,
  ]);
  const upSet = await cli([
    'channel', 'set', mercNo, 'unionpay', '--json',
    '--mer-id', up.merId,
    '--sign-cert-file', file('acp_sign.pfx', up.pki.merchantPfx),
    '--sign-cert-password', up.pki.merchantPfxPassword,
    '--root-cert-file', file('acp_root.cer', up.pki.rootCertPem),
    '--middle-cert-file', file('acp_middle.cer', up.pki.middleCertPem),
    '--base-url', up.baseUrl,
  ]);
  for (const [payway, set] of [['alipay', aliSet], ['wxpay', wxSet], ['unionpay', upSet]] as const) {
    t.equal(set.callbackUrl, `${publicBaseUrl}/channel/${payway}/notify/${mercNo}`, `${payway}: the callback URL to register`);
  }
  t.comment(`set-up (simulators, gateway process, CLI) took ${Date.now() - started} ms`);

  // --- the merchant's side ------------------------------------------------------------------
  const post = async (path: string, fields: Record<string, string>): Promise<Answer> => {
    const all = { mercNo, ...fields };
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...all, signature: sign(all, key, 'MD5') }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let body: Record<string, string> = {};
    try {
      body = JSON.parse(text);
    } catch {
      // left empty: the assertions show the text
    }
    return { status: res.status, body, text };
  };
  const answerVerifies = (body: Record<string, string>) => body.signature === sign(body, key, 'MD5');
  const webhookVerifies = (r: Received) => {
    const id = String(r.headers['webhook-id'] ?? '');
    const ts = String(r.headers['webhook-timestamp'] ?? '');
    const mac = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${id}.${ts}.${r.body}`, 'utf8').digest('base64');
    return String(r.headers['webhook-signature'] ?? '').split(' ').includes(`v1,${mac}`);
  };
  /** Bounded: resolves to the first notification `pred` picks, or fails the test after WAIT_MS. */
  const notification = async (t: Test, what: string, pred: (r: Received) => boolean): Promise<Received | undefined> => {
    try {
      await rcv.waitFor((all) => all.some(pred), WAIT_MS);
    } catch (err) {
      t.fail(`${what}: ${(err as Error).message}`);
      return undefined;
    }
    return rcv.received.find(pred);
  };

  // --- the payer, one way per kind of pay answer --------------------------------------------
  /** Plays the payer with exactly what the pay answer handed over; returns what the channel's callback was answered. */
  async function payerPays(t: Test, cell: Cell, orderId: string, given: string): Promise<{ acked: boolean; detail: unknown }> {
    switch (cell.payway) {
      case 'alipay': {
        let outTradeNo: string;
        if (cell.scene === 'scan') {
          // The Alipay app scans the code and finds the precreated trade behind it.
          const trade = [...ali.trades.values()].find((x) => given === `https://qr.alipay.com/bax0${x.tradeNo.slice(-12)}`);
          if (!trade) throw new Error(`no Alipay trade behind the QR content ${given}`);
          outTradeNo = trade.outTradeNo;
        } else if (cell.scene === 'h5' || cell.scene === 'gateway') {
          // The browser opens the redirect URL / submits the form: Alipay verifies it and shows its cashier.
          let page: Response;
          if (cell.scene === 'h5') page = await fetch(given, { signal: AbortSignal.timeout(5_000) });
          else {
            const form = parseForm(given);
            t.equal(form.method, 'post', 'page.pay form is POSTed');
            page = await fetch(form.action, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams(form.fields).toString(),
              signal: AbortSignal.timeout(5_000),
            });
          }
          const html = await page.text();
          const m = /cashier (\w+) (\d+\.\d{2})/.exec(html);
          if (page.status !== 200 || !m) throw new Error(`Alipay did not show its cashier: ${page.status} ${html}`);
          t.equal(m[2], cell.tradeAmt, 'the Alipay cashier shows the amount');
          outTradeNo = m[1]!;
        } else if (cell.scene === 'app') {
          outTradeNo = ali.openApp(given).outTradeNo; // the Alipay app verifies the order string's signature
        } else {
          // jspay: my.tradePay({ tradeNO }) — the trade number Alipay created for the buyer.
          const trade = [...ali.trades.values()].find((x) => x.tradeNo === given);
          if (!trade) throw new Error(`no Alipay trade ${given}`);
          t.equal(trade.buyerId, cell.extra!.openId, 'the trade is for the openId given');
          outTradeNo = trade.outTradeNo;
        }
        t.equal(outTradeNo, orderId, 'the payer paid this order');
        const acks = await ali.pay(outTradeNo);
        return { acked: acks.length === 1 && acks[0] === 'success', detail: acks };
      }
      case 'wxpay': {
        let outTradeNo: string | undefined;
        if (cell.scene === 'scan') {
          // WeChat resolves the Native code_url to its trade.
          const pr = new URL(given).searchParams.get('pr') ?? '';
          outTradeNo = [...wx.trades.values()].find((x) => x.tradeType === 'NATIVE' && Buffer.from(x.outTradeNo).toString('base64url') === pr)?.outTradeNo;
        } else if (cell.scene === 'h5') {
          // The browser opens h5_url; WeChat's checkmweb page resolves prepay_id to its trade.
          const u = new URL(given);
          t.equal(u.origin, 'https://wx.tenpay.com', 'mwebUrl is the h5_url WeChat answered');
          const prepay = u.searchParams.get('prepay_id');
          outTradeNo = [...wx.trades.values()].find((x) => x.tradeType === 'MWEB' && `wx${x.outTradeNo}` === prepay)?.outTradeNo;
        } else if (cell.scene === 'app') {
          // The WeChat SDK checks the merchant's signature over appid, timestamp, noncestr, prepayid.
          const p = JSON.parse(given) as Record<string, string>;
          t.match(p, { appid: wx.appid, partnerid: wx.mchid, package: 'Sign=WXPay' });
          t.ok(wxSignatureVerifies([p.appid!, p.timestamp!, p.noncestr!, p.prepayid!], p.sign!, wxKeys.merchant.publicKeyPem), 'APP sign verifies');
          outTradeNo = [...wx.trades.values()].find((x) => x.tradeType === 'APP' && x.prepayId === p.prepayid)?.outTradeNo;
        } else {
          // WeixinJSBridge getBrandWCPayRequest checks paySign over appId, timeStamp, nonceStr, package.
          const p = JSON.parse(given) as Record<string, string>;
          t.match(p, { appId: wx.appid, signType: 'RSA', package: /^prepay_id=/ });
          t.ok(wxSignatureVerifies([p.appId!, p.timeStamp!, p.nonceStr!, p.package!], p.paySign!, wxKeys.merchant.publicKeyPem), 'JSAPI paySign verifies');
          const trade = [...wx.trades.values()].find((x) => x.tradeType === 'JSAPI' && `prepay_id=${x.prepayId}` === p.package);
          t.equal(trade?.request.payer?.openid, cell.extra!.openId, 'the JSAPI trade is for the openId given');
          outTradeNo = trade?.outTradeNo;
        }
        if (!outTradeNo) throw new Error(`no WeChat trade behind ${given}`);
        t.equal(outTradeNo, orderId, 'the payer paid this order');
        const deliveries = await wx.pay(outTradeNo);
        return { acked: deliveries.length === 1 && deliveries[0]!.status >= 200 && deliveries[0]!.status < 300, detail: deliveries };
      }
      case 'unionpay': {
        let upOrderId: string;
        if (cell.scene === 'scan') upOrderId = up.scan(given).orderId;
        else if (cell.scene === 'app') upOrderId = up.openApp(given).orderId;
        else {
          // The browser submits the auto-submitting form to UnionPay, which verifies it and shows its page.
          const form = parseForm(given);
          t.equal(form.fields.channelType, cell.scene === 'h5' ? '08' : '07', 'channelType of the form');
          if (cell.scene === 'ebank') t.equal(form.fields.issInsCode, cell.extra!.bankCode, 'ebank goes straight to the bank');
          const page = await up.submitForm(given);
          const m = /银联在线支付 (\S+) (\d+) 分/.exec(page.body);
          if (page.status !== 200 || !m) throw new Error(`UnionPay did not show its payment page: ${page.status} ${page.body}`);
          t.equal(BigInt(m[2]!), yuanToFen(cell.tradeAmt), 'the UnionPay page shows the amount');
          upOrderId = m[1]!;
        }
        t.equal(upOrderId, orderId, 'the payer paid this order');
        const statuses = await up.pay(upOrderId);
        return { acked: statuses.length === 1 && statuses[0] === 200, detail: statuses };
      }
    }
  }

  /** Ends a refund the channel took but has not finished, as the channel eventually does. */
  async function channelEndsRefund(cell: Cell, refundId: string): Promise<void> {
    if (cell.payway === 'wxpay') wx.settleRefund(refundId, 'SUCCESS');
    if (cell.payway === 'unionpay') await up.settleRefund(refundId, true, false);
    // Alipay ends a refund in its answer.
  }

  /** What the channel itself holds as refunded by this refund (fen), or undefined. */
  function refundedAtChannel(cell: Cell, orderId: string, refundId: string): bigint | undefined {
    if (cell.payway === 'alipay') return ali.trades.get(orderId)?.refunds.get(refundId)?.amountFen;
    if (cell.payway === 'wxpay') {
      const r = wx.refunds.get(refundId);
      return r && r.outTradeNo === orderId ? BigInt(r.refundFen) : undefined;
    }
    const r = up.refunds.get(refundId);
    return r && r.origQryId === up.trades.get(orderId)?.queryId ? r.amountFen : undefined;
  }

  const timings: string[] = [];
  let n = 0;
  for (const cell of CELLS) {
    const name = `${cell.payway}.${cell.scene}`;
    await t.test(name, async (t) => {
      const cellStarted = Date.now();
      n += 1;
      const mercOrderNo = `E2E${started}${String(n).padStart(2, '0')}`;

      // 1. create
      const made = await post('/api/pay', {
        mercOrderNo,
        subject: `e2e ${name}`,
        tradeType: '01',
        tradeAmt: cell.tradeAmt,
        tradeTime: '20240618125826',
        orderPeriod: '30',
        notifyUrl: `${rcv.url}/notify/${name}`,
        returnUrl: `${rcv.url}/done`,
        termType: cell.scene === 'app' ? 'app' : cell.scene === 'scan' || cell.scene === 'gateway' || cell.scene === 'ebank' ? 'pc' : 'wap',
        paywayCode: cell.payway,
        sceneCode: cell.scene,
        ip: '203.0.113.7',
        ...cell.extra,
      });
      if (!t.equal(made.status, 200, 'pay answered 200')) t.comment(made.text);
      t.match(made.body, { respCode: '000000', mercOrderNo, tradeAmt: cell.tradeAmt, payStatus: 'p0001' }, 'the order was created at the channel');
      t.ok(answerVerifies(made.body), 'the pay answer is signed with the live key');
      const orderId = made.body.orderId;
      const given = made.body[cell.field];
      if (!orderId || !given) return t.fail(`no orderId or ${cell.field} in the pay answer: ${made.text}`);
      if (cell.field === 'codeUrl') t.match(made.body.imgUrl, new RegExp(`^${publicBaseUrl}/qr/${orderId}\\.png\\?t=[\\w-]{22}$`), 'imgUrl is the gateway QR of codeUrl');

      // 2. the payer pays with what the answer gave; 3. the channel calls the gateway back
      let paid: { acked: boolean; detail: unknown };
      try {
        paid = await payerPays(t, cell, orderId, given);
      } catch (err) {
        return t.fail(`the payer could not pay: ${(err as Error).message}`);
      }
      if (!t.ok(paid.acked, 'the gateway acknowledged the channel callback as the channel expects')) t.comment(JSON.stringify(paid.detail));

      // 4. the merchant is notified, signed with its key
      const note = await notification(t, 'p0000 notification', (r) => r.json.orderId === orderId && r.json.payStatus === 'p0000');
      if (note) {
        t.equal(note.path, `/notify/${name}`, 'sent to the notifyUrl of the order');
        t.match(note.json, { mercNo, mercOrderNo, orderId, tradeAmt: cell.tradeAmt, payStatus: 'p0000', tradeEndTime: /^\d{14}$/, signType: 'MD5' }, 'the notification carries the paid order');
        t.equal(note.json.signature, sign(note.json, key, 'MD5'), 'the notification MD5 signature verifies with the merchant key');
        t.ok(webhookVerifies(note), 'the webhook-signature header verifies with the merchant key');
      }

      // 5. the query shows it paid
      const q = await post('/api/query', { orderId });
      if (!t.match(q.body, { respCode: '000000', orderId, mercOrderNo, paywayCode: cell.payway, sceneCode: cell.scene, payStatus: 'p0000', tradeEndTime: /^\d{14}$/ }, 'query shows p0000')) t.comment(q.text);
      t.ok(answerVerifies(q.body), 'the query answer is signed');

      // 6. a partial refund, ended at the channel, then r0000
      const mercRefundNo = `R${mercOrderNo}`;
      const refund = await post('/api/refund', { orderId, mercRefundNo, refundAmt: cell.refundAmt, refundReason: 'e2e partial refund', notifyUrl: `${rcv.url}/refund/${name}` });
      if (!t.equal(refund.status, 200, 'refund answered 200')) t.comment(refund.text);
      t.match(refund.body, { respCode: '000000', orderId, mercRefundNo, refundAmt: cell.refundAmt, refundStatus: /^r000[01]$/ }, 'the channel took the refund');
      t.ok(answerVerifies(refund.body), 'the refund answer is signed');
      const refundId = refund.body.refundId;
      if (refund.body.respCode !== '000000' || !refundId) return;
      // Alipay ends a refund in its answer; WeChat Pay and UnionPay take it and end it later.
      t.equal(refund.body.refundStatus, cell.payway === 'alipay' ? 'r0000' : 'r0001', 'the refund answer says where it stands');
      t.equal(refundedAtChannel(cell, orderId, refundId), yuanToFen(cell.refundAmt), 'the channel refunded that amount of this trade');
      if (refund.body.refundStatus === 'r0001') await channelEndsRefund(cell, refundId);

      // The gateway asks the channel about a processing refund at most every 5 s per refund: the
      // first query after the channel ended it finds r0000; one more ask is allowed for, no more.
      let rq: Answer;
      const deadline = Date.now() + 6_000;
      for (;;) {
        rq = await post('/api/refund/query', { mercRefundNo });
        if (rq.body.refundStatus !== 'r0001' || Date.now() > deadline) break;
        await sleep(250);
      }
      if (!t.match(rq.body, { respCode: '000000', refundId, refundStatus: 'r0000', refundAmt: cell.refundAmt, refundedAmt: cell.refundAmt, refundEndTime: /^\d{14}$/ }, 'refund query shows r0000')) t.comment(rq.text);
      t.ok(answerVerifies(rq.body), 'the refund query answer is signed');
      if (rq.body.refundStatus !== 'r0000') return;
      const rnote = await notification(t, 'r0000 refund notification', (r) => r.json.refundId === refundId && r.json.refundStatus === 'r0000');
      if (rnote) {
        t.equal(rnote.path, `/refund/${name}`, "sent to the refund's notifyUrl");
        t.match(rnote.json, { mercNo, orderId, mercRefundNo, refundAmt: cell.refundAmt, tradeAmt: cell.tradeAmt }, 'the refund notification carries the refund');
        t.equal(rnote.json.signature, sign(rnote.json, key, 'MD5'), 'the refund notification signature verifies');
      }
      const after = await post('/api/query', { orderId });
      t.match(after.body, { payStatus: 'p0000', refundedAmt: cell.refundAmt }, 'the order shows what was refunded');
      timings.push(`${name} ${Date.now() - cellStarted} ms`);
    });
  }

  t.comment(`cells: ${timings.join(', ')}; whole test ${Date.now() - started} ms`);
  if (!t.passing()) t.comment(`gateway stderr:\n${gw.err().slice(-4000)}\ngateway stdout:\n${gw.out().slice(-4000)}`);
});
