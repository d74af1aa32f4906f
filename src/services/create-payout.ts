import { ApiError, RESP, SUCCESS_DESC, type RespCode } from '../errors.js';
import { fenToYuan, yuanToFen } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import { beijingDay, maskPayeeAccount, maskPayeeName } from '../domain/payee.js';
import { callerList, callerText } from '../domain/caller-text.js';
import { PAYOUT_SCENE } from '../channels/matrix.js';
import type { ChannelDriver } from '../channels/types.js';
import type { PayoutInput, PayoutResult } from '../channels/payout-types.js';
import type { SignType } from '../domain/sign.js';
import type { MerchantRow, OrderRow } from '../db/rows.js';
import type { PayoutRequest } from '../api/payout-schema.js';
import type { TransitionArgs } from '../db/write-ops.js';
import type { Services } from './context.js';
import type { PayAnswer } from './create-order.js';
import { OncePerKey, answerHead, callbackUrl, replayAnswer, storedAnswer } from './create-order.js';
import { channelCallMetric } from '../metrics.js';
import { refuseUncontactableNotifyUrl } from './notify-target.js';
import { differingFields, requestDigest } from './same-request.js';
import { NO_EXPIRY, nextPayoutCheckAt, payeeConfirms } from './payouts.js';

type Fields = Record<string, string | undefined>;

/**
 * Payouts through the unified order (CONTRACT §4). The checks run in the contract's order:
 * (signature and fields before this) → payouts on → the payway and account type served → the
 * request signed with HMAC-SHA256 → an idempotent replay → the limits. A payout is stored, with
 * its amount counted against the merchant's limits, before the channel is asked; an outcome the
 * channel leaves unknown is settled by querying the same orderId, never by sending again.
 */
export class PayoutCreator {
  private readonly once = new OncePerKey();

  constructor(private readonly s: Services) {}

  async create(merchant: MerchantRow, signType: SignType, req: PayoutRequest): Promise<PayAnswer> {
    const settings = await this.s.reads.payoutSettings(merchant.merc_no);
    if (!settings?.enabled) {
      throw new ApiError(
        RESP.UNSUPPORTED,
        `payouts (tradeType 02 and 03) are off for this merchant; the operator turns them on with dtpay merchant payouts MERCNO --enable --daily-limit AMOUNT`,
      );
    }
    const driver = await this.driverFor(merchant, req);
    if (signType !== 'HMAC-SHA256') {
      throw new ApiError(RESP.BAD_SIGNATURE, 'signType: a payout must be signed with HMAC-SHA256; MD5 is not accepted for creating one');
    }
    return this.once.run(`${merchant.merc_no}\u0000${req.mercOrderNo}`, req, async () => {
      const stored = await this.s.reads.orderByMercNo(merchant.merc_no, req.mercOrderNo);
      if (stored) return { replayOf: this.firstRequest(stored), answer: storedAnswer(stored) };
      refuseUncontactableNotifyUrl(this.s, merchant, req.notifyUrl);
      return { answer: await this.createNew(merchant, req, driver) };
    });
  }

  /** The driver paying out on this payway for this merchant, or 100006 saying what is supported. */
  private async driverFor(merchant: MerchantRow, req: PayoutRequest): Promise<ChannelDriver<any>> {
    const { registry } = this.s;
    const configured = await this.s.configuredPayways(merchant);
    const offered = registry.supportedPayouts(merchant.mode).filter((p) => configured.has(p.payway) && p.accountTypes.length > 0);
    const list = offered.length ? offered.map((p) => `${p.cell} (${p.accountTypes.join(', ')})`).join('; ') : 'none configured';
    const route = registry.resolve(merchant.mode, req.paywayCode, PAYOUT_SCENE);
    const cell = route.ok ? offered.find((p) => p.payway === route.payway) : undefined;
    if (!route.ok || !cell) {
      throw new ApiError(RESP.UNSUPPORTED, `${req.paywayCode}.${PAYOUT_SCENE} is not supported for this ${merchant.mode} merchant; supported payouts: ${list}`);
    }
    if (!cell.accountTypes.includes(req.payeeAccountType)) {
      throw new ApiError(
        RESP.UNSUPPORTED,
        `payeeAccountType ${req.payeeAccountType} is not taken by ${cell.cell}; it takes ${cell.accountTypes.join(', ')}; supported payouts: ${list}`,
      );
    }
    const why = route.driver.payoutUnavailable?.(await this.s.credentialsFor(merchant, route.driver.name), req.tradeType);
    if (why) throw new ApiError(RESP.UNSUPPORTED, `${cell.cell} cannot pay out for this merchant: ${why}`);
    return route.driver;
  }

