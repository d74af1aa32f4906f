import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services/context.js';
import type { StoragePort } from '../db/port.js';
import type { OperatorRecord } from './console-reads.js';
import type { AuditEntry, OperatorRole } from './console-ops.js';
import type { PageView } from './layout.js';
import { STRINGS, type Lang } from './strings.js';

/** What every console route gets: the gateway's services (the same the API uses) and the console's reads. */
export interface ConsoleContext {
  s: Services;
  reads: StoragePort['console'];
  orders: StoragePort['orderLists'];
  credentials: StoragePort['credentials'];
  masterKey: string;
  idleMs: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleOperator?: OperatorRecord;
  }
  interface Session {
    operatorId?: number;
    epoch?: number;
    seenAt?: number;
    flash?: { kind: 'ok' | 'bad'; text: string };
    /** a key to show on the next page only */
    _csrf?: string;
  }
}

export const LANG_COOKIE = 'dtpay_lang';

export function langOf(request: FastifyRequest): Lang {
  const c = request.cookies?.[LANG_COOKIE];
  return c === 'en' ? 'en' : 'zh';
}

/**
 * The client's address for the audit log and the login limits: the TCP peer, or with TRUST_PROXY
 * the last X-Forwarded-For entry (the one the proxy in front appended; earlier ones are the
 * client's own say).
 */
export function clientAddress(request: FastifyRequest, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = request.headers['x-forwarded-for'];
    const last = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map((x) => x.trim()).filter(Boolean).at(-1);
    if (last) return last.slice(0, 64);
  }
  return request.socket.remoteAddress ?? 'unknown';
}

export function pageView(request: FastifyRequest, reply: FastifyReply): PageView {
  const lang = langOf(request);
  const op = request.consoleOperator;
  const flash = request.session?.flash;
  if (flash) request.session.flash = undefined;
  return {
    s: STRINGS[lang],
    lang,
    path: request.url,
    csrf: reply.generateCsrf(),
    ...(op ? { operator: { email: op.email, role: op.role } } : {}),
    ...(flash ? { flash } : {}),
  };
}

export function audit(ctx: ConsoleContext, request: FastifyRequest, e: Omit<AuditEntry, 'at' | 'address' | 'operator'> & { operator?: string }) {
  return ctx.s.writer.run('audit', {
    ...e,
    operator: e.operator ?? request.consoleOperator?.email ?? '',
    at: ctx.s.now(),
    address: clientAddress(request, ctx.s.config.TRUST_PROXY),
  });
}

export type Role = OperatorRole;

/** The request's string table, without making a page view (no CSRF token, no flash taken). */
export const stringsOf = (request: FastifyRequest) => STRINGS[langOf(request)];
