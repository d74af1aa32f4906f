// WeChat Pay payouts (CONTRACT §4): 商家转账 transfer bills. The merchant's server creates the bill;
// the payee confirms it in WeChat (wx.requestMerchantTransfer with the bill's package_info), and
// only then does the money move. Until then the merchant may cancel it.
//
// Every bill state is read in one place (billState below). The signed exchange itself is the
// driver's `call`, handed in, so that this file adds payouts without a second transport.

import { CallbackIgnored, CallbackRejected, type ChannelContext, type ChannelDriver } from '../types.js';
import type { PayoutCallbackOutcome, PayoutCancelResult, PayoutInput, PayoutQueryResult, PayoutResult } from '../payout-types.js';
import type { WxpayCredentials, WxTransferScene } from '../credentials.js';
import { decryptResource } from './crypto.js';
import { encryptSensitive, encryptionKeyOf } from './sensitive.js';
import { compactBeijingFromRfc3339, fenFromWire, WX_MAX_TOTAL_FEN, type WxNotification } from './wire.js';
import { WX_TRANSFER_PATHS, WX_TRANSFER_REMARK_MAX, WX_USER_NAME_FROM_FEN, type WxTransferBill, type WxTransferBody } from './transfer-wire.js';

/** The driver's signed exchange, already sorted (driver.ts `call`). */
export type WxAnswer =
  | { kind: 'ok'; status: number; json: Record<string, unknown> | undefined }
  | { kind: 'error'; status: number; code: string; message: string }
  | { kind: 'unreached'; reason: string }
  | { kind: 'unknown'; reason: string };
export type WxCall = (
  method: 'GET' | 'POST',
  path: string,
  payload: object | undefined,
  c: WxpayCredentials,
  ctx: ChannelContext,
  extraHeaders?: Record<string, string>,
) => Promise<WxAnswer>;

type PayoutMethods = Required<Pick<ChannelDriver<WxpayCredentials>, 'payeeAccountTypes' | 'payoutUnavailable' | 'transfer' | 'queryTransfer' | 'cancelTransfer'>>;

/** The scene a payout of this trade type is made under: 03 falls back to the 02 settings. */
export const sceneFor = (c: WxpayCredentials, tradeType: '02' | '03'): WxTransferScene | undefined =>
  tradeType === '03' ? (c.withdrawScene ?? c.transferScene) : c.transferScene;

const clip = (s: string, max: number) => [...s].slice(0, max).join('');
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

// What WeChat's fail_reason codes mean, for failReason (CONTRACT §4: the channel's code and message).
const FAIL_REASONS: Record<string, string> = {
  ACCOUNT_FROZEN: '该用户账户被冻结',
  REAL_NAME_CHECK_FAIL: '收款人未实名认证',
  NAME_NOT_CORRECT: '收款人姓名校验不通过',
  OPENID_INVALID: 'openid 校验失败',
  TRANSFER_QUOTA_EXCEED: '超过用户单笔收款额度',
  DAY_RECEIVED_QUOTA_EXCEED: '超过用户单日收款额度',
  MONTH_RECEIVED_QUOTA_EXCEED: '超过用户单月收款额度',
  DAY_RECEIVED_COUNT_EXCEED: '超过用户单日收款次数',
  ID_CARD_NOT_CORRECT: '收款人身份证校验不通过',
  ACCOUNT_NOT_EXIST: '该用户账户不存在',
  TRANSFER_RISK: '该笔转账可能存在风险，已被微信拦截',
  OTHER_FAIL_REASON_TYPE: '其它失败原因',
  REALNAME_ACCOUNT_RECEIVED_QUOTA_EXCEED: '用户账户收款受限',
  RECEIVE_ACCOUNT_NOT_PERMMIT: '未配置该用户为转账收款人',
  PAYEE_ACCOUNT_ABNORMAL: '用户账户收款异常',
  PAYER_ACCOUNT_ABNORMAL: '商户账户付款受限',
  TRANSFER_SCENE_UNAVAILABLE: '该转账场景暂不可用',
  TRANSFER_SCENE_INVALID: '你尚未获取该转账场景',
  TRANSFER_REMARK_SET_FAIL: '转账备注设置失败',
  RECEIVE_ACCOUNT_NOT_CONFIGURE: '请前往商户平台-商家转账到零钱-前往功能-转账场景中添加',
  BLOCK_B2C_USERLIMITAMOUNT_BSRULE_MONTH: '超出用户单月转账收款20w限额',
  BLOCK_B2C_USERLIMITAMOUNT_MONTH: '用户账户存在风险收款受限',
  MERCHANT_REJECT: '商户员工（转账验密人）已驳回转账',
  MERCHANT_NOT_CONFIRM: '商户员工（转账验密人）超时未验密',
};

