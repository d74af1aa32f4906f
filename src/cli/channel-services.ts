import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { request as httpRequest } from 'undici';
import type { Config } from '../config.js';
import type { CliDatabase } from './database.js';
import { OrderIdGenerator } from '../domain/ids.js';
import { CashierLinks } from '../domain/cashier-links.js';
import { ChannelRegistry } from '../channels/registry.js';
import { supportedCells } from '../channels/matrix.js';
import { type ChannelDriver, type HttpRequest, type HttpResponse, type Payway } from '../channels/types.js';
import { SANDBOX_SIGNATURE_HEADER, sandboxDriver } from '../channels/sandbox/driver.js';
import { alipayDriver } from '../channels/alipay/driver.js';
import { wxpayDriver } from '../channels/wxpay/driver.js';
import { unionpayDriver } from '../channels/unionpay/driver.js';
import { credentialLookup } from '../services/live-credentials.js';
import { ALERT_QUIET_MS } from '../services/alert-recorder.js';
import type { Services } from '../services/context.js';
import { SandboxPayments } from '../services/sandbox-payment.js';
import { answerSandboxApi, answerSandboxBill } from '../api/sandbox-api-routes.js';
import { cliSecrets } from './secrets.js';
import type { Io } from './io.js';
import { readBody } from '../channels/http-body.js';
import { PayeeData } from '../secrets/payee-data.js';

// What a CLI command needs to reach the channels as the gateway does (`dtpay reconcile`): the same
// drivers, the merchants' credentials opened with MASTER_KEY, and the sandbox channel answered in
// this process from the same database, as the gateway answers it in its own. Writes go through the
// command's own connection (on PostgreSQL, each a transaction as any instance's); a notification
// queued here is sent by a running gateway at its next look at the outbox.

const LIVE_DRIVERS: Record<Payway, ChannelDriver<any>> = { alipay: alipayDriver, wxpay: wxpayDriver, unionpay: unionpayDriver };

class NoOrderIds extends OrderIdGenerator {
  override next(): string {
    throw new Error('the command line makes no order ids on PostgreSQL: it holds no instance slot');
  }
}

export async function cliServices(d: CliDatabase, config: Config, io: Io, what: string): Promise<Services> {
  const { masterKey, merchantKeys } = await cliSecrets(d, config, io, what);
  // The command closes the database itself when it is done.
  const storage = d.withKeys(merchantKeys);
  const { reads, writer } = storage;
  const sandboxSecret = await writer.run('ensureSetting', { name: 'sandbox_secret', value: randomBytes(32).toString('hex') });
  const cashierSecret = await writer.run('ensureSetting', { name: 'cashier_secret', value: randomBytes(32).toString('hex') });
  const registry = new ChannelRegistry([
    ...supportedCells().map((cell) => ({ mode: 'sandbox' as const, cell, driver: sandboxDriver })),
    ...supportedCells().map((cell) => ({ mode: 'live' as const, cell, driver: LIVE_DRIVERS[cell.split('.')[0] as Payway] })),
  ]);
  const now = () => Date.now();
  // On PostgreSQL an id made here would carry no instance slot and could be one a gateway makes
  // too; nothing a command runs makes one (reconciliation creates no order, refund or payout).
  const ids = d.dialect === 'postgres' ? new NoOrderIds(now) : new OrderIdGenerator(now);
  ids.seedAfter(await reads.maxOrderId());
  // Logs go to stderr (stdout carries the command's one document), errors only unless asked for more:
  // what a run found is in its report.
  const log = pino({ level: config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? config.LOG_LEVEL : 'error' }, pino.destination(2));

  const sandboxPrefix = `${config.PUBLIC_BASE_URL}/sandbox/api/`;
  let sandbox: SandboxPayments;
  const http = async (req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> => {
    if (req.url.startsWith(sandboxPrefix)) {
      const rest = req.url.slice(sandboxPrefix.length);
      if (req.method === 'GET' && rest.startsWith('bill?')) return answerSandboxBill(sandbox, rest.slice('bill?'.length), req.headers[SANDBOX_SIGNATURE_HEADER]);
      return answerSandboxApi(sandbox, rest, Buffer.from(req.body ?? '', 'utf8'), req.headers[SANDBOX_SIGNATURE_HEADER]);
    }
    const limit = config.CHANNEL_TIMEOUT_MS;
    const res = await httpRequest(req.url, { method: req.method, headers: req.headers, body: req.body, signal, headersTimeout: limit, bodyTimeout: limit });
    return { status: res.statusCode, headers: res.headers, ...(await readBody(res.body, req)) };
  };

  const services: Services = {
    config,
    storage,
    reads,
    writer,
    merchantKeys,
    registry,
    ids,
    now,
    log,
    notifier: { queued: () => {} },
    payees: new PayeeData(() => masterKey),
    alerts: { record: async (a) => writer.run('recordAlert', { ...a, since: a.at - ALERT_QUIET_MS }) },
    links: new CashierLinks(cashierSecret, config.PUBLIC_BASE_URL),
    channelContext: (signal) => ({ now, publicBaseUrl: config.PUBLIC_BASE_URL, signal, http: (req) => http(req, signal) }),
    ...credentialLookup(storage.credentials, masterKey, sandboxSecret),
  };
  sandbox = new SandboxPayments(services, async () => {
    throw new Error('the sandbox sends no callbacks from the command line');
  });
  return services;
}
