import t from 'tap';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { ORDER_EVENTS, PAY_STATUSES, step, TRANSITIONS, type OrderEvent, type PayStatus } from '../../src/domain/order-states.js';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { WorkerWriter, type Writer } from '../../src/db/writer.js';
import { openPool } from '../../src/db/postgres/pool.js';
import { PgWriter } from '../../src/db/postgres/writer.js';
import type { TransitionArgs, TransitionResult } from '../../src/db/write-ops.js';
import { createMerchant } from '../../src/services/merchants.js';
import { orderRow } from '../fixtures/orders.js';
import { merchantWriting } from '../fixtures/merchant-keys.js';
import { prng } from '../prng.js';
import { gatewayDatabase, postgresSql, sqliteSql, testBackend, type TestSql } from '../backend.js';
import { testStorage } from '../fixtures/backends.js';

// Property tests of the order state machine (CONTRACT §2.4, §2.5). Random event sequences are
// checked against a model written here, independently of src/domain/order-states.ts: first the
// pure step(), then the real database through the group-commit writer thread (on PostgreSQL through
// two instances' writers), with events fired concurrently so that they share transactions and race.
//
// Every run prints its seed. DTPAY_PROP_SEED=<seed> replays the same sequences; in part (b) which
// events share a transaction, and how the two writer threads interleave, still depend on timing.

const SEED = process.env.DTPAY_PROP_SEED !== undefined ? Number(process.env.DTPAY_PROP_SEED) >>> 0 : randomInt(0, 2 ** 32);
const RERUN = `seed ${SEED} (rerun: DTPAY_PROP_SEED=${SEED})`;
t.comment(`order-states property test, ${RERUN}`);

// ---------------------------------------------------------------------------------------------
// The model, from the CONTRACT's words rather than from TRANSITIONS.

const STATES = ['p0001', 'p0002', 'p0000', 'p0004', 'p0005', 'p0006'] as const satisfies readonly PayStatus[];
const EVENTS = ['payer_opened', 'channel_accepted', 'channel_paid', 'channel_failed', 'merchant_closed', 'expired'] as const satisfies readonly OrderEvent[];

interface ModelStep {
  to: PayStatus;
  late: boolean;
  notify: boolean;
}

function model(from: PayStatus, event: OrderEvent): ModelStep | undefined {
  // p0000 (paid) is final: nothing moves it, not even another payment.
  if (from === 'p0000') return undefined;
  const open = from === 'p0001' || from === 'p0002';
  let to: PayStatus;
  switch (event) {
    case 'channel_paid':
      // Money the channel confirms is real: it wins from every state but p0000, late if the order
      // had already failed, been closed or expired.
      return { to: 'p0000', late: !open, notify: true };
    case 'payer_opened':
    case 'channel_accepted':
      // Opening the payment page, or a channel taking a payout, only matters to a submitted order.
      if (from !== 'p0001') return undefined;
      to = 'p0002';
      break;
    case 'channel_failed':
      to = 'p0004';
      break;
    case 'merchant_closed':
      to = 'p0005';
      break;
    case 'expired':
      to = 'p0006';
      break;
  }
  // Only an order still waiting for the payer fails, is closed or expires.
  if (!open) return undefined;
  // The merchant's own close is not announced to it; failure and expiry are.
  return { to, late: false, notify: to === 'p0004' || to === 'p0006' };
}

const TERMINAL_UNPAID: readonly PayStatus[] = ['p0004', 'p0005', 'p0006'];
const NOTIFYING: readonly PayStatus[] = ['p0000', 'p0004', 'p0006'];
const isLate = (from: PayStatus, to: PayStatus) => to === 'p0000' && TERMINAL_UNPAID.includes(from);

// ---------------------------------------------------------------------------------------------
// (a) The pure state machine.

