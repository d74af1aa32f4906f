import type { AlipayCredentials } from '../credentials.js';
import type { BillDownloadResult, ChannelContext, HttpRequest, HttpResponse } from '../types.js';
import { neverConnected } from '../net-errors.js';
import { HttpBodyTooLarge } from '../http-body.js';
import { beijingDay, BillError, isBillDate } from '../../reconcile/bill.js';
import { MAX_BILL_BYTES } from '../../reconcile/bill-text.js';
import { parseAlipayTradeBill } from './bill.js';
import { call, isCertNotBelieved } from './client.js';

// A day's trade bill from Alipay (CONTRACT §5): alipay.data.dataservice.bill.downloadurl.query
// {bill_type: trade, bill_date} → bill_download_url (valid about 30 s) → GET at once → a zip of GBK
// CSV files → parseAlipayTradeBill. The query is signed and its answer verified as every other
// call; the download itself is unsigned (the URL Alipay signed is what vouches for it).
//
//   isp.bill_not_exist, or a date Alipay does not bill yet (T+1)   not_ready
//   a zip that cannot be read (archive)                            asked and downloaded again, then failed
//   any other BillError, a refusal, an answer not believed         failed
//   no connection, a timeout, an HTTP error page                   unreached

const METHOD = 'alipay.data.dataservice.bill.downloadurl.query';
const SUCCESS = '10000';
/** A transfer broken on the way is worth a new URL and a new download; a bad file is not. */
const ATTEMPTS = 3;

type Step<T> = { ok: true; value: T } | { ok: false; result: BillDownloadResult };

const stop = (result: BillDownloadResult): { ok: false; result: BillDownloadResult } => ({ ok: false, result });

async function send(ctx: ChannelContext, req: HttpRequest, what: string): Promise<Step<HttpResponse>> {
  if (!ctx.http) return stop({ outcome: 'unreached', reason: 'no HTTP transport for the Alipay channel' });
  try {
    return { ok: true, value: await ctx.http(req) };
  } catch (err) {
    if (err instanceof HttpBodyTooLarge) return stop({ outcome: 'failed', error: `alipay trade bill: ${what}: ${err.message}` });
    // A read-only call: whether it reached Alipay or not, asking again later is all there is to do.
    const how = neverConnected(err) ? 'not reached' : 'no answer';
    return stop({ outcome: 'unreached', reason: `${what}: ${how} (${(err as Error)?.message ?? String(err)})` });
  }
}

/** The query, its answer verified as every call's (in 公钥证书 mode too): the download URL, or what the answer means. */
async function downloadUrl(date: string, c: AlipayCredentials, ctx: ChannelContext): Promise<Step<string>> {
  const answer = await call(METHOD, { bill_type: 'trade', bill_date: date }, c, ctx);
  if (!answer.ok) {
    // A read-only call: asking again later is all there is to do, unless the answer was not believed.
    // A URL is only followed when Alipay signed it: a forged bill would heal payments nobody made.
    const untrusted = isCertNotBelieved(answer.reason) || /does not verify|without a signature/.test(answer.reason);
    if (untrusted) return stop({ outcome: 'failed', error: answer.reason });
    return stop({ outcome: 'unreached', reason: `${answer.outcome === 'unreached' ? 'not reached' : 'no answer'}: ${answer.reason}` });
  }
  const { data: d, signed } = answer;
  const refusal = `${String(d.sub_code ?? d.code ?? '')} ${String(d.sub_msg ?? d.msg ?? '')}`.trim();
  if (d.code === SUCCESS) {
    // A URL is only followed when Alipay signed it: a forged bill would heal payments nobody made.
    if (!signed) return stop({ outcome: 'failed', error: `${METHOD}: a success without a signature` });
    const url = d.bill_download_url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return stop({ outcome: 'failed', error: `${METHOD}: no bill_download_url` });
    return { ok: true, value: url };
  }
  if (d.sub_code === 'isp.bill_not_exist') return stop({ outcome: 'not_ready', reason: `${METHOD}: ${refusal}` });
  // Alipay bills T+1: today (and a later day) is refused as an invalid argument until it is billable.
  if (/invalid[-_]arguments?$/i.test(String(d.sub_code ?? '')) && !billable(date, ctx.now())) {
    return stop({ outcome: 'not_ready', reason: `${METHOD}: ${date} is not billed yet (${refusal})` });
  }
  if (d.code === '20000' || d.code === '20001') return stop({ outcome: 'unreached', reason: `${METHOD}: ${refusal}` });
  return stop({ outcome: 'failed', error: `${METHOD}: ${refusal} (${String(d.code ?? '')})${signed ? '' : ', unsigned'}` });
}

/** Whether the Beijing day `date` is over at `nowMs`. */
const billable = (date: string, nowMs: number) => beijingDay(date).toMs <= nowMs;

export async function downloadAlipayBill(date: string, c: AlipayCredentials, ctx: ChannelContext): Promise<BillDownloadResult> {
  if (!isBillDate(date)) return { outcome: 'failed', error: `alipay trade bill: ${JSON.stringify(date)} is not a YYYY-MM-DD date` };
  let last: BillError | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    // The URL lasts about 30 s: a fresh one for every download.
    const url = await downloadUrl(date, c, ctx);
    if (!url.ok) return url.result;
    const got = await send(ctx, { method: 'GET', url: url.value, headers: { accept: '*/*' }, responseType: 'bytes', maxBytes: MAX_BILL_BYTES }, 'bill download');
    if (!got.ok) return got.result;
    const res = got.value;
    if (res.status !== 200 || !res.bytes) return { outcome: 'unreached', reason: `alipay bill download: HTTP ${res.status}` };
    try {
      return { outcome: 'bill', bill: parseAlipayTradeBill(res.bytes, { billDate: date }) };
    } catch (err) {
      if (!(err instanceof BillError)) throw err;
      last = err;
      if (err.code !== 'archive') break;
    }
  }
  return { outcome: 'failed', error: last!.message };
}
