import type { Server } from 'node:http';
import { LogController, type FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { isInternal } from './internal-calls.js';

/**
 * Fastify options bounding how long a client may hold a request: REQUEST_TIMEOUT_MS for the whole
 * of it, head and body.
 *
 * Fastify's `requestTimeout` alone does not do it. Fastify sets `server.requestTimeout` after
 * creating the server, past Node's check that `headersTimeout` (60 s unless given) is not longer;
 * Node then holds a request to the longer of the two, and looks only every
 * `connectionsCheckingInterval` (30 s unless given). A body dribbled a byte a second under
 * `requestTimeout: 30000` was cut after some 90 s, never at 30. So both timeouts go to the
 * server's constructor too, equal, and the check runs often enough (every 1/20 of the bound, at
 * most every second) that a request is cut within REQUEST_TIMEOUT_MS, not after it.
 */
export function requestTimeouts(config: Config) {
  const every = Math.min(1000, Math.max(25, Math.floor(config.REQUEST_TIMEOUT_MS / 20)));
  const deadline = config.REQUEST_TIMEOUT_MS - every;
  return {
    requestTimeout: deadline,
    http: { requestTimeout: deadline, headersTimeout: deadline, connectionsCheckingInterval: every },
  };
}

/** At most MAX_CONNECTIONS open client connections: Node closes those beyond it as they arrive. */
export function limitConnections(server: Server, config: Config): void {
  server.maxConnections = config.MAX_CONNECTIONS;
}

// Probes ask these every few seconds; a log line each would bury the traffic.
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Fastify's request log lines (incoming, completed), except for health probes and the gateway's
 * calls to itself (the sandbox channel's API and callback): real traffic is logged as before.
 */
export function requestLogs(): LogController {
  return new LogController({
    disableRequestLogging: (request: FastifyRequest) => PROBES.has(request.url.split('?')[0]!) || isInternal(request),
  });
}
