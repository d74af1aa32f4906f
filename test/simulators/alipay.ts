import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { playTransportFault, takeFault } from './transport-faults.js';
import type { AddressInfo } from 'node:net';
import { X509Certificate, createSign, createVerify, generateKeyPairSync, randomInt } from 'node:crypto';
import { request } from 'undici';
import { AlipayBills } from './alipay-bill.js';
import { SimFund } from './alipay-fund.js';

// A local Alipay OpenAPI gateway for tests, speaking the real protocol on 127.0.0.1:
// - verifies each request's RSA2 signature with the app's public key, the way Alipay does
//   (common parameters in the query string and biz_content in the form body, as the official
//   SDKs send them, or everything in the body — both are accepted);
// - keeps trades in memory and answers signed responses, signed over the exact response
//   substring, with slashes escaped as Alipay escapes them (so a verifier that re-serialises fails);
// - plays the payer (openCashier, pay) and sends signed asynchronous notifications to notify_url;
// - takes scripted faults;
// - in 公钥证书 mode (certMode), checks app_cert_sn and alipay_root_cert_sn as Alipay does, verifies
//   with the application certificate's key, names its own certificate in alipay_cert_sn, hands
//   certificates out by SN (alipay.open.app.alipaycert.download), and serves fund transfers with
//   their 消息服务 messages (alipay-fund.ts).
// Its signing code is written here on purpose, not imported from the driver: a shared bug would
// otherwise pass both sides. The official SDK cross-checks both in the tests.

export type Fault =
  | { kind: 'badSignature' }
  | { kind: 'unsigned' }
  | { kind: 'businessError'; code?: string; subCode: string; subMsg?: string }
  | { kind: 'hang' }
  /** the request is carried out, and then no answer ever comes */
  | { kind: 'hangAfter' }
  | { kind: 'http500' }
  | { kind: 'garbage' };

export type NotifyMode = 'normal' | 'lost' | 'duplicate' | 'wrongAmount';

export interface SimTrade {
  outTradeNo: string;
  tradeNo: string;
  appId: string;
  method: string;
  totalFen: bigint;
  subject: string;
  status: 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_FINISHED' | 'TRADE_CLOSED';
  notifyUrl?: string;
  buyerId: string;
  gmtCreate: string;
  gmtPayment?: string;
  refundedFen: bigint;
  refunds: Map<string, { amountFen: bigint; at: string }>;
}

export interface SimRequest {
  method: string;
  /** all parameters as Alipay reads them, query and body merged */
  params: Record<string, string>;
  /** the parameter names that came in the query string */
  inQuery: string[];
}

export interface SimNotification {
  url: string;
  body: string;
  status?: number;
  ack?: string;
  error?: string;
}

// --- the simulator's own Alipay crypto, independent of src/channels/alipay -------------------

const sortedPairs = (o: Record<string, string>, skip: string[], dropEmpty: boolean) =>
  Object.keys(o)
    .filter((k) => !skip.includes(k) && (!dropEmpty || o[k] !== ''))
    .sort()
    .map((k) => `${k}=${o[k]}`)
    .join('&');

function sign256(text: string, privateKeyPem: string): string {
  return createSign('sha256').update(Buffer.from(text, 'utf8')).sign(privateKeyPem, 'base64');
}

function verify256(text: string, sig: string, publicKeyPem: string): boolean {
  try {
    return createVerify('sha256').update(Buffer.from(text, 'utf8')).verify(publicKeyPem, sig, 'base64');
  } catch {
    return false;
  }
}

const yuan = (fen: bigint) => `${fen / 100n}.${(fen % 100n).toString().padStart(2, '0')}`;
function fenOf(v: unknown): bigint | undefined {
  if (typeof v !== 'string' || !/^\d{1,9}(\.\d{1,2})?$/.test(v)) return undefined;
  const [w, f = ''] = v.split('.');
  return BigInt(w!) * 100n + BigInt(f.padEnd(2, '0'));
}
const beijingNow = (ms = Date.now()) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

