import { randomInt } from 'node:crypto';
import { request } from 'undici';
import type { AlipaySimulator, Answer, SimNotification } from './alipay.js';
import { beijingNow, business, fenOf, invalid, ok, sign256, sortedPairs, yuan } from './alipay.js';

// The simulator's fund transfers (单笔转账): alipay.fund.trans.uni.transfer with real state (the
// merchant's balance, payees whose real names are checked, orders by out_biz_no), the query
// alipay.fund.trans.common.query, and the 消息服务 message alipay.fund.trans.order.changed, sent
// to the application's 应用网关 when the app subscribed to it — not to the request's notify_url.

export type FundStatus = 'SUCCESS' | 'DEALING' | 'FAIL' | 'REFUND';

export interface SimTransfer {
  outBizNo: string;
  orderId: string;
  payFundOrderId: string;
  productCode: string;
  bizScene: string;
  amountFen: bigint;
  title: string;
  identity: string;
  identityType: string;
  name?: string;
  accountType?: string;
  status: FundStatus;
  transDate: string;
  payDate?: string;
  errorCode?: string;
  failReason?: string;
}

const PRODUCTS: Record<string, string[]> = {
  TRANS_ACCOUNT_NO_PWD: ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID', 'ALIPAY_OPEN_ID'],
  TRANS_BANKCARD_NO_PWD: ['BANKCARD_ACCOUNT'],
};

export class SimFund {
  readonly transfers = new Map<string, SimTransfer>();
  /** 消息服务 messages sent, with the answer each got */
  readonly messages: SimNotification[] = [];
  /** what the merchant's Alipay account holds */
  balanceFen = 100_000_000n;
  /** payees Alipay knows, by identity, with their real names */
  readonly payees = new Map<string, string>();
  /** the 应用网关 set in the Alipay console, and whether the app subscribed to the fund message */
  appGatewayUrl = '';
  subscribed = true;
  /** how the next transfers go: account transfers succeed at once, card transfers are DEALING */
  private readonly plans: Array<'success' | 'dealing'> = [];
  private readonly pending: Promise<unknown>[] = [];
  private seq = 0;

  constructor(private readonly sim: AlipaySimulator) {}

  /** The next transfer is answered this way (then back to the default). */
  planNext(plan: 'success' | 'dealing'): void {
    this.plans.push(plan);
  }

  dispatch(method: string, biz: Record<string, unknown>): Answer | undefined {
    if (method === 'alipay.fund.trans.uni.transfer') return this.transfer(biz);
    if (method === 'alipay.fund.trans.common.query') return this.query(biz);
    return undefined;
  }

