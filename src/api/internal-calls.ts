import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, InjectOptions, LightMyRequestResponse } from 'fastify';

// The gateway calls some of its own routes in-process through app.inject: the sandbox driver calls
// the sandbox channel's API, and the sandbox channel reports to the callback route. Those calls
// are the gateway talking to itself, not traffic: they get no request log lines and do not count
// against any client address's rate limit. They are told apart by a token made at start-up, which
// never leaves the process, so no outside request can pass for one.

const HEADER = 'x-dtpay-internal';
const TOKEN = Buffer.from(randomBytes(16).toString('hex'));

/** app.inject for the gateway's calls to itself. */
export function internalInject(app: FastifyInstance, opts: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject({ ...opts, headers: { ...(opts.headers ?? {}), [HEADER]: TOKEN.toString() } });
}

/** Whether the request is one of the gateway's calls to itself. */
export function isInternal(request: Pick<FastifyRequest, 'headers'>): boolean {
  const given = request.headers[HEADER];
  if (typeof given !== 'string') return false;
  const bytes = Buffer.from(given);
  return bytes.length === TOKEN.length && timingSafeEqual(bytes, TOKEN);
}