const failedOf = (b: WxTransferBill) => {
  const code = str(b.fail_reason) ?? 'FAIL';
  return { outcome: 'failed' as const, code, message: FAIL_REASONS[code] ?? code };
};

/**
 * Where a bill stands, for every state WeChat names (the one table of them):
 * - ACCEPTED (taken, not yet looked at), PROCESSING (being checked), TRANSFERING (confirmed, money
 *   on its way): processing;
 * - WAIT_USER_CONFIRM: the payee has not confirmed; package_info (when the answer has it) is what
 *   the payee's confirmation needs;
 * - SUCCESS: paid out; FAIL: ended without moving money (fail_reason says why);
 * - CANCELING: the merchant cancelled, WeChat is closing it; CANCELLED: closed, nothing moved.
 */
export function billState(b: WxTransferBill, c: WxpayCredentials): PayoutQueryResult {
  const channelTradeNo = str(b.transfer_bill_no);
  switch (b.state) {
    case 'ACCEPTED':
    case 'PROCESSING':
    case 'TRANSFERING':
      return { outcome: 'processing', ...(channelTradeNo ? { channelTradeNo } : {}) };
    case 'WAIT_USER_CONFIRM': {
      const pkg = str(b.package_info);
      return { outcome: 'waiting_for_payee', ...(channelTradeNo ? { channelTradeNo } : {}), ...(pkg ? { payInfo: payInfoOf(pkg, c) } : {}) };
    }
    case 'SUCCESS':
      return { outcome: 'succeeded', ...(channelTradeNo ? { channelTradeNo } : {}), ...paidAtOf(b) };
    case 'FAIL':
      return failedOf(b);
    case 'CANCELING':
      return { outcome: 'cancelling' };
    case 'CANCELLED':
      return { outcome: 'cancelled' };
    default:
      return { outcome: 'unknown', reason: `wxpay transfer bill state ${String(b.state)}` };
  }
}

const paidAtOf = (b: WxTransferBill) => {
  const at = compactBeijingFromRfc3339(b.update_time);
  return at ? { paidAt: at } : {};
};

/** What the payee's page hands to wx.requestMerchantTransfer. */
export const payInfoOf = (pkg: string, c: WxpayCredentials) => JSON.stringify({ mchId: c.mchid, appId: c.appid, package: pkg });

function transferBody(input: PayoutInput, scene: WxTransferScene, c: WxpayCredentials, userName: string | undefined): WxTransferBody {
  return {
    appid: c.appid,
    out_bill_no: input.orderId,
    transfer_scene_id: scene.sceneId,
    openid: input.payeeAccount,
    ...(userName !== undefined ? { user_name: userName } : {}),
    transfer_amount: Number(input.amountFen),
    transfer_remark: clip(input.subject || input.orderId, WX_TRANSFER_REMARK_MAX),
    notify_url: input.callbackUrl,
    ...(scene.userRecvPerception ? { user_recv_perception: scene.userRecvPerception } : {}),
    transfer_scene_report_infos: scene.reportInfos.map((r) => ({ info_type: r.info_type, info_content: r.info_content })),
  };
}

