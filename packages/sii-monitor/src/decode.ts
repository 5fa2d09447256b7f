/**
 * Bytes → text for SII pages. The normativa indexes are ISO-8859-1 (declared in a
 * `<meta http-equiv>`), newer pages UTF-8 (`<meta charset>`), and some declare nothing. Order: BOM,
 * the HTTP Content-Type charset, the first `<meta>` charset in the first 2 KB, then UTF-8 if the
 * bytes are valid UTF-8, else windows-1252 (a superset of Latin-1 that browsers use for it).
 */

const ALIASES: Readonly<Record<string, string>> = {
  'iso-8859-1': 'windows-1252',
  latin1: 'windows-1252',
  'iso8859-1': 'windows-1252',
  'us-ascii': 'windows-1252',
  'windows-1252': 'windows-1252',
  'utf-8': 'utf-8',
  utf8: 'utf-8',
};

function normalise(label: string | undefined): string | undefined {
  if (!label) return undefined;
  const l = label.trim().toLowerCase().replace(/^["']|["']$/g, '');
  return ALIASES[l] ?? (isSupported(l) ? l : undefined);
}

function isSupported(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false;
  }
}

/** The charset a page declares (BOM, header, meta), or undefined. */
export function declaredCharset(bytes: Uint8Array, contentType?: string | null): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  const fromHeader = normalise(/charset\s*=\s*([^;\s]+)/i.exec(contentType ?? '')?.[1]);
  if (fromHeader) return fromHeader;
  // The meta sits in <head>; ASCII-compatible encodings let us read it as Latin-1 safely.
  const headText = Buffer.from(bytes.subarray(0, 2048)).toString('latin1');
  const meta = /<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)/i.exec(headText);
  return normalise(meta?.[1]);
}

/** Decode a page to text; strings are returned unchanged. */
export function decodeHtml(input: string | Uint8Array, contentType?: string | null): string {
  if (typeof input === 'string') return input;
  const charset = declaredCharset(input, contentType);
  if (charset) return new TextDecoder(charset).decode(input); // strips a UTF-8 BOM itself
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    return new TextDecoder('windows-1252').decode(input);
  }
}
