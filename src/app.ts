import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import type { StoragePort } from './db/port.js';
import type { Db } from './db/open.js';
import type { Writer } from './db/writer.js';
import { openStorage } from './db/open-storage.js';
import { InstanceSlot, newInstanceName } from './services/instance-slot.js';
import { reconcileLeaseName, underLease } from './services/leases.js';
import { OrderIdGenerator } from './domain/ids.js';
import { CashierLinks } from './domain/cashier-links.js';
import { AlertRecorder } from './services/alert-recorder.js';
import { ChannelRegistry } from './channels/registry.js';
import { supportedCells } from './channels/matrix.js';
import { SANDBOX_SIGNATURE_HEADER, sandboxDriver } from './channels/sandbox/driver.js';
import type { Services } from './services/context.js';
import { OrderCreator } from './services/create-order.js';
import { PayoutCreator } from './services/create-payout.js';
import { SandboxPayments } from './services/sandbox-payment.js';
import { ErrorAnswers } from './api/error-handler.js';
import { installBodyParsers } from './api/body-parsers.js';
import { installMerchantAuth } from './api/merchant-auth.js';
import { internalInject } from './api/internal-calls.js';
import { limitConnections, requestLogs, requestTimeouts } from './api/http-limits.js';
import { payRoute } from './api/pay-route.js';
import { queryRoute } from './api/query-route.js';
import { channelRoutes } from './api/channel-routes.js';
import { pageRoutes } from './api/page-routes.js';
import { healthRoutes } from './api/health-routes.js';
import { sandboxRoutes } from './api/sandbox-routes.js';
import { notifyRoutes } from './api/notify-routes.js';
import { closeRoute } from './api/close-route.js';
import { refundRoutes } from './api/refund-routes.js';
import { billRoutes } from './api/bill-route.js';
import { answerSandboxApi, sandboxApiRoutes } from './api/sandbox-api-routes.js';
import { openApiRoutes } from './api/openapi.js';
import { OrderWatcher } from './services/order-watcher.js';
import { ReconcileScheduler } from './services/reconcile-scheduler.js';
import { reconcileDay } from './services/reconciliation.js';
import { request as httpRequest } from 'undici';
import { readBody } from './channels/http-body.js';
import { type ChannelDriver, type HttpRequest, type HttpResponse, type Payway } from './channels/types.js';
import { alipayDriver } from './channels/alipay/driver.js';
import { wxpayDriver } from './channels/wxpay/driver.js';
import { unionpayDriver } from './channels/unionpay/driver.js';
import { credentialLookup } from './services/live-credentials.js';
import type { SecretsNotes } from './services/secrets-at-start.js';
import { PayeeData } from './secrets/payee-data.js';
import { Dispatcher } from './notify/dispatcher.js';
import { realClock, type Clock } from './notify/clock.js';
import { GatewayMetrics, bindMetrics, installMetrics } from './metrics.js';
import { apiRateLimits, installRateLimits } from './api/rate-limits.js';
import { consolePlugin } from './console/plugin.js';


const LIVE_DRIVERS: Partial<Record<Payway, ChannelDriver<any>>> = { alipay: alipayDriver, wxpay: wxpayDriver, unionpay: unionpayDriver };

/** Every cell of the scene matrix whose payway has a live driver, served by that driver. */
function liveRegistrations() {
  return supportedCells().flatMap((cell) => {
    const driver = LIVE_DRIVERS[cell.split('.')[0] as Payway];
    return driver ? [{ mode: 'live' as const, cell, driver }] : [];
  });
}

export interface GatewayOptions {
  logger?: Logger;
  now?: () => number;
  /** Called when the writer thread dies; the server exits, since no order can be stored. */
  onFatal?: (err: Error) => void;
  /** The notification dispatcher's clock (tests move it by hand); `now` defaults to it. */
  clock?: Clock;
  /** DNS for notification targets (tests map names to addresses). */
  resolve?: (host: string) => Promise<string[]>;
  /** false: commits without fsync, for the bench to measure what durability costs; nothing else sets it. */
  durableWriter?: boolean;
}

export interface Gateway {
  app: FastifyInstance;
  services: Services;
  /** the database as everything but start-up and the tests sees it */
  storage: StoragePort;
  /** SQLite's reading connection, for tests; reading it on PostgreSQL throws */
  readonly db: Db;
  writer: Writer;
  dispatcher: Dispatcher;
  watcher: OrderWatcher;
  /** The daily reconciliation at RECONCILE_AT. */
  reconciler: ReconcileScheduler;
  close(): Promise<void>;
}