t.test('(a) step() agrees with the model', async (t) => {
  t.same([...PAY_STATUSES].sort(), [...STATES].sort(), 'the six CONTRACT states');
  t.same([...ORDER_EVENTS].sort(), [...EVENTS].sort(), 'the six events');

  // Every (state, event) pair once.
  const table: string[] = [];
  for (const s of STATES)
    for (const e of EVENTS) {
      const got = step(s, e);
      const want = model(s, e);
      if (JSON.stringify(got) !== JSON.stringify(want)) table.push(`step(${s}, ${e}) = ${JSON.stringify(got)}, model says ${JSON.stringify(want)}`);
      // The table and step() say the same thing.
      if (TRANSITIONS[e].from.includes(s) !== (got !== undefined)) table.push(`TRANSITIONS.${e}.from and step(${s}, ${e}) disagree`);
      if (got && got.to !== TRANSITIONS[e].to) table.push(`step(${s}, ${e}).to is ${got.to}, TRANSITIONS says ${TRANSITIONS[e].to}`);
    }
  t.same(table, [], 'every (state, event) pair');

  // Random sequences: step() against the model, and properties of whole trajectories.
  const rng = prng(SEED);
  const N = 5_000;
  const problems: string[] = [];
  for (let i = 0; i < N && problems.length < 10; i++) {
    const start: PayStatus = rng.chance(0.7) ? 'p0001' : rng.pick(STATES);
    const events = Array.from({ length: rng.int(16) }, () => rng.pick(EVENTS));
    const where = () => `${RERUN}, sequence #${i}: start ${start}, events [${events.join(', ')}]`;
    let s = start;
    const left = new Set<PayStatus>();
    let changes = 0;
    let lates = 0;
    let notices = 0;
    for (const [k, e] of events.entries()) {
      const got = step(s, e);
      const want = model(s, e);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        problems.push(`${where()}: at #${k} step(${s}, ${e}) = ${JSON.stringify(got)}, model says ${JSON.stringify(want)}`);
        break;
      }
      if (!got) continue;
      if (got.to === s) problems.push(`${where()}: #${k} ${e} "changes" ${s} into itself`);
      if (s === 'p0000') problems.push(`${where()}: #${k} ${e} moved an order out of p0000`);
      if (left.has(got.to)) problems.push(`${where()}: #${k} ${e} returned to ${got.to}, left before`);
      if (got.late !== isLate(s, got.to)) problems.push(`${where()}: #${k} late=${got.late} for ${s} → ${got.to}`);
      if (got.notify !== NOTIFYING.includes(got.to)) problems.push(`${where()}: #${k} notify=${got.notify} for a change into ${got.to}`);
      left.add(s);
      s = got.to;
      changes += 1;
      if (got.late) lates += 1;
      if (got.notify) notices += 1;
    }
    // p0001 → p0002 → a terminal state → p0000 is the longest way through.
    if (changes > 3) problems.push(`${where()}: ${changes} changes`);
    if (lates > 1 || notices > 2) problems.push(`${where()}: ${lates} late payments, ${notices} notifications`);
    if (lates === 1 && s !== 'p0000') problems.push(`${where()}: flagged late but ends in ${s}`);
  }
  t.same(problems, [], `${N} random sequences, ${RERUN}`);
});

// ---------------------------------------------------------------------------------------------
// (b) The real database, through the group-commit writer thread.

const EVENT_WEIGHTS = [
  ['payer_opened', 2],
  ['channel_accepted', 1],
  ['channel_paid', 2],
  ['channel_failed', 1.5],
  ['merchant_closed', 1],
  ['expired', 1.5],
] as const satisfies readonly (readonly [OrderEvent, number])[];

interface Call {
  /** index in the whole run; also written into the event row's detail, to find the call again */
  n: number;
  orderId: string;
  writer: 'A' | 'B';
  /** events of one burst were fired back to back for the same order */
  burst: number;
  args: TransitionArgs;
  result?: TransitionResult;
  error?: unknown;
}

interface Plan {
  orderId: string;
  /** all its events went through writer A, in this order: the model predicts every answer */
  oneWriter: boolean;
  calls: Call[];
}

interface EventRow {
  id: number;
  order_id: string;
  from_status: PayStatus;
  to_status: PayStatus;
  source: string;
  detail: string | null;
  at: number;
}

interface NoteRow {
  id: number;
  order_id: string;
  fields_json: string;
  reason: string;
  status: string;
  due_at: number | null;
  created_at: number;
}

