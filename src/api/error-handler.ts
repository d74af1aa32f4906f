import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, RESP } from '../errors.js';
import { envelopeBody, sendEnvelope } from './respond.js';
import { callerText } from '../domain/caller-text.js';
import type { ApiLimits } from './rate-limits.js';

const TRANSPORT_ERRORS: Record<string, (e: FastifyError, limit: number) => string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (_e, limit) => `body: must be at most ${limit} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => 'Content-Type: must be application/json or application/x-www-form-urlencoded',
  FST_ERR_CTP_EMPTY_JSON_BODY: () => 'body: is empty; send a JSON object',
  FST_ERR_CTP_INVALID_JSON_BODY: (e) => `body: is not valid JSON (${e.message})`,
  FST_ERR_BAD_URL: () => 'URL: is not valid percent-encoded UTF-8',
  FST_ERR_MAX_PARAM_LENGTH: () => 'URL: a path segment is too long',
};

const isApi = (url: string) => url.startsWith('/api/');
const pathOf = (url: string) => url.split('?')[0]!;

/**
 * The one place errors become responses. Only a fault of ours becomes 999999/500. Under /api/ every
 * answer is the contract's envelope (CONTRACT §2.2), signed once the signature verified; elsewhere
 * a line of plain text. A failure under /api/ before any signature verified counts against the
 * client's address, and beyond its limit is answered 100008 instead. Made before the Fastify
 * instance, whose options take two of its handlers (frameworkErrors, clientErrorHandler).
 */
export class ErrorAnswers {
  /** The interfaceCode of each merchant API path, as the routes declare them. */
  private readonly interfaces = new Map<string, string>();

  constructor(
    private readonly bodyLimit: number,
    private readonly requestTimeoutMs: number,
    private readonly limits?: ApiLimits,
  ) {}

  install(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      const interfaceCode = route.config?.interfaceCode;
      if (interfaceCode) this.interfaces.set(route.url, interfaceCode);
    });

    app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
      if (err instanceof ApiError) return this.answer(request, reply, err);
      const ours = this.fromFastify(err);
      if (ours.respCode === RESP.INTERNAL) request.log.error({ err }, 'internal error');
      return this.answer(request, reply, ours);
    });

    app.setNotFoundHandler((request, reply) => {
      const path = pathOf(request.url);
      // An interface asked with another method than POST: 405 and Allow, in the envelope.
      if (this.interfaces.has(path)) {
        reply.header('allow', 'POST');
        return this.answer(request, reply, new ApiError(RESP.INVALID, `method: ${request.method} is not allowed; ${path} takes POST`, 405));
      }
      const desc = isApi(path) ? `no such interface: ${request.method} ${callerText(path, 100)}` : 'not found';
      return this.answer(request, reply, new ApiError(RESP.INVALID, desc, 404));
    });
  }

  /**
   * For Fastify's `frameworkErrors` option: a URL the router cannot take (bad percent-encoding, a
   * parameter over maxParamLength: 414) answered as every other error, not in Fastify's own JSON.
   */
  readonly frameworkErrors = (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    void this.answer(request, reply, this.fromFastify(err));
  };

  /**
   * For Fastify's `clientErrorHandler` option: errors Node raises before a request reaches Fastify,
   * the request timeout (408) among them, which Fastify would answer in its own JSON.
   */
  readonly clientError = (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, desc] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', `request: not received in full within ${this.requestTimeoutMs} ms`]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'headers: too large']
          : [400, 'Bad Request', 'request: not valid HTTP'];
    // The answer in progress on this socket, there once Node has read the request's head.
    const res = (socket as unknown as { _httpMessage?: { headersSent?: boolean; req?: { url?: string } } })._httpMessage;
    const url = res?.req?.url;
    const api = url !== undefined && isApi(url);
    const body = api
      ? JSON.stringify(envelopeBody({ interfaceCode: this.interfaceOf(url), respCode: RESP.INVALID, respDesc: desc }, undefined))
      : desc;
    // Nothing may be written once an answer has begun: it would corrupt it.
    if (socket.writable && !res?.headersSent) {
      const type = api ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
      socket.write(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
    socket.destroy(err);
  };

  private interfaceOf(url: string): string {
    return this.interfaces.get(pathOf(url)) ?? 'unknown';
  }

  private answer(request: FastifyRequest, reply: FastifyReply, err: ApiError): FastifyReply {
    if (!isApi(request.url)) return reply.code(err.status).type('text/plain; charset=utf-8').send(err.respDesc);
    if (!request.signer && err.status >= 400 && err.status < 500 && this.limits) {
      err = this.limits.failedBeforeAuth(request, reply) ?? err;
    }
    const interfaceCode = request.routeOptions?.config?.interfaceCode ?? this.interfaceOf(request.url);
    return sendEnvelope(reply, { interfaceCode, respCode: err.respCode, respDesc: err.respDesc, status: err.status }, request.signer);
  }

  /** A Fastify error (a body it could not parse, a URL it could not route) as one of ours. */
  private fromFastify(err: FastifyError): ApiError {
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status < 400 || status >= 500) return new ApiError(RESP.INTERNAL, 'internal error');
    const describe = TRANSPORT_ERRORS[err.code];
    return new ApiError(RESP.INVALID, describe ? describe(err, this.bodyLimit) : `request: ${err.message}`, status);
  }
}
