import { isPayout } from './payouts.js';
import type { RefundQueryResult, RefundResult } from '../channels/types.js';
import { ApiError, RESP, SUCCESS_DESC, type RespCode } from '../errors.js';
import { fenToYuan, yuanToFen } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import { nextRefundCheckAt } from '../domain/refund-states.js';
import { UNASKED_REFUND, type SettleRefundArgs } from '../db/refund-ops.js';
import type { MerchantRow, OrderRow, RefundRow } from '../db/rows.js';
import { callChannel, driverFor } from './channel-call.js';
import { callbackUrl } from './create-order.js';
import type { Services } from './context.js';
import { refuseUncontactableNotifyUrl } from './notify-target.js';
import { differingFields, requestDigest } from './same-request.js';
import { callerList, callerText } from '../domain/caller-text.js';

export interface RefundRequest {
  mercRefundNo: string;
  refundAmt: string;
  refundReason?: string;
  notifyUrl?: string;
  [k: string]: string | undefined;
}

export interface RefundAnswer {
  respCode: RespCode;
  respDesc: string;
  refund: RefundRow;
}

// A refund names its order by orderId or by mercOrderNo: either way it is a refund of that order.
const asked = (req: Record<string, string | undefined>, orderId: string) => ({ ...req, orderId, mercOrderNo: undefined });

/** Ends a refund and tells the dispatcher of its notification. */
export async function settleRefund(s: Services, args: SettleRefundArgs): Promise<boolean> {
  const r = await s.writer.run('settleRefund', args);
  if (r.changed) {
    s.log.info({ refundId: args.refundId, status: args.status }, 'refund ended');
    s.notifier.queued(r.notification);
  }
  return r.changed;
}

/**
 * POST /api/refund. The refund is stored (and its amount reserved) before the channel is asked,
 * so concurrent refunds cannot exceed what was paid; idempotent on (mercNo, mercRefundNo).
 */
export async function createRefund(
  s: Services,
  merchant: MerchantRow,
  order: OrderRow,
  req: RefundRequest,
): Promise<RefundAnswer> {
  if (isPayout(order)) {
    throw new ApiError(RESP.STATE_CONFLICT, `order ${order.order_id} is a payout (tradeType ${order.trade_type}); a payout cannot be refunded`);
  }
  const request = asked(req, order.order_id);
  const replay = (stored: RefundRow): RefundAnswer => {
    const differ = differingFields(asked(JSON.parse(stored.request_json), stored.order_id), request);
    if (differ.length) {
      throw new ApiError(
        RESP.DUPLICATE,
        `mercRefundNo ${callerText(req.mercRefundNo)} was already used with different parameters: ${callerList(differ)} ${differ.length > 1 ? 'differ' : 'differs'} from the first request`,
      );
    }
    return answerFor(stored);
  };
  const existing = await s.reads.refundByMercNo(merchant.merc_no, req.mercRefundNo);
  if (existing) return replay(existing);
  refuseUncontactableNotifyUrl(s, merchant, req.notifyUrl);

  const now = s.now();
  const { signature: _sig, ...fields } = req;
  const row: RefundRow = {
    refund_id: s.ids.next(),
    order_id: order.order_id,
    merc_no: merchant.merc_no,
    merc_refund_no: req.mercRefundNo,
    request_hash: requestDigest(request),
    request_json: JSON.stringify(fields),
    amount_fen: yuanToFen(req.refundAmt),
    reason: req.refundReason || null,
    notify_url: req.notifyUrl || null,
    ...UNASKED_REFUND,
    created_at: now,
    updated_at: now,
    next_check_at: nextRefundCheckAt(0, now),
    checks: 0,
  };
  const inserted = await s.writer.run('insertRefund', row);
  if (!inserted.ok) {
    if (inserted.reason === 'duplicate') return replay((await s.reads.refundByMercNo(merchant.merc_no, req.mercRefundNo))!);
    if (inserted.reason === 'state') {
      throw new ApiError(RESP.STATE_CONFLICT, `only a paid order can be refunded; order ${order.order_id} is ${inserted.payStatus}`);
    }
    throw new ApiError(
      RESP.STATE_CONFLICT,
      `refundAmt ${req.refundAmt} exceeds what is left to refund of order ${order.order_id}: ${fenToYuan(inserted.refundableFen)}`,
    );
  }

  const channel = await driverFor(s, order);
  let result: RefundResult = { outcome: 'unreached', reason: 'no channel serves this order any more' };
  if (channel) {
    const input = {
      orderId: order.order_id,
      channelTradeNo: order.channel_trade_no ?? undefined,
      refundId: row.refund_id,
      totalFen: order.amount_fen,
      refundFen: row.amount_fen,
      reason: row.reason ?? undefined,
      callbackUrl: callbackUrl(s.config.PUBLIC_BASE_URL, channel.driver.name, merchant),
    };
    // A request that never reached the channel is safe to repeat once; anything else is not.
    for (let attempt = 0; attempt < 2; attempt++) {
      result = await callChannel<RefundResult>(s, (ctx) => channel.driver.refund(input, channel.credentials, ctx));
      if (result.outcome !== 'unreached') break;
    }
  }
  const at = s.now();
  switch (result.outcome) {
    case 'accepted':
      await s.writer.run('refundChannelAnswer', { refundId: row.refund_id, state: 'accepted', channelRefundNo: result.channelRefundNo, at });
      break;
    case 'succeeded':
      await settleRefund(s, { refundId: row.refund_id, status: 'r0000', at, refundEndTime: result.refundedAt ?? formatBeijing(at), channelRefundNo: result.channelRefundNo });
      break;
    case 'refused':
      await settleRefund(s, { refundId: row.refund_id, status: 'r0004', at, refundEndTime: formatBeijing(at), code: result.code, message: result.message });
      break;
    case 'unreached':
      // Nothing reached the channel: no money moved, and the reservation is released.
      await settleRefund(s, { refundId: row.refund_id, status: 'r0004', at, refundEndTime: formatBeijing(at), code: 'UNREACHED', message: result.reason });
      break;
    case 'unknown':
      await s.writer.run('refundChannelAnswer', { refundId: row.refund_id, state: 'unknown', at });
      break;
  }
  return answerFor((await s.reads.refund(row.refund_id))!, result);
}