  /** The first request as it was asked, its payee opened from its seal: what a replay is compared with. */
  private firstRequest(stored: OrderRow): Fields {
    const first = JSON.parse(stored.request_json) as Fields;
    if (stored.payee_sealed) Object.assign(first, this.s.payees.open(stored.merc_no, stored.order_id, stored.payee_sealed));
    return first;
  }

  private replay(first: Fields, again: PayoutRequest, answer: PayAnswer): PayAnswer {
    return replayAnswer(first, again, answer);
  }

  private async createNew(merchant: MerchantRow, req: PayoutRequest, driver: ChannelDriver<any>): Promise<PayAnswer> {
    const { ids, now, config } = this.s;
    const orderId = ids.next();
    const createdAt = now();
    const confirms = payeeConfirms({ payway: req.paywayCode });
    const expireAt = confirms ? createdAt + Number(req.orderPeriod) * 60_000 : NO_EXPIRY;
    const amountFen = yuanToFen(req.tradeAmt);
    const masked: Record<string, string> = { payeeAccount: maskPayeeAccount(req.payeeAccountType, req.payeeAccount) };
    if (req.payeeName) masked.payeeName = maskPayeeName(req.payeeName);
    const { signature: _sig, ...requestFields } = req;
    const fields: Record<string, string> = {
      ...answerHead(req, orderId, amountFen),
      payeeAccountType: req.payeeAccountType,
      ...masked,
    };
    const tail = (payStatus: string): Record<string, string> => ({ payStatus, ...(confirms ? { expireTime: formatBeijing(expireAt) } : {}) });
    const pending: PayAnswer = {
      respCode: RESP.CHANNEL_TIMEOUT,
      respDesc: 'the channel has not answered yet; query the payout later, do not send it again',
      fields: { ...fields, ...tail('p0001') },
    };
    const row: OrderRow = {
      order_id: orderId,
      merc_no: merchant.merc_no,
      merc_order_no: req.mercOrderNo,
      request_hash: requestDigest(req),
      payway: req.paywayCode,
      scene: PAYOUT_SCENE,
      trade_type: req.tradeType,
      amount_fen: amountFen,
      fee_type: req.feeType || 'CNY',
      trade_time: req.tradeTime,
      order_period: Number(req.orderPeriod),
      term_type: req.termType,
      notify_url: req.notifyUrl,
      return_url: req.returnUrl || null,
      request_json: JSON.stringify({ ...requestFields, ...masked }),
      pay_status: 'p0001',
      // Until the channel answers, nobody knows whether it has the payout: the watcher asks.
      channel_state: 'unknown',
      channel_trade_no: null,
      channel_code: null,
      channel_msg: null,
      response_json: JSON.stringify(pending),
      created_at: createdAt,
      expire_at: expireAt,
      trade_end_time: null,
      bank_type: null,
      late_payment: 0,
      updated_at: createdAt,
      next_check_at: nextPayoutCheckAt(0, createdAt),
      checks: 0,
    };
    const sealed = this.s.payees.seal(merchant.merc_no, orderId, { payeeAccount: req.payeeAccount, payeeName: req.payeeName || undefined });
    const inserted = await this.s.writer.run('insertPayout', { row, payeeSealed: sealed.toString('base64'), ...dayOf(createdAt) });
    if (!inserted.ok) {
      switch (inserted.reason) {
        case 'duplicate': {
          const stored = (await this.s.reads.orderByMercNo(merchant.merc_no, req.mercOrderNo))!;
          return this.replay(this.firstRequest(stored), req, storedAnswer(stored));
        }
        case 'off':
          throw new ApiError(RESP.UNSUPPORTED, 'payouts (tradeType 02 and 03) are off for this merchant');
        case 'per_payout':
          throw new ApiError(RESP.STATE_CONFLICT, `tradeAmt: ${fenToYuan(amountFen)} is over the per-payout limit of ${fenToYuan(inserted.limitFen)}`);
        case 'daily':
          throw new ApiError(
            RESP.STATE_CONFLICT,
            `tradeAmt: ${fenToYuan(amountFen)} is over what is left of today's payout limit (Beijing day): ${fenToYuan(inserted.leftFen)} left of ${fenToYuan(inserted.limitFen)}`,
          );
      }
    }

    const input: PayoutInput = {
      orderId,
      tradeType: req.tradeType,
      amountFen,
      subject: req.subject || req.body || '',
      payeeAccountType: req.payeeAccountType,
      payeeAccount: req.payeeAccount,
      payeeName: req.payeeName || undefined,
      bankCode: req.bankCode || undefined,
      ip: req.ip,
      termType: req.termType,
      createdAt,
      expireAt,
      callbackUrl: callbackUrl(config.PUBLIC_BASE_URL, driver.name, merchant),
    };
    const result = await this.callTransfer(input, driver, merchant, req.paywayCode);
    const at = now();
    const source = `${req.paywayCode} transfer answer`;
    let respCode: RespCode = RESP.OK;
    let respDesc = SUCCESS_DESC;
    let payStatus = 'p0001';
    let extra: Record<string, string> = {};
    let transition: TransitionArgs | undefined;
    let channelState: 'accepted' | 'refused' | 'unknown' = 'accepted';
    let code: string | undefined;
    let message: string | undefined;
    let channelTradeNo: string | undefined;
    switch (result.outcome) {
      case 'accepted':
        payStatus = 'p0002';
        channelTradeNo = result.channelTradeNo;
        if (result.payInfo) extra = { payInfo: result.payInfo };
        transition = { orderId, event: 'channel_accepted', source, at, channelTradeNo };
        break;
      case 'succeeded':
        payStatus = 'p0000';
        channelTradeNo = result.channelTradeNo;
        transition = { orderId, event: 'channel_paid', source, at, channelTradeNo, tradeEndTime: result.paidAt };
        break;
      case 'refused':
      case 'unreached':
        // Refused, or never reached the channel even after a retry: nothing moved, a final failure.
        channelState = 'refused';
        payStatus = 'p0004';
        respCode = RESP.CHANNEL_REFUSED;
        code = result.outcome === 'refused' ? result.code : 'CHANNEL_UNREACHABLE';
        message = result.outcome === 'refused' ? result.message : result.reason;
        respDesc = result.outcome === 'refused' ? `the channel refused the payout: ${code} ${message}` : `the channel could not be reached: ${message}`;
        transition = { orderId, event: 'channel_failed', source, at, failCode: code, failReason: message };
        break;
      case 'unknown':
        channelState = 'unknown';
        respCode = RESP.CHANNEL_TIMEOUT;
        message = result.reason;
        respDesc = `the channel did not answer in time (${result.reason}); query the payout later, do not send it again`;
        break;
    }
    const answer: PayAnswer = { respCode, respDesc, fields: { ...fields, ...extra, ...tail(payStatus) } };
    const changed = await this.s.writer.run('recordPayoutAnswer', {
      orderId,
      channelState,
      channelTradeNo,
      code,
      message,
      responseJson: JSON.stringify(answer),
      at,
      transition,
    });
    if (changed?.changed) {
      this.s.log.info({ orderId, from: changed.from, to: changed.to, source }, 'order state changed');
      this.s.notifier.queued(changed.notification);
    }
    // A callback or a query may have moved it first: the answer says where it stands now.
    return storedAnswer((await this.s.reads.order(orderId))!);
  }

