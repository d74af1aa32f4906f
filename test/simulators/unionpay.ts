import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { playTransportFault, takeFault } from './transport-faults.js';
import type { AddressInfo } from 'node:net';
import { createHash, createSign, createVerify, generateKeyPairSync, randomInt, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { request } from 'undici';
import { UnionpayPayouts } from './unionpay-payout.js';
import { UnionpayBills } from './unionpay-bill.js';

// A local UnionPay ACP 5.1.0 gateway for tests, speaking the real protocol on 127.0.0.1:
// - a test PKI built at start-up with node-forge: a root CA, a middle CA under it, and
//   UnionPay's signing certificate under that (CN `041@Z12@中国银联股份有限公司@…`), plus the
//   merchant's signing certificate, handed out as a password-protected .pfx as UnionPay does;
// - verifies each request the way UnionPay does: certId must be the merchant certificate's
//   decimal serial, and the double-hash SHA256withRSA signature must verify with it;
// - keeps trades and refunds in memory and answers `k=v&…` (values not URL-encoded, one value in
//   braces holding `&` and `=`), signed with its own certificate attached as signPubKeyCert;
// - plays the payer (submits the form our driver rendered, opens a tn, scans a code) and sends
//   signed back notifications to backUrl;
// - takes scripted faults.
// Its crypto is written here on purpose, not imported from the driver: a shared bug would
// otherwise pass both sides. (The tests check the driver's signatures a third way, with forge.)

export type Endpoint = 'front' | 'app' | 'back' | 'query' | 'file';

export type Fault =
  | { kind: 'badSignature' }
  | { kind: 'untrustedCert' }
  | { kind: 'expiredCert' }
  | { kind: 'wrongCn' }
  | { kind: 'unsigned' }
  | { kind: 'businessError'; respCode: string; respMsg?: string }
  | { kind: 'hang' }
  | { kind: 'http500' }
  | { kind: 'garbage' }
  /** the request is carried out, then the connection drops before the answer */
  | { kind: 'lostAnswer' };

/** Which certificate a signed message carries: the good one, or one of the bad ones. */
export type SignerVariant = 'good' | 'untrusted' | 'expired' | 'wrongCn';

export type NotifyMode = 'normal' | 'lost' | 'duplicate' | 'wrongAmount';

export interface SimTrade {
  orderId: string;
  txnTime: string;
  amountFen: bigint;
  via: 'front' | 'app' | 'qr';
  channelType: string;
  backUrl: string;
  frontUrl?: string;
  payTimeout?: string;
  issInsCode?: string;
  payCardType?: string;
  /** created: UnionPay knows the order but no payment was attempted (query answers 34) */
  status: 'created' | 'paying' | 'paid' | 'failed';
  origRespCode?: string;
  tn?: string;
  qrCode?: string;
  queryId?: string;
  traceNo?: string;
  traceTime?: string;
  refundedFen: bigint;
}

export interface SimRefund {
  orderId: string;
  origQryId: string;
  txnTime: string;
  amountFen: bigint;
  queryId: string;
  backUrl: string;
  status: 'processing' | 'succeeded' | 'failed';
  origRespCode: string;
  traceTime: string;
}

export interface SimRequest {
  endpoint: Endpoint;
  /** the form fields as received */
  fields: Record<string, string>;
  /** the raw urlencoded body */
  body: string;
}

export interface SimNotification {
  url: string;
  body: string;
  status?: number;
  ack?: string;
  error?: string;
}

// --- the test PKI --------------------------------------------------------------------------

interface Issued {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  pem: string;
}

function rsaKey(): { priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey; pem: string } {
  // node generates RSA keys in milliseconds; forge (pure JS) would take seconds.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { priv: forge.pki.privateKeyFromPem(pem), pub: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()), pem };
}

// DER INTEGER: no leading zero octets, high bit clear (a positive serial).
let serialSeq = 0x10001000;

function issue(opts: {
  cn: string;
  key: { priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey };
  issuer?: Issued;
  ca: boolean;
  notBefore?: Date;
  notAfter?: Date;
  serialHex?: string;
}): Issued {
  const c = forge.pki.createCertificate();
  c.publicKey = opts.key.pub;
  c.serialNumber = opts.serialHex ?? (serialSeq++).toString(16);
  const now = Date.now();
  c.validity.notBefore = opts.notBefore ?? new Date(now - 86_400_000);
  c.validity.notAfter = opts.notAfter ?? new Date(now + 365 * 86_400_000);
  // forge encodes a UTF8String value itself: pass the JS string as is.
  const subject = [
    { shortName: 'C', value: 'CN' },
    { shortName: 'O', value: 'China Financial Certification Authority' },
    { shortName: 'CN', value: opts.cn, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class },
  ];
  c.setSubject(subject);
  c.setIssuer(opts.issuer ? opts.issuer.cert.subject.attributes : subject);
  c.setExtensions([
    { name: 'basicConstraints', cA: opts.ca, critical: true },
    { name: 'keyUsage', critical: true, ...(opts.ca ? { keyCertSign: true, cRLSign: true } : { digitalSignature: true, nonRepudiation: true }) },
  ]);
  c.sign(opts.issuer?.key ?? opts.key.priv, forge.md.sha256.create());
  return { cert: c, key: opts.key.priv, pem: forge.pki.certificateToPem(c) };
}

export const UNIONPAY_CN = '041@Z12@中国银联股份有限公司@00000001';

export interface SimPki {
  rootCertPem: string;
  middleCertPem: string;
  /** UnionPay's signing key and the certificates it may attach */
  signerKeyPem: string;
  signerCerts: Record<SignerVariant, string>;
  /** the merchant's signing certificate, as UnionPay issues it */
  merchantPfx: Buffer;
  merchantPfxPassword: string;
  merchantCertPem: string;
  merchantKeyPem: string;
  merchantCertId: string;
  /** UnionPay's sensitive-data encryption certificate and its key */
  encryptCertPem: string;
  encryptKeyPem: string;
  encryptCertId: string;
}

export function buildPki(): SimPki {
  const rootKey = rsaKey();
  const middleKey = rsaKey();
  const signerKey = rsaKey();
  const rogueKey = rsaKey();
  const merchantKey = rsaKey();
  const root = issue({ cn: 'CFCA TEST ROOT', key: rootKey, ca: true });
  const middle = issue({ cn: 'CFCA TEST OCA1', key: middleKey, issuer: root, ca: true });
  // A look-alike middle CA that the driver was never told about.
  const rogue = issue({ cn: 'CFCA TEST OCA1', key: rogueKey, ca: true });
  const day = 86_400_000;
  const signer = (cn: string, issuer: Issued, notAfter?: Date) =>
    issue({ cn, key: signerKey, issuer, ca: false, notBefore: new Date(Date.now() - 400 * day), notAfter: notAfter ?? new Date(Date.now() + 365 * day) });
  const signerCerts: Record<SignerVariant, string> = {
    good: signer(UNIONPAY_CN, middle).pem,
    untrusted: signer(UNIONPAY_CN, rogue).pem,
    expired: signer(UNIONPAY_CN, middle, new Date(Date.now() - day)).pem,
    wrongCn: signer('041@Z12@某某科技有限公司@00000001', middle).pem,
  };
  // The merchant's certificate; a serial above 2^53 makes a float conversion of certId show.
  const merchant = issue({ cn: '041@Z12@777290058110048@00000001', key: merchantKey, issuer: middle, ca: false, serialHex: '6a1c9b3f0d2e4f5a7b' });
  const encryptKey = rsaKey();
  const encrypt = issue({ cn: '041@Z11@中国银联股份有限公司@00000002', key: encryptKey, issuer: middle, ca: false, serialHex: '69a3c5e7f1b20c4d' });
  const password = 'sim-pfx-pass';
  const p12 = forge.pkcs12.toPkcs12Asn1(merchantKey.priv, [merchant.cert], password, { algorithm: '3des' });
  const merchantPfx = Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
  return {
    rootCertPem: root.pem,
    middleCertPem: middle.pem,
    signerKeyPem: signerKey.pem,
    signerCerts,
    merchantPfx,
    merchantPfxPassword: password,
    merchantCertPem: merchant.pem,
    merchantKeyPem: merchantKey.pem,
    merchantCertId: BigInt(`0x${merchant.cert.serialNumber}`).toString(10),
    encryptCertPem: encrypt.pem,
    encryptKeyPem: encryptKey.pem,
    encryptCertId: BigInt(`0x${encrypt.cert.serialNumber}`).toString(10),
  };
}

// --- the simulator's own ACP crypto, independent of src/channels/unionpay --------------------

/** UnionPay's verification string: every field received except signature, sorted, raw. */
const linkString = (f: Record<string, string>) =>
  Object.keys(f)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${k}=${f[k]}`)
    .join('&');

const sha256hex = (s: string) => createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex');

function acpSign(f: Record<string, string>, keyPem: string): string {
  return createSign('sha256').update(sha256hex(linkString(f))).sign(keyPem, 'base64');
}

function acpVerify(f: Record<string, string>, certPem: string): boolean {
  try {
    return createVerify('sha256').update(sha256hex(linkString(f))).verify(new X509Certificate(certPem).publicKey, f.signature ?? '', 'base64');
  } catch {
    return false;
  }
}

const beijing = (ms = Date.now()) => new Date(ms + 8 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);

const htmlUnescape = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);

/** The action and hidden fields of the auto-submitting form a driver rendered. */
export function parseForm(html: string): { action: string; method: string; fields: Record<string, string> } {
  const form = /<form\b([^>]*)>/i.exec(html);
  if (!form) throw new Error('no <form> in the html');
  const attr = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag)?.[1];
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input\b([^>]*)>/gi)) {
    if (attr(m[1]!, 'type') !== 'hidden') continue;
    fields[htmlUnescape(attr(m[1]!, 'name') ?? '')] = htmlUnescape(attr(m[1]!, 'value') ?? '');
  }
  return { action: htmlUnescape(attr(form[1]!, 'action') ?? ''), method: (attr(form[1]!, 'method') ?? 'get').toLowerCase(), fields };
}

const RESP = {
  ok: ['00', '成功[0000000]'],
  format: ['10', '报文格式错误'],
  badSign: ['11', '验证签名失败'],
  duplicate: ['12', '重复交易'],
  missing: ['13', '报文交易要素缺失'],
  noTrade: ['34', '查无此交易'],
  origMissing: ['35', '原交易不存在'],
  amount: ['30', '交易未通过，请尝试使用其他银联卡支付或联系95516'],
} as const;

type Answer = { fields: Record<string, string> } | { html: string; status?: number };

export class UnionpaySimulator {
  readonly pki: SimPki;
  readonly trades = new Map<string, SimTrade>();
  readonly refunds = new Map<string, SimRefund>();
  readonly requests: SimRequest[] = [];
  readonly notifications: SimNotification[] = [];
  /** the clearing day's file (unionpay-bill.ts) */
  readonly bills: UnionpayBills;
  /** The payer's clock: when pay() says the trade was paid (a test can put payments on a clearing day of its choosing). */
  now: () => number = Date.now;
  private readonly faults: Array<{ key: string; fault: Fault }> = [];
  private seq = 0;
  private server!: Server;
  baseUrl = '';
  /** 代付 (unionpay-payout.ts) */
  readonly payouts: UnionpayPayouts;

  private constructor(
    readonly merId: string,
    pki: SimPki,
  ) {
    this.pki = pki;
    this.payouts = new UnionpayPayouts({
      merId,
      encryptKeyPem: pki.encryptKeyPem,
      encryptCertId: pki.encryptCertId,
      echo: (f) => this.echo(f),
      beijing: () => beijing(),
      nextSeq: () => ++this.seq,
      post: (url, fields) => this.post(url, new URLSearchParams(this.signAnswer(fields)).toString()),
    });
    this.bills = new UnionpayBills(merId, this.trades, this.refunds);
  }

  static async start(merId: string, pki: SimPki = buildPki()): Promise<UnionpaySimulator> {
    const sim = new UnionpaySimulator(merId, pki);
    sim.server = createServer((req, res) => void sim.handle(req, res));
    await new Promise<void>((resolve) => sim.server.listen(0, '127.0.0.1', resolve));
    sim.baseUrl = `http://127.0.0.1:${(sim.server.address() as AddressInfo).port}`;
    return sim;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next call of `endpoint` ('*' for any) meets this fault; faults are used once, in order. */
  failNext(endpoint: Endpoint | '*', fault: Fault): void {
    this.faults.push({ key: endpoint, fault });
  }

  // --- the gateway -----------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const endpoint = ({
      '/gateway/api/frontTransReq.do': 'front',
      '/gateway/api/appTransReq.do': 'app',
      '/gateway/api/backTransReq.do': 'back',
      '/gateway/api/queryTrans.do': 'query',
      '/': 'file',
    } as const)[path];
    if (!endpoint || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const fields: Record<string, string> = {};
    let duplicate = false;
    for (const [k, v] of new URLSearchParams(body)) {
      if (k in fields) duplicate = true;
      fields[k] = v;
    }
    this.requests.push({ endpoint, fields, body });

    const fault = takeFault(this.faults, endpoint);
    if (playTransportFault(res, fault, '<html>系统维护中</html>')) return;

    let answer: Answer;
    const bad = duplicate ? this.error(fields, RESP.format) : this.checkCommon(fields);
    if (bad) answer = bad;
    else if (fault?.kind === 'businessError') answer = this.error(fields, [fault.respCode, fault.respMsg ?? 'scripted failure']);
    else answer = this.dispatch(endpoint, fields);

    if (fault?.kind === 'lostAnswer') {
      res.destroy();
      return;
    }
    if ('html' in answer) {
      res.writeHead(answer.status ?? 200, { 'content-type': 'text/html;charset=utf-8' }).end(answer.html);
      return;
    }
    const variant: SignerVariant =
      fault?.kind === 'untrustedCert' ? 'untrusted' : fault?.kind === 'expiredCert' ? 'expired' : fault?.kind === 'wrongCn' ? 'wrongCn' : 'good';
    const out = fault?.kind === 'unsigned' ? answer.fields : this.signAnswer(answer.fields, variant, fault?.kind === 'badSignature');
    // UnionPay writes answers as k=v&k=v without URL encoding. The certificate goes last, so its
    // closing line break ends the body: a reader that trims the body breaks the signature.
    const { signPubKeyCert, ...rest } = out;
    const text = Object.entries(signPubKeyCert === undefined ? rest : { ...rest, signPubKeyCert })
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' }).end(text);
  }

  /** Signs as UnionPay: the certificate goes in, then the signature over everything but itself. */
  signAnswer(fields: Record<string, string>, variant: SignerVariant = 'good', tamper = false): Record<string, string> {
    const f: Record<string, string> = { ...fields, signMethod: '01', signPubKeyCert: this.pki.signerCerts[variant] };
    f.signature = acpSign(tamper ? { ...f, respMsg: `${f.respMsg ?? ''}!` } : f, this.pki.signerKeyPem);
    return f;
  }

  private echo(f: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of ['version', 'encoding', 'bizType', 'txnTime', 'txnType', 'txnSubType', 'accessType', 'merId', 'orderId']) {
      if (f[k] !== undefined) out[k] = f[k];
    }
    return out;
  }

  private error(f: Record<string, string>, [respCode, respMsg]: readonly [string, string]): Answer {
    return { fields: { ...this.echo(f), respCode, respMsg } };
  }

  /** What UnionPay checks before it looks at the transaction. */
  private checkCommon(f: Record<string, string>): Answer | undefined {
    for (const k of ['version', 'encoding', 'signMethod', 'certId', 'merId', 'accessType', 'txnType', 'txnSubType', 'bizType', 'signature']) {
      if (!f[k]) return this.error(f, [RESP.missing[0], `${RESP.missing[1]}[${k}]`]);
    }
    if (f.version !== '5.1.0' || f.signMethod !== '01' || (f.encoding ?? '').toUpperCase() !== 'UTF-8') return this.error(f, RESP.format);
    if (f.merId !== this.merId) return this.error(f, ['06', '商户未开通']);
    // certId names the merchant certificate UnionPay holds: decimal serial, exactly.
    if (f.certId !== this.pki.merchantCertId || !acpVerify(f, this.pki.merchantCertPem)) return this.error(f, RESP.badSign);
    if (f.orderId !== undefined && !/^[A-Za-z0-9]{8,32}$/.test(f.orderId)) return this.error(f, RESP.format);
    if (f.txnTime !== undefined && !/^\d{14}$/.test(f.txnTime)) return this.error(f, RESP.format);
    return undefined;
  }

  private dispatch(endpoint: Endpoint, f: Record<string, string>): Answer {
    if (endpoint === 'query') return this.payouts.query(f) ?? this.query(f);
    if (endpoint === 'back' && f.txnType === '12') return this.payouts.create(f);
    if (endpoint === 'file') return { fields: this.bills.fileTransfer(f, this.echo(f)) };
    if (f.txnType === '01') {
      const consume =
        (endpoint === 'front' && f.txnSubType === '01' && f.bizType === '000201' && (f.channelType === '07' || f.channelType === '08')) ||
        (endpoint === 'app' && f.txnSubType === '01' && f.bizType === '000201' && f.channelType === '08') ||
        (endpoint === 'back' && f.txnSubType === '07' && f.bizType === '000000' && f.channelType === '08');
      if (!consume) return this.error(f, RESP.format);
      const t = this.newTrade(endpoint, f);
      if ('respCode' in t) return endpoint === 'front' ? { html: `<html>交易失败 ${t.respCode} ${t.respMsg}</html>`, status: 200 } : { fields: { ...this.echo(f), ...t } };
      if (endpoint === 'front') return { html: `<html><body>银联在线支付 ${t.orderId} ${t.amountFen} 分</body></html>` };
      if (endpoint === 'app') return { fields: { ...this.echo(f), respCode: RESP.ok[0], respMsg: RESP.ok[1], tn: t.tn! } };
      return { fields: { ...this.echo(f), respCode: RESP.ok[0], respMsg: RESP.ok[1], qrCode: t.qrCode! } };
    }
    if (endpoint === 'back' && f.txnType === '04' && f.txnSubType === '00') return this.refund(f);
    return this.error(f, RESP.format);
  }

  private newTrade(endpoint: Endpoint, f: Record<string, string>): SimTrade | { respCode: string; respMsg: string } {
    if (!f.orderId || !f.txnTime || !f.backUrl || !/^[1-9][0-9]{0,11}$/.test(f.txnAmt ?? '') || f.currencyCode !== '156') {
      return { respCode: RESP.missing[0], respMsg: RESP.missing[1] };
    }
    if (endpoint === 'front' && !f.frontUrl) return { respCode: RESP.missing[0], respMsg: `${RESP.missing[1]}[frontUrl]` };
    const existing = this.trades.get(f.orderId);
    if (existing) {
      // The same order again (a browser resubmitting the form) is fine; different terms are not.
      if (existing.amountFen !== BigInt(f.txnAmt!) || existing.txnTime !== f.txnTime) return { respCode: RESP.duplicate[0], respMsg: RESP.duplicate[1] };
      if (existing.status === 'paid') return { respCode: RESP.duplicate[0], respMsg: RESP.duplicate[1] };
      return existing;
    }
    const n = ++this.seq;
    const t: SimTrade = {
      orderId: f.orderId,
      txnTime: f.txnTime,
      amountFen: BigInt(f.txnAmt!),
      via: endpoint === 'front' ? 'front' : endpoint === 'app' ? 'app' : 'qr',
      channelType: f.channelType!,
      backUrl: f.backUrl,
      frontUrl: f.frontUrl,
      payTimeout: f.payTimeout,
      issInsCode: f.issInsCode,
      payCardType: f.payCardType,
      status: 'created',
      refundedFen: 0n,
    };
    if (t.via === 'app') t.tn = `${beijing().slice(0, 8)}${String(n).padStart(13, '0')}`;
    if (t.via === 'qr') t.qrCode = `https://qr.95516.com/00010000/0171${String(n).padStart(16, '0')}`;
    this.trades.set(t.orderId, t);
    return t;
  }

  private query(f: Record<string, string>): Answer {
    if (f.txnType !== '00' || f.txnSubType !== '00' || f.bizType !== '000000' || !f.orderId || !f.txnTime) return this.error(f, RESP.missing);
    const base = { ...this.echo(f), respCode: RESP.ok[0], respMsg: RESP.ok[1] };
    const r = this.refunds.get(f.orderId);
    if (r) {
      if (r.txnTime !== f.txnTime) return this.error(f, RESP.noTrade);
      return {
        fields: {
          ...base,
          txnType: '04',
          txnSubType: '00',
          txnAmt: r.amountFen.toString(),
          queryId: r.queryId,
          origQryId: r.origQryId,
          traceTime: r.traceTime,
          origRespCode: r.origRespCode,
          origRespMsg: r.status === 'failed' ? '退货失败' : r.status === 'processing' ? '交易处理中' : '成功',
        },
      };
    }
    const t = this.trades.get(f.orderId);
    if (!t || t.txnTime !== f.txnTime || t.status === 'created') return this.error(f, RESP.noTrade);
    const fields: Record<string, string> = {
      ...base,
      txnType: '01',
      txnSubType: t.via === 'qr' ? '07' : '01',
      txnAmt: t.amountFen.toString(),
      currencyCode: '156',
      origRespCode: t.origRespCode ?? (t.status === 'paid' ? '00' : t.status === 'paying' ? '05' : '61'),
      origRespMsg: t.status === 'paid' ? '成功[0000000]' : t.status === 'paying' ? '交易处理中' : '交易失败',
      // A value in braces holding & and =: a reader that splits on every & gets this wrong.
      reserved: '{cardNumberLock=0&orderTimeoutNotify=1}',
    };
    if (t.queryId) Object.assign(fields, { queryId: t.queryId, traceNo: t.traceNo!, traceTime: t.traceTime!, settleAmt: t.amountFen.toString(), settleCurrencyCode: '156', settleDate: t.traceTime!.slice(0, 4) });
    if (t.status === 'paid') Object.assign(fields, { payCardType: t.payCardType ?? '01', accNo: '6216***********0018' });
    return { fields };
  }

  private refund(f: Record<string, string>): Answer {
    if (!f.orderId || !f.origQryId || !f.txnTime || !f.backUrl || !/^[1-9][0-9]{0,11}$/.test(f.txnAmt ?? '')) return this.error(f, RESP.missing);
    const amount = BigInt(f.txnAmt!);
    const existing = this.refunds.get(f.orderId);
    if (existing) {
      if (existing.amountFen !== amount || existing.origQryId !== f.origQryId) return this.error(f, RESP.duplicate);
      return { fields: { ...this.echo(f), respCode: RESP.ok[0], respMsg: RESP.ok[1], queryId: existing.queryId, origQryId: f.origQryId, txnAmt: f.txnAmt! } };
    }
    const t = [...this.trades.values()].find((x) => x.queryId === f.origQryId);
    if (!t || t.status !== 'paid') return this.error(f, RESP.origMissing);
    if (t.refundedFen + amount > t.amountFen) return this.error(f, ['30', '退货金额超限']);
    t.refundedFen += amount;
    const r: SimRefund = {
      orderId: f.orderId,
      origQryId: f.origQryId,
      txnTime: f.txnTime,
      amountFen: amount,
      queryId: `${beijing().slice(4)}${String(++this.seq).padStart(11, '0')}`,
      backUrl: f.backUrl,
      status: 'processing',
      origRespCode: '05',
      traceTime: beijing().slice(4),
    };
    this.refunds.set(r.orderId, r);
    return { fields: { ...this.echo(f), respCode: RESP.ok[0], respMsg: RESP.ok[1], queryId: r.queryId, origQryId: r.origQryId, txnAmt: f.txnAmt! } };
  }

  // --- the payer ---------------------------------------------------------------------------

  /** The payer's browser submits a form a driver rendered. Resolves to UnionPay's page. */
  async submitForm(html: string): Promise<{ status: number; body: string }> {
    const form = parseForm(html);
    if (form.method !== 'post') throw new Error(`the form is sent with ${form.method}`);
    const res = await request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form.fields).toString(),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  /** The payer's UnionPay app opens a tn. */
  openApp(tn: string): SimTrade {
    const t = [...this.trades.values()].find((x) => x.tn === tn);
    if (!t) throw new Error(`no trade for tn ${tn}`);
    return t;
  }

  /** The payer scans a 云闪付 code. */
  scan(qrCode: string): SimTrade {
    const t = [...this.trades.values()].find((x) => x.qrCode === qrCode);
    if (!t) throw new Error(`no trade for qrCode ${qrCode}`);
    return t;
  }

  /** The payer starts paying and is in the middle of it: query answers origRespCode 05. */
  startPaying(orderId: string): SimTrade {
    const t = this.trades.get(orderId);
    if (!t) throw new Error(`no trade ${orderId}`);
    t.status = 'paying';
    return t;
  }

  /** The payment fails at the bank: query answers a failing origRespCode. */
  failPayment(orderId: string, origRespCode = '61'): SimTrade {
    const t = this.startPaying(orderId);
    t.status = 'failed';
    t.origRespCode = origRespCode;
    return t;
  }

  /** The payer pays; the notification goes out as `mode` says. Resolves to the HTTP statuses of the acks. */
  async pay(orderId: string, mode: NotifyMode = 'normal'): Promise<number[]> {
    const t = this.trades.get(orderId);
    if (!t) throw new Error(`no trade ${orderId}`);
    if (t.status === 'paid') throw new Error(`trade ${orderId} is paid`);
    t.status = 'paid';
    t.origRespCode = undefined;
    t.queryId = `${beijing(this.now()).slice(4)}${String(++this.seq).padStart(11, '0')}`;
    t.traceNo = String(randomInt(1e6)).padStart(6, '0');
    t.traceTime = beijing(this.now()).slice(4);
    if (mode === 'lost') return [];
    const acks = [await this.notify(t, mode === 'wrongAmount' ? { txnAmt: (t.amountFen + 1n).toString() } : {})];
    if (mode === 'duplicate') acks.push(await this.notify(t));
    return acks;
  }

  /** A refund ends; the notification goes to the refund's backUrl. */
  async settleRefund(orderId: string, success = true, notify = false): Promise<void> {
    const r = this.refunds.get(orderId);
    if (!r) throw new Error(`no refund ${orderId}`);
    r.status = success ? 'succeeded' : 'failed';
    r.origRespCode = success ? '00' : '58';
    if (notify) await this.post(r.backUrl, this.refundNotificationBody(r));
  }

  /** The signed form body of the back notification about `t`, with `overrides` applied before signing. */
  notificationBody(t: SimTrade, overrides: Record<string, string> = {}, opts: { signer?: SignerVariant; badSignature?: boolean } = {}): string {
    const f: Record<string, string> = {
      accessType: '0',
      bizType: t.via === 'qr' ? '000000' : '000201',
      currencyCode: '156',
      encoding: 'UTF-8',
      merId: this.merId,
      orderId: t.orderId,
      queryId: t.queryId ?? '',
      respCode: '00',
      respMsg: 'Success!',
      settleAmt: t.amountFen.toString(),
      settleCurrencyCode: '156',
      settleDate: (t.traceTime ?? beijing().slice(4)).slice(0, 4),
      traceNo: t.traceNo ?? '',
      traceTime: t.traceTime ?? beijing().slice(4),
      txnAmt: t.amountFen.toString(),
      txnSubType: t.via === 'qr' ? '07' : '01',
      txnTime: t.txnTime,
      txnType: '01',
      version: '5.1.0',
      payCardType: t.payCardType ?? '01',
      accNo: '6216***********0018',
      // URL-encoded on the wire, like every value in a form notification.
      reqReserved: '',
      ...overrides,
    };
    const signed = this.signAnswer(f, opts.signer ?? 'good', opts.badSignature ?? false);
    return new URLSearchParams(signed).toString();
  }

  private refundNotificationBody(r: SimRefund): string {
    return new URLSearchParams(
      this.signAnswer({
        accessType: '0',
        bizType: '000201',
        encoding: 'UTF-8',
        merId: this.merId,
        orderId: r.orderId,
        origQryId: r.origQryId,
        queryId: r.queryId,
        respCode: r.origRespCode,
        respMsg: r.status === 'succeeded' ? 'Success!' : '退货失败',
        traceTime: r.traceTime,
        txnAmt: r.amountFen.toString(),
        txnSubType: '00',
        txnTime: r.txnTime,
        txnType: '04',
        version: '5.1.0',
      }),
    ).toString();
  }

  /** POSTs a back notification about `t` to its backUrl; resolves to the HTTP status of the ack. */
  async notify(t: SimTrade, overrides: Record<string, string> = {}): Promise<number> {
    return this.post(t.backUrl, this.notificationBody(t, overrides));
  }

  private async post(url: string, body: string): Promise<number> {
    const n: SimNotification = { url, body };
    this.notifications.push(n);
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body,
        headersTimeout: 5000,
        bodyTimeout: 5000,
      });
      n.status = res.statusCode;
      n.ack = await res.body.text();
      return n.status;
    } catch (err) {
      n.error = (err as Error).message;
      return 0;
    }
  }
}
