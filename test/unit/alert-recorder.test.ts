import t from 'tap';
import pino from 'pino';
import type { Writer } from '../../src/db/writer.js';
import { ALERT_FLUSH_MS, ALERT_QUIET_MS, AlertRecorder } from '../../src/services/alert-recorder.js';
import { FakeClock } from '../fake-clock.js';
import { testStorage } from '../fixtures/backends.js';

async function rig(t: Parameters<typeof testStorage>[0]) {
  const { storage, sql } = await testStorage(t);
  const inner = storage.writer;
  const ops: string[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const writer: Writer = {
    run: (op, args) => {
      ops.push(op);
      const p = inner.run(op, args);
      inFlight.add(p);
      const done = () => void inFlight.delete(p);
      p.then(done, done);
      return p;
    },
    close: () => inner.close(),
  };
  // What a timer started has reached the database: on PostgreSQL a write takes more than a turn of
  // the event loop, and a flush writes one source after another.
  const settle = async () => {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (inFlight.size === 0) return;
      await Promise.allSettled([...inFlight]);
    }
  };
  const clock = new FakeClock();
  const logged: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const recorder = new AlertRecorder(writer, clock, log);
  // Quoted aliases: PostgreSQL folds unquoted names to lower case.
  const rows = () =>
    sql.all<{
      kind: string;
      channel: string;
      mercNo: string | null;
      orderId: string | null;
      detail: string;
      at: number;
      lastAt: number;
      count: number;
    }>('SELECT kind, channel, merc_no AS "mercNo", order_id AS "orderId", detail, at, last_at AS "lastAt", count FROM alerts ORDER BY id');
  return { sql, writer, clock, recorder, rows, ops, logged, settle };
}

t.test('recordAlert: counts on the source row last seen since `since`, or adds a row', async (t) => {
  const { writer, rows } = await rig(t);
  const base = { kind: 'callback_rejected', channel: 'alipay', mercNo: 'M1', detail: 'bad signature', at: 1_000 };
  t.equal(await writer.run('recordAlert', { ...base, since: 0 }), true, 'nothing to count on: a row');
  t.equal(await writer.run('recordAlert', { ...base, at: 2_000, count: 5, lastAt: 3_000, detail: 'other', since: 500 }), false, 'counted');
  t.equal(await writer.run('recordAlert', { ...base, mercNo: undefined, at: 2_000, since: 0 }), true, 'no merchant is a source of its own');
  t.equal(await writer.run('recordAlert', { ...base, orderId: '2026010100000000000001', at: 2_000, since: 0 }), true, 'so is each order');
  t.equal(await writer.run('recordAlert', { ...base, at: 9_000, since: 3_001 }), true, 'quiet since 3000: a new row');
  t.equal(await writer.run('recordAlert', { ...base, at: 9_500 }), true, 'without `since`, always a row (as before)');
  t.match(await rows(), [
    { mercNo: 'M1', orderId: null, detail: 'bad signature', at: 1_000, lastAt: 3_000, count: 6 },
    { mercNo: null, count: 1 },
    { mercNo: 'M1', orderId: '2026010100000000000001', count: 1 },
    { mercNo: 'M1', orderId: null, at: 9_000, lastAt: 9_000, count: 1 },
    { at: 9_500, count: 1 },
  ]);
});

