// MASTER_KEY is the input keying material of every sealed secret: HKDF stretches it, but cannot add
// randomness that is not there. `openssl rand -base64 32` prints 256 random bits; a key typed by
// hand may hold almost none. These checks refuse what is plainly not random: few different
// symbols, a short sequence repeated, a run like abcd… or 1234…, too little randomness overall;
// on the text and, when it is base64 or hex, on the bytes it encodes (so that the base64 of
// "1234567890…" is seen for what it is). The thresholds are set so that even the weakest format
// accepted, 32 random hex digits (128 bits), fails one of them less than once in a billion.

export const MASTER_KEY_GENERATE = 'openssl rand -base64 32';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/** Why `key` is too weak to seal secrets with, or undefined when it shows no sign of weakness. */
export function masterKeyWeakness(key: string): string | undefined {
  const symbols = [...key].map((c) => c.codePointAt(0)!);
  const own = patternIn(symbols, 'character');
  if (own) return own;
  let bits = 0;
  const counts = tally(symbols);
  for (const n of counts.values()) bits -= n * Math.log2(n / symbols.length);
  if (bits < 64) return 'it holds too little randomness';

  const encoding = HEX.test(key) ? 'hex' : BASE64.test(key) ? 'base64' : undefined;
  if (encoding) {
    const decoded = patternIn([...Buffer.from(key, encoding)], 'byte');
    if (decoded) return `${decoded}, once decoded from ${encoding}`;
  }
  return undefined;
}

function tally(symbols: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const s of symbols) counts.set(s, (counts.get(s) ?? 0) + 1);
  return counts;
}

function patternIn(symbols: readonly number[], unit: string): string | undefined {
  const distinct = tally(symbols).size;
  if (distinct < 7) return `it uses only ${distinct} different ${unit}${distinct === 1 ? '' : 's'}`;
  const trigrams = new Set<string>();
  for (let i = 0; i + 3 <= symbols.length; i++) trigrams.add(`${symbols[i]},${symbols[i + 1]},${symbols[i + 2]}`);
  if (trigrams.size < (symbols.length - 2) / 2) return `it repeats the same few ${unit}s over and over`;
  let steps = 0;
  for (let i = 1; i < symbols.length; i++) if (Math.abs(symbols[i]! - symbols[i - 1]!) === 1) steps++;
  if (steps >= 0.6 * (symbols.length - 1)) return 'it is mostly a sequence such as abcd… or 1234…';
  return undefined;
}
