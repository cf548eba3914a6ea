/**
 * JavaScript's `\s` spelled out (ECMAScript's WhiteSpace and LineTerminator), so that SQL
 * (row-xml-sql.ts, RE2's `\s` is ASCII only) tests the same characters.
 */
export const WHITESPACE = '\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';

/**
 * Texts with leading or trailing whitespace, kept by every reader: a text cell written as
 * `<c t="str"><v>…</v></c>` loses its surrounding spaces in LibreOffice (the reference's
 * "Company Business leader " label), so such a text is written as an inline string with
 * `<t xml:space="preserve">`, as Excel itself writes it.
 */
export const PADDED = new RegExp(`^[${WHITESPACE}]|[${WHITESPACE}]$`);
