import { PAYWAYS, SCENES, type BillDownloadResult, type ChannelDriver, type Payway } from '../channels/types.js';
import type { SandboxCredentials } from '../channels/sandbox/driver.js';
import { ALERTING_KINDS, type ItemKind, type RunCounts, type StoredItem, type StoreRunArgs } from '../db/reconcile-ops.js';
import type { MerchantRow, OrderRow } from '../db/rows.js';
import type { PayStatus } from '../domain/order-states.js';
import type { RefundStatus } from '../db/rows.js';
import { fenToYuan } from '../domain/money.js';
import { BillError, beijingDay, billWindow, inWindow, type Bill, type BillSource, type BillWindow } from '../reconcile/bill.js';
import { billNames, compareDay, OUTCOMES, type CompareItem, type LocalOrder, type LocalRefund } from '../reconcile/compare.js';
import { callChannel } from './channel-call.js';
import type { Services } from './context.js';
import { settleRefund } from './refunds.js';
import { applyTransition } from './transitions.js';

// Reconciliation's run (CONTRACT §5), per merchant, payway and Beijing day: download the channel's
// bill through the driver, read dtpay's side of that day, compare (reconcile/compare.ts, pure),
// heal through the same conditional changes a callback takes, store the fees, the run and its
// items, and raise one alert per discrepancy. Named apart from reconcile.ts, which is 补单 for one
// open order.

export interface ReconcileScope {
  /** YYYY-MM-DD, Beijing */
  date: string;
  mercNo?: string;
  payway?: Payway;
}

export interface RunResult {
  mercNo: string;
  payway: Payway;
  status: 'ok' | 'not_ready' | 'failed';
  error?: string;
  /** worth asking again later: the bill was not ready, or the channel could not be reached */
  retryable: boolean;
  /** false: neither side had a line that day, so no run is kept */
  stored: boolean;
  alertsRaised: number;
}

/** Rows read a page at a time, with a turn of the event loop between pages: a large day never holds it for long. */
const PAGE = 500;
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));
/** A download that did not get through (or came back broken on the way) is tried this often before the run fails. */
const DOWNLOAD_ATTEMPTS = 3;
const RETRIED_BILL_ERRORS = new Set(['archive', 'hash']);

interface DayOrder extends LocalOrder {
  payway: string;
}
interface DayRefund extends LocalRefund {
  payway?: string;
}
interface MerchantDay {
  orders: Map<string, DayOrder>;
  refunds: Map<string, DayRefund>;
}

/** Every merchant in scope (all of them by default), one run per payway that has lines that day. */
export async function reconcileDay(s: Services, scope: ReconcileScope, opts: { signal?: AbortSignal } = {}): Promise<RunResult[]> {
  beijingDay(scope.date);
  const merchants = scope.mercNo !== undefined ? [await s.reads.merchant(scope.mercNo)].filter((m): m is MerchantRow => m !== undefined) : await s.reads.merchants();
  const results: RunResult[] = [];
  for (const merchant of merchants) {
    if (opts.signal?.aborted) break;
    results.push(...(await reconcileMerchantDay(s, merchant, scope.date, scope.payway, opts.signal)));
  }
  return results;
}

async function reconcileMerchantDay(s: Services, merchant: MerchantRow, date: string, only: Payway | undefined, signal?: AbortSignal): Promise<RunResult[]> {
  const day = beijingDay(date);
  // The union of every payway's window: UnionPay's clearing day starts an hour before midnight.
  const local = await readMerchantDay(s, merchant.merc_no, { fromMs: day.fromMs - 3600_000, toMs: day.toMs });
  let payways: Payway[];
  if (only) payways = [only];
  else if (merchant.mode === 'sandbox') payways = [...PAYWAYS];
  else {
    const configured = await s.configuredPayways(merchant);
    const withRecords = new Set([...local.orders.values()].map((o) => o.payway));
    payways = PAYWAYS.filter((p) => configured.has(p) || withRecords.has(p));
  }
  const results: RunResult[] = [];
  for (const payway of payways) {
    if (signal?.aborted) break;
    results.push(await reconcileOne(s, merchant, payway, date, local, signal));
  }
  return results;
}