/** Alipay writes JSON with `/` escaped as `\/` ("https:\/\/qr.alipay.com\/…"). */
const alipayJson = (o: unknown) => JSON.stringify(o).replaceAll('/', '\\/');

const ok = { code: '10000', msg: 'Success' };
const business = (subCode: string, subMsg: string) => ({ code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg });
const invalid = (subCode: string, subMsg: string) => ({ code: '40002', msg: 'Invalid Arguments', sub_code: subCode, sub_msg: subMsg });

export type Answer = { fields: Record<string, unknown>; unsigned?: boolean; errorResponse?: boolean };

/** 公钥证书 mode, as the Alipay console sets it up for one application. */
export interface SimCertMode {
  appCertPem: string;
  /** what app_cert_sn and alipay_root_cert_sn must say */
  appCertSn: string;
  rootSn: string;
  /** Alipay certificates the simulator can sign with and hands out by SN: a file (leaf, intermediate) and the leaf's key */
  alipayCerts: { sn: string; filePem: string; keyPem: string }[];
  /** the SN of the one it signs with at first */
  signWith: string;
}

export { sign256, sortedPairs, alipayJson, yuan, fenOf, beijingNow, ok, business, invalid };

export class AlipaySimulator {
  alipayPrivateKeyPem: string;
  alipayPublicKeyPem: string;
  /** in 公钥证书 mode, the SN of the certificate answers are signed with */
  alipayCertSn: string | undefined;
  readonly fund = new SimFund(this);
  readonly trades = new Map<string, SimTrade>();
  readonly requests: SimRequest[] = [];
  readonly notifications: SimNotification[] = [];
  /** the day's trade bill (alipay-bill.ts) */
  readonly bills = new AlipayBills(this.trades);
  /** The payer's clock: when pay() says the trade was paid (a test can put payments on a day of its choosing). */
  now: () => number = Date.now;
  private readonly faults: Array<{ key: string; fault: Fault }> = [];
  private seq = 0;
  private server!: Server;
  gatewayUrl = '';

