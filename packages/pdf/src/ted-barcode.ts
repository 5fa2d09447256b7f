/**
 * The timbre as printed: the TED flattened, in ISO-8859-1 bytes, as a PDF417 symbol sized for the
 * paper (sii-spec §13: EC level 5, X ≥ 6.7 mils, rows 3× the module width, about 3 × 9 cm at most;
 * boletas at least 2 × 4.5 cm).
 */
import { flattenXml, type XmlDocument, type XmlElement } from '@timbre/dte';
import { encodePdf417, pdf417Operators, type Pdf417Symbol } from './pdf417.js';
import type { PdfFormat } from './options.js';

/**
 * The TED element as the barcode carries it: its text exactly as written in the document (so the
 * DD verifies byte for byte, whatever serialization the issuer used), whitespace between tags
 * removed. A JS string whose char codes are the ISO-8859-1 bytes; anything outside Latin-1 (a
 * UTF-8 document that cannot have been signed correctly anyway) becomes '?'.
 */
export function tedBarcodeText(ted: XmlElement, doc: XmlDocument): string {
  return toLatin1(flattenXml(doc.text.slice(ted.start, ted.end).trim()));
}

/** The same for a TED string the caller already has (emitDte's `ted`). */
export const flattenTed = (ted: string): string => toLatin1(flattenXml(ted.trim()));

function toLatin1(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\xFF]*$/.test(s) ? s : s.replace(/[^\x00-\xFF]/gu, '?');
}

export interface TimbreBarcode {
  symbol: Pdf417Symbol;
  /** Size in PDF points. */
  width: number;
  height: number;
  /** Draw with the top-left corner at (x, y), in black. */
  draw(doc: PDFKit.PDFDocument, x: number, y: number): void;
}

/**
 * Module width and columns per format. Pages: 1/120 in (0.212 mm, 8.3 mils: 5 dots at 600 dpi)
 * and 18 columns — a typical TED (≈ 860 bytes) is then ≈ 80 × 28 mm. Thermal (203 dpi printers):
 * 2 dots (0.25 mm) and 12 columns — ≈ 68 mm wide, inside the 72 mm printable width of 80 mm rolls.
 */
export const TIMBRE_GEOMETRY: Readonly<Record<PdfFormat, { columns: number; moduleWidth: number }>> = {
  letter: { columns: 18, moduleWidth: 72 / 120 },
  a4: { columns: 18, moduleWidth: 72 / 120 },
  thermal: { columns: 12, moduleWidth: (2 / 203) * 72 },
};

export function timbreBarcode(tedText: string, format: PdfFormat): TimbreBarcode {
  const g = TIMBRE_GEOMETRY[format];
  const symbol = encodePdf417(Buffer.from(tedText, 'latin1'), { columns: g.columns, ecLevel: 5 });
  const rowHeight = 3 * g.moduleWidth;
  return {
    symbol,
    width: symbol.width * g.moduleWidth,
    height: symbol.rows * rowHeight,
    draw(doc, x, y) {
      doc.addContent(pdf417Operators(symbol, x, y, g.moduleWidth, rowHeight));
    },
  };
}
