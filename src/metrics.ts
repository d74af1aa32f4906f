// GET /metrics (Prometheus text format). Each gateway has a Registry of its own, so several in one
// process (tests) never mix their figures. On the request path a metric costs one counter inc and
// one histogram observe, with label objects made once per route and code; database figures are
// read on scrape only.

import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ChannelDriver } from './channels/types.js';
import type { StoragePort } from './db/port.js';
import { PAY_STATUSES } from './domain/order-states.js';
import { RESP, type RespCode } from './errors.js';
import { OUTCOMES } from './reconcile/compare.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The respCode of a merchant API answer, read off the envelope as it is sent ('' elsewhere). */
    dtpayRespCode: string;
  }
}

type Labels = Record<string, string>;
// Callback-style hooks: no promise per request.
type Done = (err?: Error | null, payload?: unknown) => void;

// Most frequent first: the answer's code is found by comparing, without cutting a new string.
const RESP_CODES: readonly RespCode[] = [RESP.OK, ...Object.values(RESP).filter((c) => c !== RESP.OK)];
const ENVELOPE_START = '{"respCode":"';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  private readonly requests = new Counter({
    name: 'dtpay_http_requests_total',
    help: 'HTTP requests answered, by interface (the merchant API interfaceCode, else METHOD and route), respCode (merchant API only) and HTTP status',
    labelNames: ['interface', 'resp_code', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'dtpay_http_request_duration_seconds',
    help: 'Time from receiving a request to the end of its answer, by interface',
    labelNames: ['interface'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly channelCalls = new Counter({
    name: 'dtpay_channel_calls_total',
    help: 'Calls to channel drivers, by payway, scene, operation (create, query, close, refund, refundQuery, transfer, transferQuery, transferCancel) and outcome',
    labelNames: ['payway', 'scene', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly notifyAttempts = new Counter({
    name: 'dtpay_notification_attempts_total',
    help: 'Notification attempts recorded, by outcome (delivered, retry, failed) and error class',
    labelNames: ['outcome', 'error'] as const,
    registers: [this.registry],
  });

  constructor(reads: StoragePort['metrics']) {
    new Gauge({
      name: 'dtpay_notifications_pending',
      help: 'Notifications waiting to be delivered (the outbox), read on scrape',
      registers: [this.registry],
      async collect() {
        this.set(await reads.pendingNotifications());
      },
    });
    new Gauge({
      name: 'dtpay_orders',
      help: 'Orders by payStatus, read on scrape',
      labelNames: ['pay_status'] as const,
      registers: [this.registry],
      async collect() {
        const counts = new Map<string, number>(PAY_STATUSES.map((s) => [s, 0]));
        for (const r of await reads.ordersByStatus()) counts.set(r.payStatus, r.n);
        this.reset();
        for (const [payStatus, n] of counts) this.set({ pay_status: payStatus }, n);
      },
    });
    this.reconciliationGauges(reads);
  }

  /** Reconciliation's figures and the open alerts, from small tables only (migrations/0013). */
  private reconciliationGauges(reads: StoragePort['metrics']): void {
    new Gauge({
      name: 'dtpay_reconciliation_items',
      help: 'Lines of the latest compared reconciliation run of each merchant and payway, summed by payway and kind, read on scrape',
      labelNames: ['payway', 'kind'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await reads.reconciliationByPayway();
        this.reset();
        for (const r of rows) {
          for (const kind of OUTCOMES) this.set({ payway: r.payway, kind }, Number(r[kind]));
        }
      },
    });
    new Gauge({
      name: 'dtpay_reconciliation_last_success_timestamp_seconds',
      help: 'When a reconciliation run of this payway last compared a bill (status ok), unix seconds, read on scrape',
      labelNames: ['payway'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await reads.reconciliationByPayway();
        this.reset();
        for (const r of rows) this.set({ payway: r.payway }, Math.floor(Number(r.lastOkAt) / 1000));
      },
    });
    new Gauge({
      name: 'dtpay_alerts_open',
      help: 'Alerts nobody has marked handled yet (refused callbacks, reconciliation items), read on scrape',
      registers: [this.registry],
      async collect() {
        this.set(await reads.openAlerts());
      },
    });
  }

  /** The recorder of one route: its label objects are made once per code and status seen. */
  routeRecorder(iface: string): (request: FastifyRequest, reply: FastifyReply) => void {
    const latencyLabels = { interface: iface };
    const byStatus = new Map<number, Map<string, Labels>>();
    return (request, reply) => {
      const status = reply.statusCode;
      const code = request.dtpayRespCode;
      let byCode = byStatus.get(status);
      if (!byCode) byStatus.set(status, (byCode = new Map()));
      let labels = byCode.get(code);
      if (!labels) byCode.set(code, (labels = { interface: iface, resp_code: code, status: String(status) }));
      this.requests.inc(labels);
      this.latency.observe(latencyLabels, reply.elapsedTime / 1000);
    };
  }

  channelCall(payway: string, scene: string, operation: string, outcome: string): void {
    this.channelCalls.inc({ payway, scene, operation, outcome });
  }

  notificationAttempt(outcome: string, error: string | undefined): void {
    // Error classes are few ('timeout', 'status', 'network:ECONNRESET' → 'network', 'address: …' → 'address').
    const cls = error ? error.split(':', 1)[0]!.trim() : '';
    this.notifyAttempts.inc({ outcome, error: cls });
  }
}

// The one-line hooks in services and the dispatcher find their gateway's metrics through the
// object they already hold (Services, the Dispatcher); nothing is recorded where none is bound.
const bound = new WeakMap<object, GatewayMetrics>();

export function bindMetrics(metrics: GatewayMetrics, ...holders: object[]): void {
  for (const h of holders) bound.set(h, metrics);
}

/** Hook: one channel driver call has ended (create-order.ts). */
export function channelCallMetric(holder: object, payway: string, scene: string, operation: string, outcome: string): void {
  bound.get(holder)?.channelCall(payway, scene, operation, outcome);
}

/** Hook: one notification attempt has been recorded (dispatcher.ts). */
export function notificationAttemptMetric(holder: object, outcome: string, error: string | undefined): void {
  bound.get(holder)?.notificationAttempt(outcome, error);
}

const METERED_OPERATIONS = {
  queryPayment: 'query',
  closePayment: 'close',
  refund: 'refund',
  queryRefund: 'refundQuery',
  queryTransfer: 'transferQuery',
  cancelTransfer: 'transferCancel',
} as const;
const meteredDrivers = new WeakMap<ChannelDriver<any>, Map<string, ChannelDriver<any>>>();

/**
 * Hook (channel-call.ts): the driver an order is served by, counting each query, close, refund and
 * refund query under the order's payway and scene. A call that throws counts as `error`.
 */
export function meteredDriver<C>(holder: object, driver: ChannelDriver<C>, payway: string, scene: string): ChannelDriver<C> {
  const metrics = bound.get(holder);
  if (!metrics) return driver;
  let cache = meteredDrivers.get(driver);
  if (!cache) meteredDrivers.set(driver, (cache = new Map()));
  const key = `${payway}.${scene}`;
  let wrapped = cache.get(key);
  if (!wrapped) {
    const w = Object.create(driver) as Record<string, unknown>;
    for (const [method, operation] of Object.entries(METERED_OPERATIONS)) {
      const original = (driver as unknown as Record<string, ((...args: unknown[]) => Promise<{ outcome?: string }>) | undefined>)[method];
      // A driver without payouts has no payout methods, and must not seem to have them.
      if (typeof original !== 'function') continue;
      w[method] = async (...args: unknown[]) => {
        try {
          const r = await original.apply(driver, args);
          metrics.channelCall(payway, scene, operation, r?.outcome ?? 'done');
          return r;
        } catch (err) {
          metrics.channelCall(payway, scene, operation, 'error');
          throw err;
        }
      };
    }
    cache.set(key, (wrapped = w as unknown as ChannelDriver<any>));
  }
  return wrapped as ChannelDriver<C>;
}

function addRouteHook(route: RouteOptions, name: 'onSend' | 'onResponse', fn: unknown): void {
  const r = route as unknown as Record<string, unknown>;
  const existing = r[name];
  r[name] = existing === undefined ? [fn] : Array.isArray(existing) ? [...existing, fn] : [existing, fn];
}

/**
 * Counts and times every route registered after this (so call it before the routes), and serves
 * GET /metrics. Merchant API answers are counted by their respCode, read off the envelope.
 */
export function installMetrics(app: FastifyInstance, metrics: GatewayMetrics): void {
  app.decorateRequest('dtpayRespCode', '');
  app.addHook('onRoute', (route) => {
    if (route.url === '/metrics') return;
    const interfaceCode = route.config?.interfaceCode;
    const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
    const record = metrics.routeRecorder(interfaceCode ?? `${methods} ${route.url}`);
    if (interfaceCode) {
      addRouteHook(route, 'onSend', (request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: Done) => {
        if (typeof payload === 'string' && payload.startsWith(ENVELOPE_START)) {
          for (const code of RESP_CODES) {
            if (payload.startsWith(code, ENVELOPE_START.length)) {
              request.dtpayRespCode = code;
              break;
            }
          }
        }
        done(null, payload);
      });
    }
    addRouteHook(route, 'onResponse', (request: FastifyRequest, reply: FastifyReply, done: Done) => {
      record(request, reply);
      done();
    });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
  });
}
