import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { parseConfig } from '../../src/config.js';
import { sign } from '../../src/domain/sign.js';
import { startGateway } from '../helper.js';

// Issue 10, item 4: what one client can hold of the server. A request must arrive whole within
// REQUEST_TIMEOUT_MS (30 s by default), however it trickles in; at most MAX_CONNECTIONS
// connections are open at once. Real sockets on 127.0.0.1, a short bound, every wait capped.

const GUARD_MS = 10_000; // far below what an unbounded (or 90 s) request would take

interface Outcome {
  closedAfterMs: number;
  received: string;
}

/** Opens a socket to `port`, writes `head`, then one byte every `everyMs` until the server closes it (or GUARD_MS). */
function dribble(t: Test, port: number, head: string, everyMs: number, byte = ' '): Promise<Outcome | 'still open'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const started = Date.now();
    const tick = setInterval(() => socket.writable && socket.write(byte), everyMs);
    const guard = setTimeout(() => finish('still open'), GUARD_MS);
    const finish = (o: Outcome | 'still open') => {
      clearInterval(tick);
      clearTimeout(guard);
      socket.destroy();
      resolve(o);
    };
    t.teardown(() => finish('still open'));
    socket.on('error', () => {}); // a write racing the server's close: the close is what counts
    socket.on('data', (d) => (received += d.toString()));
    socket.on('close', () => finish({ closedAfterMs: Date.now() - started, received }));
    socket.write(head);
  });
}

const bodyOf = (received: string) => received.slice(received.indexOf('\r\n\r\n') + 4);

t.test('defaults, and the settings are checked', async (t) => {
  const c = parseConfig({});
  t.equal(c.REQUEST_TIMEOUT_MS, 30_000, '30 s to send a whole request');
  t.equal(c.MAX_CONNECTIONS, 1000);
  t.throws(() => parseConfig({ REQUEST_TIMEOUT_MS: '10' }), /REQUEST_TIMEOUT_MS/);
  t.throws(() => parseConfig({ MAX_CONNECTIONS: '0' }), /MAX_CONNECTIONS/);
});

t.test('a request dribbled a byte at a time is cut off within REQUEST_TIMEOUT_MS', async (t) => {
  const gw = await startGateway(t, { REQUEST_TIMEOUT_MS: '1000' });
  const port = Number(new URL(gw.url).port);

  await t.test('a body (answered 408 in the envelope under /api/)', async (t) => {
    const head = 'POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{';
    const o = await dribble(t, port, head, 100);
    if (o === 'still open') return t.fail(`the connection was still open after ${GUARD_MS} ms`);
    t.ok(o.closedAfterMs >= 900, `not cut before the bound (${o.closedAfterMs} ms)`);
    t.ok(o.closedAfterMs < GUARD_MS, `cut after ${o.closedAfterMs} ms`);
    t.match(o.received, /^HTTP\/1\.1 408 /);
    const body = JSON.parse(bodyOf(o.received));
    t.match(body, { respCode: '100001', interfaceCode: 'query' });
    t.match(body.respDesc, /not received in full within 1000 ms/);
  });

  await t.test('the head (answered 408 in plain text: no URL yet)', async (t) => {
    const o = await dribble(t, port, 'POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\n', 100, 'X');
    if (o === 'still open') return t.fail(`the connection was still open after ${GUARD_MS} ms`);
    t.ok(o.closedAfterMs < GUARD_MS, `cut after ${o.closedAfterMs} ms`);
    t.match(o.received, /^HTTP\/1\.1 408 /);
    t.match(bodyOf(o.received), /^request: not received in full within 1000 ms$/);
  });

  await t.test('a slow request that arrives whole within the bound is served', async (t) => {
    const fields = { mercNo: gw.merchant.mercNo, mercOrderNo: 'NOPE' };
    const body = JSON.stringify({ ...fields, signature: sign(fields, gw.merchant.key, 'MD5') });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket: Socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('error', reject);
      socket.on('data', (d) => {
        received += d.toString();
        if (received.includes('}')) {
          socket.destroy();
          resolve(received);
        }
      });
      const head = `POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      socket.write(head + body.slice(0, 10));
      setTimeout(() => socket.write(body.slice(10)), 200);
      const guard = setTimeout(() => reject(new Error('no answer')), GUARD_MS);
      socket.on('close', () => clearTimeout(guard));
    });
    t.match(answer, /^HTTP\/1\.1 404 /);
    t.match(bodyOf(answer), /"respCode":"100005"/);
  });
});

t.test('MAX_CONNECTIONS: connections beyond it are closed at once, and served again once one goes', async (t) => {
  const gw = await startGateway(t, { MAX_CONNECTIONS: '2' });
  const port = Number(new URL(gw.url).port);
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
      t.teardown(() => s.destroy());
    });
  const connections = () => new Promise<number>((resolve, reject) => gw.gateway.app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  const waitFor = async (n: number) => {
    const end = Date.now() + GUARD_MS;
    while ((await connections()) !== n) {
      if (Date.now() > end) throw new Error(`the server never had ${n} connections`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const a = await open();
  const b = await open();
  a.write('GET /healthz HTTP/1.1\r\n'); // heads not finished: both held open
  b.write('GET /healthz HTTP/1.1\r\n');
  await waitFor(2);

  const third = await new Promise<{ closed: boolean; data: string }>((resolve) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    const guard = setTimeout(() => {
      s.destroy();
      resolve({ closed: false, data });
    }, GUARD_MS);
    s.on('error', () => {});
    s.on('data', (d) => (data += d.toString()));
    s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('close', () => {
      clearTimeout(guard);
      resolve({ closed: true, data });
    });
  });
  t.ok(third.closed, 'the third connection was closed');
  t.equal(third.data, '', 'unanswered');

  a.destroy();
  await waitFor(1);
  const res = await fetch(`${gw.url}/healthz`, { headers: { connection: 'close' } });
  t.equal(res.status, 200, 'served again once a connection went');
  await res.text();
});
