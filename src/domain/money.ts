// Money is integer fen inside the gateway. Yuan strings exist only at the edges.
// 16 integer digits of yuan exceed 2^53 fen, so fen are BigInt.

export const YUAN_PATTERN = /^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$/;

/** Parses a yuan string already matching YUAN_PATTERN into fen. */
export function yuanToFen(yuan: string): bigint {
  if (!YUAN_PATTERN.test(yuan)) throw new RangeError(`not a yuan amount: ${yuan}`);
  const [whole, frac = ''] = yuan.split('.');
  return BigInt(whole!) * 100n + BigInt(frac.padEnd(2, '0'));
}

/** Formats fen as yuan with exactly two decimals. */
export function fenToYuan(fen: bigint): string {
  if (fen < 0n) throw new RangeError('negative amount');
  const s = fen.toString().padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}