/** The answer for a refund as stored; the first answer also says how the channel took it. */
function answerFor(refund: RefundRow, result?: RefundResult): RefundAnswer {
  if (refund.refund_status === 'r0004') {
    const why = result?.outcome === 'unreached' ? 'the channel could not be reached' : 'the channel refused the refund';
    return { respCode: RESP.CHANNEL_REFUSED, respDesc: `${why}: ${refund.channel_code ?? ''} ${refund.channel_msg ?? ''}`.trim(), refund };
  }
  if (refund.refund_status === 'r0001' && refund.channel_state === 'unknown') {
    return {
      respCode: RESP.CHANNEL_TIMEOUT,
      respDesc: 'the channel did not answer in time; the refund is processing and is settled by querying the channel, do not send it again under another mercRefundNo',
      refund,
    };
  }
  return { respCode: RESP.OK, respDesc: SUCCESS_DESC, refund };
}

/** Asks the channel where a processing refund stands and applies the answer. */
export async function reconcileRefund(s: Services, refund: RefundRow): Promise<RefundRow> {
  if (refund.refund_status !== 'r0001') return refund;
  const order = await s.reads.order(refund.order_id);
  const channel = order && (await driverFor(s, order));
  if (!order || !channel) return refund;
  const ref = { orderId: order.order_id, channelTradeNo: order.channel_trade_no ?? undefined, refundId: refund.refund_id };
  const r = await callChannel<RefundQueryResult>(s, (ctx) => channel.driver.queryRefund(ref, channel.credentials, ctx));
  const at = s.now();
  if (r.outcome === 'succeeded') {
    await settleRefund(s, { refundId: refund.refund_id, status: 'r0000', at, refundEndTime: r.refundedAt ?? formatBeijing(at), channelRefundNo: r.channelRefundNo });
  } else if (r.outcome === 'failed') {
    await settleRefund(s, { refundId: refund.refund_id, status: 'r0004', at, refundEndTime: formatBeijing(at), code: r.code, message: r.message });
  } else if (r.outcome === 'processing' && refund.channel_state !== 'accepted') {
    await s.writer.run('refundChannelAnswer', { refundId: refund.refund_id, state: 'accepted', at });
  } else if (r.outcome === 'not_found' && refund.channel_state !== 'accepted' && at - refund.created_at > 2 * s.config.CHANNEL_TIMEOUT_MS) {
    // The request whose answer never came did not reach the channel after all: no money moved.
    await settleRefund(s, { refundId: refund.refund_id, status: 'r0004', at, refundEndTime: formatBeijing(at), code: 'NOT_FOUND', message: 'the channel has no such refund' });
  }
  return (await s.reads.refund(refund.refund_id)) ?? refund;
}

/** A refund as the merchant sees it. */
export async function refundView(s: Services, refund: RefundRow): Promise<Record<string, string>> {
  const order = (await s.reads.order(refund.order_id))!;
  const latest = refund.notify_url ? await s.reads.latestRefundNotification(refund.refund_id) : undefined;
  const notification = latest?.status === 'superseded' ? undefined : latest;
  return {
    mercOrderNo: order.merc_order_no,
    orderId: order.order_id,
    mercRefundNo: refund.merc_refund_no,
    refundId: refund.refund_id,
    tradeAmt: fenToYuan(order.amount_fen),
    refundAmt: fenToYuan(refund.amount_fen),
    refundStatus: refund.refund_status,
    refundEndTime: refund.refund_end_time ?? '',
    refundReason: refund.reason ?? '',
    refundedAmt: fenToYuan(await s.reads.refundedFen(order.order_id)),
    notifyStatus: notification?.status ?? '',
    notifyAttempts: notification ? String(notification.attempts) : '',
  };
}
