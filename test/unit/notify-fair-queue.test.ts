import t from 'tap';
import { FairQueue } from '../../src/notify/fair-queue.js';

t.test('the global limit bounds what runs', async (t) => {
  const q = new FairQueue<number>(3, 10);
  for (let i = 0; i < 5; i++) q.push('a', i);
  t.same(q.take().map((x) => x.item), [0, 1, 2]);
  t.equal(q.inFlight, 3);
  t.same(q.take(), [], 'nothing more until a slot frees');
  q.releaseHost('a');
  t.same(q.take(), [], 'a free host slot is not a free global slot');
  q.releaseGlobal();
  t.same(q.take().map((x) => x.item), [3]);
  t.equal(q.size, 1);
});

t.test('a host at its limit waits while other hosts go past it', async (t) => {
  const q = new FairQueue<string>(10, 2);
  for (let i = 0; i < 5; i++) q.push('slow', `s${i}`);
  t.same(q.take().map((x) => x.item), ['s0', 's1']);
  q.push('fast', 'f0');
  q.push('fast', 'f1');
  q.push('fast', 'f2');
  t.same(q.take().map((x) => x.item), ['f0', 'f1'], 'the other host starts although the slow one has a queue');
  q.releaseHost('fast');
  q.releaseGlobal();
  t.same(q.take().map((x) => x.item), ['f2']);
  q.releaseHost('slow');
  q.releaseGlobal();
  t.same(q.take().map((x) => x.item), ['s2']);
});

t.test('hosts take turns', async (t) => {
  const q = new FairQueue<string>(4, 4);
  for (let i = 0; i < 4; i++) q.push('a', `a${i}`);
  for (let i = 0; i < 4; i++) q.push('b', `b${i}`);
  t.same(q.take().map((x) => x.item), ['a0', 'b0', 'a1', 'b1'], 'a long queue for one host does not go first in full');
});

t.test('drain returns what had not started', async (t) => {
  const q = new FairQueue<number>(1, 1);
  q.push('a', 1);
  q.push('a', 2);
  q.push('b', 3);
  t.equal(q.take().length, 1);
  t.same(q.drain().sort(), [2, 3]);
  t.equal(q.size, 0);
  t.throws(() => new FairQueue(0, 1), RangeError);
});
