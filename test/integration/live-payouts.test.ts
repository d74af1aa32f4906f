import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, startServer } from '../processes.js';
import { CLI, pooled, runNode, type CliResult } from '../cli-runner.js';
import { startReceiver, type Received } from '../receiver.js';
import { rsaKeyPair } from '../fixtures/channel-credentials.js';
import { AlipaySimulator } from '../simulators/alipay.js';
import { makeAlipayPki } from '../simulators/alipay-pki.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';
import { UnionpaySimulator } from '../simulators/unionpay.js';
import { sign } from '../../src/domain/sign.js';

// Every live payout cell end to end, over real HTTP between processes on 127.0.0.1:
//   merchant → gateway (child process): POST /api/pay signed HMAC-SHA256, tradeType 02/03
//   gateway → channel simulator (this process): the signed transfer request, verified there
//   simulator → gateway: the channel's own end of the payout (fund message, FINISHED, back notification)
//   gateway → merchant receiver: the signed notification, payee masked
//   merchant → gateway: /api/query.
// Then WeChat cancels before and after the payee confirms, forged channel notifications, and one
// sweep for the payee's full card number and name through everything the gateway let out: API
// answers, notifications, CLI output, its log, and the bytes of its database.

const MASTER_KEY = Buffer.from('dtpay-live-payouts-e2e-master-k!', 'utf8').toString('base64'); // 32 bytes
const WAIT_MS = 5_000;
const CARD = '6216261000000000018';
const CARD_MASKED = '6216***********0018';
const NAME = '欧阳明';
const NAME_MASKED = '**明';
const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';
const REPORT = [
  { info_type: '活动名称', info_content: '新会员有礼' },
  { info_type: '奖励说明', info_content: '注册会员抽奖一等奖' },
];

interface Answer {
  status: number;
  body: Record<string, string>;
  text: string;
}

