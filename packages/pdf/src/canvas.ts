/**
 * A display list of PDF content operators in pdfkit's top-left, y-down coordinates, and the few
 * pdfkit entry points it needs (pages, object references, page resources, raw content). Text is
 * written as `Tj` with the two standard fonts (see text.ts for why pdfkit's text() is bypassed);
 * the layouts build a page's list first, so a page (thermal: its height) is known before it exists.
 */
import { deflateSync } from 'node:zlib';
import type { PreparedImage } from './logo.js';
import type { TimbreBarcode } from './ted-barcode.js';
import { ASCENT, pdfLiteral, widthOf, winAnsi, type FontName } from './text.js';

export type Rgb = readonly [number, number, number];
export const BLACK: Rgb = [0, 0, 0];

/** Resource names of the two fonts on every page (not pdfkit's F1…, which it never creates here). */
const FONT_RES: Record<FontName, string> = { Helvetica: 'TH', 'Helvetica-Bold': 'TB' };

const num = (n: number): string => {
  const r = Math.round(n * 100) / 100;
  return r === 0 ? '0' : String(r);
};
const rgb = (c: Rgb): string => `${num(c[0])} ${num(c[1])} ${num(c[2])}`;

export interface TextStyle {
  font?: FontName;
  size?: number;
  color?: Rgb;
}

type Deferred = (doc: PDFKit.PDFDocument) => void;

/** Something drawn with its top-left corner at (x, y): the timbre. */
export interface Stamp {
  width: number;
  height: number;
  place(ops: Ops, x: number, y: number): void;
}

export class Ops {
  /** Form XObjects the page must list in its resources. */
  readonly xobjects = new Map<string, PDFKit.PDFKitReference>();
  private readonly parts: Array<string | Deferred> = [];
  private buf: string[] = [];
  private fillColor = '0 0 0';
  private strokeColor = '0 0 0';
  private lineW = 1;
  private font = '';
  private fontSize = 0;
  private dashed = false;

  /** Draw a WinAnsi-converted line of text with its box's top-left at (x, y). Returns its width. */
  text(s: string, x: number, y: number, style: TextStyle = {}): number {
    const t = winAnsi(s);
    if (t === '') return 0;
    const font = style.font ?? 'Helvetica';
    const size = style.size ?? 8;
    this.setFill(style.color ?? BLACK);
    let op = 'BT';
    if (font !== this.font || size !== this.fontSize) {
      op += ` /${FONT_RES[font]} ${num(size)} Tf`;
      this.font = font;
      this.fontSize = size;
    }
    this.buf.push(`${op} 1 0 0 -1 ${num(x)} ${num(y + ASCENT * size)} Tm (${pdfLiteral(t)}) Tj ET`);
    return widthOf(t, font, size);
  }

  /** Text ending at `right`. */
  textRight(s: string, right: number, y: number, style: TextStyle = {}): void {
    const t = winAnsi(s);
    this.text(t, right - widthOf(t, style.font ?? 'Helvetica', style.size ?? 8), y, style);
  }

  /** Text centred on `cx`. */
  textCenter(s: string, cx: number, y: number, style: TextStyle = {}): void {
    const t = winAnsi(s);
    this.text(t, cx - widthOf(t, style.font ?? 'Helvetica', style.size ?? 8) / 2, y, style);
  }

  rect(x: number, y: number, w: number, h: number, opts: { fill?: Rgb; stroke?: Rgb; lineWidth?: number; dash?: boolean }): void {
    if (opts.fill) this.setFill(opts.fill);
    if (opts.stroke) this.setStroke(opts.stroke, opts.lineWidth ?? 0.5, opts.dash ?? false);
    const op = opts.fill && opts.stroke ? 'B' : opts.fill ? 'f' : 'S';
    this.buf.push(`${num(x)} ${num(y)} ${num(w)} ${num(h)} re ${op}`);
  }

  line(x1: number, y1: number, x2: number, y2: number, color: Rgb = BLACK, width = 0.5, dash = false): void {
    this.setStroke(color, width, dash);
    this.buf.push(`${num(x1)} ${num(y1)} m ${num(x2)} ${num(y2)} l S`);
  }

  /** An image XObject named `name` (registered on the page by the writer) fitted into w × h at (x, y). */
  image(name: string, x: number, y: number, w: number, h: number): void {
    this.buf.push(`q ${num(w)} 0 0 ${num(-h)} ${num(x)} ${num(y + h)} cm /${name} Do Q`);
  }

  /** A Form XObject with its origin at (x, y). */
  form(name: string, ref: PDFKit.PDFKitReference, x: number, y: number): void {
    this.xobjects.set(name, ref);
    this.buf.push(`q 1 0 0 1 ${num(x)} ${num(y)} cm /${name} Do Q`);
  }

  /** Something pdfkit itself draws, in order with the rest. */
  defer(fn: Deferred): void {
    this.cut();
    this.parts.push(fn);
  }

