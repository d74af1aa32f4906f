// A WeChat Pay API v3 simulator on 127.0.0.1, for driving the wxpay driver over real HTTP.
//
// It behaves as WeChat does where the driver can tell: it checks our Authorization header with OUR
// public key (and the 300 s window), answers with Wechatpay-Timestamp/Nonce/Serial/Signature signed
// with its platform key — as a platform certificate serial or as PUB_KEY_ID_… — keeps trades and
// refunds in memory, lets a test play the payer, and sends AES-256-GCM-encrypted, signed
// notifications to the order's notify_url. Faults are scripted one answer at a time.
//
// It deliberately shares no code with src/channels/wxpay: a mistake there must not be mirrored here.

import { createCipheriv, createPrivateKey, createPublicKey, createSign, createVerify, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import type { WxpayCredentials } from '../../src/channels/credentials.js';
import { WxTransferBills } from './wxpay-transfer.js';
import { WxpayBills } from './wxpay-bill.js';

// ---------------------------------------------------------------------------------------------
// Keys

export interface WxpayKeys {
  merchant: { privateKeyPem: string; publicKeyPem: string; serialNo: string };
  platform: { privateKeyPem: string; publicKeyPem: string; certPem: string; certSerial: string; publicKeyId: string };
  apiv3Key: string;
}

const rsaPair = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

/** 40 hex digits, first one below 8 so DER keeps the serial positive. */
const hexSerial = () => (randomBytes(1)[0]! & 0x7).toString(16) + randomBytes(20).toString('hex').slice(1).toUpperCase();

/** A self-signed X.509 certificate for the platform key, as WeChat's "平台证书" stands in tests. */
function platformCertificate(publicKeyPem: string, privateKeyPem: string, serialHex: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = serialHex.toLowerCase();
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 5 * 365 * 86_400_000);
  const attrs = [
    { shortName: 'C', value: 'CN' },
    { shortName: 'O', value: 'Tenpay.com (simulated)' },
    { shortName: 'CN', value: 'Tenpay.com Root CA (simulated)' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const pkcs1 = createPrivateKey(privateKeyPem).export({ type: 'pkcs1', format: 'pem' }) as string;
  cert.sign(forge.pki.privateKeyFromPem(pkcs1) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** `certSerial`: the platform certificate's serial (40 hex digits), random by default. */
export function generateWxpayKeys(opts: { certSerial?: string } = {}): WxpayKeys {
  const m = rsaPair();
  const p = rsaPair();
  const certSerial = opts.certSerial ?? hexSerial();
  return {
    merchant: { privateKeyPem: m.privateKey, publicKeyPem: m.publicKey, serialNo: hexSerial() },
    platform: {
      privateKeyPem: p.privateKey,
      publicKeyPem: p.publicKey,
      certPem: platformCertificate(p.publicKey, p.privateKey, certSerial),
      certSerial,
      publicKeyId: `PUB_KEY_ID_0114232134912410000000${randomBytes(4).readUInt32BE(0) % 10000}`,
    },
    apiv3Key: randomBytes(16).toString('hex'), // 32 ASCII bytes, as WeChat's console hands them out
  };
}

// ---------------------------------------------------------------------------------------------
// State

type TradeType = 'NATIVE' | 'MWEB' | 'APP' | 'JSAPI';
const TRADE_TYPE: Record<string, TradeType> = { native: 'NATIVE', h5: 'MWEB', app: 'APP', jsapi: 'JSAPI' };

export interface SimTrade {
  outTradeNo: string;
  tradeType: TradeType;
  /** the exact request body that created it, for WeChat's "same out_trade_no, same parameters" rule */
  requestBody: string;
  request: Record<string, any>;
  state: 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVOKED' | 'PAYERROR';
  prepayId?: string;
  transactionId?: string;
  successTime?: string;
  refundedFen: number;
}

export interface SimRefund {
  refundId: string;
  outRefundNo: string;
  outTradeNo: string;
  refundFen: number;
  totalFen: number;
  status: 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
  createTime: string;
  successTime?: string;
}

/** One API call the simulator received, with its verdict on our Authorization. */
export interface SimRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  authError?: string;
}

/** A scripted misbehaviour for the next API answer. */
export type SimFault =
  | { kind: 'badSignature' }
  | { kind: 'staleTimestamp' }
  | { kind: 'signtest' }
  | { kind: 'unknownSerial' }
  | { kind: 'businessError'; status: number; code: string; message: string }
  | { kind: 'systemError' }
  | { kind: 'hang' }
  /** the request is carried out, then the connection drops before the answer */
  | { kind: 'lostAnswer' };

/** How one notification goes wrong, if it does. */
export interface NotifyOptions {
  duplicate?: boolean;
  lost?: boolean;
  /** amount.total written into the notification instead of the trade's */
  wrongAmountFen?: number;
  mchid?: string;
  signature?: 'bad' | 'signtest' | 'stale' | 'otherKey';
  apiv3Key?: string;
}

export interface Delivery {
  status: number;
  body: string;
}

const rfc3339 = (ms: number) => {
  const d = new Date(ms + 8 * 3600_000);
  return d.toISOString().slice(0, 19) + '+08:00';
};

// ---------------------------------------------------------------------------------------------
// The simulator

export class WxpaySimulator {
  readonly trades = new Map<string, SimTrade>();
  readonly refunds = new Map<string, SimRefund>();
  readonly requests: SimRequest[] = [];
  /** the day's trade bill (wxpay-bill.ts); reads appid, mchid and the clock from here when asked */
  readonly bills = new WxpayBills(this.trades, this.refunds, this);
  /** what answers refunds: PROCESSING (then settleRefund) or SUCCESS at once */
  refundMode: 'PROCESSING' | 'SUCCESS' = 'PROCESSING';
  /** which identity signs answers and notifications */
  mode: 'cert' | 'pubkey' = 'cert';
  private faults: SimFault[] = [];
  private hung = new Set<ServerResponse>();
  private seq = 0;
  /** 商家转账 bills (wxpay-transfer.ts) */
  readonly transfers: WxTransferBills;
  private currentFault: SimFault | undefined;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    readonly keys: WxpayKeys,
    readonly mchid: string,
    readonly appid: string,
    readonly now: () => number,
  ) {
    this.transfers = new WxTransferBills({
      mchid,
      appid,
      platformPrivateKeyPem: keys.platform.privateKeyPem,
      serials: () => [keys.platform.certSerial, keys.platform.publicKeyId],
      now,
      send: (res, status, json) => this.send(res, status, json, this.currentFault),
      error: (res, status, code, message) => this.error(res, status, code, message, this.currentFault),
      notify: (url, ev) => {
        const { headers, rawBody } = this.encryptedNotification(ev.eventType, ev.originalType, ev.summary, ev.plain);
        return this.deliver(url, headers, rawBody);
      },
    });
  }

  static async start(o: { keys: WxpayKeys; mchid?: string; appid?: string; now?: () => number; mode?: 'cert' | 'pubkey' }): Promise<WxpaySimulator> {
    let sim!: WxpaySimulator;
    const server = createServer((req, res) => sim.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    sim = new WxpaySimulator(server, `http://127.0.0.1:${port}`, o.keys, o.mchid ?? '1900000109', o.appid ?? 'wxd678efh567hg6787', o.now ?? Date.now);
    if (o.mode) sim.mode = o.mode;
    return sim;
  }

  /** The credentials a merchant would configure for this simulator, in the current mode. */
  credentials(mode: 'cert' | 'pubkey' = this.mode): WxpayCredentials {
    const k = this.keys;
    return {
      mchid: this.mchid,
      appid: this.appid,
      serialNo: k.merchant.serialNo,
      privateKeyPem: k.merchant.privateKeyPem,
      apiv3Key: k.apiv3Key,
      baseUrl: this.baseUrl,
      ...(mode === 'cert'
        ? { platformCertPem: k.platform.certPem }
        : { wechatpayPublicKeyPem: k.platform.publicKeyPem, wechatpayPublicKeyId: k.platform.publicKeyId }),
    };
  }

  /** Queues misbehaviours, one per coming API answer. */
  fault(...f: SimFault[]): void {
    this.faults.push(...f);
  }

  get serial(): string {
    return this.mode === 'cert' ? this.keys.platform.certSerial : this.keys.platform.publicKeyId;
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- the payer ------------------------------------------------------------------------------

  /** The payer pays: the trade becomes SUCCESS and a notification goes to notify_url (unless lost). */
  async pay(outTradeNo: string, n: NotifyOptions = {}): Promise<Delivery[]> {
    const t = this.mustTrade(outTradeNo);
    if (t.state !== 'NOTPAY' && t.state !== 'USERPAYING') throw new Error(`simulator: trade ${outTradeNo} is ${t.state}`);
    t.state = 'SUCCESS';
    t.transactionId = `42000${String(++this.seq).padStart(5, '0')}${Date.now()}`.slice(0, 28);
    t.successTime = rfc3339(this.now());
    if (n.lost) return [];
    const deliveries = [await this.notify(t, n)];
    if (n.duplicate) deliveries.push(await this.notify(t, n));
    return deliveries;
  }

  /** Sets a trade's state directly (USERPAYING, PAYERROR, REVOKED…). */
  setState(outTradeNo: string, state: SimTrade['state']): void {
    this.mustTrade(outTradeNo).state = state;
  }

  settleRefund(outRefundNo: string, status: 'SUCCESS' | 'ABNORMAL' | 'CLOSED'): void {
    const r = this.refunds.get(outRefundNo);
    if (!r) throw new Error(`simulator: no refund ${outRefundNo}`);
    r.status = status;
    if (status === 'SUCCESS') r.successTime = rfc3339(this.now());
  }

  // --- notifications --------------------------------------------------------------------------

  /** The raw notification WeChat would send for a trade, headers and bytes. */
  buildNotification(outTradeNo: string, n: NotifyOptions = {}): { headers: Record<string, string>; rawBody: Buffer } {
    const t = this.mustTrade(outTradeNo);
    const plain = this.transactionJson(t);
    if (n.wrongAmountFen !== undefined) plain.amount.total = plain.amount.payer_total = n.wrongAmountFen;
    if (n.mchid !== undefined) plain.mchid = n.mchid;
    const nonce = randomBytes(6).toString('hex'); // 12 ASCII bytes, WeChat's IV
    const aad = 'transaction';
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(n.apiv3Key ?? this.keys.apiv3Key), Buffer.from(nonce)).setAAD(Buffer.from(aad));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
    const body = JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339(this.now()),
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: aad, nonce },
    });
    const fault = n.signature === 'bad' ? 'badSignature' : n.signature === 'signtest' ? 'signtest' : n.signature === 'stale' ? 'staleTimestamp' : undefined;
    return { headers: this.signedHeaders(body, fault, n.signature === 'otherKey'), rawBody: Buffer.from(body, 'utf8') };
  }

  /** Any notification, as WeChat writes one: the plain resource encrypted with the APIv3 key, signed. */
  encryptedNotification(eventType: string, originalType: string, summary: string, plain: unknown): { headers: Record<string, string>; rawBody: Buffer } {
    const nonce = randomBytes(6).toString('hex');
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(this.keys.apiv3Key), Buffer.from(nonce)).setAAD(Buffer.from(originalType));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
    const body = JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339(this.now()),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: originalType, nonce },
    });
    return { headers: this.signedHeaders(body), rawBody: Buffer.from(body, 'utf8') };
  }

  private notify(t: SimTrade, n: NotifyOptions): Promise<Delivery> {
    const { headers, rawBody } = this.buildNotification(t.outTradeNo, n);
    return this.deliver(t.request.notify_url as string, headers, rawBody);
  }

  private deliver(notifyUrl: string, headers: Record<string, string>, rawBody: Buffer): Promise<Delivery> {
    const url = new URL(notifyUrl);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': String(rawBody.length), 'user-agent': 'Mozilla/4.0' }, timeout: 5_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('notify timed out')));
      req.on('error', reject);
      req.end(rawBody);
    });
  }

  // --- signing --------------------------------------------------------------------------------

  private signedHeaders(body: string, fault?: SimFault['kind'], otherKey = false): Record<string, string> {
    let ts = Math.floor(this.now() / 1000);
    if (fault === 'staleTimestamp') ts -= 301 + 300;
    const nonce = randomBytes(16).toString('hex');
    const key = otherKey ? rsaPair().privateKey : this.keys.platform.privateKeyPem;
    let signature = createSign('RSA-SHA256').update(`${ts}\n${nonce}\n${body}\n`).sign(key, 'base64');
    if (fault === 'badSignature') signature = createSign('RSA-SHA256').update(`${ts}\n${nonce}\n${body} \n`).sign(key, 'base64');
    if (fault === 'signtest') signature = `WECHATPAY/SIGNTEST/${signature}`;
    return {
      'wechatpay-timestamp': String(ts),
      'wechatpay-nonce': nonce,
      'wechatpay-serial': fault === 'unknownSerial' ? 'PUB_KEY_ID_0000000000000000000000000000' : this.serial,
      'wechatpay-signature': signature,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    };
  }

  private send(res: ServerResponse, status: number, json: unknown, fault?: SimFault): void {
    if (fault?.kind === 'lostAnswer') {
      res.destroy();
      return;
    }
    const body = json === undefined ? '' : JSON.stringify(json);
    const headers: Record<string, string> = { 'request-id': randomUUID(), ...this.signedHeaders(body, fault?.kind) };
    if (body) headers['content-type'] = 'application/json; charset=utf-8';
    res.writeHead(status, headers).end(body);
  }

  private error(res: ServerResponse, status: number, code: string, message: string, fault?: SimFault): void {
    this.send(res, status, { code, message }, fault);
  }

  /** WeChat's check of our Authorization header; returns why it fails, or undefined. */
  private checkAuthorization(method: string, path: string, headers: IncomingMessage['headers'], body: string): string | undefined {
    const auth = headers.authorization ?? '';
    const m = /^WECHATPAY2-SHA256-RSA2048 (.+)$/.exec(auth);
    if (!m) return 'no WECHATPAY2-SHA256-RSA2048 Authorization';
    const params = new Map<string, string>();
    for (const p of m[1]!.matchAll(/(\w+)="([^"]*)"/g)) params.set(p[1]!, p[2]!);
    if (params.get('mchid') !== this.mchid) return 'mchid does not match';
    if (params.get('serial_no') !== this.keys.merchant.serialNo) return 'serial_no is not the merchant certificate serial';
    const ts = Number(params.get('timestamp'));
    if (!Number.isInteger(ts) || Math.abs(Math.floor(this.now() / 1000) - ts) > 300) return 'timestamp outside 300 s';
    const nonce = params.get('nonce_str') ?? '';
    if (!nonce || nonce.length > 32) return 'bad nonce_str';
    const msg = `${method}\n${path}\n${ts}\n${nonce}\n${body}\n`;
    const ok = createVerify('RSA-SHA256').update(msg).verify(createPublicKey(this.keys.merchant.publicKeyPem), params.get('signature') ?? '', 'base64');
    return ok ? undefined : 'signature does not verify';
  }

  // --- the API --------------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const authError = this.checkAuthorization(method, path, req.headers, body);
      this.requests.push({ method, path, headers: req.headers, body, ...(authError ? { authError } : {}) });
      const fault = this.faults.shift();
      if (fault?.kind === 'hang') {
        this.hung.add(res);
        return;
      }
      if (!req.headers['user-agent'] || !/json/.test(req.headers.accept ?? '')) return this.error(res, 400, 'INVALID_REQUEST', 'Http头缺少Accept或User-Agent', fault);
      if (authError) return this.error(res, 401, 'SIGN_ERROR', `签名错误: ${authError}`, fault);
      if (fault?.kind === 'businessError') return this.error(res, fault.status, fault.code, fault.message, fault);
      if (fault?.kind === 'systemError') return this.error(res, 500, 'SYSTEM_ERROR', '系统错误', fault);
      let json: Record<string, any> = {};
      if (body) {
        try {
          json = JSON.parse(body);
        } catch {
          return this.error(res, 400, 'PARAM_ERROR', '请求体不是JSON', fault);
        }
      }
      try {
        this.currentFault = fault;
        if (this.transfers.route(method, new URL(path, this.baseUrl), json, req.headers, res)) return;
        this.route(method, new URL(path, this.baseUrl), json, body, res, fault);
      } catch (err) {
        this.error(res, 500, 'SYSTEM_ERROR', (err as Error).message, fault);
      }
    });
  }

  private route(method: string, url: URL, json: Record<string, any>, body: string, res: ServerResponse, fault?: SimFault): void {
    const p = url.pathname;
    const bill = this.bills.answer(method, url, this.baseUrl);
    if (bill) return 'file' in bill ? void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bill.file) : this.send(res, bill.status, bill.json, fault);
    let m: RegExpExecArray | null;
    if (method === 'POST' && (m = /^\/v3\/pay\/transactions\/(native|h5|app|jsapi)$/.exec(p))) return this.createOrder(m[1]!, json, body, res, fault);
    if (method === 'GET' && (m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(p))) {
      if (url.searchParams.get('mchid') !== this.mchid) return this.error(res, 400, 'PARAM_ERROR', 'mchid不正确', fault);
      const t = this.trades.get(decodeURIComponent(m[1]!));
      return t ? this.send(res, 200, this.transactionJson(t), fault) : this.error(res, 404, 'ORDER_NOT_EXIST', '订单不存在', fault);
    }
    if (method === 'POST' && (m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/.exec(p))) {
      if (json.mchid !== this.mchid) return this.error(res, 400, 'PARAM_ERROR', 'mchid不正确', fault);
      const t = this.trades.get(decodeURIComponent(m[1]!));
      if (!t) return this.error(res, 404, 'ORDER_NOT_EXIST', '订单不存在', fault);
      if (t.state === 'SUCCESS' || t.state === 'REFUND') return this.error(res, 400, 'ORDERPAID', '订单已支付', fault);
      t.state = 'CLOSED';
      return this.send(res, 204, undefined, fault);
    }
    if (method === 'POST' && p === '/v3/refund/domestic/refunds') return this.createRefund(json, res, fault);
    if (method === 'GET' && (m = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(p))) {
      const r = this.refunds.get(decodeURIComponent(m[1]!));
      return r ? this.send(res, 200, this.refundJson(r), fault) : this.error(res, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在', fault);
    }
    this.error(res, 404, 'NOT_FOUND', '接口不存在', fault);
  }

  private createOrder(kind: string, j: Record<string, any>, body: string, res: ServerResponse, fault?: SimFault): void {
    const bad = (why: string) => this.error(res, 400, 'PARAM_ERROR', why, fault);
    if (j.appid !== this.appid) return this.error(res, 400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配', fault);
    if (j.mchid !== this.mchid) return this.error(res, 400, 'MCH_NOT_EXISTS', '商户号不存在', fault);
    if (typeof j.description !== 'string' || [...j.description].length < 1 || [...j.description].length > 127) return bad('description 长度不符');
    if (typeof j.out_trade_no !== 'string' || !/^[0-9A-Za-z_\-|*]{6,32}$/.test(j.out_trade_no)) return bad('out_trade_no 格式不正确');
    if (typeof j.notify_url !== 'string' || !/^https?:\/\//.test(j.notify_url)) return bad('notify_url 格式不正确');
    if (j.time_expire !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/.test(j.time_expire)) return bad('time_expire 格式不正确');
    const total = j.amount?.total;
    if (!Number.isInteger(total) || total < 1 || total > 2 ** 31 - 1) return bad('amount.total 不正确');
    if ((j.amount?.currency ?? 'CNY') !== 'CNY') return bad('amount.currency 不正确');
    if (kind === 'jsapi' && (typeof j.payer?.openid !== 'string' || !j.payer.openid)) return bad('payer.openid 缺失');
    if (kind === 'h5') {
      if (typeof j.scene_info?.payer_client_ip !== 'string') return bad('scene_info.payer_client_ip 缺失');
      if (!['iOS', 'Android', 'Wap'].includes(j.scene_info?.h5_info?.type)) return bad('scene_info.h5_info.type 不正确');
    }
    const existing = this.trades.get(j.out_trade_no);
    if (existing) {
      if (existing.state === 'SUCCESS' || existing.state === 'REFUND') return this.error(res, 400, 'ORDERPAID', '该订单已支付', fault);
      if (existing.state === 'CLOSED') return this.error(res, 400, 'ORDER_CLOSED', '订单已关闭', fault);
      if (existing.requestBody !== body) return this.error(res, 400, 'INVALID_REQUEST', '201 商户订单号重复', fault);
      return this.send(res, 200, this.prepayAnswer(existing), fault);
    }
    const t: SimTrade = { outTradeNo: j.out_trade_no, tradeType: TRADE_TYPE[kind]!, requestBody: body, request: j, state: 'NOTPAY', refundedFen: 0 };
    if (kind === 'app' || kind === 'jsapi') t.prepayId = `wx${Date.now()}${randomBytes(8).toString('hex')}`;
    this.trades.set(t.outTradeNo, t);
    this.send(res, 200, this.prepayAnswer(t), fault);
  }

  private prepayAnswer(t: SimTrade): Record<string, string> {
    switch (t.tradeType) {
      case 'NATIVE':
        return { code_url: `weixin://wxpay/bizpayurl?pr=${Buffer.from(t.outTradeNo).toString('base64url')}` };
      case 'MWEB':
        return { h5_url: `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx${t.outTradeNo}&package=1037687096` };
      default:
        return { prepay_id: t.prepayId! };
    }
  }

  private transactionJson(t: SimTrade): Record<string, any> {
    const paid = t.state === 'SUCCESS' || t.state === 'REFUND';
    const total = t.request.amount.total as number;
    return {
      appid: this.appid,
      mchid: this.mchid,
      out_trade_no: t.outTradeNo,
      ...(t.transactionId ? { transaction_id: t.transactionId } : {}),
      trade_type: t.tradeType,
      trade_state: t.state,
      trade_state_desc: { SUCCESS: '支付成功', REFUND: '转入退款', NOTPAY: '未支付', CLOSED: '已关闭', REVOKED: '已撤销', USERPAYING: '用户支付中', PAYERROR: '支付失败' }[t.state],
      ...(paid ? { bank_type: 'CMC', success_time: t.successTime, payer: { openid: t.request.payer?.openid ?? 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } } : {}),
      amount: paid ? { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' } : { total, currency: 'CNY' },
    };
  }

  private createRefund(j: Record<string, any>, res: ServerResponse, fault?: SimFault): void {
    const existing = this.refunds.get(j.out_refund_no);
    if (existing) return this.send(res, 200, this.refundJson(existing), fault);
    const t = this.trades.get(j.out_trade_no);
    if (!t) return this.error(res, 404, 'RESOURCE_NOT_EXISTS', '订单不存在', fault);
    if (t.state !== 'SUCCESS' && t.state !== 'REFUND') return this.error(res, 400, 'INVALID_REQUEST', '订单未支付', fault);
    const refund = j.amount?.refund;
    const total = t.request.amount.total as number;
    if (!Number.isInteger(refund) || refund < 1) return this.error(res, 400, 'PARAM_ERROR', 'amount.refund 不正确', fault);
    if (j.amount?.total !== total) return this.error(res, 400, 'PARAM_ERROR', '订单金额与原订单不一致', fault);
    if (t.refundedFen + refund > total) return this.error(res, 400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额', fault);
    t.refundedFen += refund;
    t.state = 'REFUND';
    const r: SimRefund = {
      refundId: `50000${String(++this.seq).padStart(5, '0')}${Date.now()}`.slice(0, 29),
      outRefundNo: j.out_refund_no,
      outTradeNo: t.outTradeNo,
      refundFen: refund,
      totalFen: total,
      status: this.refundMode,
      createTime: rfc3339(this.now()),
      ...(this.refundMode === 'SUCCESS' ? { successTime: rfc3339(this.now()) } : {}),
    };
    this.refunds.set(r.outRefundNo, r);
    this.send(res, 200, this.refundJson(r), fault);
  }

  private refundJson(r: SimRefund): Record<string, any> {
    const t = this.trades.get(r.outTradeNo);
    return {
      refund_id: r.refundId,
      out_refund_no: r.outRefundNo,
      transaction_id: t?.transactionId,
      out_trade_no: r.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(r.successTime ? { success_time: r.successTime } : {}),
      create_time: r.createTime,
      status: r.status,
      funds_account: 'AVAILABLE',
      amount: { total: r.totalFen, refund: r.refundFen, payer_total: r.totalFen, payer_refund: r.refundFen, settlement_refund: r.refundFen, settlement_total: r.totalFen, discount_refund: 0, currency: 'CNY' },
    };
  }

  private mustTrade(outTradeNo: string): SimTrade {
    const t = this.trades.get(outTradeNo);
    if (!t) throw new Error(`simulator: no trade ${outTradeNo}`);
    return t;
  }
}
