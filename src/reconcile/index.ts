/**
 * Reconciliation (对账, CONTRACT §5): proving each day that what a channel billed and what dtpay
 * recorded agree, healing what can be healed, and reporting the rest.
 *
 * This folder is pure: bytes and records in, values out, no I/O, no clock.
 *   bill.ts       the normalized Bill every channel's trade bill becomes (trade, refund and payout
 *                 lines, integer fen, times as epoch ms read in Beijing time), the window a bill
 *                 covers (billWindow), and BillError, the one error a parser throws
 *   bill-text.ts  what the parsers share: zip/gzip/zlib with a size limit, GBK, amounts, times
 *   compare.ts    compareDay(bill, records) → items, counts, totals; billNames(bill)
 * The channels' formats live with their drivers, one file each: channels/alipay/bill.ts
 * (parseAlipayTradeBill), channels/wxpay/bill.ts (readWxTradeBill, verifyWxBillHash,
 * parseWxTradeBill, writeWxTradeBill), channels/unionpay/bill.ts (acpFileContentToZip,
 * parseAcpTradeBill), channels/sandbox/bill.ts (parseSandboxBill, writeSandboxBill, sandboxFeeFen).
 *
 * What each outcome means (one item per trade or refund named on either side; payouts never):
 *   matched             both sides have it done, for the same amount. No action.
 *   healed              the channel has a successful payment (or refund) that dtpay had not
 *                       recorded as such: open, failed, closed or expired (refund processing). The
 *                       item carries `heal`, the change to apply. A refund the bill lists as
 *                       processing while dtpay waits too is matched, not healed.
 *   missing_at_channel  dtpay has it paid (p0000) or refunded (r0000) within the bill's window, the
 *                       bill has no line for it.
 *   amount_mismatch     both name it, the amounts differ: the order's amount against the bill's
 *                       order amount (Alipay/WeChat 订单金额, UnionPay 交易金额), the refund's amount
 *                       against the refund asked for (WeChat 申请退款金额), never the settled amount
 *                       after coupons. Never healed, even for an open order.
 *   unknown_trade       the bill has a trade no dtpay order matches (another system sharing the
 *                       channel account, or an id dtpay never issued), or a refund no dtpay refund
 *                       accounts for (none, or one dtpay recorded as failed, r0004).
 * Totals are the bill's, over its trade and refund lines: tradeFen (successful payments' order
 * amounts), refundFen, feeFen (the net fee: charged on payments less given back on refunds),
 * netFen = trade − refund − fee. Fee and net can be negative on a day of refunds.
 *
 * What services/reconciliation.ts (the run, called by the daily job in services/reconcile-scheduler.ts
 * and by `dtpay reconcile`) wires, per merchant, payway and Beijing date:
 *  1. Download through the driver (HTTP via the channel context, as the other calls):
 *     alipay   alipay.data.dataservice.bill.downloadurl.query {bill_type: trade, bill_date}
 *              → GET bill_download_url at once (valid about 30 s) → parseAlipayTradeBill.
 *              isp.bill_not_exist (and a date not yet billable) is `not_ready`.
 *     wxpay    GET /v3/bill/tradebill?bill_date&bill_type=ALL&tar_type=GZIP → signed GET of
 *              download_url (answered unsigned) → readWxTradeBill with hash_type/hash_value.
 *              STATEMENT_CREATING is `not_ready`; NO_STATEMENT_EXIST is a day without trades:
 *              compare an empty Bill ({ lines: [] }, window billWindow('wxpay', date)).
 *     unionpay file transfer {txnType 76, txnSubType 01, bizType 000000, fileType 00, settleDate MMDD} →
 *              acpFileContentToZip(fileContent) → parseAcpTradeBill. No file yet is `not_ready`.
 *     sandbox  GET /sandbox/api/bill?date= (written with writeSandboxBill: the magic amounts 0.95
 *              leave the trade out, 0.96 bill one fen more, 0.97 bill a payment whose callback was
 *              lost; fee sandboxFeeFen) → parseSandboxBill.
 *     A BillError is a run with status `failed` and `error` = its message. `archive` and `hash` may
 *     be a transfer broken on the way: download again a few times before failing the run; the
 *     other codes (layout, line, summary, day) fail the same way every time.
 *  2. Read dtpay's records: the merchant's payment orders (tradeType 01, this payway) and refunds
 *     that ended inside billWindow(source, date) (by tradeEndTime / refundEndTime, Beijing;
 *     UnionPay's clearing day runs 23:00 to 23:00), plus every order and refund billNames(bill)
 *     names, of this merchant and payway, whatever their state or day. Then compareDay.
 *  3. Apply each `heal` through the existing conditional change, one by one, each in the same
 *     transaction as its outbox row: a trade as `channel_paid` from heal.fromStatus with
 *     tradeEndTime = heal.paidAt and channelTradeNo (the transition flags latePayment when
 *     heal.late, and notifies); a refund as the refund's own end (r0001 → r0000, refundEndTime =
 *     heal.refundedAt, notified). A change that finds the record moved on (a callback won the race)
 *     changes nothing: that is fine, and why healing is idempotent — the next run sees it matched.
 *  4. Store the fee of every matched and healed trade item on its order (item.feeFen; refund
 *     items carry the fee given back), the run (replacing the same merchant/payway/date), and one
 *     alert per item that is neither matched nor healed, keyed by date, payway, kind and id, so a
 *     re-run raises none twice.
 *  5. Report per CONTRACT §5: items without the matched ones; fen as yuan strings with two
 *     decimals (signed where negative); fields absent where they do not apply (channelAmt for
 *     missing_at_channel, localAmt and orderId for unknown_trade, refundId for trade lines).
 *
 * Known limits, so nobody mistakes them for bugs: a record whose tradeEndTime dtpay had to take
 * from its own clock (the channel gave none) can fall on the other side of midnight from the
 * channel's line, and then shows as missing_at_channel on its own day while the next day's bill
 * matches it; WeChat bills a refund on the day it was taken, not the day it ended; channel trade
 * numbers are carried, not compared; the Alipay 业务明细(汇总) file and the UnionPay ZME file are
 * not read.
 */

export { beijingDay, billWindow, BillError, unionpayClearingDay, type Bill, type BillErrorCode, type BillLine, type BillSource, type BillWindow, type PayoutLine, type RefundLine, type TradeLine } from './bill.js';
export { billNames, compareDay, OUTCOMES, type CompareItem, type CompareResult, type CompareTotals, type Heal, type LocalOrder, type LocalRecords, type LocalRefund, type Outcome } from './compare.js';
