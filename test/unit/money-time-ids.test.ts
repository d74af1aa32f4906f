import t from 'tap';
import { YUAN_PATTERN, fenToYuan, yuanToFen } from '../../src/domain/money.js';
import { formatBeijing, isCompactDateTime } from '../../src/domain/time.js';
import { OrderIdGenerator } from '../../src/domain/ids.js';

t.test('yuanToFen: exact integer fen, including 16 integer digits', async (t) => {
  t.equal(yuanToFen('0.01'), 1n);
  t.equal(yuanToFen('0.5'), 50n);
  t.equal(yuanToFen('0.50'), 50n);
  t.equal(yuanToFen('1'), 100n);
  t.equal(yuanToFen('12.34'), 1234n);
  t.equal(yuanToFen('100.1'), 10010n);
  t.equal(yuanToFen('9999999999999999.99'), 999999999999999999n, '16 integer digits survive exactly');
  t.equal(yuanToFen('1234567890123456.78'), 123456789012345678n);
  t.equal(yuanToFen('9007199254740993'), 900719925474099300n, 'beyond 2^53 is not rounded');
  t.equal(typeof yuanToFen('1'), 'bigint');
});

t.test('yuanToFen rejects what the pattern rejects', async (t) => {
  for (const bad of ['', '.5', '1.', '1.234', '01', '00.1', '-1', '+1', '1e3', ' 1', '1 ', '12345678901234567', '0x10', '1,00', '１']) {
    t.notOk(YUAN_PATTERN.test(bad), `pattern rejects ${JSON.stringify(bad)}`);
    t.throws(() => yuanToFen(bad), RangeError, `yuanToFen rejects ${JSON.stringify(bad)}`);
  }
});

t.test('fenToYuan: always two decimals', async (t) => {
  t.equal(fenToYuan(0n), '0.00');
  t.equal(fenToYuan(1n), '0.01');
  t.equal(fenToYuan(10n), '0.10');
  t.equal(fenToYuan(50n), '0.50');
  t.equal(fenToYuan(100n), '1.00');
  t.equal(fenToYuan(yuanToFen('1')), '1.00');
  t.equal(fenToYuan(yuanToFen('0.5')), '0.50');
  t.equal(fenToYuan(123456789012345678n), '1234567890123456.78');
  t.equal(fenToYuan(999999999999999999n), '9999999999999999.99');
  t.throws(() => fenToYuan(-1n), RangeError);
});

t.test('round trips over many values', async (t) => {
  // Canonical two-decimal strings survive yuan → fen → yuan unchanged; fen survive fen → yuan → fen.
  let x = 0x2545f4914f6cdd1dn; // xorshift64 seed: deterministic
  const mask = (1n << 64n) - 1n;
  const rand = () => {
    x ^= (x << 13n) & mask;
    x ^= x >> 7n;
    x ^= (x << 17n) & mask;
    return x;
  };
  const max = 10n ** 18n; // 16 integer digits + 2 decimals
  let bad = 0;
  let n = 0;
  const check = (fen: bigint) => {
    n++;
    const yuan = fenToYuan(fen);
    if (!/^(0|[1-9][0-9]{0,15})\.[0-9]{2}$/.test(yuan) || yuanToFen(yuan) !== fen) bad++;
  };
  for (let fen = 0n; fen < 2000n; fen++) check(fen);
  for (let i = 0; i < 20000; i++) check(rand() % max);
  for (let d = 0n; d < 19n; d++) {
    check(10n ** d - 1n < max ? 10n ** d - 1n : max - 1n);
    if (10n ** d < max) check(10n ** d);
  }
  t.equal(bad, 0, `all ${n} fen values round-trip`);

  // Short forms ("5", "5.5") normalise to two decimals and keep their value.
  for (const [input, out] of [
    ['5', '5.00'],
    ['5.5', '5.50'],
    ['0', '0.00'],
    ['10.05', '10.05'],
    ['9999999999999999', '9999999999999999.00'],
    ['9999999999999999.9', '9999999999999999.90'],
  ] as const) {
    t.equal(fenToYuan(yuanToFen(input)), out, `${input} → ${out}`);
  }
});

