import t from 'tap';
import { TimerWheel } from '../../src/notify/timer-wheel.js';

function wheel(start = 0, tickMs = 10, slots = 8) {
  let clock = start;
  const w = new TimerWheel<string>({ tickMs, slots, now: () => clock });
  return { w, set: (ms: number) => (clock = ms) };
}

t.test('horizon', async (t) => {
  const { w } = wheel(1000);
  t.equal(w.horizonMs, 80);
  t.equal(w.tickMs, 10);
  t.equal(w.slots, 8);
  t.equal(w.nextDueAt(), undefined);
  t.equal(w.size, 0);
  t.same(w.advance(), []);
});

t.test('due order across and within ticks', async (t) => {
  const { w } = wheel(1000);
  t.ok(w.schedule('c', 1035, 'c'));
  t.ok(w.schedule('a', 1003, 'a'));
  t.ok(w.schedule('b', 1007, 'b'));
  t.ok(w.schedule('b2', 1007, 'b2'));
  t.ok(w.schedule('d', 1079, 'd'));
  t.equal(w.size, 5);
  t.equal(w.nextDueAt(), 1003);
  t.same(w.advance(1002), [], 'nothing due yet');
  t.same(w.advance(1007), ['a', 'b', 'b2'], 'same ms keeps schedule order');
  t.equal(w.nextDueAt(), 1035);
  t.same(w.advance(1034), []);
  t.same(w.advance(1100), ['c', 'd']);
  t.equal(w.size, 0);
  t.equal(w.nextDueAt(), undefined);
});

t.test('partly due tick keeps the rest', async (t) => {
  const { w } = wheel(0);
  w.schedule('x', 12, 'x');
  w.schedule('y', 18, 'y');
  t.same(w.advance(15), ['x']);
  t.equal(w.nextDueAt(), 18);
  t.same(w.advance(18), ['y']);
});

t.test('same slot, different rotations', async (t) => {
  const { w } = wheel(0); // tick 10, 8 slots: ticks 0 and 8 share slot 0
  t.ok(w.schedule('now', 5, 'first'));
  t.ok(w.schedule('later', 80, 'second'));
  t.equal(w.nextDueAt(), 5);
  t.same(w.advance(9), ['first']);
  t.equal(w.nextDueAt(), 80);
  t.same(w.advance(79), [], 'the slot is visited again but the later rotation stays');
  t.equal(w.size, 1);
  // Once the wheel has moved, the horizon moves with it: ticks 9 and 17 share slot 1.
  t.ok(w.schedule('wrap', 150, 'third'));
  t.ok(w.schedule('near', 95, 'near'));
  t.same(w.advance(100), ['second', 'near']);
  t.equal(w.nextDueAt(), 150);
  t.same(w.advance(150), ['third']);
});

t.test('cancel', async (t) => {
  const { w } = wheel(0);
  w.schedule('a', 10, 'a');
  w.schedule('b', 20, 'b');
  t.ok(w.cancel('a'));
  t.notOk(w.cancel('a'), 'second cancel is a no-op');
  t.notOk(w.cancel('nope'));
  t.notOk(w.has('a'));
  t.equal(w.size, 1);
  t.equal(w.nextDueAt(), 20);
  t.same(w.advance(50), ['b']);
});

t.test('re-scheduling replaces', async (t) => {
  const { w } = wheel(0);
  w.schedule('a', 10, 'old');
  w.schedule('b', 20, 'b');
  t.ok(w.schedule('a', 30, 'new'));
  t.equal(w.size, 2);
  t.same(w.advance(25), ['b'], 'old time no longer fires');
  t.same(w.advance(30), ['new']);
  w.schedule('c', 60, 'c');
  t.ok(w.schedule('c', 40, 'c-earlier'), 'can move earlier too');
  t.equal(w.nextDueAt(), 40);
  t.same(w.advance(100), ['c-earlier']);
});

