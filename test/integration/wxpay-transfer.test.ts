// WeChat Pay payouts (商家转账 transfer bills) through the wxpay driver against the simulator over
// real HTTP on 127.0.0.1: the request WeChat gets (scene, report items, remark, user_name encrypted
// under the platform key and named by Wechatpay-Serial), the payee's confirmation, success, failure,
// cancels before and after the payee confirmed, a lost answer settled by query, every fault sorted
// three ways, the FINISHED notification — and a cross-check with wechatpay-axios-plugin.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Aes, Formatter, Rsa, Wechatpay, type WechatpayAxiosPlugin } from 'wechatpay-axios-plugin';
import { CallbackIgnored, CallbackRejected, type CallbackOutcome, type ChannelContext } from '../../src/channels/types.js';
import type { PayoutCallbackOutcome, PayoutInput } from '../../src/channels/payout-types.js';
import type { WxpayCredentials } from '../../src/channels/credentials.js';
import { parseWxpayCallback, wxpayDriver as driver } from '../../src/channels/wxpay/driver.js';
import { formatBeijing } from '../../src/domain/time.js';
import { createTestHttp } from '../simulators/http.js';
import { WxpaySimulator, generateWxpayKeys } from '../simulators/wxpay.js';

const AesGcm = (Aes as unknown as { AesGcm: typeof WechatpayAxiosPlugin.Aes.AesGcm }).AesGcm;

const keys = generateWxpayKeys();
const sim = await WxpaySimulator.start({ keys });
const http = createTestHttp({ timeoutMs: 2_500 });
const ctx: ChannelContext = { now: () => Date.now(), publicBaseUrl: 'http://127.0.0.1', http };

const REPORT = [
  { info_type: '活动名称', info_content: '新会员有礼' },
  { info_type: '奖励说明', info_content: '注册会员抽奖一等奖' },
];
const scenes: Pick<WxpayCredentials, 'transferScene'> = { transferScene: { sceneId: '1000', reportInfos: REPORT, userRecvPerception: '现金奖励' } };
const creds: WxpayCredentials = { ...sim.credentials('cert'), ...scenes };
const pkCreds: WxpayCredentials = { ...sim.credentials('pubkey'), ...scenes };