t.test('isCompactDateTime', async (t) => {
  t.ok(isCompactDateTime('20240229000000'), 'leap day in a leap year');
  t.ok(isCompactDateTime('20240618125826'));
  t.ok(isCompactDateTime('20231231235959'));
  t.ok(isCompactDateTime('20000229120000'), '2000 is a leap year');
  t.notOk(isCompactDateTime('20230229000000'), '2023 is not a leap year');
  t.notOk(isCompactDateTime('19000229000000'), '1900 is not a leap year');
  t.notOk(isCompactDateTime('20241301000000'), 'month 13');
  t.notOk(isCompactDateTime('20240001000000'), 'month 0');
  t.notOk(isCompactDateTime('20240100000000'), 'day 0');
  t.notOk(isCompactDateTime('20240431000000'), 'April 31');
  t.notOk(isCompactDateTime('20240101240000'), 'hour 24');
  t.notOk(isCompactDateTime('20240101126000'), 'minute 60');
  t.notOk(isCompactDateTime('20240101120060'), 'second 60');
  t.notOk(isCompactDateTime('2024010112000'), '13 digits');
  t.notOk(isCompactDateTime('202401011200000'), '15 digits');
  t.notOk(isCompactDateTime(''), 'empty');
  t.notOk(isCompactDateTime('2024-01-01 12:00'), 'separators');
  t.notOk(isCompactDateTime('2024010112000a'), 'letter');
  t.notOk(isCompactDateTime('２０２４０１０１１２００００'), 'full-width digits');
  t.notOk(isCompactDateTime('20240101120000\n'), 'trailing newline');
});

t.test('formatBeijing is UTC+8 with no daylight saving', async (t) => {
  t.equal(formatBeijing(0), '19700101080000');
  t.equal(formatBeijing(Date.UTC(2024, 5, 18, 4, 58, 26)), '20240618125826');
  t.equal(formatBeijing(Date.UTC(2023, 11, 31, 16, 0, 0)), '20240101000000', 'crosses the year at 16:00 UTC');
  t.equal(formatBeijing(Date.UTC(2023, 11, 31, 15, 59, 59, 999)), '20231231235959');
  t.equal(formatBeijing(Date.UTC(2024, 1, 28, 16, 0, 0)), '20240229000000');
  t.equal(formatBeijing(Date.UTC(2024, 6, 1, 0, 0, 0)), '20240701080000', 'summer: still +8');
  t.ok(isCompactDateTime(formatBeijing(Date.now())));
});

t.test('OrderIdGenerator: 22 digits, strictly increasing, unique', async (t) => {
  const base = Date.UTC(2024, 5, 18, 4, 58, 26, 123);
  const gen = new OrderIdGenerator(() => base);
  const first = gen.next();
  t.equal(first, '2024061812582612300000', 'yyyyMMddHHmmss (Beijing) + ms + counter');

  // Many ids with a real clock.
  const real = new OrderIdGenerator();
  const ids: string[] = [];
  for (let i = 0; i < 20000; i++) ids.push(real.next());
  let ok = true;
  for (let i = 0; i < ids.length; i++) {
    if (!/^\d{22}$/.test(ids[i]!) || (i > 0 && !(ids[i]! > ids[i - 1]!))) ok = false;
  }
  t.ok(ok, '20000 ids from the real clock are 22 digits and strictly increasing');
  t.equal(new Set(ids).size, ids.length, 'unique');
});

interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): boolean;
}

function checkSequence(t: Asserts, ids: string[], what: string) {
  let bad = -1;
  for (let i = 0; i < ids.length; i++) {
    if (!/^\d{22}$/.test(ids[i]!) || (i > 0 && !(ids[i]! > ids[i - 1]!))) {
      bad = i;
      break;
    }
  }
  t.equal(bad, -1, `${what}: 22 digits, strictly increasing${bad >= 0 ? ` (broke at ${bad}: ${ids[bad - 1]} → ${ids[bad]})` : ''}`);
  t.equal(new Set(ids).size, ids.length, `${what}: unique`);
}

t.test('OrderIdGenerator: a clock that stands still', async (t) => {
  const base = Date.UTC(2024, 5, 18, 4, 58, 26, 999);
  const gen = new OrderIdGenerator(() => base);
  const ids: string[] = [];
  // More than the 100 000 a millisecond's counter holds, so it must borrow the next millisecond.
  for (let i = 0; i < 150_000; i++) ids.push(gen.next());
  checkSequence(t, ids, 'frozen clock, 150k ids');
  t.equal(ids[0], '2024061812582699900000');
  t.equal(ids[99_999], '2024061812582699999999');
  t.equal(ids[100_000], '2024061812582700000000', 'the 100 001st id borrows the next millisecond (and second)');
});

t.test('OrderIdGenerator: a clock that steps backwards', async (t) => {
  const base = Date.UTC(2024, 5, 18, 4, 58, 26, 500);
  const times = [base, base + 1, base + 5, base - 1000, base - 3_600_000, base + 5, base + 4, base + 6, base - 1, base + 2000];
  let i = 0;
  const gen = new OrderIdGenerator(() => times[Math.min(i++, times.length - 1)]!);
  const ids: string[] = [];
  for (let k = 0; k < times.length + 5; k++) ids.push(gen.next());
  checkSequence(t, ids, 'backwards clock');

  // A long run on a jittery clock.
  let s = 12345;
  let clock = base;
  const jitter = new OrderIdGenerator(() => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    clock += (s % 7) - 4; // steps -4 … +2 ms
    return clock;
  });
  const many: string[] = [];
  for (let k = 0; k < 50_000; k++) many.push(jitter.next());
  checkSequence(t, many, 'jittery clock');
});