/** An answer about another bill (or another merchant) is no answer about this one. */
function aboutOther(b: WxTransferBill, orderId: string, c: WxpayCredentials): boolean {
  return (b.out_bill_no !== undefined && b.out_bill_no !== orderId) || (b.mch_id !== undefined && b.mch_id !== c.mchid);
}

// A create refused because the out_bill_no is taken means WeChat does hold a bill under this
// number (sent before with other terms): not "nothing moved", so it is settled by query.
const TAKEN = (code: string, message: string) => code === 'ALREADY_EXISTS' || (code === 'INVALID_REQUEST' && /重复|已存在/.test(message));

export function wxpayPayouts(call: WxCall): PayoutMethods {
  async function query(orderId: string, c: WxpayCredentials, ctx: ChannelContext): Promise<PayoutQueryResult> {
    const a = await call('GET', WX_TRANSFER_PATHS.query(orderId), undefined, c, ctx);
    if (a.kind === 'unreached' || a.kind === 'unknown') return { outcome: a.kind, reason: a.reason };
    if (a.kind === 'error') {
      if (a.status === 404 && a.code === 'NOT_FOUND') return { outcome: 'not_found' };
      return { outcome: 'unknown', reason: `wxpay transfer query: ${a.code} ${a.message}` };
    }
    const b = (a.json ?? {}) as WxTransferBill;
    if (b.out_bill_no !== orderId || aboutOther(b, orderId, c)) return { outcome: 'unknown', reason: 'wxpay transfer query answered about a different bill' };
    return billState(b, c);
  }

  return {
    payeeAccountTypes: ['WX_OPENID'],

    payoutUnavailable(c, tradeType) {
      if (sceneFor(c, tradeType)) return undefined;
      return 'WeChat Pay payouts need a transfer scene: dtpay channel set MERCNO wxpay … --transfer-scene-id ID';
    },

    async transfer(input, c, ctx): Promise<PayoutResult> {
      const scene = sceneFor(c, input.tradeType);
      if (!scene) return { outcome: 'refused', code: 'NO_TRANSFER_SCENE', message: 'no transfer scene is configured for WeChat Pay payouts' };
      if (input.payeeAccountType !== 'WX_OPENID') return { outcome: 'refused', code: 'PARAM_ERROR', message: 'WeChat Pay pays out to WX_OPENID only' };
      // Decided here, as WeChat would decide them: nothing is sent that it could only refuse.
      if (input.amountFen < 1n || input.amountFen > WX_MAX_TOTAL_FEN) {
        return { outcome: 'refused', code: 'PARAM_ERROR', message: `transfer_amount must be 1..${WX_MAX_TOTAL_FEN} fen for WeChat Pay` };
      }
      if (input.amountFen >= WX_USER_NAME_FROM_FEN && !input.payeeName) {
        return { outcome: 'refused', code: 'PARAM_ERROR', message: 'WeChat Pay needs the payee name (user_name) from 2000.00 yuan' };
      }
      let userName: string | undefined;
      const extra: Record<string, string> = {};
      if (input.payeeName) {
        const key = encryptionKeyOf(c);
        if (!key) return { outcome: 'refused', code: 'NO_PLATFORM_KEY', message: 'no platform certificate or WeChat Pay public key to encrypt user_name with' };
        userName = encryptSensitive(input.payeeName, key);
        extra['wechatpay-serial'] = key.serial;
      }
      const a = await call('POST', WX_TRANSFER_PATHS.create, transferBody(input, scene, c, userName), c, ctx, extra);
      if (a.kind === 'unreached' || a.kind === 'unknown') return { outcome: a.kind, reason: a.reason };
      if (a.kind === 'error') {
        if (TAKEN(a.code, a.message)) return { outcome: 'unknown', reason: `wxpay transfer: ${a.code} ${a.message}` };
        return { outcome: 'refused', code: a.code, message: a.message };
      }
      const b = (a.json ?? {}) as WxTransferBill;
      if (b.out_bill_no !== input.orderId || aboutOther(b, input.orderId, c)) return { outcome: 'unknown', reason: 'wxpay transfer answered about a different bill' };
      const s = billState(b, c);
      switch (s.outcome) {
        case 'waiting_for_payee':
          // The payee cannot confirm without package_info: a bill we cannot show is settled by query.
          if (!s.payInfo) return { outcome: 'unknown', reason: 'wxpay transfer: WAIT_USER_CONFIRM without package_info' };
          return { outcome: 'accepted', channelTradeNo: s.channelTradeNo, payInfo: s.payInfo };
        case 'processing':
          return { outcome: 'accepted', channelTradeNo: s.channelTradeNo };
        case 'succeeded':
          return s;
        case 'failed':
          return { outcome: 'refused', code: s.code, message: s.message };
        case 'cancelling':
        case 'cancelled':
          // Only a bill made and cancelled before answers so; query says where it ended.
          return { outcome: 'unknown', reason: `wxpay transfer answered a bill already ${s.outcome}` };
        default:
          return { outcome: 'unknown', reason: s.outcome === 'unknown' ? s.reason : `wxpay transfer: ${s.outcome}` };
      }
    },

    queryTransfer: (ref, c, ctx) => query(ref.orderId, c, ctx),

    async cancelTransfer(ref, c, ctx): Promise<PayoutCancelResult> {
      const a = await call('POST', WX_TRANSFER_PATHS.cancel(ref.orderId), undefined, c, ctx);
      if (a.kind === 'unreached' || a.kind === 'unknown') return { outcome: a.kind, reason: a.reason };
      // Too late (the payee confirmed, or the bill ended) or no such bill: WeChat's code says which.
      if (a.kind === 'error') return { outcome: 'refused', code: a.code, message: a.message };
      const b = (a.json ?? {}) as WxTransferBill;
      if (aboutOther(b, ref.orderId, c)) return { outcome: 'unknown', reason: 'wxpay transfer cancel answered about a different bill' };
      const s = billState(b, c);
      if (s.outcome === 'cancelled' || s.outcome === 'cancelling') return s;
      return { outcome: 'unknown', reason: `wxpay transfer cancel answered state ${String(b.state)}` };
    },
  };
}