async function readMerchantDay(s: Services, mercNo: string, range: BillWindow): Promise<MerchantDay> {
  const orders = new Map<string, DayOrder>();
  for (let afterMs = range.fromMs, afterId = ''; ; ) {
    const page = await s.reads.endedOrdersPage(mercNo, afterMs, afterId, range.toMs, PAGE);
    for (const r of page) {
      const o = dayOrder(r);
      if (r.trade_type === '01') orders.set(o.orderId, o);
      afterMs = o.endedAt!;
      afterId = o.orderId;
    }
    if (page.length < PAGE) break;
    await breathe();
  }
  const refunds = new Map<string, DayRefund>();
  for (let afterMs = range.fromMs, afterId = ''; ; ) {
    const page = await s.reads.endedRefundsPage(mercNo, afterMs, afterId, range.toMs, PAGE);
    for (const r of page) {
      const f = dayRefund(r);
      refunds.set(f.refundId, f);
      afterMs = f.endedAt!;
      afterId = f.refundId;
    }
    if (page.length < PAGE) break;
    await breathe();
  }
  // A refund's payway is its order's; most orders refunded that day were paid on an earlier one.
  let looked = 0;
  for (const f of refunds.values()) {
    let o = orders.get(f.orderId);
    if (!o) {
      const row = await s.reads.order(f.orderId);
      if (row && row.trade_type === '01') orders.set(f.orderId, (o = fromOrderRow(row)));
    }
    f.payway = o?.payway;
    if (++looked % PAGE === 0) await breathe();
  }
  return { orders, refunds };
}

const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

function dayOrder(r: Record<string, unknown>): DayOrder {
  return {
    orderId: r.order_id as string,
    mercOrderNo: r.merc_order_no as string,
    amountFen: BigInt(r.amount_fen as bigint),
    payStatus: r.pay_status as PayStatus,
    ...(r.channel_trade_no ? { channelTradeNo: r.channel_trade_no as string } : {}),
    ...(num(r.ended_at) !== undefined ? { endedAt: num(r.ended_at) } : {}),
    payway: r.payway as string,
  };
}

const fromOrderRow = (o: OrderRow): DayOrder => dayOrder(o as unknown as Record<string, unknown>);

function dayRefund(r: Record<string, unknown>): DayRefund {
  return {
    refundId: r.refund_id as string,
    mercRefundNo: r.merc_refund_no as string,
    orderId: r.order_id as string,
    amountFen: BigInt(r.amount_fen as bigint),
    refundStatus: r.refund_status as RefundStatus,
    ...(num(r.ended_at) !== undefined ? { endedAt: num(r.ended_at) } : {}),
  };
}

/** The driver that serves the merchant on this payway (any scene), and what it needs to ask for the bill. */
async function billChannel(s: Services, merchant: MerchantRow, payway: Payway): Promise<{ driver: ChannelDriver<any>; credentials: unknown } | string> {
  const driver = SCENES.map((scene) => s.registry.resolve(merchant.mode, payway, scene)).find((r) => r.ok)?.driver;
  if (!driver) return `no channel serves ${payway} for ${merchant.merc_no}`;
  if (typeof driver.downloadTradeBill !== 'function') return `the ${driver.name} driver does not support downloading the trade bill`;
  let credentials: unknown;
  try {
    credentials = await s.credentialsFor(merchant, driver.name);
  } catch {
    return `no ${payway} credentials are stored for ${merchant.merc_no}`;
  }
  if (driver.name === 'sandbox') credentials = { ...(credentials as SandboxCredentials), account: { mercNo: merchant.merc_no, payway } };
  return { driver, credentials };
}

type Download = { outcome: 'bill'; bill: Bill } | { outcome: 'not_ready'; reason: string } | { outcome: 'failed'; error: string; retryable: boolean };

async function download(s: Services, driver: ChannelDriver<any>, credentials: unknown, date: string, signal?: AbortSignal): Promise<Download> {
  let last: Download = { outcome: 'failed', error: 'the gateway was stopping', retryable: true };
  for (let attempt = 1; attempt <= DOWNLOAD_ATTEMPTS && !signal?.aborted; attempt++) {
    const r = await callChannel<BillDownloadResult | { outcome: 'broken'; error: string }>(s, (ctx) =>
      driver.downloadTradeBill!(date, credentials, ctx).catch((err: unknown) => {
        // A parser's BillError says what is wrong with the file; anything else is the driver's own failure.
        if (err instanceof BillError) return RETRIED_BILL_ERRORS.has(err.code) ? { outcome: 'broken' as const, error: err.message } : { outcome: 'failed' as const, error: err.message };
        throw err;
      }),
    );
    switch (r.outcome) {
      case 'bill':
      case 'not_ready':
        return r;
      case 'failed':
        return { outcome: 'failed', error: r.error, retryable: false };
      case 'broken':
        last = { outcome: 'failed', error: r.error, retryable: true };
        break;
      default:
        last = { outcome: 'failed', error: `the channel could not be reached: ${r.reason}`, retryable: true };
    }
  }
  return last;
}