  private async callTransfer(input: PayoutInput, driver: ChannelDriver<any>, merchant: MerchantRow, payway: string): Promise<PayoutResult> {
    const credentials = await this.s.credentialsFor(merchant, driver.name);
    let result: PayoutResult = { outcome: 'unreached', reason: 'not attempted' };
    // A call that never reached the channel is safe to repeat once with the same orderId (the
    // channel's idempotency key); anything else is not.
    for (let attempt = 0; attempt < 2; attempt++) {
      const controller = new AbortController();
      const ctx = this.s.channelContext(controller.signal);
      let timer: NodeJS.Timeout | undefined;
      const ms = this.s.config.CHANNEL_TIMEOUT_MS;
      const timeout = new Promise<PayoutResult>((resolve) => {
        timer = setTimeout(() => {
          controller.abort();
          resolve({ outcome: 'unknown', reason: `no answer within ${ms} ms` });
        }, ms);
      });
      try {
        result = await Promise.race([driver.transfer!(input, credentials, ctx), timeout]);
      } catch (err) {
        this.s.log.error({ err, orderId: input.orderId }, 'channel driver threw on a payout; treating the outcome as unknown');
        result = { outcome: 'unknown', reason: 'the channel driver failed' };
      } finally {
        clearTimeout(timer);
      }
      if (result.outcome !== 'unreached') break;
    }
    channelCallMetric(this.s, payway, PAYOUT_SCENE, 'transfer', result.outcome);
    return result;
  }
}

const dayOf = (at: number) => {
  const d = beijingDay(at);
  return { dayStart: d.start, dayEnd: d.end };
};
