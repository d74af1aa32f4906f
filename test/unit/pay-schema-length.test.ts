import t from 'tap';
import { randomInt } from 'node:crypto';
import { optional, required, withinChars } from '../../src/api/pay-schema.js';
import { prng } from '../prng.js';

// Length rules count characters (code points), as the string iterator does. withinChars answers
// from the length alone where it can; checked here against counting every code point.

const SEED = process.env.DTPAY_PROP_SEED !== undefined ? Number(process.env.DTPAY_PROP_SEED) >>> 0 : randomInt(0, 2 ** 32);
const codePoints = (s: string) => [...s].length;

t.test('withinChars agrees with counting code points, for any mix of units', async (t) => {
  const rng = prng(SEED);
  // ASCII, CJK, an astral character (a pair), lone high and low surrogates, and a reversed pair.
  const pieces = ['a', '中', '\u{1F600}', '\uD83D', '\uDE00', '\uDE00\uD83D', 'é'];
  const problems: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    let s = '';
    const len = rng.int(24);
    for (let j = 0; j < len; j++) s += rng.pick(pieces);
    const max = rng.int(30);
    const expected = codePoints(s) <= max;
    if (withinChars(s, max) !== expected) problems.push(`${JSON.stringify(s)} (max ${max}): expected ${expected}`);
    if (problems.length > 5) break;
  }
  t.same(problems, [], `seed ${SEED} (rerun: DTPAY_PROP_SEED=${SEED})`);
});

t.test('the edges: exactly at the limit, one over, pairs across the limit', async (t) => {
  const smile = '\u{1F600}';
  t.ok(withinChars('', 0));
  t.notOk(withinChars('a', 0));
  t.ok(withinChars('a'.repeat(32), 32));
  t.notOk(withinChars('a'.repeat(33), 32));
  t.ok(withinChars(smile.repeat(32), 32), '32 astral characters are 64 units and 32 characters');
  t.notOk(withinChars(smile.repeat(33), 32));
  t.ok(withinChars('a'.repeat(31) + smile, 32));
  t.notOk(withinChars('a'.repeat(32) + smile, 32));
  t.notOk(withinChars('\uD83D'.repeat(33), 32), 'lone surrogates count one each');
  t.ok(withinChars('\uD83D'.repeat(32), 32));
});

t.test('the schema rules use it: a 32-character limit takes 32 astral characters, not 33', async (t) => {
  const smile = '\u{1F600}';
  t.ok(required(32).safeParse(smile.repeat(32)).success);
  t.notOk(required(32).safeParse(smile.repeat(33)).success);
  t.ok(optional(8).safeParse('中'.repeat(8)).success);
  t.match(optional(8).safeParse('中'.repeat(9)).error?.issues[0]?.message, 'must be at most 8 characters');
});
