/** The control characters XML 1.0 cannot hold (all below U+0020 but tab, line feed and carriage return, and U+007F), as a regex class's body (JS and RE2). */
export const DROPPED_CONTROLS = '\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F';

/** The characters written as entities, and their entities. */
export const XML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Characters escaped as entities, and control characters XML 1.0 cannot hold (dropped). */
const SPECIAL = new RegExp(`[<>&'"${DROPPED_CONTROLS}]`);
const DROPPED = new RegExp(`[${DROPPED_CONTROLS}]`);

/**
 * Text as XML element content or attribute value: `<>&'"` escaped, the control characters XML
 * cannot hold dropped, as exceljs wrote them.
 */
export function xmlEncode(text: string): string {
  const first = SPECIAL.exec(text);
  if (!first) return text;
  let out = text.slice(0, first.index);
  let from = first.index;
  for (let i = first.index; i < text.length; i++) {
    const ch = text[i] as string;
    const entity = XML_ENTITIES[ch] ?? (DROPPED.test(ch) ? '' : undefined);
    if (entity === undefined) continue;
    out += text.slice(from, i) + entity;
    from = i + 1;
  }
  return out + text.slice(from);
}