interface OrderState {
  pay_status: PayStatus;
  late_payment: number;
  bank_type: string | null;
  trade_end_time: string | null;
  channel_trade_no: string | null;
  updated_at: number;
}

/**
 * Two writers on one database. A runs what it is given in the order given (a round through A alone
 * is predicted call by call); B's transactions interleave with A's, so two events really do race.
 */
async function writerPair(t: Parameters<typeof testStorage>[0]) {
  if (testBackend() === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'dtpay-prop-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, 'prop.sqlite');
    const setupDb = openDb(dbPath);
    migrate(setupDb);
    setupDb.close();
    const A = await WorkerWriter.start(dbPath);
    // A second writer thread on the same file (as the CLI's writes are beside a running server).
    const B = await WorkerWriter.start(dbPath);
    return {
      A: A as Writer,
      B: B as Writer,
      /** how the operations went into transactions: group commit shares them */
      stats: () => ({ operations: A.stats.operations + B.stats.operations, batches: A.stats.batches + B.stats.batches }),
      /** the rows, once the writers are closed */
      sql: (): TestSql => {
        const db = openDb(dbPath);
        t.teardown(() => db.close());
        return sqliteSql(db);
      },
    };
  }
  // Two gateway instances on one database, each a PgWriter with a pool of its own: every operation
  // is a transaction of its own. A's single connection takes operations in the order they came (as
  // the writer thread does); B runs up to four at once, beside A's.
  const url = await gatewayDatabase();
  const instance = (max: number) => {
    const pool = openPool(url, { max });
    const writer = new PgWriter(pool);
    t.teardown(() => pool.end());
    return writer;
  };
  const A = instance(1);
  const B = instance(4);
  return {
    A: A as Writer,
    B: B as Writer,
    stats: () => ({ operations: A.stats.commits + B.stats.commits, batches: A.stats.commits + B.stats.commits, retries: A.stats.retries + B.stats.retries }),
    sql: (): TestSql => {
      const sql = postgresSql(url);
      t.teardown(() => sql.close());
      return sql;
    },
  };
}