  private constructor(
    readonly appId: string,
    /** the merchant application's public key: what requests are verified with */
    private readonly appPublicKeyPem: string,
    readonly certMode?: SimCertMode,
  ) {
    if (certMode) {
      // Alipay verifies with the key of the application certificate it issued, not a key uploaded.
      this.appPublicKeyPem = new X509Certificate(certMode.appCertPem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      this.alipayPrivateKeyPem = this.alipayPublicKeyPem = '';
      this.useAlipayCert(certMode.signWith);
      return;
    }
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.alipayPrivateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.alipayPublicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  static async start(appId: string, appPublicKeyPem: string, certMode?: SimCertMode): Promise<AlipaySimulator> {
    const sim = new AlipaySimulator(appId, appPublicKeyPem, certMode);
    sim.server = createServer((req, res) => void sim.handle(req, res));
    await new Promise<void>((resolve) => sim.server.listen(0, '127.0.0.1', resolve));
    sim.gatewayUrl = `http://127.0.0.1:${(sim.server.address() as AddressInfo).port}/gateway.do`;
    sim.bills.listen(sim.gatewayUrl);
    return sim;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** 公钥证书 mode: sign from now on with the Alipay certificate `sn` (a rotation, or a look-alike). */
  useAlipayCert(sn: string): void {
    const c = this.certMode?.alipayCerts.find((x) => x.sn === sn);
    if (!c) throw new Error(`no Alipay certificate ${sn}`);
    this.alipayCertSn = sn;
    this.alipayPrivateKeyPem = c.keyPem;
    this.alipayPublicKeyPem = new X509Certificate(c.filePem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The next call of `method` ('*' for any) meets this fault; faults are used once, in order. */
  failNext(method: string, fault: Fault): void {
    this.faults.push({ key: method, fault });
  }

  // --- the gateway -----------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && this.bills.serve(url, res)) return;
    const params: Record<string, string> = {};
    const inQuery: string[] = [];
    let duplicate = false;
    for (const [k, v] of url.searchParams) {
      if (k in params) duplicate = true;
      params[k] = v;
      inQuery.push(k);
    }
    if (req.method === 'POST' && /x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
      for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) {
        // `charset` may ride in both places when a page form's action carries it.
        if (k in params && !(k === 'charset' && params[k] === v)) duplicate = true;
        params[k] = v;
      }
    }
    const method = params.method ?? '';
    this.requests.push({ method, params, inQuery });

    const fault = takeFault(this.faults, method);
    if (playTransportFault(res, fault, '<html>maintenance</html>')) return;

    const key = `${method.replaceAll('.', '_')}_response`;
    let answer: Answer;
    if (duplicate) answer = { fields: invalid('isv.invalid-parameter', '参数重复'), unsigned: true };
    else if (fault?.kind === 'businessError') {
      // A refusal changes nothing: the trade is not created, the refund not made.
      answer = { fields: { code: fault.code ?? '40004', msg: 'Business Failed', sub_code: fault.subCode, sub_msg: fault.subMsg ?? 'scripted failure' } };
    } else answer = this.checkCommon(params) ?? this.dispatch(method, params, res);
    if (res.writableEnded) return; // a cashier page was served
    if (fault?.kind === 'hangAfter') return; // done, and the answer is lost on the way
    if (fault?.kind === 'unsigned') answer.unsigned = true;

    const member = answer.errorResponse ? 'error_response' : key;
    const inner = alipayJson(answer.fields);
    let body = `{"${member}":${inner}`;
    if (!answer.unsigned) {
      // Signed over the member's exact bytes; a bad-signature fault signs something else.
      const signed = fault?.kind === 'badSignature' ? `${inner} ` : inner;
      body += `,"sign":"${sign256(signed, this.alipayPrivateKeyPem)}"`;
      // Only signed answers name the certificate that signed them.
      if (this.certMode) body += `,"alipay_cert_sn":"${this.alipayCertSn}"`;
    }
    body += '}';
    res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' }).end(body);
  }

  /** What Alipay checks before it looks at the method: app, signature, the common parameters. */
  private checkCommon(p: Record<string, string>): Answer | undefined {
    if (p.app_id !== this.appId) {
      // Alipay cannot sign for an app it does not know (the Alipay key pair is per app).
      return { fields: invalid('isv.invalid-app-id', '无效的AppID参数'), unsigned: true };
    }
    if (!p.sign) return { fields: invalid('isv.missing-signature', '缺少签名参数') };
    if (p.sign_type !== 'RSA2') return { fields: invalid('isv.invalid-signature-type', '无效的签名类型') };
    if (!verify256(sortedPairs(p, ['sign'], true), p.sign, this.appPublicKeyPem)) {
      return { fields: invalid('isv.invalid-signature', '验签出错') };
    }
    const certProblem = this.checkCertSns(p);
    if (certProblem) return certProblem;
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(p.timestamp ?? '')) return { fields: invalid('isv.invalid-timestamp', '非法的时间戳参数') };
    if ((p.charset ?? 'utf-8').toLowerCase() !== 'utf-8') return { fields: invalid('isv.invalid-charset', '字符集错误') };
    if (p.version !== '1.0') return { fields: invalid('isv.invalid-version', '版本号错误') };
    return undefined;
  }

  /** 公钥证书 mode: the certificates a request names must be the app's and the current root bundle's. */
  private checkCertSns(p: Record<string, string>): Answer | undefined {
    if (!this.certMode) {
      // Alipay takes fund calls only in 公钥证书 mode.
      if (p.method?.startsWith('alipay.fund.')) return { fields: invalid('isv.missing-app-cert-sn', '缺少应用公钥证书序列号') };
      return undefined;
    }
    if (!p.app_cert_sn) return { fields: invalid('isv.missing-app-cert-sn', '缺少应用公钥证书序列号') };
    if (p.app_cert_sn !== this.certMode.appCertSn) return { fields: invalid('isv.app-cert-sn-not-match', '应用公钥证书序列号不匹配') };
    if (!p.alipay_root_cert_sn) return { fields: invalid('isv.missing-alipay-root-cert-sn', '缺少支付宝根证书序列号') };
    if (p.alipay_root_cert_sn !== this.certMode.rootSn) return { fields: invalid('isv.alipay-root-cert-sn-not-match', '支付宝根证书序列号不匹配') };
    return undefined;
  }

  private dispatch(method: string, p: Record<string, string>, res: ServerResponse): Answer {
    let biz: Record<string, unknown>;
    try {
      biz = JSON.parse(p.biz_content ?? '{}') as Record<string, unknown>;
    } catch {
      return { fields: invalid('isv.invalid-biz-content', 'biz_content 不是 JSON') };
    }
    switch (method) {
      case 'alipay.trade.precreate': {
        const r = this.newTrade(method, biz, p);
        if ('code' in r) return { fields: r };
        return { fields: { ...ok, out_trade_no: r.outTradeNo, qr_code: `https://qr.alipay.com/bax0${r.tradeNo.slice(-12)}` } };
      }
      case 'alipay.trade.create': {
        if (biz.product_code !== 'JSAPI_PAY') return { fields: invalid('isv.invalid-product-code', 'product_code 必须为 JSAPI_PAY') };
        const buyer = biz.buyer_open_id ?? biz.buyer_id;
        if (typeof buyer !== 'string' || !buyer) return { fields: business('ACQ.BUYER_NOT_EXIST', '买家不存在') };
        const r = this.newTrade(method, biz, p, buyer);
        if ('code' in r) return { fields: r };
        return { fields: { ...ok, out_trade_no: r.outTradeNo, trade_no: r.tradeNo } };
      }
      case 'alipay.trade.wap.pay':
      case 'alipay.trade.page.pay': {
        // The payer's browser arrives here: the trade comes to life and a cashier page is shown.
        const r = this.newTrade(method, biz, p);
        if ('code' in r) return { fields: r };
        res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' }).end(`<html><body>cashier ${r.outTradeNo} ${yuan(r.totalFen)}</body></html>`);
        return { fields: {} };
      }
      case 'alipay.trade.query': {
        const t = this.find(biz);
        if (!t) return { fields: business('ACQ.TRADE_NOT_EXIST', '交易不存在') };
        const fields: Record<string, unknown> = {
          ...ok,
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          buyer_logon_id: '159****5620',
          trade_status: t.status,
          total_amount: yuan(t.totalFen),
          buyer_user_id: t.buyerId,
        };
        if (t.gmtPayment) {
          Object.assign(fields, {
            buyer_pay_amount: yuan(t.totalFen),
            receipt_amount: yuan(t.totalFen),
            send_pay_date: t.gmtPayment,
            fund_bill_list: [{ amount: yuan(t.totalFen), fund_channel: 'ALIPAYACCOUNT' }],
          });
        }
        return { fields };
      }
      case 'alipay.trade.close': {
        const t = this.find(biz);
        if (!t) return { fields: business('ACQ.TRADE_NOT_EXIST', '交易不存在') };
        if (t.status !== 'WAIT_BUYER_PAY') return { fields: business('ACQ.TRADE_STATUS_ERROR', '交易状态不合法') };
        t.status = 'TRADE_CLOSED';
        return { fields: { ...ok, trade_no: t.tradeNo, out_trade_no: t.outTradeNo } };
      }
      case 'alipay.trade.refund': {
        const t = this.find(biz);
        if (!t) return { fields: business('ACQ.TRADE_NOT_EXIST', '交易不存在') };
        const amount = fenOf(biz.refund_amount);
        if (amount === undefined || amount <= 0n) return { fields: invalid('isv.invalid-parameter', 'refund_amount 无效') };
        const reqNo = typeof biz.out_request_no === 'string' ? biz.out_request_no : t.outTradeNo;
        const done = t.refunds.get(reqNo);
        const base = { trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: '159****5620' };
        if (done) {
          if (done.amountFen !== amount) return { fields: business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额与原请求不一致') };
          return { fields: { ...ok, ...base, fund_change: 'N', refund_fee: yuan(t.refundedFen) } };
        }
        if (t.status !== 'TRADE_SUCCESS') return { fields: business('ACQ.TRADE_STATUS_ERROR', '交易状态不合法') };
        if (t.refundedFen + amount > t.totalFen) return { fields: business('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限') };
        const at = beijingNow();
        t.refunds.set(reqNo, { amountFen: amount, at });
        t.refundedFen += amount;
        if (t.refundedFen === t.totalFen) t.status = 'TRADE_CLOSED';
        return { fields: { ...ok, ...base, fund_change: 'Y', refund_fee: yuan(t.refundedFen), gmt_refund_pay: at } };
      }
      case 'alipay.trade.fastpay.refund.query': {
        const t = this.find(biz);
        if (!t) return { fields: business('ACQ.TRADE_NOT_EXIST', '交易不存在') };
        const reqNo = typeof biz.out_request_no === 'string' ? biz.out_request_no : '';
        const r = t.refunds.get(reqNo);
        const base = { ...ok, trade_no: t.tradeNo, out_trade_no: t.outTradeNo, out_request_no: reqNo };
        if (!r) return { fields: base };
        const fields: Record<string, unknown> = { ...base, refund_status: 'REFUND_SUCCESS', total_amount: yuan(t.totalFen), refund_amount: yuan(r.amountFen) };
        if (Array.isArray(biz.query_options) && biz.query_options.includes('gmt_refund_pay')) fields.gmt_refund_pay = r.at;
        return { fields };
      }
      case 'alipay.data.dataservice.bill.downloadurl.query':
        return { fields: this.bills.query(biz) };
      case 'alipay.open.app.alipaycert.download': {
        const c = this.certMode?.alipayCerts.find((x) => x.sn === biz.alipay_cert_sn);
        if (!c) return { fields: business('CERT_NOT_EXIST', '证书不存在') };
        return { fields: { ...ok, alipay_cert_content: Buffer.from(c.filePem, 'utf8').toString('base64') } };
      }
      default: {
        const fund = this.fund.dispatch(method, biz);
        if (fund) return fund;
        return { fields: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-method', sub_msg: '不存在的方法名' }, errorResponse: true };
      }
    }
  }

  private find(biz: Record<string, unknown>): SimTrade | undefined {
    if (typeof biz.trade_no === 'string') return [...this.trades.values()].find((t) => t.tradeNo === biz.trade_no);
    return typeof biz.out_trade_no === 'string' ? this.trades.get(biz.out_trade_no) : undefined;
  }

  private newTrade(method: string, biz: Record<string, unknown>, p: Record<string, string>, buyerId?: string) {
    const outTradeNo = biz.out_trade_no;
    const totalFen = fenOf(biz.total_amount);
    if (typeof outTradeNo !== 'string' || !outTradeNo) return invalid('isv.missing-out-trade-no', '缺少 out_trade_no');
    if (totalFen === undefined || totalFen < 1n) return invalid('isv.invalid-total-amount', 'total_amount 无效');
    if (typeof biz.subject !== 'string' || !biz.subject) return invalid('isv.missing-subject', '缺少 subject');
    const existing = this.trades.get(outTradeNo);
    if (existing) {
      if (existing.totalFen !== totalFen) return business('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED') return business('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      if (existing.status === 'TRADE_CLOSED') return business('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      return existing;
    }
    const day = beijingNow().slice(0, 10).replaceAll('-', '');
    const t: SimTrade = {
      outTradeNo,
      tradeNo: `${day}22001${String(++this.seq).padStart(15, '0')}`,
      appId: p.app_id!,
      method,
      totalFen,
      subject: biz.subject,
      status: 'WAIT_BUYER_PAY',
      notifyUrl: p.notify_url,
      buyerId: buyerId && /^2088\d{12}$/.test(buyerId) ? buyerId : `2088${String(randomInt(1e9)).padStart(12, '0')}`,
      gmtCreate: beijingNow(),
      refundedFen: 0n,
      refunds: new Map(),
    };
    this.trades.set(outTradeNo, t);
    return t;
  }

  // --- the payer ---------------------------------------------------------------------------

  /**
   * The payer opens an app order string (or any signed parameter set) in the Alipay app: the
   * signature is checked as the gateway would, and the trade comes to life. Throws on a bad one.
   */
  openApp(orderString: string): SimTrade {
    const p: Record<string, string> = {};
    for (const pair of orderString.split('&')) {
      const eq = pair.indexOf('=');
      p[decodeURIComponent(pair.slice(0, eq))] = decodeURIComponent(pair.slice(eq + 1));
    }
    const bad = this.checkCommon(p);
    if (bad) throw new Error(`app order string refused: ${String(bad.fields.sub_code)}`);
    const t = this.newTrade(p.method ?? '', JSON.parse(p.biz_content ?? '{}') as Record<string, unknown>, p);
    if ('code' in t) throw new Error(`app order string refused: ${t.sub_code}`);
    return t;
  }

  /** The payer pays; the notification goes out as `mode` says. Resolves to the acks received. */
  async pay(outTradeNo: string, mode: NotifyMode = 'normal'): Promise<string[]> {
    const t = this.trades.get(outTradeNo);
    if (!t) throw new Error(`no trade ${outTradeNo}`);
    if (t.status !== 'WAIT_BUYER_PAY') throw new Error(`trade ${outTradeNo} is ${t.status}`);
    t.status = 'TRADE_SUCCESS';
    t.gmtPayment = beijingNow(this.now());
    if (mode === 'lost') return [];
    const acks = [await this.notify(t, mode === 'wrongAmount' ? { total_amount: yuan(t.totalFen + 1n) } : {})];
    if (mode === 'duplicate') acks.push(await this.notify(t));
    return acks;
  }

  /** The signed form body of a notification about `t`, with `overrides` applied before signing. */
  notificationBody(t: SimTrade, overrides: Record<string, string> = {}, opts: { badSignature?: boolean } = {}): string {
    const now = beijingNow();
    const f: Record<string, string> = {
      gmt_create: t.gmtCreate,
      charset: 'utf-8',
      seller_email: 'shop@example.com',
      subject: t.subject,
      buyer_id: t.buyerId,
      invoice_amount: yuan(t.totalFen),
      notify_id: `2024${String(randomInt(1e9)).padStart(9, '0')}0a`,
      fund_bill_list: JSON.stringify([{ amount: yuan(t.totalFen), fundChannel: 'ALIPAYACCOUNT' }]),
      notify_type: 'trade_status_sync',
      trade_status: t.status,
      receipt_amount: yuan(t.totalFen),
      app_id: t.appId,
      buyer_pay_amount: yuan(t.totalFen),
      notify_time: now,
      point_amount: '0.00',
      total_amount: yuan(t.totalFen),
      seller_id: '2088101117955611',
      trade_no: t.tradeNo,
      auth_app_id: t.appId,
      out_trade_no: t.outTradeNo,
      version: '1.0',
      ...(t.gmtPayment ? { gmt_payment: t.gmtPayment } : {}),
      ...overrides,
      sign_type: 'RSA2',
    };
    const text = sortedPairs(f, ['sign', 'sign_type'], false);
    f.sign = sign256(opts.badSignature ? `${text}&x=1` : text, this.alipayPrivateKeyPem);
    return new URLSearchParams(f).toString();
  }

  /** POSTs a notification about `t` to its notify_url; resolves to the body of the answer. */
  async notify(t: SimTrade, overrides: Record<string, string> = {}): Promise<string> {
    const n: SimNotification = { url: t.notifyUrl ?? '', body: this.notificationBody(t, overrides) };
    this.notifications.push(n);
    if (!n.url) return (n.error = 'no notify_url');
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
