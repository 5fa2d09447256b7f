import { readFile, writeFile } from 'node:fs/promises';
import { TimbreError, findAll, parseXml } from '@timbre/dte';
import { PDF_FORMATS, renderPdf, type PdfFormat, type PdfOptions } from '@timbre/pdf';
import { readInput } from '../files.js';
import { parseResolution } from './build.js';

export interface PdfCommandOptions {
  output: string;
  format: string;
  cedible?: boolean;
  logo?: string;
  resolution?: string;
}

const usage = (message: string, field: string) => new TimbreError('ERR_INPUT_INVALID', message, { field });

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const isPng = (b: Buffer) => b.length >= 8 && PNG.every((x, i) => b[i] === x);
const isJpeg = (b: Buffer) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** The printed representation of a signed DTE, EnvioDTE or EnvioBOLETA: one PDF file. */
export async function runPdf(file: string, o: PdfCommandOptions): Promise<number> {
  if (!(PDF_FORMATS as readonly string[]).includes(o.format)) throw usage(`--format must be one of ${PDF_FORMATS.join(', ')}`, '--format');
  const options: PdfOptions = { format: o.format as PdfFormat, cedible: o.cedible === true };
  if (o.resolution !== undefined) {
    const r = parseResolution(o.resolution);
    options.resolucion = { numero: r.nroResol, fecha: r.fchResol };
  }
  if (o.logo !== undefined) {
    const logo = await readFile(o.logo);
    if (!isPng(logo) && !isJpeg(logo)) throw usage(`${o.logo} is neither a PNG nor a JPEG image`, '--logo');
    options.logo = logo;
  }

  const xml = await readInput(file);
  // A clear refusal for XML that holds no document, before the renderer sees it.
  const doc = parseXml(xml);
  const dtes = doc.root.local === 'DTE' ? [doc.root] : findAll(doc.root, 'DTE');
  if (dtes.length === 0) throw usage(`${file} holds no DTE (root element ${doc.root.local}); give a signed DTE, EnvioDTE or EnvioBOLETA`, 'input');

  const pdf = await renderPdf(xml, options);
  await writeFile(o.output, pdf);
  process.stderr.write(`PDF (${options.format}${options.cedible ? ', with the cedible copy' : ''}) of ${dtes.length} DTE → ${o.output}\n`);
  return 0;
}
