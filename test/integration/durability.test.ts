import t from 'tap';
import { sign } from '../../src/domain/sign.js';
import { payFields, tempDir } from '../helper.js';
import { startServer, waitFor } from '../processes.js';
import { ownDatabase } from '../own-database.js';

// An order is committed before it is acknowledged: kill -9 the gateway in the middle of a burst,
// and every order that was answered 000000 is in the database afterwards (the SQLite file, or the
// PostgreSQL database in the PostgreSQL pass).

t.test('every acknowledged order survives SIGKILL', async (t) => {
  const dir = tempDir(t);
  const db = await ownDatabase(t, dir);
  const server = await startServer(t, dir, db.path, undefined, db.env);
  const [, mercNo, key] = await waitFor(server, /mercNo:\s+(M\d{15})\s+key:\s+(\S+)/);

  const acked = new Map<string, { orderId: string; fields: Record<string, string> }>();
  const post = async (fields: Record<string, string>) => {
    const res = await fetch(`${server.url}/api/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...fields, signature: sign(fields, key!, 'MD5') }),
    });
    return (await res.json()) as Record<string, string>;
  };

  const total = 400;
  const killAfter = 150;
  const orders = Array.from({ length: total }, (_, i) => payFields(mercNo!, { mercOrderNo: `DUR${i}`, tradeAmt: `${i + 1}.00` }));
  let next = 0;
  let killed = false;
  const worker = async () => {
    while (next < total) {
      const fields = orders[next++]!;
      try {
        const body = await post(fields);
        if (body.respCode === '000000') acked.set(fields.mercOrderNo!, { orderId: body.orderId!, fields });
      } catch {
        // the connection died with the server: not acknowledged, so nothing is promised
      }
      if (!killed && acked.size >= killAfter) {
        killed = true;
        server.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: 25 }, worker));
  const exit = await server.exited;
  t.equal(exit.signal, 'SIGKILL', 'the gateway was killed mid-burst');
  t.ok(acked.size >= killAfter, `${acked.size} orders were acknowledged before the kill`);

  let missing = 0;
  for (const [mercOrderNo, a] of acked) {
    const row = await db.sql.get<{ order_id: string; amount_fen: number }>('SELECT order_id, amount_fen FROM orders WHERE merc_no = ? AND merc_order_no = ?', mercNo, mercOrderNo);
    if (!row || row.order_id !== a.orderId || row.amount_fen !== Number(a.fields.tradeAmt!.split('.')[0]) * 100) missing++;
  }
  t.equal(missing, 0, 'every acknowledged order is stored, with its orderId and amount');

  // The gateway starts again on the same database, and a replay finds the stored order.
  const again = await startServer(t, dir, db.path, undefined, db.env);
  const [first] = acked.values();
  const replay = await fetch(`${again.url}/api/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...first!.fields, signature: sign(first!.fields, key!, 'MD5') }),
  });
  t.equal(((await replay.json()) as Record<string, string>).orderId, first!.orderId, 'a replay after restart answers the stored order');
  again.child.kill('SIGTERM');
  t.equal((await again.exited).code, 0);
});