  private transfer(biz: Record<string, unknown>): Answer {
    const product = typeof biz.product_code === 'string' ? biz.product_code : '';
    if (!PRODUCTS[product]) return { fields: invalid('isv.invalid-parameter', 'product_code 无效') };
    if (biz.biz_scene !== 'DIRECT_TRANSFER') return { fields: invalid('isv.invalid-parameter', 'biz_scene 无效') };
    const outBizNo = biz.out_biz_no;
    if (typeof outBizNo !== 'string' || !/^[A-Za-z0-9_]{1,64}$/.test(outBizNo)) return { fields: invalid('isv.missing-parameter', 'out_biz_no 无效') };
    const amount = fenOf(biz.trans_amount);
    if (amount === undefined || amount <= 0n) return { fields: invalid('isv.invalid-parameter', 'trans_amount 无效') };
    if (typeof biz.order_title !== 'string' || !biz.order_title) return { fields: invalid('isv.missing-parameter', '缺少 order_title') };
    const payee = biz.payee_info as Record<string, unknown> | undefined;
    const identity = payee?.identity;
    const identityType = payee?.identity_type;
    if (typeof identity !== 'string' || !identity || typeof identityType !== 'string') return { fields: invalid('isv.missing-parameter', '缺少 payee_info') };
    if (!PRODUCTS[product]!.includes(identityType)) return { fields: invalid('isv.invalid-parameter', 'identity_type 与产品不符') };
    const name = typeof payee!.name === 'string' ? payee!.name : undefined;

    const existing = this.transfers.get(outBizNo);
    if (existing) {
      // out_biz_no is the idempotency key: the same request answers the same order.
      if (existing.amountFen !== amount || existing.identity !== identity) return { fields: business('ORDER_DUPLICATE', '商户订单号重复') };
      return { fields: this.transferAnswer(existing) };
    }
    if ((identityType === 'ALIPAY_LOGON_ID' || identityType === 'BANKCARD_ACCOUNT') && !name) return { fields: business('PAYEE_USER_INFO_ERROR', '收款方姓名不能为空') };
    if (identityType === 'ALIPAY_USER_ID' && !/^2088\d{12}$/.test(identity)) return { fields: business('PAYEE_NOT_EXIST', '收款账号不存在') };
    if (identityType === 'BANKCARD_ACCOUNT') {
      const ext = payee!.bankcard_ext_info as Record<string, unknown> | undefined;
      if (!/^\d{12,19}$/.test(identity)) return { fields: business('PAYEE_CARD_INFO_ERROR', '收款方卡信息有误') };
      if (ext?.account_type !== '2' && ext?.account_type !== '1') return { fields: invalid('isv.missing-parameter', '缺少 bankcard_ext_info.account_type') };
    }
    const known = this.payees.get(identity);
    if (known !== undefined && name !== undefined && known !== name) return { fields: business('PAYEE_USER_INFO_ERROR', '收款方用户信息不匹配') };
    if (product === 'TRANS_ACCOUNT_NO_PWD' && amount < 10n) return { fields: business('EXCEED_LIMIT_SM_MIN_AMOUNT', '单笔最低转账金额0.1元') };
    if (amount > this.balanceFen) return { fields: business('PAYER_BALANCE_NOT_ENOUGH', '付款方余额不足') };

    const plan = this.plans.shift() ?? (product === 'TRANS_BANKCARD_NO_PWD' ? 'dealing' : 'success');
    const day = beijingNow().slice(0, 10).replaceAll('-', '');
    const n = String(++this.seq).padStart(9, '0');
    const tr: SimTransfer = {
      outBizNo,
      orderId: `${day}110070000${n}${String(randomInt(1000)).padStart(3, '0')}`,
      payFundOrderId: `${day}110070001${n}`,
      productCode: product,
      bizScene: 'DIRECT_TRANSFER',
      amountFen: amount,
      title: biz.order_title,
      identity,
      identityType,
      name,
      status: plan === 'success' ? 'SUCCESS' : 'DEALING',
      transDate: beijingNow(),
    };
    this.balanceFen -= amount;
    if (tr.status === 'SUCCESS') {
      tr.payDate = tr.transDate;
      // Alipay sends the message for an immediate success too, after the answer.
      this.pending.push(new Promise((r) => setImmediate(r)).then(() => this.sendMessage(tr)));
    }
    this.transfers.set(outBizNo, tr);
    return { fields: this.transferAnswer(tr) };
  }

  private transferAnswer(tr: SimTransfer): Record<string, unknown> {
    const f: Record<string, unknown> = { ...ok, out_biz_no: tr.outBizNo, order_id: tr.orderId, pay_fund_order_id: tr.payFundOrderId, status: tr.status, trans_date: tr.transDate };
    return f;
  }

  private query(biz: Record<string, unknown>): Answer {
    let tr: SimTransfer | undefined;
    if (typeof biz.order_id === 'string') tr = [...this.transfers.values()].find((x) => x.orderId === biz.order_id);
    else if (typeof biz.out_biz_no === 'string') {
      if (typeof biz.product_code !== 'string' || typeof biz.biz_scene !== 'string') return { fields: invalid('isv.missing-parameter', '传 out_biz_no 时 product_code 与 biz_scene 必传') };
      tr = this.transfers.get(biz.out_biz_no);
      // Orders are kept per product: the same out_biz_no under another product is another order.
      if (tr && (tr.productCode !== biz.product_code || tr.bizScene !== biz.biz_scene)) tr = undefined;
    } else return { fields: invalid('isv.missing-parameter', '缺少 out_biz_no 或 order_id') };
    if (!tr) return { fields: business('ORDER_NOT_EXIST', '转账订单不存在') };
    const f: Record<string, unknown> = {
      ...ok,
      order_id: tr.orderId,
      pay_fund_order_id: tr.payFundOrderId,
      out_biz_no: tr.outBizNo,
      trans_amount: yuan(tr.amountFen),
      status: tr.status,
      order_fee: '0.00',
    };
    if (tr.payDate) f.pay_date = tr.payDate;
    if (tr.errorCode) f.error_code = tr.errorCode;
    if (tr.failReason) f.fail_reason = tr.failReason;
    return { fields: f };
  }

