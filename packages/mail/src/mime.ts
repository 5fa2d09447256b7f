/** Transfer decodings and XML sniffing for received parts. Everything works on bytes. */

const BASE64_CHAR = /[^A-Za-z0-9+/]/g;

export function decodeBase64(raw: Buffer): Buffer {
  // Node's decoder tolerates line breaks; strip anything else too, so garbage cannot shift bytes.
  const clean = raw.toString('latin1').replace(BASE64_CHAR, '');
  return Buffer.from(clean, 'base64');
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** RFC 2045 §6.7 quoted-printable; hard line breaks come out as CRLF, soft ones vanish. */
export function decodeQuotedPrintable(raw: Buffer): Buffer {
  const out = Buffer.allocUnsafe(raw.length);
  let o = 0;
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const c = raw[i]!;
    if (c === 0x3d /* = */) {
      // soft line break: "=" [spaces] CRLF|LF
      let j = i + 1;
      while (j < n && (raw[j] === 0x20 || raw[j] === 0x09)) j++;
      if (j < n && raw[j] === 0x0d && raw[j + 1] === 0x0a) { i = j + 2; continue; }
      if (j < n && raw[j] === 0x0a) { i = j + 1; continue; }
      if (j >= n) { i = n; continue; }
      const h = hexValue(raw[i + 1]);
      const l = hexValue(raw[i + 2]);
      if (h >= 0 && l >= 0) { out[o++] = (h << 4) | l; i += 3; continue; }
      out[o++] = c; i++; continue; // lenient: a lone '=' stays
    }
    if (c === 0x20 || c === 0x09) {
      // transport padding: whitespace at the end of an encoded line is dropped
      let j = i;
      while (j < n && (raw[j] === 0x20 || raw[j] === 0x09)) j++;
      if (j >= n || raw[j] === 0x0d || raw[j] === 0x0a) { i = j; continue; }
      while (i < j) out[o++] = raw[i++]!;
      continue;
    }
    if (c === 0x0d && raw[i + 1] === 0x0a) { out[o++] = 0x0d; out[o++] = 0x0a; i += 2; continue; }
    if (c === 0x0a) { out[o++] = 0x0d; out[o++] = 0x0a; i++; continue; }
    out[o++] = c; i++;
  }
  return out.subarray(0, o);
}

/** Decode a part's body by its Content-Transfer-Encoding; `undefined` when the encoding is unknown. */
export function decodeTransfer(raw: Buffer, encoding: string | undefined): Buffer | undefined {
  const enc = (encoding ?? '7bit').trim().toLowerCase();
  if (enc === 'base64') return decodeBase64(raw);
  if (enc === 'quoted-printable') return decodeQuotedPrintable(raw);
  if (enc === '7bit' || enc === '8bit' || enc === 'binary' || enc === '') return raw;
  return undefined;
}

/** Upper bound of the decoded size of a part whose encoded size is `size`. */
export function decodedSizeEstimate(size: number, encoding: string | undefined): number {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return Math.floor((size * 3) / 4);
  return size;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Does this look like an XML document? The first non-blank character (after an optional UTF-8 /
 * UTF-16 byte order mark) must be `<`, and the document must not be HTML.
 */
export function looksLikeXml(b: Buffer): boolean {
  if (b.length >= 2 && ((b[0] === 0xfe && b[1] === 0xff) || (b[0] === 0xff && b[1] === 0xfe))) {
    const text = (b[0] === 0xff ? b.subarray(2).toString('utf16le') : swap16(b.subarray(2)).toString('utf16le')).slice(0, 256);
    return looksLikeXmlText(text);
  }
  let i = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
  while (i < b.length && isSpace(b[i])) i++;
  if (b[i] !== 0x3c) return false;
  return looksLikeXmlText(b.subarray(i, i + 256).toString('latin1'));
}

function looksLikeXmlText(s: string): boolean {
  const t = s.replace(/^\s+/, '');
  if (!t.startsWith('<')) return false;
  const head = t.slice(1, 20).toLowerCase();
  if (head.startsWith('!doctype html') || /^html[\s>]/.test(head)) return false;
  return /^[?!A-Za-z_:]/.test(t.slice(1, 2));
}

function swap16(b: Buffer): Buffer {
  const c = Buffer.from(b.subarray(0, b.length - (b.length % 2)));
  return c.swap16();
}

const ZIP_TYPES = new Set(['application/zip', 'application/x-zip', 'application/x-zip-compressed', 'multipart/x-zip']);

export function looksLikeZip(filename: string, contentType: string, content?: Buffer): boolean {
  if (/\.zip$/i.test(filename) || ZIP_TYPES.has(contentType.toLowerCase())) return true;
  return content !== undefined && content.length >= 4 && content[0] === 0x50 && content[1] === 0x4b &&
    ((content[2] === 0x03 && content[3] === 0x04) || (content[2] === 0x05 && content[3] === 0x06));
}