// The gateway's side of notifications: raw bytes in, the driver's verdict and ack out.
const seen: { outcome?: CallbackOutcome | PayoutCallbackOutcome; rejected?: string; ignored?: string }[] = [];
const receiver: Server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let accepted = true;
    try {
      seen.push({ outcome: driver.parseCallback({ headers: req.headers, rawBody: Buffer.concat(chunks) }, creds) });
    } catch (err) {
      if (err instanceof CallbackIgnored) seen.push({ ignored: err.message });
      else if (err instanceof CallbackRejected) {
        accepted = false;
        seen.push({ rejected: err.message });
      } else throw err;
    }
    const ack = driver.acknowledge(accepted);
    res.writeHead(ack.status, { 'content-type': ack.contentType }).end(ack.body);
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/channel/wxpay/notify/M1`;

t.teardown(async () => {
  await http.close();
  await sim.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

let seq = 0;
function payout(over: Partial<PayoutInput> = {}): PayoutInput {
  const now = Date.now();
  return {
    orderId: `${formatBeijing(now)}${String(++seq).padStart(8, '0')}`,
    tradeType: '02',
    amountFen: 1234n,
    subject: '邀请好友奖励 A&B=C',
    payeeAccountType: 'WX_OPENID',
    payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
    payeeName: '张三',
    ip: '203.0.113.7',
    termType: 'wap',
    createdAt: now,
    expireAt: now + 24 * 3600_000,
    callbackUrl: notifyUrl,
    ...over,
  };
}

const requestsTo = (path: string) => sim.requests.filter((r) => r.path === path);
const lastRequest = () => sim.requests[sim.requests.length - 1]!;
const CREATE = '/v3/fund-app/mch-transfer/transfer-bills';

async function accepted(input = payout(), c = creds) {
  const r = await driver.transfer!(input, c, ctx);
  if (r.outcome !== 'accepted') throw new Error(`transfer: ${JSON.stringify(r)}`);
  return { input, r, bill: sim.transfers.bills.get(input.orderId)! };
}

const ref = (input: PayoutInput) => ({ orderId: input.orderId, amountFen: input.amountFen, tradeType: input.tradeType });

t.test('what the driver offers, and when it cannot pay out', async (t) => {
  t.same(driver.payeeAccountTypes, ['WX_OPENID']);
  const bare = sim.credentials('cert');
  t.match(driver.payoutUnavailable!(bare, '02'), /--transfer-scene-id/);
  t.match(driver.payoutUnavailable!(bare, '03'), /--transfer-scene-id/);
  t.equal(driver.payoutUnavailable!(creds, '02'), undefined);
  t.equal(driver.payoutUnavailable!(creds, '03'), undefined, '03 falls back to the 02 scene');
  const withdrawOnly = { ...bare, withdrawScene: { sceneId: '1005', reportInfos: [] } };
  t.match(driver.payoutUnavailable!(withdrawOnly, '02'), /transfer scene/);
  t.equal(driver.payoutUnavailable!(withdrawOnly, '03'), undefined);
  const before = sim.requests.length;
  t.match(await driver.transfer!(payout(), bare, ctx), { outcome: 'refused', code: 'NO_TRANSFER_SCENE' });
  t.equal(sim.requests.length, before, 'nothing sent');
});

t.test('a payout: the bill WeChat gets, the payee confirms, it is paid out and notified', async (t) => {
  const subject = '这是一段超过三十二个字符的转账备注，用来检查截断是否按字符进行😀而不是按字节进行的';
  const { input, r, bill } = await accepted(payout({ subject }));
  const req = lastRequest();
  t.equal(req.path, CREATE);
  t.notOk(req.authError, 'the simulator verified our Authorization');
  const body = JSON.parse(req.body);
  t.same(Object.keys(body).sort(), [
    'appid', 'notify_url', 'openid', 'out_bill_no', 'transfer_amount', 'transfer_remark', 'transfer_scene_id', 'transfer_scene_report_infos', 'user_name', 'user_recv_perception',
  ]);
  t.match(body, { appid: sim.appid, out_bill_no: input.orderId, transfer_scene_id: '1000', openid: input.payeeAccount, transfer_amount: 1234, notify_url: notifyUrl, user_recv_perception: '现金奖励' });
  t.same(body.transfer_scene_report_infos, REPORT);
  t.equal(body.transfer_remark, [...subject].slice(0, 32).join(''), 'the subject cut to 32 characters');
  t.equal([...body.transfer_remark].length, 32);
  t.notMatch(req.body, '张三', 'the name never travels in the clear');
  t.equal(bill.userName, '张三', 'the simulator opened user_name with the platform private key');
  t.equal(req.headers['wechatpay-serial'], keys.platform.certSerial, 'Wechatpay-Serial names the platform certificate');

  t.equal(r.channelTradeNo, bill.transferBillNo);
  t.same(JSON.parse(r.payInfo!), { mchId: sim.mchid, appId: sim.appid, package: bill.packageInfo }, 'what wx.requestMerchantTransfer takes');
  t.same(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'waiting_for_payee', channelTradeNo: bill.transferBillNo });

  sim.transfers.confirm(input.orderId);
  t.same(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'processing', channelTradeNo: bill.transferBillNo }, 'TRANSFERING');

  const acks = await sim.transfers.finish(input.orderId, 'SUCCESS');
  t.same(acks.map((a) => a.status), [200], 'the notification was acknowledged');
  const paidAt = formatBeijing(Date.parse(bill.updateTime));
  t.same(seen.at(-1), { outcome: { kind: 'payout', orderId: input.orderId, amountFen: 1234n, channelTradeNo: bill.transferBillNo, result: 'succeeded', paidAt } });
  t.same(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'succeeded', channelTradeNo: bill.transferBillNo, paidAt });
});

t.test('user_name under the WeChat Pay public key; no name, no user_name', async (t) => {
  sim.mode = 'pubkey';
  t.teardown(() => {
    sim.mode = 'cert';
  });
  const { bill } = await accepted(payout({ payeeName: '李四' }), pkCreds);
  t.equal(lastRequest().headers['wechatpay-serial'], keys.platform.publicKeyId);
  t.equal(bill.userName, '李四');
  // Both configured (moving to the public key): the public key is used.
  await accepted(payout({ payeeName: '王五' }), { ...creds, ...pkCreds });
  t.equal(lastRequest().headers['wechatpay-serial'], keys.platform.publicKeyId);

  sim.mode = 'cert';
  const { bill: unnamed } = await accepted(payout({ payeeName: undefined }));
  t.notOk('user_name' in JSON.parse(lastRequest().body));
  t.equal(unnamed.userName, undefined);

  const before = sim.requests.length;
  t.match(await driver.transfer!(payout({ payeeName: undefined, amountFen: 200_000n }), creds, ctx), { outcome: 'refused', code: 'PARAM_ERROR', message: /2000\.00/ });
  t.match(await driver.transfer!(payout({ amountFen: 0n }), creds, ctx), { outcome: 'refused', code: 'PARAM_ERROR' });
  t.match(await driver.transfer!(payout({ payeeAccountType: 'BANK_CARD' }), creds, ctx), { outcome: 'refused' });
  t.equal(sim.requests.length, before, 'decided locally: nothing sent');
  const { bill: big } = await accepted(payout({ amountFen: 200_000n }));
  t.equal(big.userName, '张三', 'from 2000.00 yuan with the name');
});

t.test('03 withdrawals use their own scene, else the 02 one', async (t) => {
  await accepted(payout({ tradeType: '03' }));
  t.equal(JSON.parse(lastRequest().body).transfer_scene_id, '1000');
  const withdraw = { sceneId: '1005', reportInfos: [{ info_type: '岗位类型', info_content: '外卖骑手' }, { info_type: '报酬说明', info_content: '11月佣金' }], userRecvPerception: '劳务报酬' };
  const c = { ...creds, withdrawScene: withdraw };
  await accepted(payout({ tradeType: '03' }), c);
  const body = JSON.parse(lastRequest().body);
  t.match(body, { transfer_scene_id: '1005', user_recv_perception: '劳务报酬' });
  t.same(body.transfer_scene_report_infos, withdraw.reportInfos);
  await accepted(payout({ tradeType: '02' }), c);
  t.equal(JSON.parse(lastRequest().body).transfer_scene_id, '1000', '02 keeps the transfer scene');
  // The scene's report items are WeChat's to check: missing ones are a refusal.
  t.match(await driver.transfer!(payout(), { ...creds, transferScene: { sceneId: '1000', reportInfos: REPORT.slice(0, 1) } }, ctx), { outcome: 'refused', code: 'PARAM_ERROR' });
  t.match(await driver.transfer!(payout(), { ...creds, transferScene: { sceneId: '9999', reportInfos: [] } }, ctx), { outcome: 'refused', code: 'INVALID_REQUEST', message: /转账场景/ });
});

t.test('a payout that fails after the payee confirmed', async (t) => {
  const { input, bill } = await accepted();
  sim.transfers.confirm(input.orderId);
  await sim.transfers.finish(input.orderId, 'FAIL', { failReason: 'NAME_NOT_CORRECT' });
  t.same(seen.at(-1), { outcome: { kind: 'payout', orderId: input.orderId, amountFen: 1234n, channelTradeNo: bill.transferBillNo, result: 'failed', failCode: 'NAME_NOT_CORRECT', failReason: '收款人姓名校验不通过' } });
  t.same(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'failed', code: 'NAME_NOT_CORRECT', message: '收款人姓名校验不通过' });
  // A bill WeChat fails at once: nothing moved, so the create is a refusal.
  sim.transfers.createState = 'FAIL';
  t.teardown(() => {
    sim.transfers.createState = 'WAIT_USER_CONFIRM';
  });
  t.match(await driver.transfer!(payout(), creds, ctx), { outcome: 'refused', code: 'TRANSFER_RISK' });
});

t.test('cancel before the payee confirmed: CANCELING, then CANCELLED and notified', async (t) => {
  const { input, bill } = await accepted();
  t.same(await driver.cancelTransfer!(ref(input), creds, ctx), { outcome: 'cancelling' });
  t.equal(lastRequest().path, `${CREATE}/out-bill-no/${input.orderId}/cancel`);
  t.notOk(lastRequest().authError);
  t.same(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'cancelling' });
  t.throws(() => sim.transfers.confirm(input.orderId), /not waiting/, 'the payee can no longer confirm');
  await sim.transfers.finish(input.orderId, 'CANCELLED');
  t.same(seen.at(-1), { outcome: { kind: 'payout', orderId: input.orderId, amountFen: 1234n, channelTradeNo: bill.transferBillNo, result: 'cancelled' } });
  t.same(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'cancelled' });
  t.same(await driver.cancelTransfer!(ref(input), creds, ctx), { outcome: 'cancelled' }, 'cancelling again says where it ended');
});

t.test('cancel after the payee confirmed: refused, and the payout goes on', async (t) => {
  const { input } = await accepted();
  sim.transfers.confirm(input.orderId);
  t.match(await driver.cancelTransfer!(ref(input), creds, ctx), { outcome: 'refused', code: 'INVALID_REQUEST' });
  t.match(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'processing' });
  await sim.transfers.finish(input.orderId, 'SUCCESS');
  t.match(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'succeeded' });
  t.match(await driver.cancelTransfer!({ ...ref(input), orderId: 'NOSUCHBILL0001' }, creds, ctx), { outcome: 'refused', code: 'NOT_FOUND' });
});

t.test('a lost answer is unknown and settled by query, never sent again', async (t) => {
  const input = payout();
  sim.fault({ kind: 'lostAnswer' });
  t.match(await driver.transfer!(input, creds, ctx), { outcome: 'unknown' });
  t.equal(requestsTo(CREATE).filter((r) => JSON.parse(r.body).out_bill_no === input.orderId).length, 1, 'sent once');
  const bill = sim.transfers.bills.get(input.orderId);
  t.ok(bill, 'WeChat did take it');
  t.same(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'waiting_for_payee', channelTradeNo: bill!.transferBillNo });

  const never = payout();
  t.same(await driver.queryTransfer!(ref(never), creds, ctx), { outcome: 'not_found' }, 'a bill WeChat never got');
});

t.test('faults sort three ways', async (t) => {
  const transfer = () => driver.transfer!(payout(), creds, ctx);
  t.match(await (sim.fault({ kind: 'businessError', status: 400, code: 'PARAM_ERROR', message: '参数错误' }), transfer()), { outcome: 'refused', code: 'PARAM_ERROR', message: '参数错误' });
  t.match(await (sim.fault({ kind: 'businessError', status: 403, code: 'NO_AUTH', message: '商户无权限' }), transfer()), { outcome: 'refused', code: 'NO_AUTH' });
  t.match(await (sim.fault({ kind: 'businessError', status: 400, code: 'NOT_ENOUGH', message: '资金不足' }), transfer()), { outcome: 'refused', code: 'NOT_ENOUGH' });
  t.match(await (sim.fault({ kind: 'businessError', status: 429, code: 'FREQUENCY_LIMITED', message: '频率超限' }), transfer()), { outcome: 'unreached' });
  t.match(await (sim.fault({ kind: 'systemError' }), transfer()), { outcome: 'unknown', reason: /500/ });
  t.match(await (sim.fault({ kind: 'badSignature' }), transfer()), { outcome: 'unknown', reason: /does not verify/ });
  t.match(await (sim.fault({ kind: 'hang' }), transfer()), { outcome: 'unknown' }, 'a timeout after sending');
  // The number is taken with other terms: WeChat holds a bill under it, so this is no refusal.
  const input = payout();
  await accepted(input);
  t.match(await driver.transfer!({ ...input, amountFen: 999n }, creds, ctx), { outcome: 'unknown', reason: /重复/ });
  t.match(await driver.transfer!(input, creds, ctx), { outcome: 'accepted' }, 'the same bill again answers the same bill');

  t.match(await (sim.fault({ kind: 'badSignature' }), driver.queryTransfer!(ref(payout()), creds, ctx)), { outcome: 'unknown' }, 'an unverified not-found is not believed');
  t.match(await (sim.fault({ kind: 'systemError' }), driver.cancelTransfer!(ref(input), creds, ctx)), { outcome: 'unknown' });
  t.match(await (sim.fault({ kind: 'hang' }), driver.queryTransfer!(ref(input), creds, ctx)), { outcome: 'unknown' });

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const nowhere = { ...creds, baseUrl: `http://127.0.0.1:${port}` };
  t.match(await driver.transfer!(payout(), nowhere, ctx), { outcome: 'unreached' }, 'nothing listening: never sent');
  t.match(await driver.cancelTransfer!(ref(input), nowhere, ctx), { outcome: 'unreached' });
});