/**
 * The resource of a verified MCHTRANSFER.BILL.FINISHED notification (the caller checked the
 * signature): decrypted with the APIv3 key, checked to be this merchant's, normalized.
 */
export function parseTransferNotification(n: WxNotification, c: WxpayCredentials): PayoutCallbackOutcome {
  let b: WxTransferBill | undefined;
  try {
    const v: unknown = JSON.parse(decryptResource(n.resource!, c.apiv3Key));
    b = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as WxTransferBill) : undefined;
  } catch (err) {
    throw new CallbackRejected(`wxpay transfer callback: ${(err as Error).message}`);
  }
  if (!b) throw new CallbackRejected('wxpay transfer callback: resource is not a JSON object');
  if (b.mch_id !== c.mchid) throw new CallbackRejected('wxpay transfer callback: mch_id is not this merchant’s');
  const orderId = str(b.out_bill_no);
  if (!orderId) throw new CallbackRejected('wxpay transfer callback: no out_bill_no');
  const amountFen = fenFromWire(b.transfer_amount);
  if (amountFen === undefined) throw new CallbackRejected('wxpay transfer callback: no integer transfer_amount');
  const s = billState(b, c);
  const base = { kind: 'payout' as const, orderId, amountFen, ...(str(b.transfer_bill_no) ? { channelTradeNo: b.transfer_bill_no } : {}) };
  switch (s.outcome) {
    case 'succeeded':
      return { ...base, result: 'succeeded', ...(s.paidAt ? { paidAt: s.paidAt } : {}) };
    case 'failed':
      return { ...base, result: 'failed', failCode: s.code, failReason: s.message };
    case 'cancelled':
      return { ...base, result: 'cancelled' };
    default:
      // FINISHED is sent for final states only; anything else verified but says nothing final.
      throw new CallbackIgnored(`wxpay transfer callback: state ${String(b.state)} is not final`);
  }
}
