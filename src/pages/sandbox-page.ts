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
  const headline = order.pay_status === 'p0000' ? 'Payment complete' : 'Payment not completed';
  return page(`dtpay · ${headline}`, `<h1>${headline}</h1>${summary(order)}${back}`);
}
