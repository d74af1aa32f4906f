import t from 'tap';
import { isDelivered, maxAttempts, nextAttempt } from '../../src/notify/retry-policy.js';

t.test('default schedule with a fake clock: attempts at 0, 10, 20, 30, 40, 50 s, then failed', async (t) => {
  const schedule = [10, 10, 10, 10, 10];
  t.equal(maxAttempts(schedule), 6);
  const start = 1_718_686_706_000;
  let clock = start; // the first attempt goes out at once
  const attempts: number[] = [];
  for (;;) {
    attempts.push(clock);
    // every attempt fails
    const next = nextAttempt(schedule, attempts.length, clock);
    if (next.kind === 'failed') break;
    clock = next.dueAt;
    if (attempts.length > 100) t.fail('never gave up');
  }
  t.same(
    attempts.map((a) => (a - start) / 1000),
    [0, 10, 20, 30, 40, 50],
  );
});

t.test('delays count from the failed attempt, not from the due time', async (t) => {
  t.same(nextAttempt([10, 30, 60], 1, 5_000), { kind: 'retry', dueAt: 15_000 });
  t.same(nextAttempt([10, 30, 60], 2, 17_250), { kind: 'retry', dueAt: 47_250 });
  t.same(nextAttempt([10, 30, 60], 3, 50_000), { kind: 'retry', dueAt: 110_000 });
  t.same(nextAttempt([10, 30, 60], 4, 110_000), { kind: 'failed' });
  t.same(nextAttempt([10, 30, 60], 9, 110_000), { kind: 'failed' });
  t.same(nextAttempt([0.5], 1, 1000), { kind: 'retry', dueAt: 1500 }, 'fractional seconds');
});

t.test('empty schedule: one attempt only', async (t) => {
  t.equal(maxAttempts([]), 1);
  t.same(nextAttempt([], 1, 0), { kind: 'failed' });
});

t.test('bad input', async (t) => {
  t.throws(() => nextAttempt([10], 0, 0), RangeError);
  t.throws(() => nextAttempt([10], 1.5, 0), RangeError);
  t.throws(() => nextAttempt([10], 1, Number.NaN), RangeError);
  t.throws(() => nextAttempt([-1], 1, 0), RangeError);
});

t.test('isDelivered', async (t) => {
  const yes: [number, string][] = [
    [200, 'success'],
    [200, 'success\n'],
    [200, '  success\r\n'],
    [204, 'success'],
    [299, '\tsuccess '],
  ];
  const no: [number, string][] = [
    [200, 'SUCCESS'],
    [200, 'Success'],
    [200, 'fail'],
    [200, ''],
    [200, 'success!'],
    [200, 'success success'],
    [200, '"success"'],
    [200, '{"result":"success"}'],
    [500, 'success'],
    [302, 'success'],
    [301, 'success'],
    [199, 'success'],
    [300, 'success'],
    [404, 'success'],
  ];
  for (const [s, b] of yes) t.ok(isDelivered(s, b), `${s} ${JSON.stringify(b)}`);
  for (const [s, b] of no) t.notOk(isDelivered(s, b), `${s} ${JSON.stringify(b)}`);
});
