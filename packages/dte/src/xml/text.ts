/**
 * Text rules of SII XML: ISO-8859-1 bytes, C14N-compatible escaping (so that what we write is
 * already canonical), and an explicit policy for characters outside Latin-1.
 */
import { TimbreError } from '../errors.js';

/** Escape character data exactly as C14N 1.0 renders it (& < > and CR). */
export function escapeText(s: string): string {
  if (!/[&<>\r]/.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

/** Escape an attribute value exactly as C14N 1.0 renders it (& < " TAB LF CR). */
export function escapeAttr(s: string): string {
  if (!/[&<"\t\n\r]/.test(s)) return s;
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}

/**
 * Explicit replacements for common characters outside Latin-1 that users paste from word
 * processors (the SII rejects them with ENV-3-0 or a signature error when sent as UTF-8).
 */
export const LATIN1_REPLACEMENTS: Readonly<Record<string, string>> = {
  '\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'",
  '\u201C': '"', '\u201D': '"', '\u201E': '"', '\u201F': '"', '\u2033': '"',
  '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2010': '-', '\u2011': '-', '\u2212': '-',
  '\u2026': '...', '\u2022': '-', '\u00B7': '\u00B7',
  '\u20AC': 'EUR', '\u2122': 'TM', '\u2116': 'N\u00BA',
  '\u2009': ' ', '\u200A': ' ', '\u2002': ' ', '\u2003': ' ', '\u202F': ' ', '\u2007': ' ',
  '\u200B': '', '\u200C': '', '\u200D': '', '\uFEFF': '',
  '\u0141': 'L', '\u0142': 'l', '\u0110': 'D', '\u0111': 'd', '\u0152': 'OE', '\u0153': 'oe', '\u0131': 'i',
  '\t': ' ',
};

export type NonLatin1Policy = 'replace' | 'refuse';

/** Characters allowed in SII text: printable Latin-1 plus LF/CR (no C0/C1 controls). */
const ALLOWED = /^[\n\r\x20-\x7E\xA0-\xFF]*$/;

/**
 * Make a string representable in ISO-8859-1 XML. With `replace` (the default), characters in
 * LATIN1_REPLACEMENTS are replaced and letters with diacritics outside Latin-1 lose their mark
 * (ő → o); anything else (emoji, CJK, control characters) is refused with ERR_CHAR_NOT_LATIN1 naming
 * the field. With `refuse`, every character outside Latin-1 is refused.
 */
export function toLatin1Text(s: string, field: string, policy: NonLatin1Policy = 'replace'): string {
  if (ALLOWED.test(s)) return s;
  let out = '';
  for (const ch of s) {
    if (ALLOWED.test(ch)) {
      out += ch;
      continue;
    }
    if (policy === 'replace') {
      const r = LATIN1_REPLACEMENTS[ch];
      if (r !== undefined) {
        out += r;
        continue;
      }
      const base = ch.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
      if (base.length > 0 && ALLOWED.test(base)) {
        out += base;
        continue;
      }
    }
    const cp = ch.codePointAt(0) ?? 0;
    throw new TimbreError(
      'ERR_CHAR_NOT_LATIN1',
      `${field}: character U+${cp.toString(16).toUpperCase().padStart(4, '0')} cannot be written in ISO-8859-1`,
      { field, actual: ch },
    );
  }
  return out;
}

/** True when every code unit fits in one ISO-8859-1 byte. */
// eslint-disable-next-line no-control-regex -- the range deliberately spans every Latin-1 code unit
export const isLatin1 = (s: string): boolean => /^[\x00-\xFF]*$/.test(s);

/** Encode a string already restricted to Latin-1 as ISO-8859-1 bytes (throws otherwise). */
export function encodeLatin1(s: string): Buffer {
  if (!isLatin1(s)) {
    // eslint-disable-next-line no-control-regex -- the range deliberately spans every Latin-1 code unit
    const m = /[^\x00-\xFF]/.exec(s);
    const cp = m ? (m[0].codePointAt(0) ?? 0) : 0;
    throw new TimbreError('ERR_CHAR_NOT_LATIN1', `character U+${cp.toString(16).toUpperCase()} cannot be written in ISO-8859-1`, {
      actual: m?.[0],
    });
  }
  return Buffer.from(s, 'latin1');
}

/** Wrap base64 at 76 characters per line (the SII gateway rejects lines over ~4096 chars). */
export function wrapBase64(b64: string, width = 76): string {
  if (b64.length <= width) return b64;
  const parts: string[] = [];
  for (let i = 0; i < b64.length; i += width) parts.push(b64.slice(i, i + width));
  return parts.join('\n');
}

export const XML_DECLARATION = '<?xml version="1.0" encoding="ISO-8859-1"?>';
