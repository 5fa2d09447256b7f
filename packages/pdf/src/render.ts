/**
 * The printed representation of DTEs (sii-spec §13): parse the (hostile) XML with @timbre/dte,
 * read each DTE into the model, build its view (view.ts) and lay it out on letter/A4 pages or an
 * 80 mm roll, with the TED as a PDF417 barcode. Output is deterministic: no clock, the PDF's dates
 * and ID come from the document (TmstFirma, else FchEmis).
 */
import PDFDocument from 'pdfkit';
import { TimbreError, childText, findAll, parseXml, readDte, type Dte, type XmlElement } from '@timbre/dte';
import { PdfWriter } from './canvas.js';
import { layoutPages, PAGE_SIZES } from './layout-page.js';
import { layoutThermal, THERMAL_WIDTH } from './layout-thermal.js';
import { prepareLogo, type PreparedImage } from './logo.js';
import { CEDIBLE_TIPOS, PDF_FORMATS, type PdfFormat, type PdfOptions } from './options.js';
import { tedBarcodeText, timbreBarcode, type TimbreBarcode } from './ted-barcode.js';
import { buildView, documentName, type ViewContext } from './view.js';

/** One document to print. */
export interface RenderDocument {
  dte: Dte;
  /** The TED as the barcode carries it (`tedBarcodeText`/`flattenTed`); absent: no barcode is printed. */
  tedText?: string;
  /** The document's TmstFirma: the PDF's creation date (default: FchEmis). */
  tmstFirma?: string;
}

const DOCUMENT_ROOTS = new Set(['Documento', 'Liquidacion', 'Exportaciones']);

/**
 * Render every DTE found in the XML (a <DTE>, an EnvioDTE or EnvioBOLETA with several, ISO-8859-1
 * or UTF-8 bytes) into one PDF; each document starts on a new page.
 */
export async function renderPdf(xml: Uint8Array | string, options: PdfOptions = {}): Promise<Buffer> {
  checkOptions(options);
  const logo = options.logo ? prepareLogo(options.logo) : undefined; // a bad logo fails before any parsing
  const doc = parseXml(xml);
  const root = doc.root;
  const elements = root.local === 'DTE' || DOCUMENT_ROOTS.has(root.local) ? [root] : findAll(root, 'DTE');
  if (elements.length === 0) {
    throw new TimbreError('ERR_XML_UNEXPECTED', `no DTE found in <${root.local}>`, { field: 'xml' });
  }
  const docs: RenderDocument[] = elements.map((el) => {
    const r = readDte(el);
    const out: RenderDocument = { dte: r.dte };
    if (r.ted) out.tedText = tedBarcodeText(r.ted, doc);
    if (r.tmstFirma) out.tmstFirma = r.tmstFirma;
    return out;
  });
  return render(docs, options, caratulaOf(root), logo);
}

/** Same, from already parsed documents (used by the service, which has them). */
export async function renderDocuments(docs: RenderDocument[], options: PdfOptions = {}): Promise<Buffer> {
  checkOptions(options);
  const logo = options.logo ? prepareLogo(options.logo) : undefined;
  if (docs.length === 0) throw new TimbreError('ERR_INPUT_INVALID', 'no document to render', { field: 'docs' });
  return render(docs, options, undefined, logo);
}

function checkOptions(options: PdfOptions): void {
  if (options.format !== undefined && !PDF_FORMATS.includes(options.format)) {
    throw new TimbreError('ERR_INPUT_INVALID', `unknown PDF format "${String(options.format)}" (${PDF_FORMATS.join(', ')})`, { field: 'format', actual: options.format });
  }
  const res = options.resolucion;
  if (res !== undefined && (!Number.isFinite(res.numero) || typeof res.fecha !== 'string')) {
    throw new TimbreError('ERR_INPUT_INVALID', 'resolucion needs a numero and a fecha (YYYY-MM-DD)', { field: 'resolucion' });
  }
}

/** NroResol / FchResol of the envelope's Carátula, when the XML is an EnvioDTE / EnvioBOLETA. */
function caratulaOf(root: XmlElement): ViewContext['caratula'] {
  if (root.local === 'DTE') return undefined;
  const car = findAll(root, 'Caratula')[0];
  if (!car) return undefined;
  const numero = childText(car, 'NroResol');
  const fecha = childText(car, 'FchResol');
  const out: NonNullable<ViewContext['caratula']> = {};
  if (numero) out.numero = numero;
  if (fecha) out.fecha = fecha;
  return out;
}

async function render(docs: RenderDocument[], options: PdfOptions, caratula: ViewContext['caratula'], logo: PreparedImage | undefined): Promise<Buffer> {
  const format: PdfFormat = options.format ?? 'letter';
  if (options.cedible) {
    const bad = docs.find((d) => !CEDIBLE_TIPOS.includes(Number(d.dte.encabezado.idDoc.tipoDte)));
    if (bad) {
      const tipo = Number(bad.dte.encabezado.idDoc.tipoDte);
      throw new TimbreError('ERR_INPUT_INVALID', `${documentName(tipo)} (${tipo}) has no cedible copy (only ${CEDIBLE_TIPOS.join(', ')})`, { field: 'cedible', actual: tipo });
    }
  }

  // Everything that can fail on the input happens before the PDF exists.
  const prepared = docs.map((d) => {
    const view = buildView(d.dte, { options, ...(caratula ? { caratula } : {}), ...(d.tmstFirma ? { tmstFirma: d.tmstFirma } : {}) });
    const barcode: TimbreBarcode | undefined = d.tedText ? timbreBarcode(d.tedText, format) : undefined;
    return { view, barcode };
  });

  const first = prepared[0]?.view;
  const titles = prepared.map((p) => p.view.info.title);
  const title = titles.length <= 3 ? titles.join(', ') : `${titles.slice(0, 3).join(', ')} y ${titles.length - 3} más`;
  const pdf = new PDFDocument({
    autoFirstPage: false,
    compress: true,
    // No default font: text is written by canvas.ts with its own two font dictionaries.
    font: '',
    info: {
      Title: title,
      Author: first?.info.author ?? '',
      Subject: first ? documentName(first.tipo) : '',
      Producer: 'Timbre',
      Creator: 'Timbre',
      CreationDate: first?.info.date ?? new Date(Date.UTC(2000, 0, 1)),
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pdf.on('data', (c: Buffer) => chunks.push(c));
    pdf.on('end', () => resolve());
    pdf.on('error', reject);
  });

  const writer = new PdfWriter(pdf);
  if (logo) writer.useLogo(logo);
  const copies = options.cedible ? [false, true] : [false];
  for (const { view, barcode } of prepared) {
    const timbre = barcode ? writer.stamp(barcode) : undefined;
    for (const cedible of copies) {
      if (format === 'thermal') {
        const { ops, height } = layoutThermal({ view, cedible, ...(timbre ? { timbre } : {}), ...(logo ? { logo } : {}) });
        writer.page(THERMAL_WIDTH, height, ops);
      } else {
        const size = PAGE_SIZES[format];
        for (const ops of layoutPages({ view, cedible, size, ...(timbre ? { timbre } : {}), ...(logo ? { logo } : {}) })) writer.page(size[0], size[1], ops);
      }
    }
  }
  pdf.end();
  await done;
  return Buffer.concat(chunks);
}

