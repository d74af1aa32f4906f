import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Config } from '../config.js';
import { ApiError, RESP } from '../errors.js';
import type { AdmitMerchant } from './merchant-auth.js';
import { isInternal } from './internal-calls.js';
import { WindowCounter } from './window-counter.js';

const WINDOW_MS = 60_000;

const seconds = (ttlMs: number) => Math.max(1, Math.ceil(ttlMs / 1000));

/**
 * The merchant API's limits, RATE_LIMIT_API_PER_MINUTE each over a fixed minute:
 * - per merchant, counting only requests whose signature verified, so that nobody but the
 *   merchant can spend its budget (answer: 100008, signed);
 * - per client address, counting requests that failed before a signature verified (unknown
 *   merchant, bad signature, a body refused before the signature was checked, an unknown path).
 *   Beyond it such a failure is answered 100008 instead (unsigned); a request from that address
 *   whose signature verifies is still served, so a stranger behind the same address (a proxy, a
 *   NAT) cannot lock a merchant out either.
 * Both answers carry Retry-After. @fastify/rate-limit counts every request that reaches its hook,
 * which is why these two are counted here, where the outcome is known.
 */
export interface ApiLimits {
  admitMerchant: AdmitMerchant;
  /** For a request under /api/ that failed before its signature verified: the 100008 to answer instead, if over. */
  failedBeforeAuth(request: FastifyRequest, reply: FastifyReply): ApiError | undefined;
}

export function apiRateLimits(config: Config, now: () => number): ApiLimits | undefined {
  const max = config.RATE_LIMIT_API_PER_MINUTE;
  if (max === 0) return undefined;
  const merchants = new WindowCounter(WINDOW_MS, now);
  const addresses = new WindowCounter(WINDOW_MS, now);
  return {
    admitMerchant(request, reply) {
      const mercNo = request.signer!.merchant.merc_no;
      const { count, ttlMs } = merchants.hit(mercNo);
      reply
        .header('x-ratelimit-limit', max)
        .header('x-ratelimit-remaining', Math.max(0, max - count))
        .header('x-ratelimit-reset', seconds(ttlMs));
      if (count <= max) return;
      reply.header('retry-after', seconds(ttlMs));
      throw new ApiError(
        RESP.RATE_LIMITED,
        `rate limit: more than ${max} requests a minute for merchant ${mercNo}; retry in ${seconds(ttlMs)} s (Retry-After)`,
      );
    },
    failedBeforeAuth(request, reply) {
      const { count, ttlMs } = addresses.hit(request.ip);
      if (count <= max) return undefined;
      reply.header('retry-after', seconds(ttlMs));
      return new ApiError(
        RESP.RATE_LIMITED,
        `rate limit: more than ${max} failed requests a minute for this address (unknown merchant, bad signature, or refused ` +
          `before the signature was checked); retry in ${seconds(ttlMs)} s (Retry-After)`,
      );
    },
  };
}

// Limited here by @fastify/rate-limit, per client address: the payer's pages and the channels'
// callbacks. Never: the sandbox channel's own API (/sandbox/api/*, called in-process), the
// gateway's calls to itself, /healthz, /readyz, /metrics.
const isPage = (url: string) => url.startsWith('/cashier/') || url.startsWith('/sandbox/pay/') || url.startsWith('/qr/');
const isChannel = (url: string) => url.startsWith('/channel/');

/**
 * RATE_LIMIT_PAGES_PER_MINUTE per client address on /cashier/*, /sandbox/pay/* and /qr/*, and
 * RATE_LIMIT_CHANNEL_PER_MINUTE per client address on /channel/*, each over a fixed minute. Beyond
 * it: 429 with Retry-After and a line of plain text (a channel retries a callback it sees refused).
 * 0 turns a limit off. Call before the routes are registered: the limits attach to routes as they
 * are added.
 */
export async function installRateLimits(app: FastifyInstance, config: Config): Promise<void> {
  const pagesMax = config.RATE_LIMIT_PAGES_PER_MINUTE;
  const channelMax = config.RATE_LIMIT_CHANNEL_PER_MINUTE;
  if (pagesMax === 0 && channelMax === 0) return;
  await app.register(rateLimit, { global: false });

  const pagesLimit =
    pagesMax > 0
      ? app.rateLimit({
          max: pagesMax,
          timeWindow: WINDOW_MS,
          errorResponseBuilder: (_request, ctx) =>
            new ApiError(
              RESP.RATE_LIMITED,
              `too many requests from your address (${RESP.RATE_LIMITED}): more than ${ctx.max} a minute; retry in ${seconds(ctx.ttl)} s`,
            ),
        })
      : undefined;

  const channelLimit =
    channelMax > 0
      ? app.rateLimit({
          max: channelMax,
          timeWindow: WINDOW_MS,
          allowList: (request) => isInternal(request),
          errorResponseBuilder: (_request, ctx) =>
            new ApiError(RESP.RATE_LIMITED, `too many callbacks from this address: more than ${ctx.max} a minute; retry in ${seconds(ctx.ttl)} s`),
        })
      : undefined;

  app.addHook('onRoute', (route) => {
    const limit = isPage(route.url) ? pagesLimit : isChannel(route.url) ? channelLimit : undefined;
    if (!limit) return;
    const r = route as unknown as Record<string, unknown>;
    const existing = r.onRequest;
    r.onRequest = existing === undefined ? [limit] : Array.isArray(existing) ? [...existing, limit] : [existing, limit];
  });
}
