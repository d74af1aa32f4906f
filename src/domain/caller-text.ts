// Text a caller chose (a field name they sent, a value) as it may appear inside a respDesc.
//
// Answers are signed by joining name=value pairs with '&' (CONTRACT §2.1), so a raw '&' or '='
// inside a signed answer lets the signed string be cut again into fields nobody signed (a
// notification saying payStatus=p0000, say). Such text is therefore percent-encoded (as UTF-8)
// wherever it is not plainly a letter, digit, mark, punctuation or symbol — which takes in '&',
// '=', '%' itself, the ',' and ';' that separate the items of a respDesc, spaces, control and
// format characters (bidi overrides among them) and broken Unicode — and cut to a few dozen
// characters, so that what the caller sent is still recognisable but can pose as nothing else.

const PLAIN = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const SPECIAL = new Set(['%', '&', '=', ',', ';']);

const encode = (ch: string) => {
  let out = '';
  // A lone surrogate becomes U+FFFD's bytes: it has no UTF-8 form of its own.
  for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
};

/** `s` safe to put in any answer, signed or not: see above. At most `max` characters of it are kept. */
export function callerText(s: string, max = 64): string {
  let out = '';
  let n = 0;
  for (const ch of s) {
    if (n++ === max) return `${out}…`;
    out += PLAIN.test(ch) && !SPECIAL.has(ch) ? ch : encode(ch);
  }
  return out;
}

/** A list of caller-chosen names for a respDesc, each made safe, at most `most` of them shown. */
export function callerList(names: readonly string[], most = 16): string {
  const shown = names.slice(0, most).map((n) => callerText(n));
  return names.length > most ? `${shown.join(', ')} and ${names.length - most} more` : shown.join(', ');
}