/** The one place things are wired, in a fixed order: storage, channels, services, HTTP. */
export async function buildGateway(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  const log = opts.logger ?? pino({ level: config.LOG_LEVEL });
  const clock = opts.clock ?? realClock;
  const now = opts.now ?? clock.now;

  const opened = await openStorage(config, log, {
    onFatal: opts.onFatal ?? ((err) => log.fatal({ err }, 'database writer failed')),
    durable: opts.durableWriter ?? true,
  });
  const { storage, migrated, secrets } = opened;
  const { writer } = storage;
  logSecretsNotes(log, secrets.notes);
  const { masterKey, merchantKeys } = secrets;
  const { reads } = storage;

  const sandboxSecret = await writer.run('ensureSetting', { name: 'sandbox_secret', value: randomBytes(32).toString('hex') });
  const cashierSecret = await writer.run('ensureSetting', { name: 'cashier_secret', value: randomBytes(32).toString('hex') });
  const registry = new ChannelRegistry([
    ...supportedCells().map((cell) => ({ mode: 'sandbox' as const, cell, driver: sandboxDriver })),
    ...liveRegistrations(),
  ]);

  // On PostgreSQL, this instance's slot among those sharing the database, carried by its order ids.
  const instance = newInstanceName();
  const fatal = opts.onFatal ?? ((err: Error) => log.fatal({ err }, 'lost the instance slot'));
  let slot: InstanceSlot | undefined;
  if (storage.dialect === 'postgres') {
    try {
      slot = await InstanceSlot.claim({ holder: instance, writer, clock, now, log, onLost: fatal });
    } catch (err) {
      await slot?.release();
      await opened.close();
      throw err;
    }
    log.info({ slot: slot.slot, instance }, 'holding an instance slot on the shared database');
  }
  const ids = new OrderIdGenerator(now, slot?.slot);
  ids.seedAfter(await reads.maxOrderId());

  const dispatcher = new Dispatcher({
    reads,
    writer,
    log: log.child({ part: 'notify' }),
    clock,
    schedule: config.NOTIFY_RETRY_SCHEDULE,
    timeoutMs: config.NOTIFY_TIMEOUT_MS,
    concurrency: config.NOTIFY_CONCURRENCY,
    hostConcurrency: config.NOTIFY_HOST_CONCURRENCY,
    allowPrivate: config.NOTIFY_ALLOW_PRIVATE,
    allowHosts: config.NOTIFY_ALLOW_HOSTS,
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
  });

  const alerts = new AlertRecorder(writer, clock, log);
  const services: Services = {
    config,
    storage,
    instance,
    reads,
    writer,
    merchantKeys,
    payees: new PayeeData(() => masterKey),
    registry,
    ids,
    now,
    log,
    notifier: dispatcher,
    alerts,
    links: new CashierLinks(cashierSecret, config.PUBLIC_BASE_URL),
    channelContext: (signal) => ({ now, publicBaseUrl: config.PUBLIC_BASE_URL, signal, http: (req) => channelHttp(req, signal) }),
    ...credentialLookup(storage.credentials, masterKey, sandboxSecret),
  };

  const apiLimits = apiRateLimits(config, now);
  const errors = new ErrorAnswers(config.BODY_LIMIT_BYTES, config.REQUEST_TIMEOUT_MS, apiLimits);
  const app = Fastify({
    loggerInstance: log,
    logController: requestLogs(),
    bodyLimit: config.BODY_LIMIT_BYTES,
    connectionTimeout: 30_000,
    ...requestTimeouts(config),
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors: errors.frameworkErrors,
    clientErrorHandler: errors.clientError,
  }) as unknown as FastifyInstance; // pino's Logger is wider than Fastify's base logger type
  limitConnections(app.server, config);
  // Before the routes: these attach to each route as it is added.
  errors.install(app);
  installBodyParsers(app);
  const metrics = new GatewayMetrics(storage.metrics);
  bindMetrics(metrics, services, dispatcher);
  installMetrics(app, metrics);
  installMerchantAuth(app, reads, apiLimits?.admitMerchant);
  await installRateLimits(app, config);

  // The sandbox channel is served by the gateway itself: its driver's calls stay in the process
  // (PUBLIC_BASE_URL may not lead back here from inside, behind a proxy or in a container), and
  // are answered by the sandbox API directly, the same bytes the HTTP route would send.
  const sandboxPrefix = `${config.PUBLIC_BASE_URL}/sandbox/api/`;
  async function channelHttp(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    if (req.url.startsWith(sandboxPrefix)) {
      if (req.method === 'POST') {
        return answerSandboxApi(sandbox, req.url.slice(sandboxPrefix.length), Buffer.from(req.body ?? '', 'utf8'), req.headers[SANDBOX_SIGNATURE_HEADER]);
      }
      const res = await app.inject({ method: req.method, url: req.url.slice(config.PUBLIC_BASE_URL.length), headers: req.headers, payload: req.body });
      return { status: res.statusCode, headers: res.headers as HttpResponse['headers'], body: res.body };
    }
    // The caller's signal bounds the whole call; these only stop undici's own longer defaults.
    const limit = config.CHANNEL_TIMEOUT_MS;
    const res = await httpRequest(req.url, { method: req.method, headers: req.headers, body: req.body, signal, headersTimeout: limit, bodyTimeout: limit });
    return { status: res.statusCode, headers: res.headers, ...(await readBody(res.body, req)) };
  }

  const creator = new OrderCreator(services);
  const sandbox = new SandboxPayments(services, async (payload, headers) => {
    // The sandbox channel reports to the same callback route a real channel uses.
    const res = await internalInject(app, { method: 'POST', url: '/channel/sandbox/notify', payload, headers });
    return { status: res.statusCode, body: res.body };
  });

  payRoute(app, creator, new PayoutCreator(services));
  queryRoute(app, services);
  closeRoute(app, services);
  refundRoutes(app, services);
  billRoutes(app, services);
  pageRoutes(app, reads, services.links);
  healthRoutes(app, reads, { writerOk: opened.writerOk, dispatcherRunning: () => dispatcher.isRunning }, migrated);
  sandboxRoutes(app, sandbox);
  notifyRoutes(app, services);
  openApiRoutes(app, config.PUBLIC_BASE_URL);
  await app.register(channelRoutes, { services });
  await app.register(sandboxApiRoutes, { sandbox });
  await app.register(consolePlugin, { prefix: '/console', services, masterKey });

  // Pending notifications from before a restart (or a crash) go out from here on, and orders
  // that expired while the gateway was down are expired now.
  dispatcher.start();
  const watcher = new OrderWatcher(services, clock);
  watcher.start();
  const reconciler = new ReconcileScheduler({
    clock,
    at: config.RECONCILE_AT,
    log: log.child({ part: 'reconcile' }),
    // On PostgreSQL each day (and scope) is reconciled by the one instance that takes its lease.
    run: async (scope, signal) => {
      if (storage.dialect === 'sqlite') return reconcileDay(services, scope, { signal });
      const r = await underLease({ writer, now, holder: instance }, reconcileLeaseName(scope), () => reconcileDay(services, scope, { signal }));
      return r.ran ? r.value : [];
    },
  });
  reconciler.start();

  return {
    app,
    services,
    storage,
    get db(): Db {
      if (!opened.db) throw new Error('gateway.db is the SQLite connection; this gateway runs on PostgreSQL (DATABASE_URL)');
      return opened.db;
    },
    writer,
    dispatcher,
    watcher,
    reconciler,
    async close() {
      // The server stops taking requests and the dispatcher stops starting attempts at once; those
      // in flight get part of the shutdown budget, and what is left goes out on the next start.
      const watching = Promise.all([watcher.stop(), reconciler.stop()]);
      const stopping = dispatcher.stop(Math.min(config.NOTIFY_TIMEOUT_MS, config.SHUTDOWN_TIMEOUT_MS / 2));
      // A request answered during the close leaves its keep-alive connection idle, and an idle
      // connection would hold the close open until the client let go of it (up to keepAliveTimeout).
      const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
      try {
        await app.close();
      } finally {
        clearInterval(reaper);
      }
      await Promise.all([watching, stopping]);
      await alerts.close();
      await slot?.release();
      await opened.close();
    },
  };
}

/** What the start-up step did to secrets, said once; never the key itself. */
function logSecretsNotes(log: Logger, notes: SecretsNotes): void {
  if (notes.generated) {
    log.warn(
      { file: notes.generated },
      'MASTER_KEY was not set: generated one into MASTER_KEY_FILE (0600). Back that file up apart from the database: ' +
        'without it the sealed merchant keys and channel credentials cannot be read',
    );
  }
  if (notes.tightenedKeyFile) {
    log.warn({ file: notes.tightenedKeyFile.file, was: notes.tightenedKeyFile.was }, 'MASTER_KEY_FILE was readable by other users; made it private to the owner (0600)');
  }
  if (notes.looseKeyFile) {
    const { file, mode, why } = notes.looseKeyFile;
    log.warn({ file, mode, why }, 'MASTER_KEY_FILE is readable by other users and cannot be made private here: give the file (or its mount) mode 0400 or 0600');
  }
  if (notes.sealedPlaintextKeys > 0) log.info({ count: notes.sealedPlaintextKeys }, 'sealed the merchant keys stored in plaintext under MASTER_KEY');
}
