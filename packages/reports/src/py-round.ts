/**
 * CPython's `round(x, ndigits)` for a float and 0 <= ndigits <= 100: the decimal nearest to the
 * double's exact binary value with `ndigits` decimals, ties to even, read back as the nearest
 * double. The reference prices with it (`round(price, 2)`); `Math.round(x * 100) / 100` differs,
 * e.g. 11.555 is 11.55499999999999971578… in binary, so Python gives 11.55 and that gives 11.56.
 *
 * `toFixed` rounds the exact binary value too, but breaks a tie away from zero. A tie means
 * |x|·10^n is an integer plus ½, i.e. |x| = (2k+1) / (2^(n+1)·5^n); a double is a dyadic rational,
 * so 5^n divides 2k+1 and |x|·2^(n+1) is an odd integer. Only then is the last digit changed: if
 * toFixed left it odd, the even neighbour toward zero is one unit below (an odd digit never borrows).
 */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isInteger(ndigits) || ndigits < 0 || ndigits > 100) throw new RangeError(`pyRound: ndigits ${ndigits} is not a whole number from 0 to 100`);
  // NaN, ±Infinity and ±0 come back as they are; from 2^52 on every double is whole.
  if (!Number.isFinite(x) || x === 0 || Math.abs(x) >= 2 ** 52) return x;
  const abs = Math.abs(x);
  let digits = abs.toFixed(ndigits);
  const scaled = abs * 2 ** (ndigits + 1); // exact: a power of two only moves the exponent
  if (Number.isInteger(scaled) && scaled % 2 === 1) {
    const last = digits.charCodeAt(digits.length - 1) - 48;
    if (last % 2 === 1) digits = digits.slice(0, -1) + String(last - 1);
  }
  // The sign goes on after rounding, so -0.001 gives -0, as in Python.
  return x < 0 ? -Number(digits) : Number(digits);
}
