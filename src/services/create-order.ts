import { ApiError, RESP, SUCCESS_DESC, type RespCode } from '../errors.js';
import { fenToYuan, yuanToFen } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import { PAY_STATUS, type PayStatus } from '../domain/order-states.js';
import { nextCheckAt } from '../domain/check-schedule.js';
import { SCENE_MATRIX } from '../channels/matrix.js';
import type { ChannelDriver, CreateResult, PayAction, PaymentInput } from '../channels/types.js';
import type { MerchantRow, OrderRow, ChannelState } from '../db/rows.js';
import type { PayRequest } from '../api/pay-schema.js';
import type { Services } from './context.js';
import { channelCallMetric } from '../metrics.js';
import { refuseUncontactableNotifyUrl } from './notify-target.js';
import type { CashierLinks } from '../domain/cashier-links.js';
import { differingFields, requestDigest } from './same-request.js';
import { callerList, callerText } from '../domain/caller-text.js';

/** The answer to a unified order: the unsigned fields, which the HTTP layer signs. */
export interface PayAnswer {
  respCode: RespCode;
  respDesc: string;
  fields: Record<string, string>;
}

/**
 * Where a channel reports to. A live merchant's callbacks carry its number, so that the gateway
 * knows whose credentials verify them (a WeChat Pay notification cannot even be read without them).
 */
export function callbackUrl(publicBaseUrl: string, driverName: string, merchant?: Pick<MerchantRow, 'mode' | 'merc_no'>): string {
  const base = `${publicBaseUrl}/channel/${driverName}/notify`;
  return merchant?.mode === 'live' ? `${base}/${merchant.merc_no}` : base;
}

function actionFields(action: PayAction, links: CashierLinks, orderId: string): Record<string, string> {
  switch (action.kind) {
    case 'qrCode':
      return { codeUrl: action.content, imgUrl: links.qrImageUrl(orderId) };
    case 'redirect':
      return { mwebUrl: action.url };
    case 'form':
      return { resultHtml: action.html };
    case 'sdkParams':
      return { payInfo: action.payInfo };
  }
}

function withTimeout(p: Promise<CreateResult>, ms: number, controller: AbortController): Promise<CreateResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CreateResult>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ outcome: 'unknown', reason: `no answer within ${ms} ms` });
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}


type Fields = Record<string, string | undefined>;

/** The request an order was made from, as stored (every field but the signature). */
const storedRequest = (row: OrderRow): Fields => JSON.parse(row.request_json) as Fields;

/**
 * The unified order. Idempotent on (mercNo, mercOrderNo): concurrent identical requests in this
 * process share one creation; a request whose order is already stored gets the stored answer.
 * The order is committed durably before the answer is returned.
 */
export class OrderCreator {
  private readonly once = new OncePerKey();

  constructor(private readonly s: Services) {}

  async create(merchant: MerchantRow, req: PayRequest): Promise<PayAnswer> {
    const route = this.s.registry.resolve(merchant.mode, req.paywayCode, req.sceneCode);
    const configured = await this.s.configuredPayways(merchant);
    if (!route.ok || !configured.has(route.payway)) {
      const supported = this.s.registry.supported(merchant.mode).filter((cell) => configured.has(cell.split('.')[0]!));
      const list = supported.length ? supported.join(', ') : 'none configured';
      throw new ApiError(
        RESP.UNSUPPORTED,
        `${req.paywayCode}.${req.sceneCode} is not supported for this ${merchant.mode} merchant; supported: ${list}`,
      );
    }
    return this.once.run(`${merchant.merc_no}\u0000${req.mercOrderNo}`, req, async () => {
      const stored = await this.s.reads.orderByMercNo(merchant.merc_no, req.mercOrderNo);
      if (stored) return { replayOf: storedRequest(stored), answer: storedAnswer(stored) };
      refuseUncontactableNotifyUrl(this.s, merchant, req.notifyUrl);
      return { answer: await this.createNew(merchant, req, route.driver) };
    });
  }


