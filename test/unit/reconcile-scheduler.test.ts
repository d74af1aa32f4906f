import t from 'tap';
import pino from 'pino';
import { beijingDayBefore, nextDailyRun } from '../../src/reconcile/schedule.js';
import { ReconcileScheduler } from '../../src/services/reconcile-scheduler.js';
import type { ReconcileScope, RunResult } from '../../src/services/reconciliation.js';
import { FakeClock } from '../fake-clock.js';

// The daily job on a fake clock: when it runs, for which day, how it asks again for bills that
// were not ready (and stops asking), and how it stops.

const log = pino({ level: 'silent' });
const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};
const result = (mercNo: string, payway: RunResult['payway'], status: RunResult['status']): RunResult => ({
  mercNo,
  payway,
  status,
  retryable: status !== 'ok',
  stored: true,
  alertsRaised: 0,
});

t.test('nextDailyRun and beijingDayBefore: Beijing time, strictly after now', async (t) => {
  const utc = (s: string) => Date.parse(s);
  t.equal(nextDailyRun(utc('2026-01-01T02:00:00Z'), '10:30'), utc('2026-01-01T02:30:00Z'), '10:00 Beijing → 10:30 the same day');
  t.equal(nextDailyRun(utc('2026-01-01T02:30:00Z'), '10:30'), utc('2026-01-02T02:30:00Z'), 'exactly then → the next day');
  t.equal(nextDailyRun(utc('2026-01-01T16:00:00Z'), '10:30'), utc('2026-01-02T02:30:00Z'), 'midnight Beijing is 16:00 UTC');
  t.equal(nextDailyRun(utc('2026-01-01T15:59:00Z'), '00:00'), utc('2026-01-01T16:00:00Z'));
  t.equal(nextDailyRun(utc('2026-12-31T20:00:00Z'), '23:59'), utc('2027-01-01T15:59:00Z'), 'across a year');
  t.throws(() => nextDailyRun(0, '24:00'));
  t.equal(beijingDayBefore(utc('2026-01-02T02:30:00Z')), '2026-01-01');
  t.equal(beijingDayBefore(utc('2026-01-01T16:30:00Z')), '2026-01-01', '00:30 Beijing on the 2nd');
  t.equal(beijingDayBefore(utc('2026-03-01T01:00:00Z')), '2026-02-28');
});

t.test('at RECONCILE_AT, the day before for everyone; bills not ready asked for again with backoff, then left', async (t) => {
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z')); // 08:00 Beijing
  const calls: { at: number; scope: ReconcileScope }[] = [];
  let notReadyLeft = 2;
  const run = async (scope: ReconcileScope): Promise<RunResult[]> => {
    calls.push({ at: clock.now(), scope });
    if (scope.mercNo === undefined) return [result('M1', 'alipay', 'not_ready'), result('M2', 'wxpay', 'ok')];
    return [result(scope.mercNo, scope.payway!, notReadyLeft-- > 0 ? 'not_ready' : 'ok')];
  };
  const sched = new ReconcileScheduler({ clock, at: '10:30', log, run, retryDelaysMs: [600_000, 1_200_000, 2_400_000] });
  sched.start();
  clock.advance(2.5 * 3600_000 - 1000);
  await flush();
  t.equal(calls.length, 0, 'nothing before 10:30 Beijing');
  clock.advance(1000);
  await flush();
  t.same(calls.map((c) => c.scope), [{ date: '2025-12-31' }], 'at 10:30: the day before, every merchant');
  clock.advance(600_000);
  await flush();
  t.same(calls[1]?.scope, { date: '2025-12-31', mercNo: 'M1', payway: 'alipay' }, 'ten minutes later: only what was not ready');
  clock.advance(1_199_000);
  await flush();
  t.equal(calls.length, 2, 'the next wait is longer');
  clock.advance(1000);
  await flush();
  t.equal(calls.length, 3);
  clock.advance(2_400_000);
  await flush();
  t.equal(calls.length, 4, 'asked a third time');
  clock.advance(6 * 3600_000);
  await flush();
  t.equal(calls.length, 4, 'ready at last: no more');
  clock.advance(24 * 3600_000);
  await flush();
  t.same(calls.at(-1)?.scope, { date: '2026-01-01' }, 'the next day at 10:30, the day before it');
  t.equal(calls.at(-1)?.at, Date.parse('2026-01-02T02:30:00Z'));
  await sched.stop();
});

t.test('a bill that never gets ready is asked for a bounded number of times', async (t) => {
  const clock = new FakeClock(Date.parse('2026-01-01T02:29:00Z'));
  let n = 0;
  const sched = new ReconcileScheduler({
    clock,
    at: '10:30',
    log,
    run: async () => {
      n++;
      return [result('M1', 'unionpay', 'not_ready')];
    },
    retryDelaysMs: [1000, 2000],
  });
  sched.start();
  for (let i = 0; i < 20; i++) {
    clock.advance(60_000);
    await flush();
  }
  t.equal(n, 3, 'the run and two retries, then it waits for tomorrow');
  await sched.stop();
});

t.test('stop: waits for the run under way, aborts what is left, arms nothing more', async (t) => {
  const clock = new FakeClock(Date.parse('2026-01-01T02:29:00Z'));
  let release!: () => void;
  let signal: AbortSignal | undefined;
  let n = 0;
  const sched = new ReconcileScheduler({
    clock,
    at: '10:30',
    log,
    run: (_scope, s) => {
      n++;
      signal = s;
      return new Promise((resolve) => {
        release = () => resolve([result('M1', 'alipay', 'not_ready')]);
      });
    },
    retryDelaysMs: [1000],
  });
  sched.start();
  clock.advance(60_000);
  await flush();
  t.equal(n, 1, 'a run is under way');
  let stopped = false;
  const stopping = sched.stop().then(() => (stopped = true));
  await flush();
  t.equal(signal?.aborted, true, 'the run is told to stop');
  t.notOk(stopped, 'stop waits for it');
  release();
  await stopping;
  t.ok(stopped);
  clock.advance(3 * 86_400_000);
  await flush();
  t.equal(n, 1, 'no retry and no next day after stop');
});
