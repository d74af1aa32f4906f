// Delivers the outbox (CONTRACT §2.5). The notifications table is the truth; this keeps in memory
// only what falls due within the wheel's horizon, at most `capacity` rows however many are
// pending. Each attempt: claim (a lease, so nothing else sends it meanwhile) → check the address →
// sign → POST → record the attempt and the next step in one write. The claim of the next attempt
// to the same host is made during this one's POST, so that it is committed by the time the slot
// is free: per slot, one exchange after another, not a commit and an exchange each.

import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { StoragePort } from '../db/port.js';
import type { Writer } from '../db/writer.js';
import type { ClaimedNotification, MerchantRow, QueuedNotification } from '../db/rows.js';
import type { SignType } from '../domain/sign.js';
import type { Clock } from './clock.js';
import { checkTarget } from './address-policy.js';
import { FairQueue } from './fair-queue.js';
import { signedBody } from './notification-body.js';
import { isDelivered, nextAttempt } from './retry-policy.js';
import { LOGGED_ANSWER_BYTES, Sender, type Exchange } from './sender.js';
import { TimerWheel } from './timer-wheel.js';
import { webhookHeaders } from './webhook-signature.js';
import { notificationAttemptMetric } from '../metrics.js';

export interface DispatcherOptions {
  reads: Pick<StoragePort['reads'], 'dueNotifications' | 'merchant'>;
  writer: Writer;
  log: Logger;
  clock: Clock;
  /** NOTIFY_RETRY_SCHEDULE, in seconds */
  schedule: readonly number[];
  timeoutMs: number;
  concurrency: number;
  hostConcurrency: number;
  allowPrivate: boolean;
  allowHosts: readonly string[];
  /** DNS; tests map names to addresses */
  resolve?: (host: string) => Promise<string[]>;
  /** Most notifications held in memory at once (wheel, queue and in flight together). */
  capacity?: number;
  /** How often the table is read for rows this process did not queue itself (CLI resends, restarts). */
  loadEveryMs?: number;
}

interface Item {
  id: number;
  host: string;
  readyAt: number;
}

/** The notification claimed to go next in a slot of its host, and its claim under way. */
interface Follower {
  item: Item;
  claim: Promise<ClaimedNotification | undefined>;
}

export interface DispatcherStats {
  attempts: number;
  delivered: number;
  retried: number;
  failed: number;
  /** rows taken from the table by the loader */
  loaded: number;
  /** held in memory now, and the most ever held */
  held: number;
  maxHeld: number;
}

const TICK_MS = 100;
const SLOTS = 600; // a 60 s horizon, comfortably beyond the look-ahead
// Memory holds only what falls due within this window; the loader, which runs every second,
// brings each row in at least a few seconds before it is due. A retry ten seconds away waits in
// the table, so a merchant failing many notifications cannot crowd fresh ones out of memory.
const LOOKAHEAD_MS = 5_000;

const defaultResolve = async (host: string) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