t.test('notifications: verified, decrypted, this merchant’s, final', async (t) => {
  const { input, bill } = await accepted();
  const plain = { ...sim.transfers.notificationPlain(bill), state: 'SUCCESS', update_time: '2026-12-01T10:00:00+08:00' };
  const n = sim.encryptedNotification('MCHTRANSFER.BILL.FINISHED', 'mch_payment', '商家转账单据终态通知', plain);
  t.same(parseWxpayCallback(n, creds), { kind: 'payout', orderId: input.orderId, amountFen: 1234n, channelTradeNo: bill.transferBillNo, result: 'succeeded', paidAt: '20261201100000' });
  t.throws(() => parseWxpayCallback({ headers: n.headers, rawBody: Buffer.concat([n.rawBody, Buffer.from(' ')]) }, creds), CallbackRejected, 'raw bytes matter');
  t.throws(() => parseWxpayCallback(n, { ...creds, apiv3Key: 'x'.repeat(32) }), /APIv3/, 'another APIv3 key does not open it');
  const other = sim.encryptedNotification('MCHTRANSFER.BILL.FINISHED', 'mch_payment', 's', { ...plain, mch_id: '1900000999' });
  t.throws(() => parseWxpayCallback(other, creds), /mch_id/);
  const noAmount = sim.encryptedNotification('MCHTRANSFER.BILL.FINISHED', 'mch_payment', 's', { ...plain, transfer_amount: '12.34' });
  t.throws(() => parseWxpayCallback(noAmount, creds), /transfer_amount/);
  const notFinal = sim.encryptedNotification('MCHTRANSFER.BILL.FINISHED', 'mch_payment', 's', { ...plain, state: 'TRANSFERING' });
  t.throws(() => parseWxpayCallback(notFinal, creds), CallbackIgnored);
  // Through the receiver: a duplicate is parsed the same, acknowledged both times.
  sim.transfers.confirm(input.orderId);
  const acks = await sim.transfers.finish(input.orderId, 'SUCCESS', { duplicate: true });
  t.same(acks.map((a) => a.status), [200, 200]);
  t.same(seen.at(-1), seen.at(-2));
});

