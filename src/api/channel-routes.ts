import type { FastifyInstance } from 'fastify';
import { handleChannelCallback } from '../services/channel-callback.js';
import type { Services } from '../services/context.js';

/**
 * Channels' asynchronous results. Registered in a scope of its own whose only body parser keeps
 * the raw bytes, because every channel signs the bytes as sent.
 */
export async function channelRoutes(app: FastifyInstance, opts: { services: Services }): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // /channel/sandbox/notify for the sandbox; /channel/{payway}/notify/{mercNo} for live merchants.
  app.post<{ Params: { channel: string; mercNo?: string } }>('/channel/:channel/notify/:mercNo?', async (request, reply) => {
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const { channel, mercNo } = request.params;
    const handled = await handleChannelCallback(opts.services, channel, { headers: request.headers, rawBody }, mercNo || undefined);
    if (!handled.found) return reply.code(404).type('text/plain; charset=utf-8').send('no such channel');
    return reply.code(handled.ack.status).type(handled.ack.contentType).send(handled.ack.body);
  });
}
