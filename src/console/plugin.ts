import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Services } from '../services/context.js';
import { ApiError } from '../errors.js';
import type { ConsoleContext } from './context.js';
import { stringsOf } from './context.js';
import { installSecurity, refusalPage } from './security.js';
import { authRoutes } from './auth-routes.js';
import { orderRoutes } from './orders.js';
import { dashboardRoutes } from './dashboard.js';
import { listRoutes } from './lists.js';
import { adminRoutes } from './admin.js';
import { payoutRoutes } from './payouts.js';
import { merchantPayoutRoutes } from './merchant-payouts.js';
import { reconciliationRoutes } from './reconciliation.js';
import { OperatorError } from './operators.js';
import { BadQuery } from './order-filters.js';

// The operator console at /console (CONTRACT §6), served by the gateway's own process. Registered
// with a prefix, so its plugins, hooks, error and not-found answers stay inside /console.

export interface ConsoleOptions {
  services: Services;
  masterKey: string;
}

export const consolePlugin: FastifyPluginAsync<ConsoleOptions> = async (app: FastifyInstance, opts) => {
  const ctx: ConsoleContext = {
    s: opts.services,
    reads: opts.services.storage.console,
    orders: opts.services.storage.orderLists,
    credentials: opts.services.storage.credentials,
    masterKey: opts.masterKey,
    idleMs: Math.round(opts.services.config.CONSOLE_IDLE_MINUTES * 60_000),
  };
  const store = await installSecurity(app, ctx);

  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    const s = stringsOf(request);
    const code = (err as FastifyError).code ?? '';
    if (code.startsWith('FST_CSRF')) {
      request.log.info({ code, url: request.url }, 'console request refused: no valid CSRF token');
      return refusalPage(request, reply, 403, s.csrfTitle, s.csrf);
    }
    if (err instanceof BadQuery || err instanceof OperatorError) return refusalPage(request, reply, 400, s.badRequest, err.message);
    if (err instanceof ApiError) return refusalPage(request, reply, err.status, s.badRequest, err.respDesc);
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) return refusalPage(request, reply, status, s.badRequest, err.message);
    request.log.error({ err }, 'console error');
    return refusalPage(request, reply, 500, s.errorTitle, s.errorTitle);
  });
  app.setNotFoundHandler((request, reply) => {
    const s = stringsOf(request);
    return refusalPage(request, reply, 404, s.notFoundTitle, s.notFound);
  });

  authRoutes(app, ctx, store);
  dashboardRoutes(app, ctx);
  orderRoutes(app, ctx);
  listRoutes(app, ctx);
  adminRoutes(app, ctx);
  payoutRoutes(app, ctx);
  merchantPayoutRoutes(app, ctx);
  reconciliationRoutes(app, ctx);
};