t.test('cross-check with wechatpay-axios-plugin', async (t) => {
  const merchantPub = Rsa.from(keys.merchant.publicKeyPem, Rsa.KEY_TYPE_PUBLIC);
  const platformPriv = Rsa.from(keys.platform.privateKeyPem, Rsa.KEY_TYPE_PRIVATE);
  const platformPub = Rsa.from(keys.platform.publicKeyPem, Rsa.KEY_TYPE_PUBLIC);

  t.test('our transfer, query and cancel requests verify with the SDK’s algorithm', async (t) => {
    const { input } = await accepted();
    const create = lastRequest();
    await driver.queryTransfer!(ref(input), creds, ctx);
    const query = lastRequest();
    await driver.cancelTransfer!(ref(input), creds, ctx);
    const cancel = lastRequest();
    for (const req of [create, query, cancel]) {
      const a: Record<string, string> = {};
      for (const m of req.headers.authorization!.replace(/^WECHATPAY2-SHA256-RSA2048 /, '').matchAll(/(\w+)="([^"]*)"/g)) a[m[1]!] = m[2]!;
      t.ok(Rsa.verify(Formatter.request(req.method, req.path, a.timestamp!, a.nonce_str!, req.body), a.signature!, merchantPub), `${req.method} ${req.path}`);
    }
  });

  t.test('the SDK decrypts our user_name (RSA-OAEP, SHA-1), and the simulator opens the SDK’s', async (t) => {
    await accepted(payout({ payeeName: '欧阳娜娜' }));
    const sent = JSON.parse(lastRequest().body).user_name;
    t.equal(Rsa.decrypt(sent, platformPriv), '欧阳娜娜');
    // A bill made by the SDK's own client, its user_name encrypted by the SDK: the simulator opens
    // it, and the driver reads the bill.
    const sdk = new Wechatpay({
      mchid: sim.mchid,
      serial: keys.merchant.serialNo,
      privateKey: keys.merchant.privateKeyPem,
      certs: { [keys.platform.certSerial]: keys.platform.publicKeyPem },
      baseURL: `${sim.baseUrl}/`,
    });
    const input = payout();
    const { data } = await (sdk as any).v3.fundApp.mchTransfer.transferBills.post(
      {
        appid: sim.appid,
        out_bill_no: input.orderId,
        transfer_scene_id: '1000',
        openid: input.payeeAccount,
        user_name: Rsa.encrypt('赵六', platformPub),
        transfer_amount: 100,
        transfer_remark: 'SDK',
        notify_url: notifyUrl,
        transfer_scene_report_infos: REPORT,
      },
      { headers: { 'Wechatpay-Serial': keys.platform.certSerial } },
    );
    t.match(data, { out_bill_no: input.orderId, state: 'WAIT_USER_CONFIRM' }, 'the SDK believed the simulator’s answer');
    t.notOk(lastRequest().authError, 'the simulator accepted the SDK’s Authorization');
    t.equal(sim.transfers.bills.get(input.orderId)?.userName, '赵六');
    t.match(await driver.queryTransfer!(ref(input), creds, ctx), { outcome: 'waiting_for_payee', channelTradeNo: data.transfer_bill_no });
  });

  t.test('a FINISHED notification made by the SDK passes our verification', async (t) => {
    const plain = JSON.stringify({
      out_bill_no: 'SDKBILL000001',
      transfer_bill_no: '1330000071100999991182020050700019480001',
      state: 'FAIL',
      mch_id: sim.mchid,
      transfer_amount: 88,
      openid: 'o-MYE42l80oelYMDE34nYD456Xoy',
      fail_reason: 'ACCOUNT_FROZEN',
      create_time: '2026-12-01T10:00:00+08:00',
      update_time: '2026-12-01T10:05:00+08:00',
    });
    const iv = 'abcdefghijkl';
    const ciphertext = AesGcm.encrypt(plain, keys.apiv3Key, iv, 'mch_payment');
    const note = JSON.stringify({ id: 'x', create_time: '2026-12-01T10:05:01+08:00', resource_type: 'encrypt-resource', event_type: 'MCHTRANSFER.BILL.FINISHED', summary: '商家转账单据终态通知', resource: { original_type: 'mch_payment', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: 'mch_payment', nonce: iv } });
    const ts = String(Formatter.timestamp());
    const nonce = Formatter.nonce();
    const headers = { 'Wechatpay-Timestamp': ts, 'Wechatpay-Nonce': nonce, 'Wechatpay-Serial': keys.platform.certSerial, 'Wechatpay-Signature': Rsa.sign(Formatter.response(ts, nonce, note), platformPriv) };
    t.same(parseWxpayCallback({ headers, rawBody: Buffer.from(note) }, creds), {
      kind: 'payout',
      orderId: 'SDKBILL000001',
      amountFen: 88n,
      channelTradeNo: '1330000071100999991182020050700019480001',
      result: 'failed',
      failCode: 'ACCOUNT_FROZEN',
      failReason: '该用户账户被冻结',
    });
  });
});