  private async createNew(
    merchant: MerchantRow,
    req: PayRequest,
    driver: ChannelDriver<any>,
  ): Promise<PayAnswer> {
    const { config, ids, now } = this.s;
    const orderId = ids.next();
    const createdAt = now();
    const expireAt = createdAt + Number(req.orderPeriod) * 60_000;
    const amountFen = yuanToFen(req.tradeAmt);
    const cashierUrl = this.s.links.cashierUrl(orderId);
    const input: PaymentInput = {
      orderId,
      payway: req.paywayCode,
      scene: req.sceneCode,
      amountFen,
      subject: req.subject ?? '',
      body: req.body ?? '',
      ip: req.ip,
      termType: req.termType,
      createdAt,
      expireAt,
      callbackUrl: callbackUrl(config.PUBLIC_BASE_URL, driver.name, merchant),
      returnUrl: req.returnUrl || undefined,
      cashierUrl,
      openId: req.openId || undefined,
      deviceInfo: req.deviceInfo || undefined,
      mchAppName: req.mchAppName || undefined,
      mchAppId: req.mchAppId || undefined,
      bankCode: req.bankCode || undefined,
      payType: req.payType || (req.sceneCode === 'ebank' ? '1' : undefined),
      attach: req.attach || undefined,
    };
    const result = await this.callChannel(input, driver, merchant);

    let payStatus: PayStatus = PAY_STATUS.SUBMITTED;
    let channelState: ChannelState;
    let respCode: RespCode = RESP.OK;
    let respDesc = SUCCESS_DESC;
    let extra: Record<string, string> = {};
    switch (result.outcome) {
      case 'accepted':
        channelState = 'accepted';
        extra = actionFields(result.action, this.s.links, orderId);
        break;
      case 'refused':
        channelState = 'refused';
        payStatus = PAY_STATUS.FAILED;
        respCode = RESP.CHANNEL_REFUSED;
        respDesc = `the channel refused the order: ${result.code} ${result.message}`;
        break;
      case 'unreached':
        // Nothing reached the channel even after a retry, so nothing can be paid: a final failure.
        channelState = 'refused';
        payStatus = PAY_STATUS.FAILED;
        respCode = RESP.CHANNEL_REFUSED;
        respDesc = `the channel could not be reached: ${result.reason}`;
        break;
      case 'unknown':
        channelState = 'unknown';
        respCode = RESP.CHANNEL_TIMEOUT;
        respDesc = `the channel did not answer in time (${result.reason}); query the order later, do not send it again`;
        break;
    }

    const fields: Record<string, string> = {
      ...answerHead(req, orderId, amountFen),
      ...extra,
      payStatus,
      expireTime: formatBeijing(expireAt),
      cashierUrl,
    };
    const answer: PayAnswer = { respCode, respDesc, fields };
    const { signature: _sig, ...requestFields } = req;
    const row: OrderRow = {
      order_id: orderId,
      merc_no: merchant.merc_no,
      merc_order_no: req.mercOrderNo,
      request_hash: requestDigest(req),
      payway: req.paywayCode,
      scene: req.sceneCode,
      trade_type: req.tradeType,
      amount_fen: amountFen,
      fee_type: req.feeType || 'CNY',
      trade_time: req.tradeTime,
      order_period: Number(req.orderPeriod),
      term_type: req.termType,
      notify_url: req.notifyUrl,
      return_url: req.returnUrl || null,
      request_json: JSON.stringify(requestFields),
      pay_status: payStatus,
      channel_state: channelState,
      channel_trade_no: result.outcome === 'accepted' ? (result.channelTradeNo ?? null) : null,
      channel_code: result.outcome === 'refused' ? result.code : null,
      channel_msg: result.outcome === 'refused' ? result.message : result.outcome === 'accepted' ? null : result.reason,
      response_json: JSON.stringify(answer),
      created_at: createdAt,
      expire_at: expireAt,
      trade_end_time: null,
      bank_type: null,
      late_payment: 0,
      updated_at: createdAt,
      // An open order is asked about soon, so a lost callback or an unknown outcome heals itself.
      next_check_at: payStatus === PAY_STATUS.SUBMITTED ? (nextCheckAt(0, createdAt, expireAt) ?? null) : null,
      checks: 0,
    };
    const inserted = await this.s.writer.run('insertOrder', row);
    if (!inserted) {
      // Another instance on the same database stored this mercOrderNo first.
      const stored = (await this.s.reads.orderByMercNo(merchant.merc_no, req.mercOrderNo))!;
      return replayAnswer(storedRequest(stored), req, storedAnswer(stored));
    }
    return answer;
  }

