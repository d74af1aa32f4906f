import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyHelmet from '@fastify/helmet';
import type { ConsoleContext } from './context.js';
import { audit, pageView, stringsOf } from './context.js';
import { TableSessionStore } from './session-store.js';
import { roleAllows } from './operators.js';
import type { OperatorRole } from './console-ops.js';
import { esc, shell } from './layout.js';

// Sessions, CSRF and the security headers (CONTRACT §6), from the ecosystem's plugins, all inside
// the console's own scope so that nothing here touches the merchant API or the payer's pages.

export const SESSION_COOKIE = 'dtpay_console';

export async function installSecurity(app: FastifyInstance, ctx: ConsoleContext): Promise<TableSessionStore> {
  const https = ctx.s.config.PUBLIC_BASE_URL.startsWith('https:');
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: https ? { maxAge: 15_552_000, includeSubDomains: false } : false,
    crossOriginEmbedderPolicy: false,
  });
  // Nothing of the console is kept by a browser's or a proxy's cache (a shown key least of all).
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  const secret = await ctx.s.writer.run('ensureSetting', { name: 'console_session_secret', value: randomBytes(32).toString('base64url') });
  const store = new TableSessionStore(ctx.reads, ctx.s.writer, ctx.idleMs, ctx.s.now);
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret,
    cookieName: SESSION_COOKIE,
    store,
    saveUninitialized: false,
    rolling: true,
    // Secure is added below from PUBLIC_BASE_URL: behind a TLS proxy the request itself is plain http.
    cookie: { path: '/console', httpOnly: true, sameSite: 'strict', secure: false, maxAge: ctx.idleMs },
  });
  if (https) {
    app.addHook('onSend', async (_request, reply, payload) => {
      const set = reply.getHeader('set-cookie');
      if (set !== undefined) {
        const list = (Array.isArray(set) ? set : [String(set)]).map((c) => (/;\s*secure\b/i.test(c) ? c : `${c}; Secure`));
        // reply.header appends to set-cookie: the old values go first.
        reply.removeHeader('set-cookie');
        reply.header('set-cookie', list);
      }
      return payload;
    });
  }
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/session',
    getToken: (request) => {
      const body = request.body as Record<string, unknown> | undefined;
      const fromBody = body && typeof body._csrf === 'string' ? body._csrf : undefined;
      const header = request.headers['x-csrf-token'];
      return fromBody ?? (typeof header === 'string' ? header : undefined);
    },
  });
  // Every state-changing request, login and logout included, carries the token: checked before
  // the route runs, so a request without it changes nothing.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'GET' || request.method === 'HEAD') return done();
    app.csrfProtection(request, reply, done);
  });
  return store;
}

/** A page that says why a request was refused. */
export function refusalPage(request: FastifyRequest, reply: FastifyReply, status: number, title: string, text: string): FastifyReply {
  const v = pageView(request, reply);
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(shell(v, title, `<p id="refusal">${esc(text)}</p><p><a href="/console">${esc(v.s.back)}</a></p>`));
}

/**
 * The route's guard: a live session of an active operator whose sessions have not been ended
 * (epoch), seen within the idle timeout, with a role that allows `role`. Refusals: a GET without
 * a session goes to the login page; a role that may not is 403 (and a POST is written to the audit
 * log as denied).
 */
export function guard(ctx: ConsoleContext, role: OperatorRole) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const session = request.session;
    const now = ctx.s.now();
    const op = session.operatorId !== undefined ? await ctx.reads.operatorById(session.operatorId) : undefined;
    const live = op && op.status === 'active' && op.session_epoch === session.epoch && now - (session.seenAt ?? 0) <= ctx.idleMs;
    if (!live) {
      const had = session.operatorId !== undefined;
      if (had) await session.regenerate();
      if (request.method === 'GET') {
        const next = encodeURIComponent(request.url);
        return reply.redirect(`/console/login?next=${next}${had ? '&ended=1' : ''}`, 303);
      }
      const s = stringsOf(request);
      return refusalPage(request, reply, 401, s.sessionEnded, s.sessionEnded);
    }
    session.seenAt = now;
    request.consoleOperator = op;
    if (!roleAllows(op.role, role)) {
      if (request.method !== 'GET') {
        await audit(ctx, request, { action: actionName(request), target: targetOf(request), outcome: 'denied', detail: `role ${op.role} may not; needs ${role}` });
      }
      const s = stringsOf(request);
      return refusalPage(request, reply, 403, s.forbiddenTitle, s.forbidden);
    }
  };
}

/** The audit log's name for what a POST asked: its path without the ids, e.g. orders/refund. */
export function actionName(request: FastifyRequest): string {
  const path = (request.routeOptions.url ?? request.url).replace(/^\/console\/?/, '');
  return path.replace(/\/:[A-Za-z]+/g, '').replace(/\?.*$/, '') || 'console';
}

function targetOf(request: FastifyRequest): string | undefined {
  const p = request.params as Record<string, string> | undefined;
  return p?.orderId ?? p?.mercNo ?? p?.email ?? p?.id;
}
