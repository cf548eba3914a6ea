/**
 * Datetime cells as the reference's openpyxl writes them. openpyxl keeps a datetime's microseconds
 * in the Excel serial (`utils/datetime.py` `to_excel`: whole days since 1899-12-30, plus
 * `(h*3600 + m*60 + s + µs/10**6) / 86400`) and writes the serial as `f"{value:.16g}"`; a Date
 * holds milliseconds only, so a time with microseconds is written from this value instead.
 */

/** A datetime cell: the serial's text as openpyxl writes it, styled as a date. */
export class ExcelDate {
  constructor(readonly serial: string) {}
}

const US_PER_SECOND = 1_000_000;
const US_PER_DAY = 86_400 * US_PER_SECOND;
/** Days from 1899-12-30 (openpyxl's WINDOWS_EPOCH) to 1970-01-01. */
const EPOCH_1970 = 25_569;

/** The serial openpyxl's `to_excel` computes for a naive datetime given as microseconds since 1970-01-01. */
export function openpyxlSerial(epochMicros: number): number {
  const day = Math.floor(epochMicros / US_PER_DAY);
  const inDay = epochMicros - day * US_PER_DAY;
  const seconds = Math.floor(inDay / US_PER_SECOND);
  const micros = inDay - seconds * US_PER_SECOND;
  let days = day + EPOCH_1970;
  // Excel's phantom 1900-02-29: openpyxl shifts the dates before 1900-03-01 down by one.
  if (days > 0 && days <= 60) days -= 1;
  // The same floating-point operations, in the same order, as Python's.
  return days + (seconds + micros / US_PER_SECOND) / 86_400;
}

/** The datetime cell openpyxl writes for microseconds since 1970-01-01 (UTC, naive). */
export const excelDate = (epochMicros: number): ExcelDate => new ExcelDate(formatG16(openpyxlSerial(epochMicros)));

/** `excelDate`, or an empty cell for a NULL timestamp. */
export const excelDateOrNull = (epochMicros: number | null): ExcelDate | null => (epochMicros === null ? null : excelDate(epochMicros));

/** The bits of a finite double: x = mantissa × 2^exponent. */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return biased === 0 ? { mantissa: fraction, exponent: -1074 } : { mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

/**
 * Python's `f"{x:.16g}"` for 1e-4 ≤ x < 1e16 (every serial of a datetime after 1900 is): the exact
 * value rounded to 16 significant digits, ties to even, trailing zeros dropped. (`toPrecision(16)`
 * rounds ties up, and an odd multiple of 1/4096 day — 21.09375 s — is such a tie.)
 */
export function formatG16(x: number): string {
  if (!(x >= 1e-4 && x < 1e16)) throw new RangeError(`not a serial openpyxl writes in fixed notation: ${x}`);
  // toPrecision rounds the exact value too, and differs only on a tie: a value whose exact digits
  // end at the 17th significant one, 10^(e−16), which takes at most 16 − e bits after the binary
  // point (17 − e here, as log10 may be one off). Any other value is no tie.
  const bits = 17 - Math.floor(Math.log10(x));
  return Number.isInteger(x * 2 ** bits) ? exactG16(x) : trimZeros(x.toPrecision(16));
}

const trimZeros = (fixed: string) => (fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed);

/** `formatG16` from the double's exact decimal value (BigInt): the rounding half to even done by hand. */
function exactG16(x: number): string {
  const { mantissa, exponent } = decompose(x);
  // Exactly digits / 10^scale.
  let digits = exponent >= 0 ? mantissa << BigInt(exponent) : mantissa * 5n ** BigInt(-exponent);
  let scale = Math.max(0, -exponent);
  const drop = digits.toString().length - 16;
  if (drop > 0) {
    const unit = 10n ** BigInt(drop);
    const rest = digits % unit;
    digits /= unit;
    const half = unit / 2n;
    if (rest > half || (rest === half && digits % 2n === 1n)) digits += 1n;
    scale -= drop;
  }
  if (scale <= 0) return digits.toString() + '0'.repeat(-scale);
  const text = digits.toString().padStart(scale + 1, '0');
  return trimZeros(`${text.slice(0, -scale)}.${text.slice(-scale)}`);
}