t.test('(b) random events through the writer thread: the stored history replays the model', async (t) => {
  const rng = prng(SEED ^ 0x9e3779b9);
  const started = Date.now();
  const backend = testBackend();
  const pair = await writerPair(t);
  const { A, B } = pair;
  let closed = false;
  const closeWriters = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([A.close(), B.close()]);
  };
  t.teardown(closeWriters);
  const writers = { A, B };

  const merchant = await createMerchant(merchantWriting(A), 'Property shop', 'sandbox');
  const ROUNDS = 30;
  const CREATED_AT = 1_700_000_000_000;
  const plans: Plan[] = [];
  const calls: Call[] = [];
  const ghosts: Call[] = [];
  let at = CREATED_AT;

  let bursts = 0;
  const poisons: Promise<string>[] = [];
  const fire = (plan: Plan | undefined, orderId: string, writer: 'A' | 'B', burst: number): Promise<void> => {
    const event = rng.weighted(EVENT_WEIGHTS);
    const n = calls.length + ghosts.length;
    at += 1 + rng.int(3);
    const args: TransitionArgs = { orderId, event, source: 'property-test', detail: `${event}#${n}`, at };
    if (event === 'channel_paid' || (event === 'channel_failed' && rng.chance(0.3))) {
      if (rng.chance(0.7)) args.bankType = rng.pick(['CMB', 'ICBC', 'ALIPAYACCOUNT']) + n;
      if (rng.chance(0.7)) args.tradeEndTime = String(20260101000000 + n);
      if (rng.chance(0.5)) args.channelTradeNo = `T${n}`;
    }
    const call: Call = { n, orderId, writer, burst, args };
    (plan ? calls : ghosts).push(call);
    plan?.calls.push(call);
    return writers[writer].run('transitionOrder', args).then(
      (r) => void (call.result = r),
      (e) => void (call.error = e),
    );
  };

  // On a slow machine the run stops starting rounds after BUDGET_MS of firing (starting the writers
  // is not counted: on a loaded machine two writer threads alone can take longer); what was fired is
  // all checked.
  const BUDGET_MS = 8_000;
  const firing = Date.now();
  let rounds = 0;
  for (let round = 0; round < ROUNDS && Date.now() - firing < BUDGET_MS; round++, rounds++) {
    const twoWriters = rng.chance(0.5);
    const orders = Array.from({ length: 4 + rng.int(14) }, () => orderRow(merchant.mercNo, CREATED_AT));
    await Promise.all(orders.map((o) => A.run('insertOrder', o)));
    const roundPlans = orders.map((o): Plan => ({ orderId: o.order_id, oneWriter: !twoWriters, calls: [] }));
    plans.push(...roundPlans);

    let inFlight: Promise<void>[] = [];
    const waves = 1 + rng.int(4);
    for (let w = 0; w < waves; w++) {
      const k = 1 + rng.int(orders.length * 2);
      for (let i = 0; i < k; i++) {
        const plan = rng.pick(roundPlans);
        // A burst of events for one order, fired back to back: they race from the same state.
        const size = rng.chance(0.3) ? 2 + rng.int(3) : 1;
        const burst = ++bursts;
        for (let j = 0; j < size; j++) {
          const writer = twoWriters && rng.chance(0.5) ? 'B' : 'A';
          inFlight.push(fire(plan, plan.orderId, writer, burst));
        }
        // Now and then an event for an order that does not exist.
        if (rng.chance(0.02)) inFlight.push(fire(undefined, `2099${String(rng.int(1e9)).padStart(18, '0')}`, rng.chance(0.5) ? 'A' : 'B', 0));
        // Now and then an operation that fails (a duplicate order id) in the same transaction: the
        // writer rolls the batch back and runs it again op by op; nothing may apply twice or be lost.
        if (rng.chance(0.03)) {
          const w = twoWriters && rng.chance(0.5) ? B : A;
          poisons.push(
            w.run('insertOrder', orderRow(merchant.mercNo, CREATED_AT, { order_id: plan.orderId })).then(
              () => 'inserted',
              (e: Error) => e.message,
            ),
          );
        }
        // Now and then let the writer take what has queued so far, so the rest goes in a later
        // transaction while this one commits.
        const r = rng.next();
        if (r < 0.1) await Promise.resolve();
        else if (r < 0.15) await tick();
      }
      if (rng.chance(0.5) || w === waves - 1) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
  }
  const poisoned = await Promise.all(poisons);
  const fired = Date.now();
  await closeWriters();
  const { batches, operations, retries } = pair.stats() as { batches: number; operations: number; retries?: number };

  const sql = pair.sql();
  const eventsOf = (orderId: string) => sql.all<EventRow>('SELECT * FROM order_events WHERE order_id = ? ORDER BY id', orderId);
  const notesOf = (orderId: string) =>
    sql.all<NoteRow>('SELECT id, order_id, fields_json, reason, status, due_at, created_at FROM notifications WHERE order_id = ? ORDER BY id', orderId);
  const orderOf = (orderId: string) =>
    sql.get<OrderState>('SELECT pay_status, late_payment, bank_type, trade_end_time, channel_trade_no, updated_at FROM orders WHERE order_id = ?', orderId);

  const problems: string[] = [];
  let changesSeen = 0;
  let notesSeen = 0;
  let racesSeen = 0;
  let lateSeen = 0;
  let predicted = 0;

  for (const plan of plans) {
    const { orderId } = plan;
    const mine: string[] = [];
    const p = (s: string) => mine.push(s);
    const events = await eventsOf(orderId);
    const notes = await notesOf(orderId);
    const order = (await orderOf(orderId))!;
    const byN = new Map(plan.calls.map((c) => [c.n, c]));

    for (const c of plan.calls) if (c.error || !c.result) p(`call #${c.n} (${c.args.event}) failed: ${String(c.error)}`);

    // The history is a chain from p0001, every link a change the model allows, made by one call.
    let s: PayStatus = 'p0001';
    let late = false;
    const changedCalls = new Set<number>();
    const expect = { bank_type: null as string | null, trade_end_time: null as string | null, channel_trade_no: null as string | null, updated_at: CREATED_AT };
    for (const e of events) {
      const [name, num] = (e.detail ?? '').split('#');
      const call = byN.get(Number(num));
      if (!call || call.args.event !== name || e.source !== 'property-test') {
        p(`event row ${e.id} (${e.detail}) matches no call made for this order`);
        continue;
      }
      if (changedCalls.has(call.n)) p(`call #${call.n} has two event rows`);
      changedCalls.add(call.n);
      if (e.from_status !== s) p(`event row ${e.id}: from ${e.from_status}, but the order was in ${s}`);
      const m = model(e.from_status, call.args.event);
      if (!m) p(`event row ${e.id}: ${call.args.event} moved ${e.from_status} to ${e.to_status}; the model allows no change`);
      else if (m.to !== e.to_status) p(`event row ${e.id}: ${call.args.event} moved ${e.from_status} to ${e.to_status}; the model says ${m.to}`);
      if (e.at !== call.args.at) p(`event row ${e.id}: at ${e.at}, the call said ${call.args.at}`);
      if (isLate(e.from_status, e.to_status)) late = true;
      expect.bank_type = call.args.bankType ?? expect.bank_type;
      expect.trade_end_time = call.args.tradeEndTime ?? expect.trade_end_time;
      expect.channel_trade_no = call.args.channelTradeNo ?? expect.channel_trade_no;
      expect.updated_at = call.args.at;
      s = e.to_status;
    }
    changesSeen += events.length;
    if (order.pay_status !== s) p(`stored pay_status ${order.pay_status}, but the events end in ${s}`);
    if (order.late_payment !== (late ? 1 : 0)) p(`late_payment ${order.late_payment}, but the events ${late ? 'show' : 'do not show'} p0000 reached from p0004/5/6`);
    if (late) lateSeen += 1;
    // An event that changed nothing left no trace either.
    for (const k of ['bank_type', 'trade_end_time', 'channel_trade_no', 'updated_at'] as const)
      if (order[k] !== expect[k]) p(`${k} is ${order[k]}; the changes that won say ${expect[k]}`);

    // What each call was told agrees with the rows: one row per change, and no two winners from one state.
    const winners = plan.calls.filter((c) => c.result?.changed);
    if (winners.length !== events.length) p(`${winners.length} calls answered changed, ${events.length} event rows`);
    const fromStates = new Map<PayStatus, number[]>();
    for (const c of winners) {
      if (!changedCalls.has(c.n)) p(`call #${c.n} answered changed but has no event row`);
      const r = c.result as Extract<TransitionResult, { changed: true }>;
      fromStates.set(r.from, [...(fromStates.get(r.from) ?? []), c.n]);
      const m = model(r.from, c.args.event);
      if (m?.to !== r.to) p(`call #${c.n} (${c.args.event}) answered ${r.from} → ${r.to}; the model says ${m?.to ?? 'no change'}`);
      if ((r.notification !== undefined) !== NOTIFYING.includes(r.to)) p(`call #${c.n}: change into ${r.to} ${r.notification ? 'queued' : 'did not queue'} a notification`);
      if (r.notification && r.notification.payStatus !== r.to) p(`call #${c.n}: notification of ${r.notification.payStatus} for a change into ${r.to}`);
    }
    for (const [from, ns] of fromStates) if (ns.length > 1) p(`calls ${ns.map((n) => '#' + n).join(', ')} all won from ${from}`);
    for (const c of plan.calls) {
      if (!c.result || c.result.changed) continue;
      // A refusal names the state the order was in when the event was applied: one the event
      // cannot leave, or the event was lost (a payment dropped, say).
      if (c.result.status === undefined) p(`call #${c.n} was told the order does not exist`);
      else if (model(c.result.status, c.args.event)) p(`call #${c.n} (${c.args.event}) was refused in ${c.result.status}, which it leaves`);
    }
    // Races: events of one burst that could each have left the state another of them left.
    for (const w of winners) {
      const from = (w.result as Extract<TransitionResult, { changed: true }>).from;
      racesSeen += plan.calls.filter((c) => c.burst === w.burst && c !== w && model(from, c.args.event)).length;
    }

    // With one writer, calls ran in the order they were made: the model predicts every answer.
    if (plan.oneWriter) {
      let ms: PayStatus = 'p0001';
      for (const c of plan.calls) {
        const m = model(ms, c.args.event);
        const want = m ? { changed: true, from: ms, to: m.to } : { changed: false, status: ms };
        const got = c.result && (c.result.changed ? { changed: true, from: c.result.from, to: c.result.to } : { changed: false, status: c.result.status });
        if (JSON.stringify(got) !== JSON.stringify(want)) p(`call #${c.n} (${c.args.event}) answered ${JSON.stringify(got)}; the model says ${JSON.stringify(want)}`);
        if (m) ms = m.to;
      }
      if (ms !== order.pay_status) p(`stored ${order.pay_status}; the model over the calls in order says ${ms}`);
      predicted += 1;
    }

    // One notification per change into p0000/p0004/p0006, in order, of that change's state; the
    // older ones superseded, the latest pending: the latest always matches the stored state.
    const notifying = events.filter((e) => NOTIFYING.includes(e.to_status));
    if (notes.length !== notifying.length) p(`${notes.length} notifications for ${notifying.length} changes into p0000/p0004/p0006`);
    notes.forEach((n, i) => {
      const e = notifying[i];
      const payStatus = (JSON.parse(n.fields_json) as { payStatus?: string }).payStatus;
      if (e && payStatus !== e.to_status) p(`notification ${n.id} says ${payStatus} for the change into ${e.to_status} (event row ${e.id})`);
      if (e && (n.created_at !== e.at || n.reason !== `state change to ${e.to_status}`)) p(`notification ${n.id} (${n.reason}, at ${n.created_at}) does not belong to event row ${e.id}`);
      const last = i === notes.length - 1;
      if (n.status !== (last ? 'pending' : 'superseded')) p(`notification ${n.id} is ${n.status}; it should be ${last ? 'pending (the latest)' : 'superseded'}`);
      if ((n.due_at !== null) !== last) p(`notification ${n.id}: due_at ${n.due_at} while ${n.status}`);
    });
    const lastNote = notes.at(-1);
    if (lastNote && (JSON.parse(lastNote.fields_json) as { payStatus?: string }).payStatus !== order.pay_status)
      p(`the latest notification contradicts the stored state ${order.pay_status}`);
    if (NOTIFYING.includes(order.pay_status) && !lastNote) p(`stored ${order.pay_status} was never announced`);
    notesSeen += notes.length;

    if (mine.length > 0) {
      const seq = plan.calls.map((c) => `#${c.n}:${c.writer}:${c.args.event}→${c.result ? (c.result.changed ? `${c.result.from}>${c.result.to}` : `kept ${c.result.status}`) : 'error'}`);
      problems.push(
        `${RERUN}: order ${orderId} (${plan.oneWriter ? 'one writer' : 'two writers'})\n  calls: ${seq.join(', ')}\n` +
          `  event rows: ${events.map((e) => `${e.id}:${e.from_status}>${e.to_status} (${e.detail})`).join(', ') || 'none'}\n` +
          `  notifications: ${notes.map((n) => `${n.id}:${JSON.parse(n.fields_json).payStatus}/${n.status}`).join(', ') || 'none'}\n` +
          `  stored: ${JSON.stringify(order)}\n  - ${mine.join('\n  - ')}`,
      );
    }
  }

  for (const g of ghosts)
    if (!g.result || g.result.changed || g.result.status !== undefined) problems.push(`${RERUN}: call #${g.n} for the unknown order ${g.orderId} answered ${JSON.stringify(g.result) ?? String(g.error)}`);

  // Nothing was written for orders the test does not know about.
  const totals = await sql.get('SELECT (SELECT count(*) FROM order_events) AS events, (SELECT count(*) FROM notifications) AS notes');
  t.same(totals, { events: changesSeen, notes: notesSeen }, 'no event or notification rows beyond those checked');

  t.same(problems.slice(0, 5), [], `${plans.length} orders, ${calls.length + ghosts.length} events: history, answers, flags and notifications agree with the model (${problems.length} orders failed)`);
  const duplicateId = backend === 'sqlite' ? /UNIQUE constraint failed: orders.order_id/ : /duplicate key value violates unique constraint "orders_pkey"/;
  t.ok(poisoned.every((m) => duplicateId.test(m)), `${poisoned.length} failing operations failed alone`);
  t.ok(plans.filter((p) => p.oneWriter).length > 0 && plans.some((p) => !p.oneWriter), 'both one-writer and two-writer rounds ran');
  t.ok(racesSeen > 0, `racing events were fired (${racesSeen} lost to another event of their burst from the same state)`);
  // Group commit is the SQLite writer thread's: on PostgreSQL every operation commits alone.
  if (backend === 'sqlite') t.ok(batches < operations, `events shared transactions (${operations} operations in ${batches} transactions)`);
  t.comment(
    `${rounds} rounds, ${plans.length} orders (${predicted} predicted call by call), ${calls.length + ghosts.length} events, ${changesSeen} changes, ` +
      `${notesSeen} notifications, ${lateSeen} late payments, ${racesSeen} races lost, ${poisoned.length} failing operations mixed in; ${operations} operations in ${batches} transactions${retries === undefined ? '' : ` (${retries} runs retried after a deadlock or serialization failure)`}; ` +
      `writers started in ${firing - started} ms, fired in ${fired - firing} ms, total ${Date.now() - started} ms`,
  );
});

