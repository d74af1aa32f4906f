import Fastify from 'fastify';

// The bench's yardstick: a bare Fastify route on the same machine, in its own process, that
// receives the same JSON body as POST /api/pay and answers a JSON body of the same shape and size
// as the gateway's answer (the bench passes a real pay answer in BARE_REPLY_JSON). Everything the
// gateway does beyond parsing JSON and sending JSON shows up as the difference between the two.
//
// Started by bench/pay.ts; prints one line {"port":N} once it listens, exits on SIGTERM/SIGINT.

const reply = JSON.parse(process.env.BARE_REPLY_JSON ?? '{"respCode":"000000","respDesc":"ok"}') as Record<string, string>;

const app = Fastify({ logger: false, keepAliveTimeout: 10_000 });

app.post('/bare', async (request) => {
  const body = request.body as Record<string, unknown> | null;
  // Echo one field so the answer depends on the request, as the gateway's does.
  const mercOrderNo = body && typeof body.mercOrderNo === 'string' ? body.mercOrderNo : '';
  return { ...reply, mercOrderNo };
});

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(address).port) })}\n`);

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