t.test('beyond the horizon is refused', async (t) => {
  const { w, set } = wheel(1000);
  t.ok(w.schedule('edge', 1080, 'edge'), 'exactly at the horizon is held');
  t.notOk(w.schedule('far', 1081, 'far'));
  t.notOk(w.schedule('week', 1000 + 7 * 86_400_000, 'week'));
  t.equal(w.size, 1);
  t.notOk(w.has('far'));
  w.schedule('moved', 1010, 'moved');
  t.notOk(w.schedule('moved', 5000, 'moved'), 'moving an id out of reach refuses');
  t.notOk(w.has('moved'), 'and drops the stale entry rather than firing at the old time');
  // The horizon follows the wheel's position, not the raw clock.
  set(2000);
  t.notOk(w.schedule('far', 1081 + 40, 'far'), 'clock moved but wheel did not');
  t.same(w.advance(), ['edge']);
  t.ok(w.schedule('far', 2080, 'far'));
  t.throws(() => w.schedule('nan', Number.NaN, 'nan'), RangeError);
});

t.test('already due items come out of the next advance', async (t) => {
  const { w } = wheel(1000);
  w.advance(1500);
  t.ok(w.schedule('late', 100, 'late'));
  t.ok(w.schedule('later', 1400, 'later'));
  t.equal(w.nextDueAt(), 100);
  t.same(w.advance(1500), ['late', 'later']);
});

t.test('a backwards clock does not rewind the wheel', async (t) => {
  const { w } = wheel(1000);
  w.schedule('a', 1050, 'a');
  w.advance(1040);
  t.same(w.advance(900), []);
  t.same(w.advance(1050), ['a']);
});

t.test('advance jumping many rotations at once', async (t) => {
  const { w } = wheel(0, 10, 8);
  const want: string[] = [];
  for (let i = 80; i >= 0; i--) {
    w.schedule(`i${i}`, i, `i${i}`);
  }
  for (let i = 0; i <= 80; i++) want.push(`i${i}`);
  t.same(w.advance(1_000_000), want, 'every item, in due order, after 100,000 ticks');
  t.equal(w.size, 0);
  // The wheel works normally from its new position.
  t.ok(w.schedule('n', 1_000_070, 'n'));
  t.notOk(w.schedule('f', 1_000_081, 'f'));
  t.same(w.advance(1_000_070), ['n']);
});

t.test('rejects bad options', async (t) => {
  t.throws(() => new TimerWheel({ tickMs: 0, slots: 8, now: () => 0 }), RangeError);
  t.throws(() => new TimerWheel({ tickMs: 10, slots: 0, now: () => 0 }), RangeError);
  t.throws(() => new TimerWheel({ tickMs: 10, slots: 1.5, now: () => 0 }), RangeError);
});

t.test('100k items', async (t) => {
  const start = 1_700_000_000_000;
  let clock = start;
  const w = new TimerWheel<number>({ tickMs: 50, slots: 1200, now: () => clock }); // 60 s horizon
  // Deterministic pseudo-random dues so a failure reproduces.
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const n = 100_000;
  const dues = new Map<number, number>();
  const began = performance.now();
  for (let i = 0; i < n; i++) {
    const due = start + Math.floor(rand() * w.horizonMs);
    dues.set(i, due);
    if (!w.schedule(`n${i}`, due, i)) t.fail(`refused ${i}`);
  }
  for (let i = 0; i < n; i += 10) w.cancel(`n${i}`); // 10,000 cancelled
  t.equal(w.size, 90_000);
  const out: number[] = [];
  let last = -Infinity;
  let ordered = true;
  while (w.size > 0) {
    const next = w.nextDueAt()!;
    clock = Math.max(clock + 37, next); // irregular steps, sometimes skipping ahead
    for (const i of w.advance()) {
      const due = dues.get(i)!;
      if (due < last || due > clock) ordered = false;
      last = due;
      out.push(i);
    }
  }
  const ms = performance.now() - began;
  t.ok(ordered, 'never early, never out of order');
  t.equal(out.length, 90_000);
  t.equal(new Set(out).size, 90_000, 'each once');
  t.ok(out.every((i) => i % 10 !== 0), 'no cancelled item');
  t.ok(ms < 10_000, `took ${ms.toFixed(0)} ms`);
});
