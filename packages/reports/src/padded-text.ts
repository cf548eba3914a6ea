/**
 * Texts with leading or trailing whitespace, kept by every reader: a text cell written as
 * `<c t="str"><v>…</v></c>` loses its surrounding spaces in LibreOffice (the reference's
 * "Company Business leader " label), so such a text is written as an inline string with
 * `<t xml:space="preserve">`, as Excel itself writes it.
 */
export const PADDED = /^\s|\s$/;
