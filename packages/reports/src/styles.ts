import type { Borders, BorderStyle, Fill, Font } from './xlsx-styles.js';

/** The reference's colours, as openpyxl stores them (aRGB, alpha 00). */
export const COLOR = {
  black: '00000000',
  white: '00FFFFFF',
  blue: '000000FF',
  red: '00FF0000',
  lightBlue: '00D4EAF3',
  green: '0092D050',
  /** CCSP (v1) overrides green. */
  greenV1: '0000FF00',
} as const;

export const FONT = 'Arial';
export const PRICE_FORMAT = '$#,##0.00';
export const DATE_FORMAT = 'yyyy-mm-dd h:mm:ss';

export const fill = (argb: string): Fill => ({ type: 'pattern', pattern: 'solid', fgColor: { argb }, bgColor: { argb } });
export const font = (size: number, opts: { bold?: boolean; color?: string } = {}): Font => ({
  name: FONT,
  size,
  ...(opts.bold ? { bold: true } : {}),
  ...(opts.color ? { color: { argb: opts.color } } : {}),
});
export function border(style: BorderStyle, opts: { top?: boolean } = {}): Borders {
  const side = { style, color: { argb: COLOR.black } };
  return { left: side, right: side, bottom: side, ...(opts.top === false ? {} : { top: side }) };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `Updated: Oct 02, 2024` (strftime `%b %d, %Y`). */
export function updatedLabel(at: Date): string {
  return `Updated: ${MONTHS[at.getUTCMonth()]} ${String(at.getUTCDate()).padStart(2, '0')}, ${at.getUTCFullYear()}`;
}

/** Column letter of a 1-based index. */
export function colLetter(n: number): string {
  let s = '';
  for (let x = n; x > 0; x = Math.floor((x - 1) / 26)) s = String.fromCharCode(65 + ((x - 1) % 26)) + s;
  return s;
}