  /** Write the list into the current page of `doc`. */
  flush(doc: PDFKit.PDFDocument): void {
    this.cut();
    for (const p of this.parts) {
      if (typeof p === 'string') doc.addContent(p);
      else p(doc);
    }
    this.parts.length = 0;
  }

  private cut(): void {
    if (this.buf.length > 0) this.parts.push(this.buf.join('\n'));
    this.buf = [];
  }

  private setFill(c: Rgb): void {
    const s = rgb(c);
    if (s !== this.fillColor) {
      this.buf.push(`${s} rg`);
      this.fillColor = s;
    }
  }

  private setStroke(c: Rgb, width: number, dash: boolean): void {
    const s = rgb(c);
    if (s !== this.strokeColor) {
      this.buf.push(`${s} RG`);
      this.strokeColor = s;
    }
    if (width !== this.lineW) {
      this.buf.push(`${num(width)} w`);
      this.lineW = width;
    }
    if (dash !== this.dashed) {
      this.buf.push(dash ? '[2 2] 0 d' : '[] 0 d');
      this.dashed = dash;
    }
  }
}

/**
 * The shared objects of one PDF file (the font dictionaries, the logo) and its pages. Fonts are the
 * standard Type1 Helvetica pair with WinAnsiEncoding: nothing embedded, and pdftotext/readers map
 * every Latin-1 glyph back to Unicode.
 */
export class PdfWriter {
  private readonly fonts: Record<string, PDFKit.PDFKitReference> = {};
  private logoRef: PDFKit.PDFKitReference | undefined;
  private forms = 0;

  constructor(readonly doc: PDFKit.PDFDocument) {
    for (const [font, res] of Object.entries(FONT_RES)) {
      const ref = doc.ref({ Type: 'Font', Subtype: 'Type1', BaseFont: font, Encoding: 'WinAnsiEncoding' });
      ref.end(undefined);
      this.fonts[res] = ref;
    }
  }

  /** Embed the logo once per file; pages refer to it as /Logo. */
  useLogo(img: PreparedImage): void {
    if (this.logoRef) return;
    const dict: Record<string, unknown> = {
      Type: 'XObject',
      Subtype: 'Image',
      Width: img.width,
      Height: img.height,
      BitsPerComponent: 8,
      ColorSpace: img.colorSpace,
      Filter: img.filter,
    };
    if (img.decode) dict.Decode = img.decode;
    if (img.alpha) {
      const smask = this.doc.ref({ Type: 'XObject', Subtype: 'Image', Width: img.width, Height: img.height, BitsPerComponent: 8, ColorSpace: 'DeviceGray', Filter: 'FlateDecode' });
      smask.end(img.alpha);
      dict.SMask = smask;
    }
    const ref = this.doc.ref(dict);
    ref.end(img.data);
    this.logoRef = ref;
  }

  /**
   * The timbre as a Form XObject: the barcode's own operators (TimbreBarcode.draw, recorded once at
   * the origin) in one stream deflated at level 1. Its ~3000 `re` operators otherwise go through
   * every page's content stream and pdfkit's level-6 deflate (~2 ms, more than the rest of the page),
   * and the cedible copy reuses the object. If draw() ever needs more of pdfkit than addContent,
   * the recording fails and the barcode is drawn directly.
   */
  stamp(barcode: TimbreBarcode): Stamp {
    const parts: string[] = [];
    const recorder = {
      addContent(s: unknown) {
        if (typeof s !== 'string') throw new TypeError('not operator text');
        parts.push(s);
        return recorder;
      },
    };
    const direct: Stamp = { width: barcode.width, height: barcode.height, place: (ops, x, y) => ops.defer((doc) => barcode.draw(doc, x, y)) };
    try {
      barcode.draw(recorder as unknown as PDFKit.PDFDocument, 0, 0);
    } catch {
      return direct;
    }
    const name = `Tim${++this.forms}`;
    const ref = this.doc.ref({ Type: 'XObject', Subtype: 'Form', BBox: [0, 0, Math.ceil(barcode.width + 1), Math.ceil(barcode.height + 1)], Resources: {}, Filter: 'FlateDecode' });
    ref.end(deflateSync(Buffer.from(parts.join('\n'), 'latin1'), { level: 1 }));
    return { width: barcode.width, height: barcode.height, place: (ops, x, y) => ops.form(name, ref, x, y) };
  }

  /** A new page of w × h points with the fonts (logo, forms) in its resources, and `ops` drawn on it. */
  page(w: number, h: number, ops: Ops): void {
    this.doc.addPage({ size: [w, h], margin: 0 });
    const fonts = this.doc.page.fonts as Record<string, PDFKit.PDFKitReference>;
    for (const [res, ref] of Object.entries(this.fonts)) fonts[res] = ref;
    const xobjects = this.doc.page.xobjects as Record<string, PDFKit.PDFKitReference>;
    if (this.logoRef) xobjects.Logo = this.logoRef;
    for (const [name, ref] of ops.xobjects) xobjects[name] = ref;
    ops.flush(this.doc);
  }
}
