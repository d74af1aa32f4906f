import { fenToYuan } from '../domain/money.js';
import { formatBeijing } from '../domain/time.js';
import type { OrderRow } from '../db/rows.js';
import { definitionList, escapeHtml, page, STATUS_TEXT } from './html.js';

function summary(order: OrderRow): string {
  const req = JSON.parse(order.request_json) as Record<string, string>;
  return (
    `<div class="amount">¥ ${fenToYuan(order.amount_fen)}</div>` +
    definitionList([
      ['Item', req.subject || req.body || ''],
      ['Merchant order', order.merc_order_no],
      ['Order', order.order_id],
      ['Channel', `${order.payway} · ${order.scene} (sandbox)`],
      ['Expires', formatBeijing(order.expire_at)],
      ['Status', `${order.pay_status} ${STATUS_TEXT[order.pay_status] ?? ''}`],
    ])
  );
}

const isPayoutRow = (order: OrderRow) => order.trade_type === '02' || order.trade_type === '03';

/** A payout as its payee sees it: the payee only masked, as everywhere (CONTRACT §4). */
function payoutSummary(order: OrderRow): string {
  const req = JSON.parse(order.request_json) as Record<string, string>;
  return (
    `<div class="amount">¥ ${fenToYuan(order.amount_fen)}</div>` +
    definitionList([
      ['Remark', req.subject || req.body || ''],
      ['Payee', `${req.payeeAccountType ?? ''} ${req.payeeAccount ?? ''}${req.payeeName ? ` (${req.payeeName})` : ''}`],
      ['Merchant order', order.merc_order_no],
      ['Order', order.order_id],
      ['Channel', `${order.payway} · payout ${order.trade_type} (sandbox)`],
      ['Status', `${order.pay_status} ${STATUS_TEXT[order.pay_status] ?? ''}`],
    ])
  );
}

/**
 * The sandbox payee's page of a payout: a WeChat payee confirms receipt here (as
 * wx.requestMerchantTransfer would); an Alipay or UnionPay payout needs nobody.
 */
export function sandboxPayoutPage(order: OrderRow, waitingForPayee: boolean): string {
  const action = `/sandbox/pay/${order.order_id}`;
  let controls: string;
  if (waitingForPayee && (order.pay_status === 'p0001' || order.pay_status === 'p0002')) {
    controls =
      `<form method="post" action="${action}">` +
      `<button class="pay" name="result" value="success" type="submit">Confirm receipt</button></form>` +
      `<p class="note">Sandbox: no money moves. Confirming sends the gateway the signed result a real channel would.</p>`;
  } else if (order.pay_status === 'p0000') {
    controls = '<p>This payout is paid out.</p>';
  } else if (order.pay_status === 'p0001' || order.pay_status === 'p0002') {
    controls = '<p>The channel pays this payout out by itself; there is nothing for the payee to do.</p>';
  } else {
    controls = '<p class="closed">This payout has ended without being paid out.</p>';
  }
  return page('dtpay sandbox payout', `<h1>dtpay sandbox payout</h1>${payoutSummary(order)}${controls}`);
}

/** The sandbox payment page: what a payer sees after scanning or being redirected. */
export function sandboxPayPage(order: OrderRow): string {
  const action = `/sandbox/pay/${order.order_id}`;
  let controls: string;
  if (order.channel_state === 'refused') {
    controls = '<p>The sandbox channel refused this order, so there is nothing to pay.</p>';
  } else if (order.pay_status === 'p0000') {
    controls = '<p>This order is paid.</p>';
  } else if (order.pay_status === 'p0006') {
    controls = '<p class="expired">This order has expired and can no longer be paid.</p>';
  } else if (order.pay_status === 'p0005') {
    controls = '<p class="closed">The merchant closed this order; it can no longer be paid.</p>';
  } else {
    controls =
      `<form method="post" action="${action}">` +
      `<button class="pay" name="result" value="success" type="submit">Pay</button>` +
      `<button name="result" value="fail" type="submit">Fail</button></form>` +
      `<p class="note">Sandbox: no money moves. Pay or Fail sends the gateway the signed callback a real channel would.</p>`;
  }
  return page('dtpay sandbox payment', `<h1>dtpay sandbox payment</h1>${summary(order)}${controls}`);
}

/** What the payer sees after pressing Pay or Fail. */
export function sandboxResultPage(order: OrderRow): string {
  const back = order.return_url
    ? `<p><a id="return" href="${escapeHtml(order.return_url)}">Back to the merchant</a></p>`
    : '';
  if (isPayoutRow(order)) {
    const done = order.pay_status === 'p0000' ? 'Payout received' : 'Payout not received';
    return page(`dtpay · ${done}`, `<h1>${done}</h1>${payoutSummary(order)}`);
  }
  const headline = order.pay_status === 'p0000' ? 'Payment complete' : 'Payment not completed';
  return page(`dtpay · ${headline}`, `<h1>${headline}</h1>${summary(order)}${back}`);
}