// The per-host limit counts origins: two ports of one machine are two endpoints to the merchant too.
function hostKey(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export class Dispatcher {
  /** Written into the lease of every claimed row, so a restart can tell its own rows from a dead process's. */
  readonly owner = `dispatcher-${randomBytes(6).toString('hex')}`;
  readonly stats: DispatcherStats = { attempts: 0, delivered: 0, retried: 0, failed: 0, loaded: 0, held: 0, maxHeld: 0 };

  private readonly o: Required<DispatcherOptions>;
  private readonly wheel: TimerWheel<Item>;
  private readonly fair: FairQueue<Item>;
  private readonly sender: Sender;
  private readonly held = new Set<number>();
  private readonly running = new Set<Promise<void>>();
  private cutOff = false;
  private timer: unknown;
  private timerAt = Infinity;
  private nextLoadAt = 0;
  private started = false;
  private stopping = false;
  private backlog = false;
  /** a read of the outbox under way: one at a time, and none started while it runs */
  private loading = false;

  constructor(opts: DispatcherOptions) {
    this.o = { resolve: defaultResolve, capacity: 10_000, loadEveryMs: 1_000, ...opts };
    this.wheel = new TimerWheel<Item>({ tickMs: TICK_MS, slots: SLOTS, now: this.o.clock.now });
    this.fair = new FairQueue<Item>(this.o.concurrency, this.o.hostConcurrency);
    this.sender = new Sender(this.o.hostConcurrency);
  }

  /** For readiness: started and not shutting down. */
  get isRunning(): boolean {
    return this.started && !this.stopping;
  }

  /** Re-arms everything pending (and every lease that ran out) and starts delivering. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.nextLoadAt = this.o.clock.now();
    this.onTimer();
  }

  /** Called once a notification's row has committed: its first attempt goes out at once. */
  queued(n: QueuedNotification | undefined): void {
    if (!n || !this.started || this.stopping) return;
    if (this.hold(n.id, n.url, n.dueAt)) this.arm();
  }

  /**
   * Stops taking new work, lets attempts in flight finish for up to `graceMs`, then cuts the rest
   * off and hands their rows back untried, so that the next start sends them at once.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const item of this.fair.drain()) this.release(item.id);
    const all = Promise.allSettled([...this.running]);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (grace = setTimeout(r, graceMs)))]);
    clearTimeout(grace);
    this.cutOff = true;
    this.sender.cancelAll();
    await all;
    // Followers that will not go hand their claims back meanwhile: done before the writer closes.
    while (this.running.size) await Promise.allSettled([...this.running]);
    await this.sender.close();
  }

  private hold(id: number, url: string, readyAt: number): boolean {
    if (this.held.has(id) || this.held.size >= this.o.capacity) return false;
    if (readyAt > this.o.clock.now() + LOOKAHEAD_MS) return false;
    if (!this.wheel.schedule(String(id), readyAt, { id, host: hostKey(url), readyAt })) return false;
    this.held.add(id);
    this.stats.held = this.held.size;
    if (this.held.size > this.stats.maxHeld) this.stats.maxHeld = this.held.size;
    return true;
  }

  private release(id: number): void {
    this.held.delete(id);
    this.stats.held = this.held.size;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopping) return;
    const now = this.o.clock.now();
    this.enqueueDue(now);
    if (!this.loading && (now >= this.nextLoadAt || this.refillNow())) this.track(this.load(now));
    this.pump();
    this.arm();
  }

  // With more due than memory holds, a queue that ran low is refilled at once rather than at the
  // next periodic load.
  private refillNow(): boolean {
    return this.backlog && !this.loading && this.held.size < this.o.capacity / 4;
  }

  private enqueueDue(now: number): void {
    for (const item of this.wheel.advance(now)) this.fair.push(item.host, item);
  }

  // While the read runs, attempts go on: a row read as pending may be delivered by then and come
  // back here. Holding it again is harmless, because whether it goes is decided by its claim, a
  // conditional write that finds it no longer pending.
  private async load(now: number): Promise<void> {
    this.nextLoadAt = now + this.o.loadEveryMs;
    const room = this.o.capacity - this.held.size;
    if (room <= 0) return;
    this.loading = true;
    let rows: { id: number; url: string; readyAt: number }[] | undefined;
    try {
      // Asks for `capacity` rows, not `room`: some of them may be the ones already held.
      rows = await this.o.reads.dueNotifications(now + LOOKAHEAD_MS, this.o.capacity);
    } catch (err) {
      this.o.log.error({ err }, 'cannot read the notification outbox');
    } finally {
      this.loading = false;
    }
    if (this.stopping) return;
    if (rows) {
      // A full page means the table may hold more than was read.
      this.backlog = rows.length >= this.o.capacity;
      for (const r of rows) {
        if (this.held.size >= this.o.capacity) break;
        if (this.hold(r.id, r.url, r.readyAt)) this.stats.loaded++;
      }
      this.enqueueDue(this.o.clock.now());
      this.pump();
    }
    // The timer was left alone while the read ran.
    this.arm();
  }

  private arm(): void {
    if (this.stopping) return;
    // A read of the outbox under way arms the timer again when it ends.
    const loadAt = this.loading ? Infinity : this.refillNow() ? this.o.clock.now() : this.nextLoadAt;
    const at = Math.min(this.wheel.nextDueAt() ?? Infinity, loadAt);
    if (at === Infinity || (this.timer !== undefined && this.timerAt <= at)) return;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.o.clock.setTimeout(() => this.onTimer(), Math.max(0, at - this.o.clock.now()));
  }

  private pump(): void {
    if (this.stopping) return;
    for (const { host, item } of this.fair.take()) this.launch(host, item);
  }

  private launch(host: string, item: Item, claim?: Promise<ClaimedNotification | undefined>): void {
    const p = this.attempt(host, item, claim).catch((err) => this.o.log.error({ err, notificationId: item.id }, 'notification attempt failed unexpectedly'));
    this.track(p);
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  // The lease outlives the longest honest attempt (the exchange is bounded by timeoutMs) with room
  // for the write that ends it; one claimed to follow another also waits for that one's exchange.
  private claim(id: number, timeouts: number): Promise<ClaimedNotification | undefined> {
    const now = this.o.clock.now();
    return this.o.writer.run('claimNotification', { id, owner: this.owner, now, leaseUntil: now + timeouts * this.o.timeoutMs });
  }

  /**
   * While an exchange runs, the next notification waiting for the same host is claimed, so that
   * it goes the moment this exchange ends, in the slot this one leaves: one host's deliveries do
   * not each wait for a commit of their claim, only for the exchange before them.
   */
  private claimFollower(host: string): Follower | undefined {
    if (this.stopping) return undefined;
    const item = this.fair.takeNext(host);
    if (!item) return undefined;
    const claim = this.claim(item.id, 3);
    claim.catch(() => {}); // seen by whoever awaits it
    return { item, claim };
  }

  /** A follower that will not go after all (shutdown): its claim is handed back untried. */
  private giveBack(f: Follower): void {
    this.track(
      f.claim
        .then((c) => (c ? this.o.writer.run('releaseNotification', { id: c.id, owner: this.owner }) : false))
        .then(
          () => undefined,
          (err) => this.o.log.error({ err, notificationId: f.item.id }, 'cannot hand a claimed notification back'),
        )
        .finally(() => this.release(f.item.id)),
    );
  }

  private async attempt(host: string, item: Item, preclaimed?: Promise<ClaimedNotification | undefined>): Promise<void> {
    // This attempt holds a slot of its host and a global one until its exchange ends; then its
    // follower, if it has one, takes both over.
    let holding = true;
    const freeSlot = () => {
      if (!holding) return;
      holding = false;
      this.fair.releaseHost(host);
      this.fair.releaseGlobal();
    };
    let follower: Follower | undefined;
    try {
      const claimed = await (preclaimed ?? this.claim(item.id, 2));
      // Delivered, superseded, rescheduled or held by another process meanwhile: nothing to do.
      if (!claimed) return;
      if (this.stopping) {
        await this.o.writer.run('releaseNotification', { id: claimed.id, owner: this.owner });
        return;
      }
      const at = this.o.clock.now();
      const attemptNo = claimed.attempts + 1;
      follower = this.claimFollower(host);
      const exchange = await this.exchange(claimed, at).catch((err: unknown): Exchange => {
        // A bug here must not strand the row under its lease: it is recorded like any failure.
        this.o.log.error({ err, notificationId: claimed.id }, 'notification attempt broke');
        return { answer: '', error: 'internal', latencyMs: 0 };
      });
      if (follower && !this.stopping) {
        holding = false;
        this.launch(host, follower.item, follower.claim);
        follower = undefined;
      } else freeSlot();
      this.pump();
      if (this.cutOff) {
        // Cut off by shutdown, not failed by the merchant: it does not count as an attempt.
        await this.o.writer.run('releaseNotification', { id: claimed.id, owner: this.owner });
        return;
      }
      const delivered = !exchange.error && isDelivered(exchange.httpStatus ?? 0, exchange.answer);
      const next = delivered ? undefined : nextAttempt(this.o.schedule, attemptNo, at);
      const outcome = delivered ? 'delivered' : next?.kind === 'retry' ? 'retry' : 'failed';
      await this.o.writer.run('recordAttempt', {
        id: claimed.id,
        owner: this.owner,
        attempt: attemptNo,
        dueAt: claimed.dueAt,
        at,
        httpStatus: exchange.httpStatus,
        latencyMs: exchange.latencyMs,
        outcome,
        error: exchange.error ?? (delivered ? undefined : failureClass(exchange)),
        answer: exchange.httpStatus === undefined ? undefined : truncateUtf8(exchange.answer, LOGGED_ANSWER_BYTES),
        nextDueAt: next?.kind === 'retry' ? next.dueAt : undefined,
      });
      this.stats.attempts++;
      notificationAttemptMetric(this, outcome, exchange.error ?? (delivered ? undefined : failureClass(exchange)));
      const log = { notificationId: claimed.id, orderId: claimed.orderId, attempt: attemptNo, httpStatus: exchange.httpStatus, error: exchange.error };
      if (outcome === 'delivered') {
        this.stats.delivered++;
        this.o.log.debug(log, 'notification delivered');
      } else if (outcome === 'failed') {
        this.stats.failed++;
        this.o.log.warn(log, 'notification failed: no attempts left');
      } else {
        this.stats.retried++;
        this.o.log.debug(log, 'notification attempt failed; will retry');
      }
      this.release(item.id);
      if (next?.kind === 'retry') this.hold(claimed.id, claimed.url, next.dueAt);
    } finally {
      freeSlot();
      if (follower) this.giveBack(follower);
      // Whatever happened, the id is no longer in flight; a row still pending comes back through
      // the loader (for instance when a write failed and the lease runs out).
      if (!this.wheel.has(String(item.id))) this.release(item.id);
      this.pump();
      this.arm();
    }
  }

  private async exchange(c: ClaimedNotification, at: number): Promise<Exchange> {
    const started = performance.now();
    const merchant = (await this.o.reads.merchant(c.mercNo)) as MerchantRow | undefined;
    if (!merchant) return { answer: '', error: 'merchant-missing', latencyMs: 0 };
    const check = await checkTarget(c.url, {
      mode: merchant.mode,
      allowPrivate: this.o.allowPrivate,
      allowHosts: [...this.o.allowHosts],
      resolve: (h) => withDeadline(this.o.resolve(h), this.o.timeoutMs),
    });
    if (!check.ok) {
      this.o.log.warn({ notificationId: c.id, orderId: c.orderId, reason: check.reason }, 'notification target refused');
      return { answer: '', error: `address: ${check.reason}`.slice(0, 256), latencyMs: Math.round(performance.now() - started) };
    }
    const body = signedBody(JSON.parse(c.fieldsJson) as Record<string, string>, merchant.key, c.signType as SignType);
    const headers = webhookHeaders({ id: c.webhookId, timestampSec: Math.floor(at / 1000), body, key: merchant.key });
    const remaining = Math.max(1, Math.ceil(this.o.timeoutMs - (performance.now() - started)));
    const target = { url: c.url, address: check.address, family: check.family };
    const result = await this.sender.post(target, headers, body, remaining);
    return { ...result, latencyMs: Math.round(performance.now() - started) };
  }
}

function failureClass(e: Exchange): string {
  const s = e.httpStatus ?? 0;
  if (s >= 300 && s < 400) return 'redirect';
  if (s < 200 || s > 299) return 'status';
  return 'answer';
}

function truncateUtf8(s: string, bytes: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= bytes) return s;
  // Cutting inside a character leaves a replacement mark at the end, which is what was received.
  return b.subarray(0, bytes).toString('utf8');
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
