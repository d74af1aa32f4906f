import { createHmac, randomBytes } from 'node:crypto';
import type { PayAction, PaymentInput } from '../types.js';
import { SCENE_MATRIX } from '../matrix.js';
import { formatBeijing } from '../../domain/time.js';
import { fenToYuan } from '../../domain/money.js';
import { escapeHtml } from '../../domain/escape-html.js';

// What the sandbox hands the payer, cell by cell, in the same shape the live channel would:
// a QR payload, a redirect URL, an auto-submitting form, or the parameters an SDK consumes.
// Every road leads to the sandbox payment page.

export function sandboxPayUrl(publicBaseUrl: string, orderId: string): string {
  return `${publicBaseUrl}/sandbox/pay/${orderId}`;
}

function autoSubmitForm(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return (
    `<form id="dtpaysubmit" name="dtpaysubmit" action="${escapeHtml(action)}" method="get">${inputs}` +
    `<input type="submit" value="Pay" style="display:none"></form>` +
    `<script>document.forms['dtpaysubmit'].submit();</script>`
  );
}

const nonce = () => randomBytes(16).toString('hex');
const sandboxSign = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('hex').toUpperCase();

export function sandboxAction(
  input: PaymentInput,
  secret: string,
  publicBaseUrl: string,
  channelTradeNo: string,
): PayAction {
  const url = sandboxPayUrl(publicBaseUrl, input.orderId);
  const field = SCENE_MATRIX[input.payway][input.scene];
  const ts = Math.floor(input.createdAt / 1000).toString();
  switch (field) {
    case 'codeUrl':
      return { kind: 'qrCode', content: url };
    case 'mwebUrl':
      return { kind: 'redirect', url };
    case 'resultHtml':
      return { kind: 'form', html: autoSubmitForm(url, { channel: `${input.payway}.${input.scene}` }) };
    case 'payInfo':
      break;
    default:
      throw new Error(`sandbox: ${input.payway}.${input.scene} is not a cell of the matrix`);
  }
  if (input.payway === 'alipay' && input.scene === 'app') {
    // An Alipay app order string: URL-encoded, signed parameters for the Alipay SDK.
    const params: Record<string, string> = {
      app_id: 'sandbox',
      biz_content: JSON.stringify({
        out_trade_no: input.orderId,
        total_amount: fenToYuan(input.amountFen),
        subject: input.subject || input.body,
        product_code: 'QUICK_MSECURITY_PAY',
      }),
      charset: 'utf-8',
      method: 'alipay.trade.app.pay',
      notify_url: input.callbackUrl,
      sign_type: 'RSA2',
      timestamp: formatBeijing(input.createdAt).replace(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/, '$1-$2-$3 $4:$5:$6'),
      version: '1.0',
    };
    const text = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
    params.sign = sandboxSign(secret, text);
    return { kind: 'sdkParams', payInfo: new URLSearchParams(params).toString() };
  }
  if (input.payway === 'alipay' && input.scene === 'jspay') {
    return { kind: 'sdkParams', payInfo: channelTradeNo }; // tradePay({ tradeNO })
  }
  if (input.payway === 'wxpay' && input.scene === 'app') {
    const p = { appid: 'wxsandbox', partnerid: 'sandbox', prepayid: `wx${channelTradeNo}`, package: 'Sign=WXPay', noncestr: nonce(), timestamp: ts };
    return { kind: 'sdkParams', payInfo: JSON.stringify({ ...p, sign: sandboxSign(secret, Object.values(p).join('\n')) }) };
  }
  if (input.payway === 'wxpay' && input.scene === 'jspay') {
    const p = { appId: 'wxsandbox', timeStamp: ts, nonceStr: nonce(), package: `prepay_id=wx${channelTradeNo}`, signType: 'RSA' };
    return { kind: 'sdkParams', payInfo: JSON.stringify({ ...p, paySign: sandboxSign(secret, Object.values(p).join('\n')) }) };
  }
  // UnionPay app: the transaction number (tn) the UnionPay SDK starts from.
  return { kind: 'sdkParams', payInfo: channelTradeNo.slice(-21) };
}
