import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleContext } from './context.js';
import { LANG_COOKIE, audit, clientAddress, pageView, stringsOf } from './context.js';
import { guard } from './security.js';
import { csrfField, esc, shell } from './layout.js';
import { dummyHash, verifyPassword } from './passwords.js';
import { acceptTotp, openTotp } from './totp.js';
import { normalEmail } from './operators.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import type { TableSessionStore } from './session-store.js';

// Logging in and out, the language switch and the assets (CONTRACT §6 "Sessions").

const WINDOW_MS = 15 * 60_000;
const LOCK_MS = 15 * 60_000;
const EMAIL_LIMIT = 10;
const ADDRESS_LIMIT = 50;

/** Only a path inside the console may be gone back to: never another site. */
export function safeBack(path: unknown): string {
  return typeof path === 'string' && /^\/console(?:[/?#]|$)/.test(path) && !path.startsWith('//') && !/[\\\r\n]/.test(path) ? path : '/console';
}

function loginPage(request: FastifyRequest, reply: FastifyReply, status: number, message?: { kind: 'ok' | 'bad'; text: string }, email = '') {
  const v = pageView(request, reply);
  const next = safeBack((request.query as Record<string, unknown>)?.next ?? (request.body as Record<string, unknown> | undefined)?.next);
  const { s } = v;
  const body =
    (message ? `<p class="flash ${message.kind}" id="login-message" role="alert">${esc(message.text)}</p>` : '') +
    `<form method="post" action="/console/login" class="stack card" id="login">${csrfField(v)}` +
    `<input type="hidden" name="next" value="${esc(next)}">` +
    `<label for="email">${esc(s.email)}</label><input id="email" name="email" type="email" autocomplete="username" required value="${esc(email)}">` +
    `<label for="password">${esc(s.password)}</label><input id="password" name="password" type="password" autocomplete="current-password" required>` +
    `<label for="totp">${esc(s.totpCode)}</label><input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6">` +
    `<p><button type="submit" id="login-button">${esc(s.loginButton)}</button></p></form>`;
  return reply.code(status).type('text/html; charset=utf-8').send(shell(v, s.loginTitle, body));
}

export function authRoutes(app: FastifyInstance, ctx: ConsoleContext, store: TableSessionStore): void {
  app.get('/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(CONSOLE_CSS));
  app.get('/assets/console.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(CONSOLE_JS));

  app.get<{ Querystring: { to?: string; back?: string } }>('/lang', async (request, reply) => {
    const to = request.query.to === 'en' ? 'en' : 'zh';
    reply.setCookie(LANG_COOKIE, to, { path: '/console', httpOnly: true, sameSite: 'strict', maxAge: 365 * 86400 });
    return reply.redirect(safeBack(request.query.back), 303);
  });

  app.get<{ Querystring: { ended?: string; out?: string } }>('/login', async (request, reply) => {
    const s = stringsOf(request);
    if (request.query.ended) return loginPage(request, reply, 200, { kind: 'bad', text: s.sessionEnded });
    if (request.query.out) return loginPage(request, reply, 200, { kind: 'ok', text: s.loggedOut });
    return loginPage(request, reply, 200);
  });

  app.post<{ Body: Record<string, string | undefined> }>('/login', async (request, reply) => {
    const body = request.body ?? {};
    const now = ctx.s.now();
    const address = clientAddress(request, ctx.s.config.TRUST_PROXY);
    const s = stringsOf(request);
    let email = (body.email ?? '').slice(0, 320);
    try {
      email = normalEmail(email);
    } catch {
      // an email that cannot be one fails like a wrong password, and is counted as such
    }
    const emailKey = `email:${email}`;
    const addressKey = `addr:${address}`;
    const locked = async (key: string) => ((await ctx.reads.loginLimit(key))?.locked_until ?? 0) > now;
    const refuse = async (why: string) => {
      const byEmail = await ctx.s.writer.run('recordLoginFailure', { key: emailKey, at: now, limit: EMAIL_LIMIT, windowMs: WINDOW_MS, lockMs: LOCK_MS });
      const byAddress = await ctx.s.writer.run('recordLoginFailure', { key: addressKey, at: now, limit: ADDRESS_LIMIT, windowMs: WINDOW_MS, lockMs: LOCK_MS });
      await audit(ctx, request, { operator: email, action: 'login', outcome: 'failed', detail: why });
      const nowLocked = (byEmail.lockedUntil ?? 0) > now || (byAddress.lockedUntil ?? 0) > now;
      return loginPage(request, reply, nowLocked ? 429 : 401, { kind: 'bad', text: nowLocked ? s.loginLocked : s.loginFailed }, email);
    };

    const addressLocked = await locked(addressKey);
    if (addressLocked || (await locked(emailKey))) {
      await audit(ctx, request, { operator: email, action: 'login', outcome: 'locked', detail: addressLocked ? 'address locked' : 'email locked' });
      return loginPage(request, reply, 429, { kind: 'bad', text: s.loginLocked }, email);
    }
    const op = await ctx.reads.operatorByEmail(email);
    const password = body.password ?? '';
    // An unknown email costs as much as a wrong password: the answer's timing tells nothing.
    const passwordOk = await verifyPassword(password, op?.password_hash ?? (await dummyHash()));
    if (!op || !passwordOk) return refuse(op ? 'wrong password' : 'no such operator');
    if (op.status !== 'active') return refuse('operator disabled');
    let step: number | undefined;
    if (op.totp_sealed) {
      const secret = openTotp(ctx.masterKey, op.email, op.totp_sealed);
      step = acceptTotp(secret, op.email, (body.totp ?? '').trim(), now, op.totp_last_step);
      if (step === undefined) return refuse('wrong or reused TOTP code');
    }
    if (!(await ctx.s.writer.run('recordOperatorLogin', { id: op.id, ...(step !== undefined ? { step } : {}), at: now }))) {
      return refuse('TOTP code already used');
    }
    await ctx.s.writer.run('clearLoginFailures', { key: emailKey });
    // A new session id at login: a session id planted before it is worth nothing after.
    await request.session.regenerate();
    request.session.operatorId = op.id;
    request.session.epoch = op.session_epoch;
    request.session.seenAt = now;
    request.consoleOperator = op;
    await audit(ctx, request, { action: 'login', outcome: 'ok', detail: op.totp_sealed ? 'password and TOTP' : 'password' });
    void store.prune().catch((err) => request.log.warn({ err }, 'could not forget expired console sessions'));
    return reply.redirect(safeBack(body.next), 303);
  });

  app.post('/logout', { preHandler: guard(ctx, 'viewer') }, async (request, reply) => {
    await audit(ctx, request, { action: 'logout', outcome: 'ok' });
    await request.session.destroy();
    return reply.redirect('/console/login?out=1', 303);
  });
}