  private async callChannel(
    input: PaymentInput,
    driver: ChannelDriver<any>,
    merchant: MerchantRow,
  ): Promise<CreateResult> {
    const credentials = await this.s.credentialsFor(merchant, driver.name);
    let result: CreateResult = { outcome: 'unreached', reason: 'not attempted' };
    // A call that never reached the channel is safe to repeat once; anything else is not.
    for (let attempt = 0; attempt < 2; attempt++) {
      const controller = new AbortController();
      const ctx = this.s.channelContext(controller.signal);
      try {
        result = await withTimeout(driver.createPayment(input, credentials, ctx), this.s.config.CHANNEL_TIMEOUT_MS, controller);
      } catch (err) {
        this.s.log.error({ err, orderId: input.orderId }, 'channel driver threw; treating the outcome as unknown');
        result = { outcome: 'unknown', reason: 'the channel driver failed' };
      }
      if (result.outcome !== 'unreached') break;
    }
    channelCallMetric(this.s, input.payway, input.scene, 'create', result.outcome);
    if (result.outcome === 'accepted' && !SCENE_MATRIX[input.payway][input.scene]) {
      throw new Error(`driver answered for a cell outside the matrix: ${input.payway}.${input.scene}`);
    }
    return result;
  }
}

/** The answer given when the order was created, with the order's current status. */
export function storedAnswer(row: OrderRow): PayAnswer {
  const answer = JSON.parse(row.response_json) as PayAnswer;
  answer.fields.payStatus = row.pay_status;
  return answer;
}

/** The first request's answer to the same request again (payment or payout); 100004 naming what differs to another. */
/** What the first of identical requests came to: its own answer, or a replay of a stored one. */
export interface FirstOutcome {
  /** the stored request this answer replays; absent when the answer is a creation of this request's own */
  replayOf?: Fields;
  answer: PayAnswer;
}

/**
 * Identical requests in this process share one creation (CONTRACT §2.3): the first to arrive claims
 * its key before it awaits anything, even the look for a stored order, and every request arriving
 * before the first one ends is answered from what it came to. Claiming after the look would leave a
 * gap: a look answered late (a database over the network) could miss an order committed meanwhile,
 * and the channel would be asked a second time.
 */
export class OncePerKey {
  private readonly running = new Map<string, { request: Fields & { mercOrderNo: string }; outcome: Promise<FirstOutcome> }>();

  async run(key: string, req: Fields & { mercOrderNo: string }, first: () => Promise<FirstOutcome>): Promise<PayAnswer> {
    const running = this.running.get(key);
    if (running) {
      const o = await running.outcome;
      return replayAnswer(o.replayOf ?? running.request, req, o.answer);
    }
    const outcome = first();
    this.running.set(key, { request: req, outcome });
    try {
      const o = await outcome;
      return o.replayOf ? replayAnswer(o.replayOf, req, o.answer) : o.answer;
    } finally {
      this.running.delete(key);
    }
  }
}

export function replayAnswer(first: Fields, again: Fields & { mercOrderNo: string }, answer: PayAnswer): PayAnswer {
  const differ = differingFields(first, again);
  if (differ.length) {
    throw new ApiError(
      RESP.DUPLICATE,
      `mercOrderNo ${callerText(again.mercOrderNo)} was already used with different parameters: ${callerList(differ)} ${differ.length > 1 ? 'differ' : 'differs'} from the first request`,
    );
  }
  return answer;
}

/** The fields every unified-order answer (payment or payout) begins with. */
export function answerHead(
  req: { mercOrderNo: string; tradeType: string; tradeTime: string; feeType?: string; termType: string },
  orderId: string,
  amountFen: bigint,
): Record<string, string> {
  return {
    mercOrderNo: req.mercOrderNo,
    orderId,
    tradeType: req.tradeType,
    tradeAmt: fenToYuan(amountFen),
    tradeTime: req.tradeTime,
    feeType: req.feeType || 'CNY',
    termType: req.termType,
  };
}
