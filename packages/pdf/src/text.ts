/**
 * Text for the standard PDF fonts (Helvetica, Helvetica-Bold with WinAnsiEncoding): conversion of
 * any JS string to WinAnsi bytes, string widths and word wrapping. The renderer writes text
 * operators itself (see canvas.ts) instead of going through pdfkit's text(), which costs ~20 µs per
 * call (options merging, per-glyph kerning arrays, save/restore); these tables make a line cost a
 * few hundred nanoseconds.
 */
import PDFDocument from 'pdfkit';

export type FontName = 'Helvetica' | 'Helvetica-Bold';
export const FONTS: readonly FontName[] = ['Helvetica', 'Helvetica-Bold'];

/** Unicode code points WinAnsi (cp1252) places in 0x80–0x9F. */
const CP1252: Readonly<Record<number, number>> = {
  0x20ac: 0x80, 0x201a: 0x82, 0x0192: 0x83, 0x201e: 0x84, 0x2026: 0x85, 0x2020: 0x86, 0x2021: 0x87,
  0x02c6: 0x88, 0x2030: 0x89, 0x0160: 0x8a, 0x2039: 0x8b, 0x0152: 0x8c, 0x017d: 0x8e, 0x2018: 0x91,
  0x2019: 0x92, 0x201c: 0x93, 0x201d: 0x94, 0x2022: 0x95, 0x2013: 0x96, 0x2014: 0x97, 0x02dc: 0x98,
  0x2122: 0x99, 0x0161: 0x9a, 0x203a: 0x9b, 0x0153: 0x9c, 0x017e: 0x9e, 0x0178: 0x9f,
};

/** Already WinAnsi (so the function is idempotent): printable ASCII, 0x80–0xFF minus cp1252's holes. */
const PLAIN = /^[\x20-\x7E\x80\x82-\x8C\x8E\x91-\x9C\x9E-\xFF]*$/;

/**
 * The string as WinAnsi bytes (one char per byte, char code = byte): Latin-1 stays, the cp1252
 * extras (€ “ ” – — …) move to 0x80–0x9F, tabs and line breaks become spaces (unless `keepNewlines`),
 * anything else (emoji, CJK, controls) becomes '?', one per code point. Idempotent: chars in
 * 0x80–0x9F are taken as cp1252 bytes already (also what a mislabelled cp1252 document holds).
 */
export function winAnsi(s: string, keepNewlines = false): string {
  if (PLAIN.test(s)) return s;
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0x3f;
    if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) out += ch;
    else if (cp >= 0x80 && cp <= 0x9f) out += PLAIN.test(ch) ? ch : '?'; // a cp1252 byte read as Latin-1
    else if (cp === 0x0a) out += keepNewlines ? '\n' : ' ';
    else if (cp === 0x0d) out += keepNewlines ? '' : ' ';
    else if (cp === 0x09) out += ' ';
    else {
      const b = CP1252[cp];
      out += b === undefined ? '?' : String.fromCharCode(b);
    }
  }
  return out;
}

/** Escape a WinAnsi string for a PDF literal string `( … )`. */
export function pdfLiteral(s: string): string {
  return /[()\\]/.test(s) ? s.replace(/[()\\]/g, '\\$&') : s;
}

/**
 * Glyph advance widths (1/1000 em) per WinAnsi byte, read once from pdfkit's own AFM metrics so
 * measuring agrees with what viewers draw. (No kerning: the text operators carry none either.)
 */
const WIDTHS: Record<FontName, Float64Array> = (() => {
  const probe = new PDFDocument({ autoFirstPage: false, font: 'Helvetica' });
  const out = {} as Record<FontName, Float64Array>;
  for (const f of FONTS) {
    probe.font(f).fontSize(1000);
    const w = new Float64Array(256);
    // pdfkit maps a char code < 256 straight to the WinAnsi glyph of that byte.
    for (let c = 0; c < 256; c++) w[c] = c < 0x20 ? 0 : probe.widthOfString(String.fromCharCode(c));
    out[f] = w;
  }
  return out;
})();

/** Width in points of a WinAnsi string. */
export function widthOf(s: string, font: FontName, size: number): number {
  const w = WIDTHS[font];
  let t = 0;
  for (let i = 0; i < s.length; i++) t += w[s.charCodeAt(i) & 0xff] as number;
  return (t * size) / 1000;
}

/** Helvetica's ascender (718/1000): where the baseline sits below the top of a line box. */
export const ASCENT = 0.718;

/**
 * Break a WinAnsi string into lines no wider than `width`: at spaces, at explicit '\n', and inside
 * words longer than a line. At most `maxLines` lines; the last one gets '…' when text is cut.
 */
export function wrap(s: string, font: FontName, size: number, width: number, maxLines = Infinity): string[] {
  const out: string[] = [];
  const w = WIDTHS[font];
  const limit = (width * 1000) / size;
  const space = w[0x20] as number;
  for (const para of s.split('\n')) {
    if (out.length >= maxLines) break;
    let line = '';
    let lineW = 0;
    for (const word of para.split(' ')) {
      if (word === '') continue;
      let ww = 0;
      for (let i = 0; i < word.length; i++) ww += w[word.charCodeAt(i) & 0xff] as number;
      if (line !== '' && lineW + space + ww <= limit) {
        line += ` ${word}`;
        lineW += space + ww;
        continue;
      }
      if (line !== '') out.push(line);
      line = '';
      lineW = 0;
      if (ww <= limit) {
        line = word;
        lineW = ww;
        continue;
      }
      // A word wider than the line (a URL, a long code): cut it by characters.
      let start = 0;
      let acc = 0;
      for (let i = 0; i < word.length; i++) {
        const cw = w[word.charCodeAt(i) & 0xff] as number;
        if (acc + cw > limit && i > start) {
          out.push(word.slice(start, i));
          start = i;
          acc = 0;
        }
        acc += cw;
      }
      line = word.slice(start);
      lineW = acc;
    }
    if (line !== '' || para.trim() === '') out.push(line);
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  if (out.length > maxLines) {
    const cut = out.slice(0, maxLines);
    cut[maxLines - 1] = ellipsize(cut[maxLines - 1] as string, font, size, width);
    return cut;
  }
  return out;
}

/** Shorten a line so that it plus '…' fits `width`. */
export function ellipsize(s: string, font: FontName, size: number, width: number): string {
  const dots = '\x85';
  if (widthOf(s + dots, font, size) <= width) return s + dots;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (widthOf(s.slice(0, mid) + dots, font, size) <= width) lo = mid;
    else hi = mid - 1;
  }
  return s.slice(0, lo).trimEnd() + dots;
}

/** One line that fits `width`, cut with '…' when longer. */
export function fit(s: string, font: FontName, size: number, width: number): string {
  return widthOf(s, font, size) <= width ? s : ellipsize(s, font, size, width);
}

/** Pieces joined by " · " on one line when they fit `width`; otherwise one line (wrapped) each. */
export function joinOrSplit(pieces: readonly string[], font: FontName, size: number, width: number, maxLinesEach = 2): string[] {
  const joined = winAnsi(pieces.join(' \u00b7 '));
  if (widthOf(joined, font, size) <= width) return [joined];
  return pieces.flatMap((p) => wrap(winAnsi(p), font, size, width, maxLinesEach));
}
