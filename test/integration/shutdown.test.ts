import t from 'tap';
import { connect } from 'node:net';
import { startGateway } from '../helper.js';

// Closing the gateway while a request is still arriving: the request is answered, and its
// keep-alive connection does not hold the close open afterwards.

t.test('a request in flight at close is answered, then its idle connection is closed', async (t) => {
  const gw = await startGateway(t, { SHUTDOWN_TIMEOUT_MS: '10000' });
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  let received = '';
  socket.setEncoding('utf8').on('data', (d) => (received += d));
  const ended = new Promise<void>((r) => socket.once('close', () => r()));

  // Headers and half a body now; the rest only after the close has begun.
  const body = JSON.stringify({ mercNo: gw.merchant.mercNo, orderId: '1', signature: 'x' });
  socket.write(`POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
  socket.write(body.slice(0, 10));
  await new Promise((r) => setTimeout(r, 50));

  let closed = false;
  const closing = gw.close().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(closed, 'the close waits for the request in flight');
  socket.write(body.slice(10));
  // Without the server dropping it, the idle connection would stay until keepAliveTimeout (10 s).
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ended.then(() => 'closed by the server'),
    new Promise((r) => (timer = setTimeout(() => r('still open'), 5_000))),
  ]);
  clearTimeout(timer);
  t.equal(outcome, 'closed by the server', 'the server closed the connection once it was idle');
  t.match(received, /^HTTP\/1\.1 401 /, 'the request was answered (a signature error, as sent)');
  t.match(received, /"respCode":"100002"/);
  await closing;
  t.ok(closed, 'and the close finished once the server had dropped the idle connection, not when the client did');
});