t.test('OrderIdGenerator.seedAfter', async (t) => {
  const base = Date.UTC(2024, 5, 18, 4, 58, 26, 500);
  const stored = '2024061812582650000041'; // the same millisecond as the clock, counter 41
  const gen = new OrderIdGenerator(() => base);
  gen.seedAfter(stored);
  const next = gen.next();
  t.ok(next > stored, `${next} sorts after ${stored}`);
  t.equal(next, '2024061812582650000042');

  // A stored id from the future (the clock was ahead before a restart).
  const future = '2024061813000000099999'; // 13:00:00.000, counter at the top
  const gen2 = new OrderIdGenerator(() => base);
  gen2.seedAfter(future);
  const ids = [gen2.next(), gen2.next(), gen2.next()];
  t.ok(ids[0]! > future, `${ids[0]} sorts after ${future}`);
  checkSequence(t, [future, ...ids], 'after a future seed');

  // An older stored id changes nothing: ids follow the clock.
  const gen3 = new OrderIdGenerator(() => base);
  gen3.seedAfter('2020010100000000000007');
  t.equal(gen3.next(), '2024061812582650000000');

  // Junk is ignored.
  const gen4 = new OrderIdGenerator(() => base);
  gen4.seedAfter(undefined);
  gen4.seedAfter('');
  gen4.seedAfter('not-an-id');
  gen4.seedAfter('123');
  t.equal(gen4.next(), '2024061812582650000000');
});

t.test('OrderIdGenerator.seedAfter never makes the generator repeat an id it already issued', async (t) => {
  const base = Date.UTC(2024, 5, 18, 4, 58, 26, 500);
  const gen = new OrderIdGenerator(() => base);
  const issued = [gen.next(), gen.next(), gen.next(), gen.next()]; // counters 0..3 in this millisecond
  gen.seedAfter(issued[0]); // an older id of the same millisecond
  const after = [gen.next(), gen.next()];
  // A seed from the current millisecond with a lower counter must not rewind the counter.
  checkSequence(t, [...issued, ...after], 'seed with an id older than the last issued one');
});

t.test('OrderIdGenerator with an instance slot: disjoint from every other slot, ordered by millisecond', async (t) => {
  const base = Date.UTC(2024, 5, 18, 4, 58, 26, 999);
  let now = base;
  const a = new OrderIdGenerator(() => now, 3);
  const b = new OrderIdGenerator(() => now, 41);
  const idsA: string[] = [];
  const idsB: string[] = [];
  for (let i = 0; i < 2_500; i++) idsA.push(a.next());
  for (let i = 0; i < 1_200; i++) idsB.push(b.next());
  checkSequence(t, idsA, 'slot 03, frozen clock');
  checkSequence(t, idsB, 'slot 41, frozen clock');
  t.equal(idsA[0], '2024061812582699903000');
  t.equal(idsA[999], '2024061812582699903999');
  t.equal(idsA[1000], '2024061812582700003000', 'the 1 001st id of a millisecond borrows the next one');
  t.ok(idsA.every((id) => id.slice(17, 19) === '03') && idsB.every((id) => id.slice(17, 19) === '41'), 'each id carries its slot');
  const all = new Set([...idsA, ...idsB]);
  t.equal(all.size, idsA.length + idsB.length, 'no id of one slot is an id of the other');

  // Ids made later, on any slot, sort after ids made in an earlier millisecond on any other.
  now = base + 5_000;
  t.ok(b.next() > idsA.at(-1)!, 'a later millisecond on slot 41 sorts after slot 03');

  // Seeded with another slot's id, or an id of the single-instance format: every later id sorts after it.
  const c = new OrderIdGenerator(() => base, 7);
  c.seedAfter('2024061812582699999999');
  const next = c.next();
  t.ok(next > '2024061812582699999999', `${next} sorts after the seed`);
  t.equal(next.slice(17, 19), '07');
  const d = new OrderIdGenerator(() => base, 3);
  d.seedAfter(idsA[10]);
  t.equal(d.next(), '2024061812582699903011', 'its own slot: the counter goes on after the seed');

  for (const bad of [-1, 100, 1.5, Number.NaN]) t.throws(() => new OrderIdGenerator(() => base, bad), RangeError, `slot ${bad} is refused`);
});
