import t from 'tap';
import { MAX_FIELDS, formHasTooManyFields, jsonHasTooManyFields } from '../../src/api/body-parsers.js';
import { callerList, callerText } from '../../src/domain/caller-text.js';
import { WindowCounter } from '../../src/api/window-counter.js';

// The field cap (issue 10, item 3) against a reference: what JSON.parse makes of the text.

/** Commas and colons a JSON value's text holds outside strings, counted from the parsed value. */
function separators(v: unknown): { commas: number; colons: number } {
  if (Array.isArray(v)) {
    return v.map(separators).reduce((a, b) => ({ commas: a.commas + b.commas, colons: a.colons + b.colons }), { commas: Math.max(0, v.length - 1), colons: 0 });
  }
  if (v !== null && typeof v === 'object') {
    const values = Object.values(v);
    return values.map(separators).reduce((a, b) => ({ commas: a.commas + b.commas, colons: a.colons + b.colons }), { commas: Math.max(0, values.length - 1), colons: values.length });
  }
  return { commas: 0, colons: 0 };
}

t.test('the JSON field count agrees with the parsed value, for any strings', async (t) => {
  // A small deterministic generator, so a failure can be replayed.
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pieces = ['a', ',', ':', '"', '\\', '\\"', 'é', '😀', '\n', '{', '}', '[', ']', '&', '='];
  const text = () => Array.from({ length: Math.floor(rnd() * 8) }, () => pieces[Math.floor(rnd() * pieces.length)]).join('');
  // Wide at the top (around the cap), narrow below, so a value stays small.
  const width = (depth: number) => Math.floor(rnd() * (depth === 0 ? 80 : 12));
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 2 || r < 0.45) return text();
    if (r < 0.7) return Array.from({ length: width(depth) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: width(depth) }, (_, i) => [`${text()}${i}`, value(depth + 1)]));
  };
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const v = value(0);
    const s = JSON.stringify(v, null, rnd() < 0.3 ? 1 : undefined);
    const { commas, colons } = separators(v);
    const expected = commas >= MAX_FIELDS || colons > MAX_FIELDS;
    if (expected) refused++;
    if (jsonHasTooManyFields(s) !== expected) t.fail(`disagrees on ${s.slice(0, 300)}`);
  }
  t.ok(refused > 100 && refused < 1900, `both outcomes exercised (${refused} of 2000 over the cap)`);
});

t.test('the cap, exactly', async (t) => {
  const obj = (n: number, value = 'v') => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, value])));
  t.notOk(jsonHasTooManyFields(obj(MAX_FIELDS)), '64 fields pass');
  t.ok(jsonHasTooManyFields(obj(MAX_FIELDS + 1)), '65 do not');
  t.notOk(jsonHasTooManyFields(obj(10, ',:'.repeat(100))), 'commas and colons in strings do not count');
  t.notOk(jsonHasTooManyFields(obj(10, '\\",:\\\\'.repeat(50))), 'nor after escaped quotes and backslashes');
  t.ok(jsonHasTooManyFields(`{"a":${'{"a":'.repeat(MAX_FIELDS)}1${'}'.repeat(MAX_FIELDS + 1)}`), 'nested objects count');
  t.ok(jsonHasTooManyFields(`[${'1,'.repeat(MAX_FIELDS)}1]`), 'array elements count');
  t.notOk(jsonHasTooManyFields(`{"a":"${','.repeat(100)}`), 'an unterminated string: left to the parser');

  const form = (n: number) => Array.from({ length: n }, (_, i) => `f${i}=v`).join('&');
  t.notOk(formHasTooManyFields(form(MAX_FIELDS)), '64 form fields pass');
  t.ok(formHasTooManyFields(form(MAX_FIELDS + 1)), '65 do not');
  t.notOk(formHasTooManyFields(`a=${'%26'.repeat(500)}`), 'an encoded & is a character of a value');
});

t.test('callerText: no raw & = % , ; or invisible character survives; the rest reads as sent', async (t) => {
  t.equal(callerText('tradeAmt'), 'tradeAmt');
  t.equal(callerText('__proto__'), '__proto__');
  t.equal(callerText('测试-商品_1.(x)'), '测试-商品_1.(x)');
  t.equal(callerText('junk&payStatus=p0000&tradeAmt=100.00'), 'junk%26payStatus%3Dp0000%26tradeAmt%3D100.00');
  t.equal(callerText('100%'), '100%25', 'the escape character itself, so the text reads back exactly');
  t.equal(callerText('a, b; c'), 'a%2C%20b%3B%20c');
  t.equal(callerText('x\u202ey\u0085z\u0000'), 'x%E2%80%AEy%C2%85z%00');
  t.equal(callerText('lone \ud800'), 'lone%20%EF%BF%BD');
  t.equal(callerText('a'.repeat(100), 10), `${'a'.repeat(10)}…`);
  t.equal(decodeURIComponent(callerText('k=v&w;x,y z%')), 'k=v&w;x,y z%');
  t.equal(callerList(['a&b', 'c']), 'a%26b, c');
  t.equal(callerList(Array.from({ length: 20 }, (_, i) => `f${i}`), 3), 'f0, f1, f2 and 17 more');
});

t.test('WindowCounter: a fixed window per key from its first hit; bounded memory', async (t) => {
  let now = 1_000;
  const c = new WindowCounter(60_000, () => now, 3);
  t.same(c.hit('a'), { count: 1, ttlMs: 60_000 });
  now += 59_999;
  t.same(c.hit('a'), { count: 2, ttlMs: 1 });
  now += 1;
  t.same(c.hit('a'), { count: 1, ttlMs: 60_000 }, 'a new window once the last one ended');
  c.hit('b');
  c.hit('c');
  c.hit('d');
  t.equal(c.size, 3, 'never more keys than the bound: the oldest window goes first');
  t.same(c.hit('a'), { count: 1, ttlMs: 60_000 }, 'a was dropped: it starts again (it is forgotten, never blocked)');
  now += 60_000;
  c.hit('e');
  t.equal(c.size, 1, 'windows that ended are dropped as new ones start');
});
