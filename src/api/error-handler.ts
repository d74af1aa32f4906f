import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, RESP } from '../errors.js';
import { sendEnvelope } from './respond.js';

const TRANSPORT_ERRORS: Record<string, (e: FastifyError, limit: number) => string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (_e, limit) => `body: must be at most ${limit} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => 'Content-Type: must be application/json or application/x-www-form-urlencoded',
  FST_ERR_CTP_EMPTY_JSON_BODY: () => 'body: is empty; send a JSON object',
  FST_ERR_CTP_INVALID_JSON_BODY: (e) => `body: is not valid JSON (${e.message})`,
};

/** The one place errors become responses. Only a fault of ours becomes 999999/500. */
export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    const interfaceCode = request.routeOptions.config?.interfaceCode;
    if (err instanceof ApiError) {
      if (!interfaceCode) return reply.code(err.status).type('text/plain; charset=utf-8').send(err.respDesc);
      return sendEnvelope(reply, { interfaceCode, respCode: err.respCode, respDesc: err.respDesc, status: err.status }, request.signer);
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const describe = TRANSPORT_ERRORS[err.code];
      const desc = describe ? describe(err, bodyLimit) : `request: ${err.message}`;
      if (!interfaceCode) return reply.code(status).type('text/plain; charset=utf-8').send(desc);
      return sendEnvelope(reply, { interfaceCode, respCode: RESP.INVALID, respDesc: desc, status }, request.signer);
    }
    request.log.error({ err }, 'internal error');
    if (!interfaceCode) return reply.code(500).type('text/plain; charset=utf-8').send('internal error');
    return sendEnvelope(reply, { interfaceCode, respCode: RESP.INTERNAL, respDesc: 'internal error' }, request.signer);
  });

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/api/')) {
      return sendEnvelope(
        reply,
        { interfaceCode: 'unknown', respCode: RESP.INVALID, respDesc: `no such interface: ${request.method} ${request.url.split('?')[0]}`, status: 404 },
        undefined,
      );
    }
    return reply.code(404).type('text/plain; charset=utf-8').send('not found');
  });
}
