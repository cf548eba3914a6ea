/**
 * The number Python's `float(text)` gives, or undefined where it raises ValueError. The reference
 * reads METRICS_UTILITY_PRICE_PER_NODE so, and JavaScript's Number() differs: it takes `0x10`, `0b1`
 * and `''` (as 0) and refuses `1_000`, `inf` and `١٢`. Python's rules: surrounding whitespace, a
 * sign, digits with single `_` between them, an optional point and exponent, or inf / infinity /
 * nan in any case; a non-ASCII space counts as a space and any Unicode decimal digit as its digit.
 * Too large a number gives ±Infinity, too small ±0, as in Python.
 */
export function parsePythonFloat(text: string): number | undefined {
  const ascii = asciiDigitsAndSpaces(text);
  if (ascii === undefined) return undefined;
  const t = ascii.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special) return special[2]!.toLowerCase() === 'nan' ? Number.NaN : special[1] === '-' ? -Infinity : Infinity;
  return FLOAT.test(t) ? Number(t.replaceAll('_', '')) : undefined;
}

const DIGITS = String.raw`\d(?:_?\d)*`;
const FLOAT = new RegExp(String.raw`^[+-]?(?:${DIGITS}(?:\.(?:${DIGITS})?)?|\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`);
/** Python's `str.isspace()` characters from U+007F on (below it only ASCII whitespace is stripped). */
const WIDE_SPACES = new Set([0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
const DECIMAL_DIGIT = /^\p{Nd}$/u;

/** CPython's first step: ASCII kept, a wide space made ' ', a decimal digit made ASCII; anything else refused. */
function asciiDigitsAndSpaces(text: string): string | undefined {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x7f) out += ch;
    else if (WIDE_SPACES.has(cp)) out += ' ';
    else if (DECIMAL_DIGIT.test(ch)) out += String(digitValue(cp));
    else return undefined;
  }
  return out;
}

/** Unicode encodes each set of decimal digits as 0..9 in consecutive code points. */
function digitValue(cp: number): number {
  let zero = cp;
  while (DECIMAL_DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return (cp - zero) % 10;
}