async function reconcileOne(s: Services, merchant: MerchantRow, payway: Payway, date: string, day: MerchantDay, signal?: AbortSignal): Promise<RunResult> {
  const startedAt = s.now();
  const mercNo = merchant.merc_no;
  const source: BillSource = merchant.mode === 'sandbox' ? 'sandbox' : payway;
  const window = billWindow(source, date);
  const orders = new Map<string, LocalOrder>();
  const refunds = new Map<string, LocalRefund>();
  for (const o of day.orders.values()) if (o.payway === payway) orders.set(o.orderId, o);
  for (const f of day.refunds.values()) if (f.payway === payway) refunds.set(f.refundId, f);
  const hasLocalLines =
    [...orders.values()].some((o) => o.payStatus === 'p0000' && o.endedAt !== undefined && inWindow(window, o.endedAt)) ||
    [...refunds.values()].some((f) => f.refundStatus === 'r0000' && f.endedAt !== undefined && inWindow(window, f.endedAt));
  const base = { billDate: date, mercNo, payway, startedAt };
  const zero = Object.fromEntries(OUTCOMES.map((k) => [k, 0])) as unknown as RunCounts;
  const unfinished = async (status: 'not_ready' | 'failed', error: string, retryable: boolean): Promise<RunResult> => {
    // A sandbox account with nothing on dtpay's side that day has nothing to report; a live one is always reported.
    if (merchant.mode === 'sandbox' && !hasLocalLines && status === 'not_ready') {
      await s.writer.run('dropReconciliationRun', { ...base, compared: false, at: s.now() });
      return { mercNo, payway, status, error, retryable, stored: false, alertsRaised: 0 };
    }
    await s.writer.run('storeReconciliationRun', { ...base, status, error, counts: zero, items: [], alerts: [], at: s.now() });
    s.log.warn({ mercNo, payway, date, status, error }, 'reconciliation did not compare');
    return { mercNo, payway, status, error, retryable, stored: true, alertsRaised: 0 };
  };

  const channel = await billChannel(s, merchant, payway);
  if (typeof channel === 'string') return unfinished('failed', channel, false);
  const got = await download(s, channel.driver, channel.credentials, date, signal);
  // Stopping mid-run (a shutdown): what the channel answered then is not the day's report.
  if (signal?.aborted) return { mercNo, payway, status: 'failed', error: 'stopped', retryable: true, stored: false, alertsRaised: 0 };
  if (got.outcome === 'not_ready') return unfinished('not_ready', got.reason, true);
  if (got.outcome === 'failed') return unfinished('failed', got.error, got.retryable);
  const bill = got.bill;

  await addNamed(s, bill, mercNo, payway, orders, refunds);
  const compared = compareDay(bill, { orders: [...orders.values()], refunds: [...refunds.values()] });
  const items = compared.items;
  for (const it of items) if (it.kind === 'healed') await heal(s, it, date);
  await storeFees(s, items);

  if (items.length === 0) {
    await s.writer.run('dropReconciliationRun', { ...base, compared: true, at: s.now() });
    return { mercNo, payway, status: 'ok', retryable: false, stored: false, alertsRaised: 0 };
  }
  const counts = { ...zero };
  for (const it of items) counts[it.kind]++;
  const run: StoreRunArgs = {
    ...base,
    status: 'ok',
    counts,
    totals: compared.totals,
    items: items.filter((it) => it.kind !== 'matched').map(storedItem),
    alerts: items.filter((it) => (ALERTING_KINDS as readonly string[]).includes(it.kind)).map((it) => alertOf(it, date, mercNo, payway)),
    at: s.now(),
  };
  const stored = await s.writer.run('storeReconciliationRun', run);
  if (counts.healed > 0 || stored.alertsRaised > 0) {
    s.log.info({ mercNo, payway, date, counts, alertsRaised: stored.alertsRaised }, 'reconciliation found lines that did not match');
  }
  return { mercNo, payway, status: 'ok', retryable: false, stored: true, alertsRaised: stored.alertsRaised };
}

/** The records the bill names that dtpay's day did not bring (paid late, refunded, or ended on another day), of this merchant and payway. */
async function addNamed(s: Services, bill: Bill, mercNo: string, payway: string, orders: Map<string, LocalOrder>, refunds: Map<string, LocalRefund>): Promise<void> {
  const names = billNames(bill);
  let looked = 0;
  const ours = (o: OrderRow | undefined) => o !== undefined && o.merc_no === mercNo && o.payway === payway && o.trade_type === '01';
  for (const id of names.refundIds) {
    if (refunds.has(id)) continue;
    const f = await s.reads.refund(id);
    if (f && f.merc_no === mercNo) {
      let owned = orders.has(f.order_id);
      const o = owned ? undefined : await s.reads.order(f.order_id);
      if (o && ours(o)) {
        orders.set(o.order_id, fromOrderRow(o));
        owned = true;
      }
      if (owned) refunds.set(id, dayRefund(f as unknown as Record<string, unknown>));
    }
    if (++looked % PAGE === 0) await breathe();
  }
  for (const id of names.orderIds) {
    if (orders.has(id)) continue;
    const o = await s.reads.order(id);
    if (ours(o)) orders.set(id, fromOrderRow(o!));
    if (++looked % PAGE === 0) await breathe();
  }
}

