// WeChat Pay 商家转账 (transfer bills) for the WeChat Pay simulator: the bills themselves, as WeChat
// keeps them. It checks what WeChat checks where the driver can tell — the scene and its report
// items, the remark's length, user_name from 2000 yuan, Wechatpay-Serial naming the key user_name is
// encrypted under, and that user_name opens with the platform private key (RSA-OAEP, SHA-1) — and
// lets a test play the payee (confirm) and WeChat's back office (the bill ending), sending the
// signed, encrypted MCHTRANSFER.BILL.FINISHED notification.
//
// Written apart from src/channels/wxpay, as the rest of the simulator.

import { constants, privateDecrypt, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type BillState = 'ACCEPTED' | 'PROCESSING' | 'WAIT_USER_CONFIRM' | 'TRANSFERING' | 'SUCCESS' | 'FAIL' | 'CANCELING' | 'CANCELLED';

export interface SimTransferBill {
  outBillNo: string;
  transferBillNo: string;
  request: Record<string, any>;
  /** user_name as the simulator decrypted it */
  userName?: string;
  /** the Wechatpay-Serial the request named */
  serial?: string;
  state: BillState;
  packageInfo: string;
  failReason?: string;
  createTime: string;
  updateTime: string;
}

/** What the transfer bills need from the simulator around them. */
export interface TransferHost {
  mchid: string;
  appid: string;
  platformPrivateKeyPem: string;
  /** the serials WeChat accepts in Wechatpay-Serial: the certificate's and the public key id */
  serials: () => string[];
  now: () => number;
  send(res: ServerResponse, status: number, json: unknown): void;
  error(res: ServerResponse, status: number, code: string, message: string): void;
  /** signs, encrypts and POSTs a notification; resolves to the gateway's answer */
  notify(url: string, event: { eventType: string; originalType: string; summary: string; plain: Record<string, unknown> }): Promise<{ status: number; body: string }>;
}

const rfc3339 = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
const FINAL: readonly BillState[] = ['SUCCESS', 'FAIL', 'CANCELLED'];

export class WxTransferBills {
  readonly bills = new Map<string, SimTransferBill>();
  /** The scenes this merchant has, with the report item types each requires. */
  readonly scenes = new Map<string, string[]>([
    ['1000', ['活动名称', '奖励说明']],
    ['1005', ['岗位类型', '报酬说明']],
  ]);
  /** the state a new bill starts in (WeChat: WAIT_USER_CONFIRM; a test may start it elsewhere) */
  createState: BillState = 'WAIT_USER_CONFIRM';
  private seq = 0;

  constructor(private readonly host: TransferHost) {}

  /** Serves /v3/fund-app/mch-transfer/…; false when the path is not one of ours. */
  route(method: string, url: URL, json: Record<string, any>, headers: IncomingMessage['headers'], res: ServerResponse): boolean {
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (method === 'POST' && p === '/v3/fund-app/mch-transfer/transfer-bills') {
      this.create(json, headers, res);
      return true;
    }
    if (method === 'GET' && (m = /^\/v3\/fund-app\/mch-transfer\/transfer-bills\/out-bill-no\/([^/]+)$/.exec(p))) {
      const b = this.bills.get(decodeURIComponent(m[1]!));
      if (!b) this.host.error(res, 404, 'NOT_FOUND', '记录不存在');
      else this.host.send(res, 200, this.billJson(b));
      return true;
    }
    if (method === 'POST' && (m = /^\/v3\/fund-app\/mch-transfer\/transfer-bills\/out-bill-no\/([^/]+)\/cancel$/.exec(p))) {
      const b = this.bills.get(decodeURIComponent(m[1]!));
      if (!b) this.host.error(res, 404, 'NOT_FOUND', '记录不存在');
      else if (b.state === 'CANCELING' || b.state === 'CANCELLED') this.host.send(res, 200, this.cancelJson(b));
      else if (!['ACCEPTED', 'PROCESSING', 'WAIT_USER_CONFIRM'].includes(b.state)) this.host.error(res, 400, 'INVALID_REQUEST', '当前转账单状态不支持撤销');
      else {
        this.move(b, 'CANCELING');
        this.host.send(res, 200, this.cancelJson(b));
      }
      return true;
    }
    return false;
  }

  private create(j: Record<string, any>, headers: IncomingMessage['headers'], res: ServerResponse): void {
    const bad = (why: string) => this.host.error(res, 400, 'PARAM_ERROR', why);
    if (j.appid !== this.host.appid) return this.host.error(res, 400, 'INVALID_REQUEST', 'appid与商户号不匹配');
    if (typeof j.out_bill_no !== 'string' || !/^[0-9A-Za-z]{5,32}$/.test(j.out_bill_no)) return bad('out_bill_no 格式不正确');
    const required = this.scenes.get(String(j.transfer_scene_id));
    if (!required) return this.host.error(res, 400, 'INVALID_REQUEST', '你尚未获取该转账场景');
    if (typeof j.openid !== 'string' || j.openid === '') return bad('openid 缺失');
    if (!Number.isInteger(j.transfer_amount) || j.transfer_amount < 1) return bad('transfer_amount 不正确');
    if (typeof j.transfer_remark !== 'string' || [...j.transfer_remark].length < 1 || [...j.transfer_remark].length > 32) return bad('transfer_remark 长度不符');
    if (typeof j.notify_url !== 'string' || !/^https?:\/\//.test(j.notify_url)) return bad('notify_url 格式不正确');
    const infos = j.transfer_scene_report_infos;
    if (!Array.isArray(infos) || !required.every((t) => infos.some((i: any) => i?.info_type === t && typeof i.info_content === 'string' && i.info_content !== ''))) {
      return bad(`transfer_scene_report_infos 需包含 ${required.join('、')}`);
    }
    let userName: string | undefined;
    const serial = typeof headers['wechatpay-serial'] === 'string' ? headers['wechatpay-serial'] : undefined;
    if (j.user_name !== undefined) {
      if (!serial || !this.host.serials().includes(serial)) return bad('Wechatpay-Serial 未指定或不正确');
      try {
        userName = privateDecrypt({ key: this.host.platformPrivateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(String(j.user_name), 'base64')).toString('utf8');
      } catch {
        return bad('user_name 解密失败');
      }
    } else if (j.transfer_amount >= 200_000) return bad('转账金额>=2000元时，user_name 必填');

    const existing = this.bills.get(j.out_bill_no);
    if (existing) {
      // The same bill again (user_name's ciphertext differs each time; its plain text must not).
      const { user_name: _a, ...now } = j;
      const { user_name: _b, ...before } = existing.request;
      if (JSON.stringify(now) !== JSON.stringify(before) || existing.userName !== userName) return this.host.error(res, 400, 'INVALID_REQUEST', '商户单号重复，且请求参数与原单不一致');
      return this.host.send(res, 200, this.createJson(existing));
    }
    const at = rfc3339(this.host.now());
    const b: SimTransferBill = {
      outBillNo: j.out_bill_no,
      transferBillNo: `1330000${String(++this.seq).padStart(6, '0')}${Date.now()}`.slice(0, 32),
      request: j,
      ...(userName !== undefined ? { userName } : {}),
      ...(serial ? { serial } : {}),
      state: this.createState,
      packageInfo: `ABBQO+oYAAABAAAAAAAk${randomBytes(12).toString('base64')}`,
      createTime: at,
      updateTime: at,
      ...(this.createState === 'FAIL' ? { failReason: 'TRANSFER_RISK' } : {}),
    };
    this.bills.set(b.outBillNo, b);
    this.host.send(res, 200, this.createJson(b));
  }

  private createJson(b: SimTransferBill): Record<string, unknown> {
    return {
      out_bill_no: b.outBillNo,
      transfer_bill_no: b.transferBillNo,
      create_time: b.createTime,
      state: b.state,
      ...(b.failReason ? { fail_reason: b.failReason } : {}),
      ...(b.state === 'WAIT_USER_CONFIRM' ? { package_info: b.packageInfo } : {}),
    };
  }

  private cancelJson(b: SimTransferBill): Record<string, unknown> {
    return { out_bill_no: b.outBillNo, transfer_bill_no: b.transferBillNo, state: b.state, update_time: b.updateTime };
  }

  private billJson(b: SimTransferBill): Record<string, unknown> {
    return {
      mch_id: this.host.mchid,
      out_bill_no: b.outBillNo,
      transfer_bill_no: b.transferBillNo,
      appid: this.host.appid,
      state: b.state,
      transfer_amount: b.request.transfer_amount,
      transfer_remark: b.request.transfer_remark,
      ...(b.failReason ? { fail_reason: b.failReason } : {}),
      openid: b.request.openid,
      create_time: b.createTime,
      update_time: b.updateTime,
    };
  }

  private move(b: SimTransferBill, state: BillState): void {
    b.state = state;
    b.updateTime = rfc3339(this.host.now());
  }

  private must(outBillNo: string): SimTransferBill {
    const b = this.bills.get(outBillNo);
    if (!b) throw new Error(`simulator: no transfer bill ${outBillNo}`);
    return b;
  }

  // --- the payee and WeChat's back office --------------------------------------------------

  /** The payee confirms in WeChat: the money is on its way (TRANSFERING). */
  confirm(outBillNo: string): SimTransferBill {
    const b = this.must(outBillNo);
    if (b.state !== 'WAIT_USER_CONFIRM') throw new Error(`simulator: bill ${outBillNo} is ${b.state}, not waiting for the payee`);
    this.move(b, 'TRANSFERING');
    return b;
  }

  /**
   * The bill ends — SUCCESS or FAIL after a confirmation, CANCELLED after a cancel — and the
   * notification goes to notify_url unless `lost`. Resolves to the gateway's answers.
   */
  async finish(outBillNo: string, state: 'SUCCESS' | 'FAIL' | 'CANCELLED', o: { lost?: boolean; failReason?: string; duplicate?: boolean } = {}): Promise<{ status: number; body: string }[]> {
    const b = this.must(outBillNo);
    const from: Record<typeof state, BillState[]> = { SUCCESS: ['TRANSFERING', 'ACCEPTED', 'PROCESSING'], FAIL: ['TRANSFERING', 'ACCEPTED', 'PROCESSING', 'WAIT_USER_CONFIRM'], CANCELLED: ['CANCELING'] };
    if (!from[state].includes(b.state)) throw new Error(`simulator: bill ${outBillNo} is ${b.state}; it cannot become ${state}`);
    this.move(b, state);
    if (state === 'FAIL') b.failReason = o.failReason ?? 'PAYEE_ACCOUNT_ABNORMAL';
    if (o.lost) return [];
    const out = [await this.notify(b)];
    if (o.duplicate) out.push(await this.notify(b));
    return out;
  }

  /** The decrypted resource of this bill's notification. */
  notificationPlain(b: SimTransferBill): Record<string, unknown> {
    return {
      out_bill_no: b.outBillNo,
      transfer_bill_no: b.transferBillNo,
      state: b.state,
      mch_id: this.host.mchid,
      transfer_amount: b.request.transfer_amount,
      openid: b.request.openid,
      ...(b.failReason ? { fail_reason: b.failReason } : {}),
      create_time: b.createTime,
      update_time: b.updateTime,
    };
  }

  private notify(b: SimTransferBill): Promise<{ status: number; body: string }> {
    if (!FINAL.includes(b.state)) throw new Error(`simulator: bill ${b.outBillNo} is not final`);
    return this.host.notify(String(b.request.notify_url), {
      eventType: 'MCHTRANSFER.BILL.FINISHED',
      originalType: 'mch_payment',
      summary: '商家转账单据终态通知',
      plain: this.notificationPlain(b),
    });
  }
}
