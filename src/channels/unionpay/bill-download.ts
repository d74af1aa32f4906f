import type { UnionpayCredentials } from '../credentials.js';
import type { BillDownloadResult, ChannelContext, HttpResponse } from '../types.js';
import { neverConnected } from '../net-errors.js';
import { HttpBodyTooLarge } from '../http-body.js';
import { BillError, isBillDate } from '../../reconcile/bill.js';
import { MAX_BILL_BYTES } from '../../reconcile/bill-text.js';
import { acpFileContentToZip, parseAcpTradeBill } from './bill.js';
import { checkSignerCert } from './certs.js';
import { verifyFields } from './sign.js';
import { beijing, commonFields, parseAnswer, serverRequest, signed, type Fields } from './wire.js';

// A clearing day's trade file from UnionPay (CONTRACT §5): ACP file transfer (fileTransRequest,
// txnType 76, txnSubType 01, bizType 000000, fileType 00, settleDate MMDD), signed as every ACP
// request; the answer is signed by UnionPay (its certificate checked against the configured CAs,
// as every answer) and carries fileContent, base64 of a zlib-deflated zip holding the INN file.
//
//   respCode 98 (文件不存在: not made yet)                   not_ready
//   fileContent that does not inflate or unzip (archive)     asked again, then failed
//   any other BillError, a refusal, an answer not believed   failed
//   03/04/05 (UnionPay does not know yet), no connection, a timeout, an HTTP error page   unreached
//
// File transfers go to UnionPay's file host, not the transaction gateway: filedownload.95516.com
// (filedownload.test.95516.com for the test environment). A base URL pointing elsewhere (a proxy,
// a simulator) takes the file transfer at its root path, as the SDKs post to the file host's.

const WHAT = 'unionpay trade bill';
const ATTEMPTS = 3;
const NO_FILE = '98';
const UNCERTAIN = new Set(['03', '04', '05']);
// base64 of the zip, with some room for the rest of the answer
const MAX_ANSWER_BYTES = Math.ceil((MAX_BILL_BYTES * 4) / 3) + 64 * 1024;

export function fileTransferUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return `${baseUrl.replace(/\/+$/, '')}/`;
  }
  const host = url.hostname.toLowerCase();
  if (host === 'gateway.95516.com') return 'https://filedownload.95516.com/';
  if (host === 'gateway.test.95516.com') return 'https://filedownload.test.95516.com/';
  return `${url.origin}/`;
}

export interface AcpBillOptions {
  signerNames: readonly string[];
}

type Step<T> = { ok: true; value: T } | { ok: false; result: BillDownloadResult };
const stop = (result: BillDownloadResult): { ok: false; result: BillDownloadResult } => ({ ok: false, result });

async function fileTransfer(date: string, c: UnionpayCredentials, ctx: ChannelContext, opts: AcpBillOptions): Promise<Step<Fields>> {
  if (!ctx.http) return stop({ outcome: 'unreached', reason: 'no HTTP transport for the UnionPay channel' });
  const settleDate = date.slice(5, 7) + date.slice(8, 10);
  const fields = signed(
    { ...commonFields(c), txnType: '76', txnSubType: '01', bizType: '000000', settleDate, txnTime: beijing(ctx.now()), fileType: '00' },
    c,
  );
  let res: HttpResponse;
  try {
    res = await ctx.http({ ...serverRequest(fileTransferUrl(c.baseUrl), fields), maxBytes: MAX_ANSWER_BYTES });
  } catch (err) {
    if (err instanceof HttpBodyTooLarge) return stop({ outcome: 'failed', error: `${WHAT}: fileTransRequest: ${err.message}` });
    const how = neverConnected(err) ? 'not reached' : 'no answer';
    return stop({ outcome: 'unreached', reason: `fileTransRequest: ${how} (${(err as Error)?.message ?? String(err)})` });
  }
  if (res.status !== 200) return stop({ outcome: 'unreached', reason: `fileTransRequest: HTTP ${res.status}` });
  const d = parseAnswer(res.body);
  if (!d || !d.respCode) return stop({ outcome: 'unreached', reason: 'fileTransRequest: unparseable answer' });
  // Refusals too must be UnionPay's: the file is what reconciliation heals payments from.
  const bad = unsigned(d, c, ctx.now(), opts.signerNames);
  if (bad) return stop({ outcome: 'failed', error: `${WHAT}: fileTransRequest answer rejected: ${bad}` });
  if (d.merId !== undefined && d.merId !== c.merId) return stop({ outcome: 'failed', error: `${WHAT}: fileTransRequest answered for merId ${d.merId}` });
  const why = `respCode ${d.respCode} ${d.respMsg ?? ''}`.trim();
  if (d.respCode === NO_FILE) return stop({ outcome: 'not_ready', reason: `fileTransRequest: ${why}` });
  if (UNCERTAIN.has(d.respCode)) return stop({ outcome: 'unreached', reason: `fileTransRequest: ${why}` });
  if (d.respCode !== '00') return stop({ outcome: 'failed', error: `fileTransRequest: ${why}` });
  if (d.settleDate !== undefined && d.settleDate !== settleDate) {
    return stop({ outcome: 'failed', error: `${WHAT}: fileTransRequest answered for settleDate ${d.settleDate}, not ${settleDate}` });
  }
  if (!d.fileContent) return stop({ outcome: 'failed', error: `${WHAT}: fileTransRequest answered 00 without fileContent` });
  return { ok: true, value: d };
}

/** Why an answer is not UnionPay's, or undefined when it is. */
function unsigned(f: Fields, c: UnionpayCredentials, nowMs: number, signerNames: readonly string[]): string | undefined {
  if (!f.signature || !f.signPubKeyCert) return 'unsigned';
  if (f.signMethod !== '01') return `signMethod ${JSON.stringify(f.signMethod ?? '')} is not 01`;
  const signer = checkSignerCert(f.signPubKeyCert, c, nowMs, signerNames);
  if (!signer.ok) return signer.reason;
  return verifyFields(f, signer.publicKey) ? undefined : 'the signature does not verify';
}

export async function downloadAcpBill(date: string, c: UnionpayCredentials, ctx: ChannelContext, opts: AcpBillOptions): Promise<BillDownloadResult> {
  if (!isBillDate(date)) return { outcome: 'failed', error: `${WHAT}: ${JSON.stringify(date)} is not a YYYY-MM-DD date` };
  let last: BillError | undefined;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const a = await fileTransfer(date, c, ctx, opts);
    if (!a.ok) return a.result;
    try {
      return { outcome: 'bill', bill: parseAcpTradeBill(acpFileContentToZip(a.value.fileContent!), { billDate: date }) };
    } catch (err) {
      if (!(err instanceof BillError)) throw err;
      last = err;
      if (err.code !== 'archive') break;
    }
  }
  return { outcome: 'failed', error: last!.message };
}