/** Applies a `healed` item through the conditional change; one that finds the record moved on (a callback won) is matched. */
async function heal(s: Services, it: CompareItem, date: string): Promise<void> {
  const h = it.heal!;
  const source = `reconciliation: the ${date} bill`;
  if (h.line === 'trade') {
    const r = await applyTransition(s, {
      orderId: h.orderId,
      event: 'channel_paid',
      source,
      detail: h.late ? 'paid at the channel after the order had ended' : 'paid at the channel; no callback or query had said so',
      at: s.now(),
      tradeEndTime: h.paidAt,
      channelTradeNo: h.channelTradeNo,
    });
    if (!r.changed && (await s.reads.order(h.orderId))?.pay_status === 'p0000') it.kind = 'matched';
  } else {
    const changed = await settleRefund(s, { refundId: h.refundId, status: 'r0000', at: s.now(), refundEndTime: h.refundedAt, channelRefundNo: h.channelRefundNo });
    if (!changed && (await s.reads.refund(h.refundId))?.refund_status === 'r0000') it.kind = 'matched';
  }
}

const FEE_BATCH = 500;

async function storeFees(s: Services, items: CompareItem[]): Promise<void> {
  const orders: [string, bigint][] = [];
  const refunds: [string, bigint][] = [];
  for (const it of items) {
    if ((it.kind !== 'matched' && it.kind !== 'healed') || it.feeFen === undefined) continue;
    if (it.line === 'trade' && it.orderId) orders.push([it.orderId, it.feeFen]);
    else if (it.line === 'refund' && it.refundId) refunds.push([it.refundId, it.feeFen]);
  }
  // In batches: one transaction of a day's fees would hold the writer from every request meanwhile.
  for (let i = 0; i < orders.length; i += FEE_BATCH) await s.writer.run('setReconciledFees', { orders: orders.slice(i, i + FEE_BATCH), refunds: [] });
  for (let i = 0; i < refunds.length; i += FEE_BATCH) await s.writer.run('setReconciledFees', { orders: [], refunds: refunds.slice(i, i + FEE_BATCH) });
}

function storedItem(it: CompareItem): StoredItem {
  const out: StoredItem = { kind: it.kind as ItemKind, line: it.line };
  for (const k of ['orderId', 'mercOrderNo', 'refundId', 'mercRefundNo', 'channelTradeNo', 'billOrderId', 'localFen', 'channelFen', 'feeFen'] as const) {
    if (it[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = it[k];
  }
  return out;
}

const WHAT: Record<string, string> = {
  missing_at_channel: 'dtpay has it done, the bill has no line for it',
  amount_mismatch: 'the amounts differ',
  unknown_trade: 'the bill has it, no dtpay record accounts for it',
};

function alertOf(it: CompareItem, date: string, mercNo: string, payway: string): StoreRunArgs['alerts'][number] {
  const id = it.line === 'refund' ? `refund ${it.refundId}` : it.orderId ? `order ${it.orderId}` : `bill order ${it.billOrderId ?? '?'}`;
  const amounts = [it.localFen !== undefined ? `dtpay ${fenToYuan(it.localFen)}` : '', it.channelFen !== undefined ? `bill ${fenToYuan(it.channelFen)}` : '']
    .filter(Boolean)
    .join(', ');
  const ref = [it.mercOrderNo ? `mercOrderNo ${it.mercOrderNo}` : '', it.channelTradeNo ? `channel trade ${it.channelTradeNo}` : ''].filter(Boolean).join(', ');
  return {
    kind: it.kind,
    channel: payway,
    mercNo,
    ...(it.orderId ? { orderId: it.orderId } : {}),
    detail: `reconciliation ${date} ${payway}: ${it.kind} ${id}${ref ? ` (${ref})` : ''}: ${WHAT[it.kind]}${amounts ? `; ${amounts}` : ''}`,
    dedupeKey: `reconciliation:${date}:${mercNo}:${payway}:${it.kind}:${it.line}:${it.refundId ?? it.orderId ?? it.billOrderId ?? it.channelTradeNo ?? ''}`,
  };
}
