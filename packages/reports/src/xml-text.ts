/** Characters escaped as entities, and control characters XML 1.0 cannot hold (dropped). */
const SPECIAL = /[<>&'"\x7F\x00-\x08\x0B-\x0C\x0E-\x1F]/;

/**
 * Text as XML element content or attribute value: `<>&'"` escaped, the control characters XML
 * cannot hold (all below U+0020 but tab, line feed and carriage return, and U+007F) dropped, as
 * exceljs wrote them.
 */
export function xmlEncode(text: string): string {
  const first = SPECIAL.exec(text);
  if (!first) return text;
  let out = text.slice(0, first.index);
  let from = first.index;
  for (let i = first.index; i < text.length; i++) {
    const code = text.charCodeAt(i);
    let entity: string;
    if (code === 34) entity = '&quot;';
    else if (code === 38) entity = '&amp;';
    else if (code === 39) entity = '&apos;';
    else if (code === 60) entity = '&lt;';
    else if (code === 62) entity = '&gt;';
    else if (code === 127 || (code <= 31 && code !== 9 && code !== 10 && code !== 13)) entity = '';
    else continue;
    out += text.slice(from, i) + entity;
    from = i + 1;
  }
  return out + text.slice(from);
}
