import { fenToYuan } from '../domain/money.js';
import type { OrderRow } from '../db/rows.js';
import type { PayAnswer } from '../services/create-order.js';
import type { CashierLinks } from '../domain/cashier-links.js';
import { escapeHtml } from './html.js';

// The hosted cashier: a mobile-first page in Chinese showing the order and what the payer does
// next (scan, follow a link, open an app). A small inline script polls GET /cashier/{id}/status?t=
// and, once paid, sends the browser to the signed returnUrl the server computed; nothing secret
// is ever written into the page. No external resources: the QR image is served by the gateway.

const PAYWAY_NAMES: Record<string, string> = { alipay: '支付宝', wxpay: '微信', unionpay: '云闪付' };

/** What the page says for each status: [headline, class]. */
const STATUS_LINES: Record<string, [string, string]> = {
  p0001: ['待支付', 'open'],
  p0002: ['支付中，请在手机上完成支付', 'open'],
  p0000: ['支付成功', 'ok'],
  p0004: ['支付失败', 'bad'],
  p0005: ['订单已关闭，无法支付', 'bad'],
  p0006: ['订单已超时，无法支付', 'bad'],
};

const STYLE = `*{box-sizing:border-box}body{margin:0;background:#f5f6f8;color:#222;
font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif}
main{max-width:26rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:.8rem;padding:1.2rem 1rem;margin-bottom:1rem;box-shadow:0 1px 3px rgba(0,0,0,.06);text-align:center}
.merchant{color:#666;font-size:.95rem;margin:0}.subject{font-size:1.05rem;margin:.4rem 0 0;word-break:break-all}
.amount{font-size:2.2rem;font-weight:600;margin:.4rem 0}.amount small{font-size:1.2rem;margin-right:.15rem}
.countdown{color:#888;font-size:.9rem}.countdown b{color:#e65100;font-variant-numeric:tabular-nums}
.status{font-size:1.05rem;font-weight:600;margin:.2rem 0 .6rem}.status.ok{color:#2e7d32}.status.bad{color:#c62828}.status.open{color:#1677ff}
.qr{width:min(15rem,70vw);height:auto;aspect-ratio:1;display:block;margin:.4rem auto}
.btn{display:block;background:#1677ff;color:#fff;text-decoration:none;border-radius:.5rem;padding:.8rem;font-size:1.05rem;margin:.6rem 0}
.note{color:#666;font-size:.9rem;margin:.4rem 0}.meta{color:#999;font-size:.8rem;word-break:break-all}`;

function nextStep(order: OrderRow, answer: PayAnswer, links: CashierLinks): string {
  const f = answer.fields;
  const way = PAYWAY_NAMES[order.payway] ?? order.payway;
  if (f.imgUrl) {
    return `<img class="qr" alt="支付二维码" width="240" height="240" src="${escapeHtml(f.imgUrl)}">` +
      `<p class="note">请使用${escapeHtml(way)}扫一扫完成支付</p>`;
  }
  if (f.mwebUrl) return `<a class="btn" href="${escapeHtml(f.mwebUrl)}">去${escapeHtml(way)}支付</a>`;
  if (f.resultHtml) return `<a class="btn" href="${escapeHtml(links.formPath(order.order_id))}">前往银行支付</a>`;
  if (f.payInfo) return `<p class="note">请在${escapeHtml(way)}App 内完成支付</p>`;
  if (order.channel_state === 'refused') return '<p class="note">支付渠道拒绝了此订单，无法支付</p>';
  return '';
}

// Polls the status every 1.5 s; counts down from the time left when the page was served (the
// payer's clock may be wrong); on p0000 goes to the signed returnUrl, else says what happened.
const SCRIPT = `(function(){
var root=document.getElementById('cashier');if(!root)return;
var statusUrl=root.getAttribute('data-status-url');var left=Number(root.getAttribute('data-left-ms'));
var t0=Date.now();var st=document.getElementById('status');var step=document.getElementById('step');
var cd=document.getElementById('countdown');var cdv=document.getElementById('countdown-value');
var lines=${JSON.stringify(STATUS_LINES)};var done=false;var timer;
function show(s){var l=lines[s];if(!l)return;st.textContent=l[0];st.className='status '+l[1];}
function finish(){done=true;clearInterval(timer);if(step)step.hidden=true;if(cd)cd.hidden=true;}
function tick(){if(!cdv||done)return;var ms=Math.max(0,left-(Date.now()-t0));var s=Math.floor(ms/1000);
cdv.textContent=String(Math.floor(s/60)).padStart(2,'0')+':'+String(s%60).padStart(2,'0');}
function poll(){if(done)return;fetch(statusUrl,{cache:'no-store',headers:{accept:'application/json'}})
.then(function(r){return r.ok?r.json():null}).then(function(j){if(!j||done)return;show(j.payStatus);
if(typeof j.expireAt==='number'){left=j.expireAt-Date.now();t0=Date.now();}
if(j.payStatus==='p0000'){finish();if(typeof j.returnUrl==='string'&&/^https?:/i.test(j.returnUrl)){
st.textContent='支付成功，正在返回商户…';window.location.replace(j.returnUrl);}}
else if(j.payStatus==='p0004'||j.payStatus==='p0005'||j.payStatus==='p0006'){finish();}
}).catch(function(){});}
tick();setInterval(tick,500);poll();timer=setInterval(poll,1500);
})();`;

/**
 * The hosted cashier page. `merchantName` heads it; `links` make its status and form links (which
 * carry the order's token); `now` is the server's clock, for the time left.
 */
export function cashierPage(
  order: OrderRow,
  answer: PayAnswer,
  view: { merchantName: string; links: CashierLinks; now?: number },
): string {
  const { merchantName, links, now = Date.now() } = view;
  const req = JSON.parse(order.request_json) as Record<string, string>;
  const [headline, cls] = STATUS_LINES[order.pay_status] ?? [order.pay_status, 'open'];
  const open = order.pay_status === 'p0001' || order.pay_status === 'p0002';
  const leftMs = Math.max(0, order.expire_at - now);
  const statusUrl = links.statusPath(order.order_id);
  const body =
    `<main id="cashier" data-status-url="${escapeHtml(statusUrl)}" data-left-ms="${leftMs}">` +
    `<section class="card">` +
    `<p class="merchant" id="merchant">${escapeHtml(merchantName)}</p>` +
    `<p class="subject">${escapeHtml(req.subject || req.body || '')}</p>` +
    `<div class="amount"><small>¥</small>${fenToYuan(order.amount_fen)}</div>` +
    `<p class="countdown" id="countdown"${open ? '' : ' hidden'}>剩余支付时间 <b id="countdown-value">--:--</b></p>` +
    `</section>` +
    `<section class="card">` +
    `<p class="status ${cls}" id="status" role="status" aria-live="polite">${escapeHtml(headline)}</p>` +
    `<div id="step"${open ? '' : ' hidden'}>${open ? nextStep(order, answer, links) : ''}</div>` +
    `</section>` +
    `<p class="meta">订单号 ${escapeHtml(order.order_id)} · 商户订单号 ${escapeHtml(order.merc_order_no)}</p>` +
    `</main>`;
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<meta name="referrer" content="no-referrer"><title>收银台 · ${escapeHtml(merchantName || 'dtpay')}</title>
<style>${STYLE}</style></head><body>${body}<script>${SCRIPT}</script></body></html>`;
}
