import { fenToYuan } from '../domain/money.js';
import type { OrderRow } from '../db/rows.js';
import type { PayAnswer } from '../services/create-order.js';
import { definitionList, escapeHtml, page, STATUS_TEXT } from './html.js';

/** The hosted cashier: the order and what the payer does next (scan, follow a link, open an app). */
export function cashierPage(order: OrderRow, answer: PayAnswer): string {
  const f = answer.fields;
  const req = JSON.parse(order.request_json) as Record<string, string>;
  let next = '';
  if (order.pay_status === 'p0000') next = '<p>This order is paid.</p>';
  else if (f.imgUrl) next = `<p>Scan to pay:</p><img alt="payment QR code" width="240" height="240" src="${escapeHtml(f.imgUrl)}">`;
  else if (f.mwebUrl) next = `<p><a href="${escapeHtml(f.mwebUrl)}">Continue to pay</a></p>`;
  else if (f.resultHtml) next = `<p><a href="${escapeHtml(`/cashier/${order.order_id}/form`)}">Continue to the bank</a></p>`;
  else if (f.payInfo) next = `<p>Open the ${escapeHtml(order.payway)} app to pay.</p>`;
  return page(
    'dtpay cashier',
    `<h1>Pay ${escapeHtml(req.subject || req.body || '')}</h1><div class="amount">¥ ${fenToYuan(order.amount_fen)}</div>` +
      definitionList([
        ['Order', order.order_id],
        ['Status', `${order.pay_status} ${STATUS_TEXT[order.pay_status] ?? ''}`],
      ]) +
      next,
  );
}