t.test('AlertRecorder: 10,000 alike alerts, two writes a minute per source, exact counts', async (t) => {
  const { clock, recorder, rows, ops, logged, settle } = await rig(t);
  const start = clock.now();
  const alert = (channel: string, i: number) => ({ kind: 'callback_rejected', channel, mercNo: 'M1', detail: `forgery ${i}`, at: clock.now() });
  for (let i = 0; i < 10_000; i++) await recorder.record(alert(i % 2 ? 'alipay' : 'wxpay', i));
  t.equal(ops.length, 2, 'the first of each source written at once');
  t.match(await rows(), [
    { channel: 'wxpay', count: 1, detail: 'forgery 0' },
    { channel: 'alipay', count: 1, detail: 'forgery 1' },
  ]);

  clock.advance(ALERT_FLUSH_MS);
  await settle();
  t.equal(ops.length, 4, 'then one write per source for the minute');
  t.same((await rows()).map((r) => r.count), [5_000, 5_000]);
  t.equal((await rows())[0]!.detail, 'forgery 0', 'the row keeps its first detail');
  t.match(logged, [
    { level: 40, channel: 'wxpay', mercNo: 'M1', count: 4_999, msg: 'more alike alerts since the last one logged' },
    { level: 40, channel: 'alipay', count: 4_999 },
  ]);
  t.equal(logged.length, 2, 'one log line per source for the minute');

  for (let i = 0; i < 1_000; i++) await recorder.record(alert('alipay', i));
  clock.advance(ALERT_FLUSH_MS);
  await settle();
  t.same((await rows()).map((r) => r.count), [5_000, 6_000]);
  t.equal((await rows())[1]!.lastAt, start + ALERT_FLUSH_MS, 'last seen');
  t.equal(ops.length, 5, 'a quiet source costs no write');

  clock.advance(ALERT_QUIET_MS + ALERT_FLUSH_MS);
  await settle();
  await recorder.record(alert('alipay', 0));
  t.equal((await rows()).length, 3, 'after a quiet hour, a new row');

  for (let i = 0; i < 3; i++) await recorder.record(alert('alipay', i));
  await recorder.close();
  t.equal((await rows())[2]!.count, 4, 'close writes what is pending');
  clock.advance(10 * ALERT_FLUSH_MS);
  await settle();
  t.equal(ops.length, 7, 'and nothing after it');
});

t.test('AlertRecorder: an hour of quiet opens a new row even before a flush has forgotten the source', async (t) => {
  const { clock, recorder, rows } = await rig(t);
  const at = clock.now();
  const alert = (dt: number) => ({ kind: 'callback_rejected', channel: 'alipay', mercNo: 'M1', detail: `at +${dt}`, at: at + dt });
  t.equal(await recorder.record(alert(0)), true, 'the first is written');
  t.equal(await recorder.record(alert(10)), false, 'the next is counted');
  // No timer has run: the source and its pending count are still held in memory.
  t.equal(await recorder.record(alert(11 + ALERT_QUIET_MS)), true, 'after an hour of quiet: written, as a new row');
  t.match(await rows(), [
    { detail: 'at +0', count: 2, lastAt: at + 10 },
    { detail: `at +${11 + ALERT_QUIET_MS}`, count: 1 },
  ]);
  await recorder.close();
  t.equal((await rows()).reduce((n, r) => n + r.count, 0), 3, 'every occurrence counted once');
});

t.test('an alert marked handled takes no more counts: the same source afterwards opens a new, open alert', async (t) => {
  const { sql, writer, clock, recorder, rows } = await rig(t);
  const alert = { kind: 'callback_rejected', channel: 'alipay', mercNo: 'M1', orderId: 'O1', detail: 'bad signature' };
  await recorder.record({ ...alert, at: clock.now() });
  const [first] = await sql.values<number>('SELECT id FROM alerts');
  t.equal(await writer.run('handleAlert', { id: first!, at: clock.now(), by: 'ops@example.com' }), 'handled');
  t.equal(await writer.run('handleAlert', { id: first!, at: clock.now(), by: 'someone else' }), 'already');
  t.equal(await writer.run('handleAlert', { id: 999, at: clock.now(), by: 'x' }), 'none');
  clock.advance(1000);
  await recorder.record({ ...alert, at: clock.now() });
  clock.advance(ALERT_FLUSH_MS);
  await recorder.flush();
  await recorder.close();
  t.same((await rows()).map((r) => r.count), [1, 1], 'the handled row keeps its count; the next occurrence is a row of its own');
  const state = await sql.values('SELECT handled_by FROM alerts ORDER BY id');
  t.same(state, ['ops@example.com', null]);
  t.equal(await sql.value(`SELECT n FROM alert_counts WHERE state = 'open'`), 1, 'one open alert counted');
  await sql.run('DELETE FROM alerts WHERE handled_at IS NULL');
  t.equal(await sql.value(`SELECT n FROM alert_counts WHERE state = 'open'`), 0, 'the count follows deletes too');
});
