// ACP 代付 (txnType 12, bizType 000401) for the UnionPay simulator: payouts as UnionPay keeps them.
// It checks encryptCertId names its encryption certificate, opens accNo and customerInfo's
// encryptedInfo with that certificate's private key (RSA PKCS#1 v1.5, read with node-forge: Node
// refuses PKCS#1 v1.5 private decryption), answers 00 (taken), serves the query, and sends the back
// notification when a test ends the payout.
//
// Its parsing is written here, apart from src/channels/unionpay.

import forge from 'node-forge';

export interface SimPayout {
  orderId: string;
  txnTime: string;
  amountFen: bigint;
  backUrl: string;
  /** what the simulator decrypted */
  accNo: string;
  customerNm: string;
  /** the customerInfo fields that travelled in the clear (none should be personal) */
  clearCustomerInfo: Record<string, string>;
  status: 'processing' | 'succeeded' | 'failed';
  respCode: string;
  respMsg: string;
  queryId: string;
  traceNo: string;
  traceTime: string;
}

export interface PayoutHost {
  merId: string;
  encryptKeyPem: string;
  encryptCertId: string;
  echo(f: Record<string, string>): Record<string, string>;
  beijing(): string;
  nextSeq(): number;
  /** signs and POSTs a back notification; resolves to the ack's HTTP status */
  post(url: string, fields: Record<string, string>): Promise<number>;
}

type Answer = { fields: Record<string, string> };

export class UnionpayPayouts {
  readonly payouts = new Map<string, SimPayout>();

  constructor(private readonly host: PayoutHost) {}

  private decrypt(b64: string): string | undefined {
    try {
      const key = forge.pki.privateKeyFromPem(this.host.encryptKeyPem) as forge.pki.rsa.PrivateKey;
      return Buffer.from(key.decrypt(Buffer.from(b64, 'base64').toString('binary'), 'RSAES-PKCS1-V1_5'), 'binary').toString('utf8');
    } catch {
      return undefined;
    }
  }

  /** `{k=v&…}` (values base64, so holding `=` but never `&`). */
  private static fieldsOf(text: string): Record<string, string> | undefined {
    if (!text.startsWith('{') || !text.endsWith('}')) return undefined;
    const out: Record<string, string> = {};
    for (const pair of text.slice(1, -1).split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) return undefined;
      out[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return out;
  }

  create(f: Record<string, string>): Answer {
    const no = (respCode: string, respMsg: string): Answer => ({ fields: { ...this.host.echo(f), respCode, respMsg } });
    if (f.txnSubType !== '00' || f.bizType !== '000401') return no('10', '报文格式错误');
    if (!f.orderId || !f.txnTime || !f.backUrl || !/^[1-9][0-9]{0,11}$/.test(f.txnAmt ?? '') || f.currencyCode !== '156' || !f.accNo || !f.customerInfo) {
      return no('13', '报文交易要素缺失');
    }
    if (f.encryptCertId !== this.host.encryptCertId) return no('11', '验证签名失败[encryptCertId不正确]');
    const accNo = this.decrypt(f.accNo);
    if (!accNo || !/^[0-9]{12,19}$/.test(accNo)) return no('14', '卡号解密失败');
    const info = UnionpayPayouts.fieldsOf(Buffer.from(f.customerInfo, 'base64').toString('utf8'));
    if (!info) return no('10', '报文格式错误[customerInfo]');
    const { encryptedInfo, ...clear } = info;
    const sensitive = encryptedInfo === undefined ? undefined : this.decrypt(encryptedInfo);
    const secret = sensitive === undefined ? {} : Object.fromEntries(sensitive.split('&').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
    const customerNm = secret.customerNm ?? clear.customerNm;
    if (!customerNm) return no('13', '报文交易要素缺失[customerNm]');
    if (this.payouts.has(f.orderId)) return no('12', '重复交易');
    const n = this.host.nextSeq();
    const p: SimPayout = {
      orderId: f.orderId,
      txnTime: f.txnTime,
      amountFen: BigInt(f.txnAmt!),
      backUrl: f.backUrl,
      accNo,
      customerNm,
      clearCustomerInfo: clear,
      status: 'processing',
      respCode: '05',
      respMsg: '交易处理中',
      queryId: `${this.host.beijing().slice(4)}${String(n).padStart(11, '0')}`,
      traceNo: String(100000 + n).slice(-6),
      traceTime: this.host.beijing().slice(4),
    };
    this.payouts.set(p.orderId, p);
    return { fields: { ...this.host.echo(f), respCode: '00', respMsg: '成功[0000000]', queryId: p.queryId, txnAmt: f.txnAmt! } };
  }

  /** The query's answer about a payout, or undefined when `orderId` is not one. */
  query(f: Record<string, string>): Answer | undefined {
    const p = this.payouts.get(f.orderId ?? '');
    if (!p || f.txnType !== '00' || f.txnSubType !== '00' || f.bizType !== '000000') return undefined;
    if (p.txnTime !== f.txnTime) return { fields: { ...this.host.echo(f), respCode: '34', respMsg: '查无此交易' } };
    return {
      fields: {
        ...this.host.echo(f),
        respCode: '00',
        respMsg: '成功[0000000]',
        txnType: '12',
        txnSubType: '00',
        bizType: '000401',
        txnAmt: p.amountFen.toString(),
        currencyCode: '156',
        queryId: p.queryId,
        traceNo: p.traceNo,
        traceTime: p.traceTime,
        origRespCode: p.respCode,
        origRespMsg: p.respMsg,
        accNo: `${p.accNo.slice(0, 4)}${'*'.repeat(p.accNo.length - 8)}${p.accNo.slice(-4)}`,
      },
    };
  }

  /** The bank pays the card (or refuses it); the back notification goes out unless `lost`. */
  async settle(orderId: string, o: { success?: boolean; respCode?: string; respMsg?: string; lost?: boolean } = {}): Promise<number[]> {
    const p = this.payouts.get(orderId);
    if (!p) throw new Error(`simulator: no payout ${orderId}`);
    if (p.status !== 'processing') throw new Error(`simulator: payout ${orderId} is ${p.status}`);
    const success = o.success ?? true;
    p.status = success ? 'succeeded' : 'failed';
    p.respCode = success ? '00' : (o.respCode ?? '62');
    p.respMsg = success ? '成功[0000000]' : (o.respMsg ?? '收款卡状态异常');
    p.traceTime = this.host.beijing().slice(4);
    if (o.lost) return [];
    return [await this.host.post(p.backUrl, this.notificationFields(p))];
  }

  notificationFields(p: SimPayout): Record<string, string> {
    return {
      accessType: '0',
      bizType: '000401',
      currencyCode: '156',
      encoding: 'UTF-8',
      merId: this.host.merId,
      orderId: p.orderId,
      queryId: p.queryId,
      respCode: p.respCode,
      respMsg: p.respMsg,
      settleAmt: p.amountFen.toString(),
      settleCurrencyCode: '156',
      settleDate: p.traceTime.slice(0, 4),
      traceNo: p.traceNo,
      traceTime: p.traceTime,
      txnAmt: p.amountFen.toString(),
      txnSubType: '00',
      txnTime: p.txnTime,
      txnType: '12',
      version: '5.1.0',
    };
  }
}