  /**
   * A DEALING transfer ends: paid, failed with a code, or (a card transfer the bank sent back)
   * refunded. The message goes out; resolves to the ack, or undefined when none is sent.
   */
  async settle(outBizNo: string, to: 'SUCCESS' | 'REFUND' | { fail: string; reason: string }): Promise<string | undefined> {
    const tr = this.transfers.get(outBizNo);
    if (!tr) throw new Error(`no transfer ${outBizNo}`);
    if (to === 'SUCCESS') {
      if (tr.status !== 'DEALING') throw new Error(`transfer ${outBizNo} is ${tr.status}`);
      tr.status = 'SUCCESS';
      tr.payDate = beijingNow();
    } else if (to === 'REFUND') {
      if (tr.status !== 'SUCCESS') throw new Error(`transfer ${outBizNo} is ${tr.status}`);
      tr.status = 'REFUND';
      tr.errorCode = 'PAYEE_ACCOUNT_STATUS_ERROR';
      tr.failReason = '收款账户状态异常，银行退票';
      this.balanceFen += tr.amountFen;
    } else {
      if (tr.status !== 'DEALING') throw new Error(`transfer ${outBizNo} is ${tr.status}`);
      tr.status = 'FAIL';
      tr.errorCode = to.fail;
      tr.failReason = to.reason;
      this.balanceFen += tr.amountFen;
    }
    return this.sendMessage(tr);
  }

  /** Waits for messages sent on their own (after an immediate success). */
  async flush(): Promise<void> {
    while (this.pending.length > 0) await this.pending.shift();
  }

  /** The signed form body of a fund message about `tr`; `overrides` go into biz_content. */
  messageBody(tr: SimTransfer, overrides: Record<string, unknown> = {}, opts: { badSignature?: boolean; msgMethod?: string; appId?: string } = {}): string {
    const content: Record<string, unknown> = {
      out_biz_no: tr.outBizNo,
      order_id: tr.orderId,
      pay_fund_order_id: tr.payFundOrderId,
      status: tr.status,
      action_type: tr.status === 'REFUND' ? 'REFUND' : 'FINISH',
      trans_amount: yuan(tr.amountFen),
      product_code: tr.productCode,
      biz_scene: tr.bizScene,
      origin_interface: 'alipay.fund.trans.uni.transfer',
      ...(tr.payDate ? { pay_date: tr.payDate } : {}),
      ...(tr.errorCode ? { error_code: tr.errorCode, fail_reason: tr.failReason } : {}),
      ...overrides,
    };
    const f: Record<string, string> = {
      notify_id: `2026${String(randomInt(1e9)).padStart(9, '0')}fm`,
      utc_timestamp: String(Date.now()),
      msg_method: opts.msgMethod ?? 'alipay.fund.trans.order.changed',
      app_id: opts.appId ?? this.sim.appId,
      version: '1.1',
      charset: 'utf-8',
      biz_content: JSON.stringify(content),
      sign_type: 'RSA2',
    };
    const text = sortedPairs(f, ['sign', 'sign_type'], false);
    f.sign = sign256(opts.badSignature ? `${text}&x=1` : text, this.sim.alipayPrivateKeyPem);
    return new URLSearchParams(f).toString();
  }

  private async sendMessage(tr: SimTransfer): Promise<string | undefined> {
    if (!this.subscribed || !this.appGatewayUrl) return undefined;
    const n: SimNotification = { url: this.appGatewayUrl, body: this.messageBody(tr) };
    this.messages.push(n);
    try {
      const res = await request(n.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: n.body,
        headersTimeout: 5000,
        bodyTimeout: 5000,
      });
      n.status = res.statusCode;
      n.ack = await res.body.text();
      return n.ack;
    } catch (err) {
      return (n.error = (err as Error).message);
    }
  }
}