// ---------------------------------------------------------------------------------------------
// (c) Resends mixed in (POST /api/notify/resend, `dtpay notify resend`): whatever notification is
// still to be delivered (pending) speaks of the stored state. The case it was written for: a
// resend of an open order (p0001/p0002), then a change that is not announced (p0001 → p0002, or a
// merchant close → p0005); the change must supersede the resend.

t.test('(c) with resends, the notification still to be delivered matches the stored state', async (t) => {
  const rng = prng(SEED ^ 0x85ebca6b);
  const { storage, sql } = await testStorage(t);
  const w = storage.writer;
  const merchant = await createMerchant(merchantWriting(w), 'Resend shop', 'sandbox');
  const statusOf = (orderId: string) => sql.value<PayStatus>('SELECT pay_status FROM orders WHERE order_id = ?', orderId);
  const pendingOf = async (orderId: string) =>
    (await sql.all<{ id: number; fields_json: string }>(`SELECT id, fields_json FROM notifications WHERE order_id = ? AND status = 'pending'`, orderId)).map(
      (n) => ({ id: n.id, payStatus: (JSON.parse(n.fields_json) as { payStatus?: string }).payStatus }),
    );
  const failures: { steps: string[]; problem: string }[] = [];
  const N = 400;
  for (let i = 0; i < N; i++) {
    const order = orderRow(merchant.mercNo, 1_000);
    await w.run('insertOrder', order);
    const steps: string[] = [];
    let at = 2_000;
    for (let k = rng.int(8); k >= 0; k--) {
      at += 1_000;
      if (rng.chance(0.3)) {
        await w.run('queueNotification', { orderId: order.order_id, at, reason: 'resend' });
        steps.push(`resend (in ${String(await statusOf(order.order_id))})`);
      } else {
        const event = rng.weighted(EVENT_WEIGHTS);
        const r = await w.run('transitionOrder', { orderId: order.order_id, event, source: 'property-test', at });
        steps.push(r.changed ? `${event} ${r.from} → ${r.to}` : `${event} (no change)`);
      }
      const stored = await statusOf(order.order_id);
      const pending = await pendingOf(order.order_id);
      const problem =
        pending.length > 1
          ? `${pending.length} notifications pending at once`
          : pending[0] && pending[0].payStatus !== stored
            ? `notification ${pending[0].id} of ${pending[0].payStatus} is still pending while the order is ${stored}`
            : undefined;
      if (problem) {
        failures.push({ steps: [...steps], problem });
        break;
      }
    }
  }
  // The shortest failing sequence is the one worth reading.
  failures.sort((a, b) => a.steps.length - b.steps.length);
  const first = failures[0];
  if (first) t.comment(`shortest failure (${RERUN}): ${first.problem} after: new order (p0001), ${first.steps.join(', ')}`);
  t.same(
    first ? `${first.problem} after: new order (p0001), ${first.steps.join(', ')}` : undefined,
    undefined,
    `${N} orders with resends, ${RERUN} (${failures.length} failed)`,
  );
});