t.test('live payouts through the gateway process: every cell, cancels, forgeries, masking', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dtpay-live-payouts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'dtpay.sqlite');
  const file = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };

  // --- the channels ----------------------------------------------------------------------------
  const appKey = rsaKeyPair();
  const alipayAppId = '2021000000000007';
  const pki = makeAlipayPki(appKey.privateKeyPem);
  const ali = await AlipaySimulator.start(alipayAppId, appKey.publicKeyPem, {
    appCertPem: pki.app.certPem,
    appCertSn: pki.app.sn,
    rootSn: pki.rootSn,
    alipayCerts: [{ sn: pki.alipay.sn, filePem: pki.alipay.filePem, keyPem: pki.alipay.keyPem }],
    signWith: pki.alipay.sn,
  });
  t.teardown(() => ali.close());
  const wxKeys = generateWxpayKeys();
  const wx = await WxpaySimulator.start({ keys: wxKeys, mchid: '1900000109', appid: 'wxd678efh567hg6787' });
  t.teardown(() => wx.close());
  const up = await UnionpaySimulator.start('777290058110048');
  t.teardown(() => up.close());
  const rcv = await startReceiver(t);

  // --- the gateway, its own process; debug logging, so that the sweep below reads the most ------
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startServer(t, dir, dbPath, port, {
    MASTER_KEY,
    PUBLIC_BASE_URL: base,
    NOTIFY_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'debug',
    CHANNEL_TIMEOUT_MS: '5000',
  });

  // --- the operator, with the real CLI; every output kept for the sweep ------------------------
  const cliOutputs: CliResult[] = [];
  const run = async (args: string[]) => {
    const r = await runNode(CLI, args, dir, { DATABASE_PATH: dbPath, MASTER_KEY, PUBLIC_BASE_URL: base });
    cliOutputs.push(r);
    return r;
  };
  const cli = async (args: string[]) => {
    const r = await run(args);
    if (r.code !== 0) throw new Error(`dtpay ${args.slice(0, 3).join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, any>;
  };
  const merchant = await cli(['merchant', 'create', '--name', 'Live payouts shop', '--mode', 'live', '--json']);
  const mercNo = merchant.mercNo as string;
  const key = merchant.key as string;
  await cli([
    'channel', 'set', mercNo, 'alipay', '--json', '--app-id', alipayAppId,
    '--private-key-file', file('app_private.pem', appKey.privateKeyPem),
    '--app-cert-file', file('appCertPublicKey.crt', pki.app.certPem),
    '--alipay-cert-file', file('alipayCertPublicKey_RSA2.crt', pki.alipay.filePem),
    '--alipay-root-cert-file', file('alipayRootCert.crt', pki.rootBundlePem),
    '--gateway-url', ali.gatewayUrl,
  ]);
  await cli([
    'channel', 'set', mercNo, 'wxpay', '--json', '--mchid', wx.mchid, '--appid', wx.appid,
    '--serial-no', wxKeys.merchant.serialNo,
    '--private-key-file', file('apiclient_key.pem', wxKeys.merchant.privateKeyPem),
    '--apiv3-key', wxKeys.apiv3Key,
    '--platform-cert-file', file('wechatpay_platform.pem', wxKeys.platform.certPem),
    '--base-url', wx.baseUrl,
    '--transfer-scene-id', '1000', '--transfer-scene-report-file', file('report.json', JSON.stringify(REPORT)),
    '--user-recv-perception', '现金奖励',
  ]);
  await cli([
    'channel', 'set', mercNo, 'unionpay', '--json', '--mer-id', up.merId,
    '--sign-cert-file', file('acp_sign.pfx', up.pki.merchantPfx),
    '--sign-cert-password', up.pki.merchantPfxPassword,
    '--root-cert-file', file('acp_root.cer', up.pki.rootCertPem),
    '--middle-cert-file', file('acp_middle.cer', up.pki.middleCertPem),
    '--encrypt-cert-file', file('acp_enc.cer', up.pki.encryptCertPem),
    '--base-url', up.baseUrl,
  ]);
  const enabled = await run(['merchant', 'payouts', mercNo, '--enable', '--daily-limit', '50000.00', '--json']);
  t.equal(enabled.code, 0, enabled.stderr);
  t.equal(enabled.stderr, '', 'certificate mode, a transfer scene and the encryption certificate: nothing to warn about');
  const route = (payway: string) => `${base}/channel/${payway}/notify/${mercNo}`;
  ali.fund.appGatewayUrl = route('alipay'); // the 应用网关 the operator registered

  // --- the merchant's side; every answer kept for the sweep -------------------------------------
  const answers: string[] = [];
  let seq = 0;
  const post = async (path: string, fields: Record<string, string>, signType: 'HMAC-SHA256' | 'MD5' = 'HMAC-SHA256'): Promise<Answer> => {
    const all = { mercNo, signType, ...fields };
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...all, signature: sign(all, key, signType) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    answers.push(text);
    let body: Record<string, string> = {};
    try {
      body = JSON.parse(text);
    } catch {
      // left empty: the assertions show the text
    }
    return { status: res.status, body, text };
  };
  const payout = (over: Record<string, string>) =>
    post('/api/pay', {
      mercOrderNo: `P${process.pid}${Date.now()}${++seq}`,
      subject: '供应商货款',
      tradeType: '02',
      tradeAmt: '10.00',
      tradeTime: '20240618125826',
      orderPeriod: '30',
      notifyUrl: `${rcv.url}/n`,
      termType: 'pc',
      sceneCode: 'transfer',
      ip: '203.0.113.7',
      ...over,
    });
  const query = (orderId: string) => post('/api/query', { orderId });
  const webhookVerifies = (r: Received) => {
    const id = String(r.headers['webhook-id'] ?? '');
    const ts = String(r.headers['webhook-timestamp'] ?? '');
    const mac = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${id}.${ts}.${r.body}`, 'utf8').digest('base64');
    return String(r.headers['webhook-signature'] ?? '').split(' ').includes(`v1,${mac}`);
  };
  const notified = async (t: Test, orderId: string, payStatus: string): Promise<Record<string, string> | undefined> => {
    const pick = (r: Received) => r.json.orderId === orderId && r.json.payStatus === payStatus;
    try {
      await rcv.waitFor((all) => all.some(pick), WAIT_MS);
    } catch (err) {
      t.fail(`no ${payStatus} notification for ${orderId}: ${(err as Error).message}`);
      return undefined;
    }
    const n = rcv.received.find(pick)!;
    t.ok(webhookVerifies(n), 'the notification is signed with the merchant key');
    return n.json;
  };
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  const status = (orderId: string) => db.prepare('SELECT pay_status FROM orders WHERE order_id = ?').pluck().get(orderId);
  const lastAlert = () => db.prepare('SELECT id, kind, channel, merc_no AS mercNo FROM alerts ORDER BY id DESC LIMIT 1').get() as Record<string, unknown> | undefined;
  /** the payouts made with the full card number or name */
  const withPayee: string[] = [];

  await t.test('alipay ALIPAY_USER_ID: paid at once, ended by the fund message', async (t) => {
    const a = await payout({ paywayCode: 'alipay', payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088102146225135' });
    t.equal(a.body.respCode, '000000', a.text);
    const orderId = a.body.orderId!;
    t.match(a.body, { tradeType: '02', payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '208**********135' });
    const req = ali.requests.filter((r) => r.method === 'alipay.fund.trans.uni.transfer').at(-1)!;
    t.match(req.params, { app_cert_sn: pki.app.sn, alipay_root_cert_sn: pki.rootSn }, 'the request names the certificates (verified by the simulator)');
    t.match(JSON.parse(req.params.biz_content!), { out_biz_no: orderId, trans_amount: '10.00', product_code: 'TRANS_ACCOUNT_NO_PWD', biz_scene: 'DIRECT_TRANSFER' });
    await ali.fund.flush();
    t.match(ali.fund.messages.at(-1), { url: route('alipay'), ack: 'success' }, 'the fund message was verified and acknowledged');
    const n = await notified(t, orderId, 'p0000');
    t.match(n, { tradeType: '02', payeeAccount: '208**********135', tradeAmt: '10.00' });
    t.match((await query(orderId)).body, { respCode: '000000', payStatus: 'p0000', tradeType: '02', payeeAccount: '208**********135' });
  });

  await t.test('alipay BANK_CARD (03): dealing, then paid by the fund message', async (t) => {
    const a = await payout({ paywayCode: 'alipay', tradeType: '03', tradeAmt: '20.00', payeeAccountType: 'BANK_CARD', payeeAccount: CARD, payeeName: NAME });
    t.equal(a.body.respCode, '000000', a.text);
    const orderId = a.body.orderId!;
    withPayee.push(orderId);
    t.match(a.body, { payStatus: 'p0002', tradeType: '03', payeeAccount: CARD_MASKED, payeeName: NAME_MASKED });
    const tr = ali.fund.transfers.get(orderId)!;
    t.match(tr, { productCode: 'TRANS_BANKCARD_NO_PWD', identityType: 'BANKCARD_ACCOUNT', identity: CARD, name: NAME, status: 'DEALING' }, 'Alipay got the full card and name');
    t.equal((await query(orderId)).body.payStatus, 'p0002');
    t.equal(await ali.fund.settle(orderId, 'SUCCESS'), 'success');
    t.equal(status(orderId), 'p0000');
    t.match(await notified(t, orderId, 'p0000'), { tradeType: '03', payeeAccount: CARD_MASKED, payeeName: NAME_MASKED, tradeAmt: '20.00' });
    t.match((await query(orderId)).body, { payStatus: 'p0000', payeeAccount: CARD_MASKED, payeeName: NAME_MASKED });
  });

  await t.test('wxpay WX_OPENID: waits for the payee, who confirms; FINISHED ends it', async (t) => {
    const a = await payout({ paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: OPENID, payeeName: NAME, tradeAmt: '12.34' });
    t.equal(a.body.respCode, '000000', a.text);
    const orderId = a.body.orderId!;
    withPayee.push(orderId);
    const bill = wx.transfers.bills.get(orderId)!;
    t.ok(bill, 'WeChat holds the bill');
    const req = wx.requests.filter((r) => r.path === '/v3/fund-app/mch-transfer/transfer-bills').at(-1)!;
    t.notOk(req.authError, 'the simulator verified the Authorization');
    t.notMatch(req.body, NAME, 'user_name never in the clear');
    t.equal(bill.userName, NAME, 'the simulator opened user_name with the platform key');
    t.match(JSON.parse(req.body), { out_bill_no: orderId, openid: OPENID, transfer_amount: 1234, transfer_scene_id: '1000', notify_url: route('wxpay') });
    t.equal(a.body.payStatus, 'p0002');
    t.equal(a.body.payeeAccount, `${OPENID.slice(0, 3)}${'*'.repeat(OPENID.length - 6)}${OPENID.slice(-3)}`);
    t.same(JSON.parse(a.body.payInfo!), { mchId: wx.mchid, appId: wx.appid, package: bill.packageInfo });
    t.equal((await query(orderId)).body.payStatus, 'p0002');
    wx.transfers.confirm(orderId);
    const acks = await wx.transfers.finish(orderId, 'SUCCESS');
    t.same(acks.map((x) => x.status), [200], 'the FINISHED notification was acknowledged');
    t.equal(status(orderId), 'p0000');
    t.match(await notified(t, orderId, 'p0000'), { tradeType: '02', payeeName: NAME_MASKED, tradeAmt: '12.34' });
    t.match((await query(orderId)).body, { payStatus: 'p0000', payeeName: NAME_MASKED });
  });

  await t.test('unionpay BANK_CARD: the card and name encrypted, the back notification ends it', async (t) => {
    const a = await payout({ paywayCode: 'unionpay', payeeAccountType: 'BANK_CARD', payeeAccount: CARD, payeeName: NAME, tradeAmt: '500.00' });
    t.equal(a.body.respCode, '000000', a.text);
    const orderId = a.body.orderId!;
    withPayee.push(orderId);
    t.match(a.body, { payStatus: 'p0002', payeeAccount: CARD_MASKED, payeeName: NAME_MASKED });
    const req = up.requests.filter((r) => r.endpoint === 'back').at(-1)!;
    t.match(req.fields, { txnType: '12', bizType: '000401', orderId, txnAmt: '50000', encryptCertId: up.pki.encryptCertId });
    t.notMatch(req.body, CARD, 'the card number never in the clear');
    const p = up.payouts.payouts.get(orderId)!;
    t.match(p, { accNo: CARD, customerNm: NAME, status: 'processing' }, 'the simulator decrypted both');
    t.same(await up.payouts.settle(orderId), [200], 'the back notification was acknowledged');
    t.equal(status(orderId), 'p0000');
    t.match(await notified(t, orderId, 'p0000'), { tradeType: '02', payeeAccount: CARD_MASKED, payeeName: NAME_MASKED, tradeAmt: '500.00' });
    t.match((await query(orderId)).body, { payStatus: 'p0000', payeeAccount: CARD_MASKED });
  });

  await t.test('wxpay cancel through /api/close: before the payee confirms, and after', async (t) => {
    const a = await payout({ paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: OPENID, tradeAmt: '3.00' });
    const orderId = a.body.orderId!;
    t.equal(a.body.payStatus, 'p0002', a.text);
    // WeChat reports CANCELLED while the close is still asking (it waits up to 5 s for it).
    const bill = wx.transfers.bills.get(orderId)!;
    const closing = post('/api/close', { orderId });
    const deadline = Date.now() + WAIT_MS;
    while (bill.state !== 'CANCELING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    t.equal(bill.state, 'CANCELING', 'the gateway asked WeChat to cancel the bill');
    const finishing = wx.transfers.finish(orderId, 'CANCELLED');
    const closed = await closing;
    await finishing;
    t.match(closed.body, { respCode: '000000', payStatus: 'p0005' }, closed.text);
    t.equal(status(orderId), 'p0005');
    t.throws(() => wx.transfers.confirm(orderId), /not waiting for the payee/, 'the payee can no longer confirm');
    t.equal((await query(orderId)).body.payStatus, 'p0005');

    const b = await payout({ paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: OPENID, tradeAmt: '4.00' });
    const confirmedId = b.body.orderId!;
    wx.transfers.confirm(confirmedId);
    const late = await post('/api/close', { orderId: confirmedId });
    t.equal(late.body.respCode, '100007', late.text);
    t.equal(status(confirmedId), 'p0002', 'the payout goes on');
    t.equal(wx.transfers.bills.get(confirmedId)!.state, 'TRANSFERING');
    await wx.transfers.finish(confirmedId, 'SUCCESS');
    t.match(await notified(t, confirmedId, 'p0000'), { orderId: confirmedId, tradeType: '02' });
  });

  await t.test('forged channel notifications are refused, the order unchanged, an alert raised', async (t) => {
    const send = async (url: string, headers: Record<string, string>, body: Buffer | string) => {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(WAIT_MS) });
      return { status: res.status, text: await res.text() };
    };
    const alertAfter = (before: unknown) => {
      const a = lastAlert();
      return a && a.id !== (before as { id?: unknown } | undefined)?.id ? a : undefined;
    };

    // wxpay: a FINISHED notification whose signature does not cover its bytes.
    const w = await payout({ paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: OPENID, tradeAmt: '5.00' });
    const wId = w.body.orderId!;
    const bill = wx.transfers.bills.get(wId)!;
    const plain = { ...wx.transfers.notificationPlain(bill), state: 'SUCCESS' };
    const good = wx.encryptedNotification('MCHTRANSFER.BILL.FINISHED', 'mch_payment', '商家转账单据终态通知', plain);
    let before = lastAlert();
    const forged = Buffer.from(good.rawBody.toString('utf8').replace('"summary":"', '"summary":" '), 'utf8');
    const r1 = await send(route('wxpay'), { ...good.headers, 'content-type': 'application/json' }, forged);
    t.not(r1.status, 200, `a forged FINISHED is refused: ${r1.status} ${r1.text}`);
    t.equal(status(wId), 'p0002', 'the payout unchanged');
    t.match(alertAfter(before), { kind: 'callback_rejected', channel: 'wxpay', mercNo });

    // wxpay: a well-signed payment notification naming the payout (and its channel number, so that
    // only its kind gives it away).
    before = lastAlert();
    const payment = wx.encryptedNotification('TRANSACTION.SUCCESS', 'transaction', '支付成功', {
      mchid: wx.mchid, appid: wx.appid, out_trade_no: wId, transaction_id: bill.transferBillNo, trade_type: 'NATIVE',
      trade_state: 'SUCCESS', trade_state_desc: '支付成功', success_time: '2026-01-01T12:00:00+08:00', payer: { openid: OPENID },
      amount: { total: 500, payer_total: 500, currency: 'CNY', payer_currency: 'CNY' },
    });
    const r2 = await send(route('wxpay'), { ...payment.headers, 'content-type': 'application/json' }, payment.rawBody);
    t.equal(status(wId), 'p0002', `a payment notification does not move a payout (${r2.status} ${r2.text})`);
    t.match(alertAfter(before), { kind: 'callback_kind_mismatch', channel: 'wxpay', mercNo }, 'an alert says so');

    // unionpay: a back notification whose signature was tampered with, then a payment one naming the payout.
    const u = await payout({ paywayCode: 'unionpay', payeeAccountType: 'BANK_CARD', payeeAccount: CARD, payeeName: NAME, tradeAmt: '6.00' });
    const uId = u.body.orderId!;
    withPayee.push(uId);
    const p = up.payouts.payouts.get(uId)!;
    const form = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' };
    before = lastAlert();
    const tampered = up.signAnswer({ ...up.payouts.notificationFields(p), respCode: '00' }, 'good', true);
    const r3 = await send(route('unionpay'), form, new URLSearchParams(tampered).toString());
    t.not(r3.status, 200, `a forged back notification is refused: ${r3.status} ${r3.text}`);
    t.equal(status(uId), 'p0002');
    t.match(alertAfter(before), { kind: 'callback_rejected', channel: 'unionpay', mercNo });

    before = lastAlert();
    const asPayment = up.signAnswer({ ...up.payouts.notificationFields(p), txnType: '01', txnSubType: '01', bizType: '000201', respCode: '00' });
    const r4 = await send(route('unionpay'), form, new URLSearchParams(asPayment).toString());
    t.equal(status(uId), 'p0002', `a payment notification does not move a payout (${r4.status} ${r4.text})`);
    t.match(alertAfter(before), { kind: 'callback_kind_mismatch', channel: 'unionpay', mercNo }, 'an alert says so');

    // The real ends still land afterwards.
    wx.transfers.confirm(wId);
    await wx.transfers.finish(wId, 'SUCCESS');
    await up.payouts.settle(uId);
    t.equal(status(wId), 'p0000');
    t.equal(status(uId), 'p0000');
  });

  await t.test('masking: the full card number and name appear nowhere the gateway lets them out', async (t) => {
    // The text and the JSON of every payout that carried the card or the name.
    const shows = await pooled(withPayee.map((id) => () => run(['order', 'show', id])));
    const showsJson = await pooled(withPayee.map((id) => () => run(['order', 'show', id, '--json'])));
    const list = await run(['order', 'list', '--merchant', mercNo]);
    const listJson = await run(['order', 'list', '--merchant', mercNo, '--json']);
    for (const r of [...shows, ...showsJson, list, listJson]) t.equal(r.code, 0, r.stderr);
    const shown = showsJson.map((r) => JSON.parse(r.stdout) as { orderId: string; scene: string });
    t.same(shown.map((o) => [o.orderId, o.scene]), withPayee.map((id) => [id, 'transfer']), 'order show --json shows each payout');
    for (const id of withPayee) t.match(listJson.stdout, id, 'order list --json lists it');

    // Checkpointing is the gateway's business: read the main file and the -wal as they are.
    const bytes = [readFileSync(dbPath), ...(existsSync(`${dbPath}-wal`) ? [readFileSync(`${dbPath}-wal`)] : [])];
    const places: [string, string | Buffer][] = [
      ['API answers', answers.join('\n')],
      ['notification bodies', rcv.received.map((r) => r.body).join('\n')],
      ['CLI output', cliOutputs.map((r) => `${r.stdout}\n${r.stderr}`).join('\n')],
      ['gateway log', `${gw.out()}\n${gw.err()}`],
      ...bytes.map((b, i) => [i === 0 ? 'database file' : 'database -wal', b] as [string, Buffer]),
    ];
    t.ok(answers.join('').includes(CARD_MASKED) && rcv.received.some((r) => r.body.includes(NAME_MASKED)), 'the masked forms are there to find');
    t.ok(gw.out().length > 0, 'the gateway logged');
    // The search finds the card where it must be: in what the gateway sent Alipay.
    const sentToAlipay = ali.requests.filter((r) => r.method === 'alipay.fund.trans.uni.transfer').map((r) => r.params.biz_content).join('\n');
    t.not(Buffer.from(sentToAlipay, 'utf8').indexOf(CARD), -1, 'the sweep would see a clear card number');
    t.not(Buffer.from(sentToAlipay, 'utf8').indexOf(Buffer.from(NAME, 'utf8')), -1, 'and a clear name');
    t.comment(`swept ${places.map(([w, c]) => `${w} (${c.length})`).join(', ')}`);
    for (const [where, content] of places) {
      const buf = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
      t.equal(buf.indexOf(CARD), -1, `${where}: no full card number`);
      t.equal(buf.indexOf(Buffer.from(NAME, 'utf8')), -1, `${where}: no full name (UTF-8)`);
      t.equal(buf.indexOf(Buffer.from(NAME, 'utf16le')), -1, `${where}: no full name (UTF-16)`);
      t.equal(buf.indexOf(JSON.stringify(NAME).slice(1, -1).replace(/./g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)), -1, `${where}: no escaped full name`);
    }
  });
});
