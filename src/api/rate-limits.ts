import type { FastifyInstance, FastifyRequest } from 'fastify';
import { namedMerchant } from './merchant-auth.js';
import rateLimit from '@fastify/rate-limit';
import type { Config } from '../config.js';
import type { Reads } from '../db/reads.js';
import { isSignType } from '../domain/sign.js';
import { ApiError, RESP } from '../errors.js';

const WINDOW_MS = 60_000;

// Limited: the merchant API and the payer's pages. Never: channel callbacks (/channel/*), the
// sandbox channel's own API (/sandbox/api/*, called in-process), /healthz, /readyz, /metrics.
const isApi = (url: string) => url.startsWith('/api/');
const isPage = (url: string) => url.startsWith('/cashier/') || url.startsWith('/sandbox/pay/') || url.startsWith('/qr/');

const seconds = (ttlMs: number) => Math.max(1, Math.ceil(ttlMs / 1000));

/**
 * RATE_LIMIT_API_PER_MINUTE per merchant on /api/* (counted once the body is parsed, so the key is
 * its mercNo; a request naming no existing merchant counts against its address), and
 * RATE_LIMIT_PAGES_PER_MINUTE per client address on /cashier/*, /sandbox/pay/* and /qr/*, each over
 * a fixed minute. Beyond it: 429, respCode 100008, Retry-After; on /api/* the answer is the
 * contract's envelope, signed when the merchant is known. 0 turns a limit off. Call before the
 * routes are registered: the limits attach to routes as they are added.
 */
export async function installRateLimits(app: FastifyInstance, config: Config, reads: Reads): Promise<void> {
  const apiMax = config.RATE_LIMIT_API_PER_MINUTE;
  const pagesMax = config.RATE_LIMIT_PAGES_PER_MINUTE;
  if (apiMax === 0 && pagesMax === 0) return;
  await app.register(rateLimit, { global: false });

  const apiLimit =
    apiMax > 0
      ? app.rateLimit({
          max: apiMax,
          timeWindow: WINDOW_MS,
          hook: 'preHandler',
          keyGenerator: (request) => {
            const merchant = namedMerchant(request, reads);
            return merchant ? `m:${merchant.merc_no}` : `ip:${request.ip}`;
          },
          errorResponseBuilder: (request, ctx) => {
            const merchant = namedMerchant(request, reads);
            const body = request.body as Record<string, unknown>;
            // Signed like every answer to an identified merchant (the error handler signs with it).
            if (merchant) request.signer = { merchant, signType: isSignType(body.signType) ? body.signType : 'MD5' };
            const who = merchant ? `merchant ${merchant.merc_no}` : 'this address';
            return new ApiError(
              RESP.RATE_LIMITED,
              `rate limit: more than ${ctx.max} requests a minute for ${who}; retry in ${seconds(ctx.ttl)} s (Retry-After)`,
            );
          },
        })
      : undefined;

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

  app.addHook('onRoute', (route) => {
    const limit = isApi(route.url) ? apiLimit : isPage(route.url) ? pagesLimit : undefined;
    if (!limit) return;
    const r = route as unknown as Record<string, unknown>;
    const hook = limit === apiLimit ? 'preHandler' : 'onRequest';
    const existing = r[hook];
    r[hook] = existing === undefined ? [limit] : Array.isArray(existing) ? [...existing, limit] : [existing, limit];
  });
}
