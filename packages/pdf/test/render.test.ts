/**
 * The printed DTE, checked with independent tools on real signed documents: poppler (pdfinfo page
 * sizes, pdftotext content and Spanish characters, pdfimages for the logo's pixels, pdftoppm for
 * PNGs a person can look at in test-output/render/) and ZXing (the PDF417 on the rendered page decodes to
 * the TED's ISO-8859-1 bytes).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  TimbreError,
  buildEnvelope,
  emitDte,
  generateFixtures,
  inputToDte,
  loadPkcs12,
  parseCaf,
  parseDteInput,
  parseXml,
  readDte,
  toBytes,
  type Caf,
  type Certificado,
  type EmittedDte,
} from '@timbre/dte';
import { formatDateLong, formatNumber, formatRut } from '../src/format.js';
import { renderDocuments, renderPdf } from '../src/render.js';
import { siiUnitOf } from '../src/sii-offices.js';
import { flattenTed } from '../src/ted-barcode.js';
import type { PdfFormat, PdfOptions } from '../src/options.js';

const NOW = '2026-11-27T10:15:00';
const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../../..');
/** PNGs for a person to look at; a subfolder of its own, since other test files write next to it. */
const outDir = path.resolve(here, '../test-output/render');
const tmp = mkdtempSync(path.join(tmpdir(), 'timbre-pdf-'));
const TIPOS = [33, 34, 39, 41, 43, 46, 52, 56, 61, 110, 111, 112] as const;
const FORMATS: PdfFormat[] = ['letter', 'a4', 'thermal'];
const NAMES: Record<number, string> = {
  33: 'FACTURA ELECTRÓNICA',
  34: 'FACTURA NO AFECTA O EXENTA ELECTRÓNICA',
  39: 'BOLETA ELECTRÓNICA',
  41: 'BOLETA EXENTA ELECTRÓNICA',
  43: 'LIQUIDACIÓN-FACTURA ELECTRÓNICA',
  46: 'FACTURA DE COMPRA ELECTRÓNICA',
  52: 'GUÍA DE DESPACHO ELECTRÓNICA',
  56: 'NOTA DE DÉBITO ELECTRÓNICA',
  61: 'NOTA DE CRÉDITO ELECTRÓNICA',
  110: 'FACTURA DE EXPORTACIÓN ELECTRÓNICA',
  111: 'NOTA DE DÉBITO DE EXPORTACIÓN ELECTRÓNICA',
  112: 'NOTA DE CRÉDITO DE EXPORTACIÓN ELECTRÓNICA',
};
const RES: PdfOptions['resolucion'] = { numero: 80, fecha: '2014-08-22' };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- example JSON is edited freely in tests
const example = (tipo: number): any => JSON.parse(readFileSync(path.join(root, 'examples/dte', `${tipo}.json`), 'utf8'));

let cert: Certificado;
let cafs: Caf[];
const emitted = new Map<number, EmittedDte>();
const emit = (json: unknown, folio: number): EmittedDte =>
  emitDte(inputToDte(parseDteInput(json), { folio, fchEmis: NOW.slice(0, 10) }), { cafs, signer: cert, now: NOW });
const xmlOf = (tipo: number): Buffer => toBytes((emitted.get(tipo) as EmittedDte).xml);

beforeAll(() => {
  const fx = generateFixtures({ now: new Date('2026-11-27T13:00:00Z') });
  cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T13:00:00Z') });
  cafs = fx.cafs.map((c) => parseCaf(c.xml));
  TIPOS.forEach((t, i) => emitted.set(t, emit(example(t), 100 + i)));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
});

// ---------------------------------------------------------------- poppler / zxing helpers

let fileNo = 0;
function save(pdf: Buffer, name = `f${++fileNo}`): string {
  const f = path.join(tmp, `${name}.pdf`);
  writeFileSync(f, pdf);
  return f;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * The text of the PDF in drawing order (pdftotext -raw), whitespace collapsed: a phrase wrapped
 * over two lines (a long document name in the box, the acuse's legal text) still reads as one.
 */
const text = (pdf: Buffer, page?: number): string =>
  run('pdftotext', ['-raw', ...(page ? ['-f', String(page), '-l', String(page)] : []), save(pdf), '-']).replace(/\s+/g, ' ');

function pages(pdf: Buffer): Array<{ w: number; h: number }> {
  const file = save(pdf);
  const n = Number(/Pages:\s+(\d+)/.exec(run('pdfinfo', [file]))?.[1]);
  const out = run('pdfinfo', ['-f', '1', '-l', String(n), file]);
  return [...out.matchAll(/Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts/g)].map((m) => ({ w: Number(m[1]), h: Number(m[2]) }));
}

function png(pdf: Buffer, name: string, dpi = 110): void {
  run('pdftoppm', ['-r', String(dpi), '-png', save(pdf), path.join(outDir, name)]);
}

/** The bytes ZXing reads from the PDF417 on page `page` rendered at `dpi`. */
function zxing(pdf: Buffer, page = 1, dpi = 300): Buffer {
  const prefix = path.join(tmp, `z${++fileNo}`);
  run('pdftoppm', ['-r', String(dpi), '-png', '-f', String(page), '-l', String(page), '-singlefile', save(pdf), prefix]);
  const r = spawnSync('ZXingReader', ['-format', 'PDF417', '-bytes', `${prefix}.png`]);
  if (r.status !== 0) throw new Error(`ZXingReader failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Expect a TimbreError (never another exception) and return it. */
async function timbreError(p: Promise<unknown>): Promise<TimbreError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TimbreError);
    return e as TimbreError;
  }
  throw new Error('expected a TimbreError');
}

// ---------------------------------------------------------------- formats

describe('Chilean formats', () => {
  it('groups thousands with dots, decimals with a comma, rounding the decimal the XML wrote', () => {
    expect(formatNumber(1129906)).toBe('1.129.906');
    expect(formatNumber(-120000)).toBe('-120.000');
    expect(formatNumber(6173.27, 2, 4)).toBe('6.173,27');
    expect(formatNumber(320.5, 2, 4)).toBe('320,50');
    expect(formatNumber(1.005, 0, 2)).toBe('1,01');
    expect(formatNumber(0.123456789, 0, 6)).toBe('0,123457');
    expect(formatNumber(999.9996, 0, 3)).toBe('1.000');
    expect(formatNumber(2.5)).toBe('3');
    expect(formatNumber(-0.0001, 0, 2)).toBe('0');
    expect(formatNumber(Infinity)).toBe('?');
    expect(formatRut('76086428-5')).toBe('76.086.428-5');
    expect(formatRut('8765432-k')).toBe('8.765.432-K');
    expect(formatRut('not a rut')).toBe('not a rut');
    expect(formatDateLong('2026-01-02')).toBe('2 de enero de 2026');
    expect(formatDateLong('2026-13-02')).toBe('2026-13-02');
  });

  it('knows the SII unit of the Santiago communes and falls back to the commune name', () => {
    expect(siiUnitOf('Santiago')).toBe('SANTIAGO CENTRO');
    expect(siiUnitOf('LAS CONDES')).toBe('SANTIAGO ORIENTE');
    expect(siiUnitOf('Estacion Central')).toBe('SANTIAGO PONIENTE');
    expect(siiUnitOf('San Miguel')).toBe('SANTIAGO SUR');
    expect(siiUnitOf('Peñalolén')).toBe('ÑUÑOA');
    expect(siiUnitOf('Concepcion')).toBe('CONCEPCIÓN');
    expect(siiUnitOf('Chiguayante')).toBe('CHIGUAYANTE');
    expect(siiUnitOf(undefined)).toBe('');
  });
});

// ---------------------------------------------------------------- every type, every format

const TOTALS: Record<number, string> = {
  33: '$ 1.129.906',
  34: '$ 492.250',
  39: '$ 50.970',
  41: '$ 52.480',
  43: '$ 2.092.258',
  46: '$ 435.000',
  52: '$ 2.117.010',
  56: '$ 29.750',
  61: '$ 15.458',
  110: '6.173,27',
  111: '85,40',
  112: '84,70',
};

describe('renderPdf: every document type in letter, A4 and 80 mm', () => {
  for (const tipo of TIPOS) {
    it(`${tipo} ${NAMES[tipo]}`, async () => {
      const d = emitted.get(tipo) as EmittedDte;
      for (const format of FORMATS) {
        const pdf = await renderPdf(xmlOf(tipo), { format, resolucion: RES });
        const sizes = pages(pdf);
        expect(sizes.length).toBeGreaterThanOrEqual(1);
        for (const s of sizes) {
          if (format === 'letter') expect(s).toEqual({ w: 612, h: 792 });
          if (format === 'a4') expect(s).toEqual({ w: 595.28, h: 841.89 });
          if (format === 'thermal') {
            expect(Math.abs(s.w - (80 / 25.4) * 72)).toBeLessThanOrEqual((0.5 / 25.4) * 72);
            expect(s.h).toBeGreaterThan(300);
          }
        }
        const t = text(pdf);
        expect(t).toContain(NAMES[tipo]);
        expect(t).toContain(`N° ${d.key.folio}`);
        expect(t).toContain('76.086.428-5');
        expect(t).toContain('EMPRESA DEMO TIMBRE SPA');
        expect(t).toContain(TOTALS[tipo]);
        expect(t).toContain('Timbre Electrónico SII');
        expect(t).toContain('Res. 80 de 2014');
        expect(t).toContain('Verifique documento: www.sii.cl');
        expect(t).toContain('27 de noviembre de 2026');
        expect(t).toContain('S.I.I. - PROVIDENCIA');
        if (tipo !== 39 && tipo !== 41) expect(t).toContain(d.dte.encabezado.receptor.rznSocRecep);
        expect(t).not.toContain('CEDIBLE');
        png(pdf, `${tipo}-${format}`);
      }
    });
  }

  it('prints the receptor, Spanish characters and Chilean numbers of a factura exactly', async () => {
    const t = text(await renderPdf(xmlOf(33)));
    for (const s of ['COMERCIAL ÑUÑOA LIMITADA', '77.894.717-K', 'Av. Irarrázaval 2950', 'Ñuñoa', 'María José Peña', 'Mouse inalámbrico Logitech M185', 'I.V.A. 19%', '$ 156.456', '$ 823.450', '$ 150.000', '459.900', '827.820', '10%', '(E)', 'Crédito', 'Orden de compra', 'OC-2026-0457', '20-11-2026']) {
      expect(t).toContain(s);
    }
  });

  it('prints every Latin-1 character a DTE can hold (á é í ó ú ñ Ñ ü ° º ª ¿ ¡ « ») and the N°', async () => {
    const j = example(33);
    j.receptor.contacto = 'Diseño «único» ¿sí? ¡sí! pingüino 1° 2º 3ª';
    j.items[0].nombre = 'Canción ÁÉÍÓÚ áéíóú Üü Ññ';
    const pdf = await renderPdf(toBytes(emit(j, 900).xml));
    const t = text(pdf);
    expect(t).toContain('Diseño «único» ¿sí? ¡sí! pingüino 1° 2º 3ª');
    expect(t).toContain('Canción ÁÉÍÓÚ áéíóú Üü Ññ');
    expect(t).toContain('N° 900');
    png(pdf, 'latin1');
  });

  it('prints characters outside Latin-1 of a received UTF-8 document as "?" instead of failing', async () => {
    const latin = xmlOf(33).toString('latin1').replace('encoding="ISO-8859-1"', 'encoding="UTF-8"');
    const hostile = latin.replace('<RznSocRecep>COMERCIAL ÑUÑOA LIMITADA</RznSocRecep>', '<RznSocRecep>COMERCIAL 😀 ÑUÑOA 中文 LIMITADA</RznSocRecep>');
    expect(hostile).not.toBe(latin);
    const t = text(await renderPdf(Buffer.from(hostile, 'utf8')));
    expect(t).toContain('COMERCIAL ? ÑUÑOA ?? LIMITADA');
  });

  it('names the references of notes (type, folio, date, code as text, reason)', async () => {
    const t56 = text(await renderPdf(xmlOf(56)));
    for (const s of ['Factura Electrónica', '1520', '28-10-2026', 'Corrige montos', 'Cobro de intereses por pago atrasado']) expect(t56).toContain(s);
    const t61 = text(await renderPdf(xmlOf(61)));
    for (const s of ['Factura Electrónica', '1521', '20-11-2026', 'Corrige montos', 'Devolución de mercadería en mal estado']) expect(t61).toContain(s);
    const t112 = text(await renderPdf(xmlOf(112)));
    expect(t112).toContain('Factura de Exportación Electrónica');
  });

  it('prints export documents in their currency with decimals, the customs data as text and the CLP equivalent', async () => {
    const t = text(await renderPdf(xmlOf(110)));
    for (const s of ['DOLAR USA', '6.173,27', '189,95', '4.748,75', '1.058,75', '320,50', '45,27', 'PESO CL', '947,35', '$ 5.848.247', 'A firme', 'CIF', 'Marítima, fluvial y lacustre', 'Valparaíso (905)', 'Callao (252)', 'Perú (219)', '0,52 TMB', '480,5 KN', 'Caja de cartón', 'DISTRIBUIDORA ANDINA S.A.C.', '20512345678']) {
      expect(t).toContain(s);
    }
  });

  it('prints the guía de despacho transport data and the tipo de traslado as text', async () => {
    const t = text(await renderPdf(xmlOf(52)));
    for (const s of ['Operación constituye venta', 'Por cuenta del emisor a instalaciones del cliente', 'KXLT45', '8.765.432-K', 'Pedro Ñancupil Araya', '12.345.678-5', 'Camino a Melipilla 10500, Bodega 3, Maipú, Santiago']) {
      expect(t).toContain(s);
    }
  });

  it('prints the boleta IVA legend and its verification URL', async () => {
    const t = text(await renderPdf(xmlOf(39), { verificationUrl: 'https://boletas.demo-timbre.cl' }));
    expect(t).toContain('El IVA de esta boleta es $ 8.138');
    expect(t).toContain('Verifique documento: https://boletas.demo-timbre.cl');
    expect(t).not.toContain('66.666.666-6');
    // Only boletas use the issuer's URL.
    expect(text(await renderPdf(xmlOf(33), { verificationUrl: 'https://boletas.demo-timbre.cl' }))).toContain('Verifique documento: www.sii.cl');
  });

  it('prints 43 commissions, 46 retentions and the SII unit of the commune', async () => {
    const t43 = text(await renderPdf(xmlOf(43)));
    for (const s of ['Comisiones y otros cargos'.toUpperCase(), 'Comisión de venta 8 %', '156.800', 'Factura Electrónica', 'Nota de Crédito', '-120.000', 'I.V.A. propio']) expect(t43).toContain(s);
    const t46 = text(await renderPdf(xmlOf(46)));
    expect(t46).toContain('IVA retenido total');
    expect(t46).toContain('$ 82.650');
    expect(text(await renderPdf(xmlOf(46), { oficinaSii: 'SANTIAGO ORIENTE' }))).toContain('S.I.I. - SANTIAGO ORIENTE');
    const j = example(34);
    j.emisor.comuna = 'Las Condes';
    expect(text(await renderPdf(toBytes(emit(j, 901).xml)))).toContain('S.I.I. - SANTIAGO ORIENTE');
    j.emisor.comuna = 'Quilicura';
    expect(text(await renderPdf(toBytes(emit(j, 902).xml)))).toContain('S.I.I. - QUILICURA');
  });

  it('carries the TED in a PDF417 that ZXing reads back byte for byte (letter and thermal)', async () => {
    const d = emitted.get(33) as EmittedDte;
    const expected = Buffer.from(flattenTed(d.ted), 'latin1');
    expect(zxing(await renderPdf(xmlOf(33)))).toEqual(expected);
    expect(zxing(await renderPdf(xmlOf(33), { format: 'thermal' }), 1, 406)).toEqual(expected);
  });
});

// ---------------------------------------------------------------- cedible copies

describe('cedible copy', () => {
  it('adds the copy with the acuse de recibo and CEDIBLE; the original has neither', async () => {
    const orig = await renderPdf(xmlOf(33), { resolucion: RES });
    const ced = await renderPdf(xmlOf(33), { cedible: true, resolucion: RES });
    expect(pages(orig)).toHaveLength(1);
    expect(pages(ced)).toHaveLength(2);
    const first = text(ced, 1);
    const second = text(ced, 2);
    expect(first).not.toContain('CEDIBLE');
    expect(first).not.toContain('ACUSE DE RECIBO');
    for (const s of ['CEDIBLE', 'ACUSE DE RECIBO', 'Nombre:', 'R.U.T.:', 'Fecha:', 'Recinto:', 'Firma:', 'Ley 19.983', 'ha(n) sido recibido(s).']) expect(second).toContain(s);
    expect(second).toContain('FACTURA ELECTRÓNICA');
    expect(second).toContain(
      'El acuse de recibo que se declara en este acto, de acuerdo a lo dispuesto en la letra b) del Art. 4°, y la letra c) del Art. 5° de la Ley 19.983, acredita que la entrega de mercaderías o servicio(s) prestado(s) ha(n) sido recibido(s).',
    );
    png(ced, '33-letter-cedible');
  });

  it('says CEDIBLE CON SU FACTURA on guías, in every format', async () => {
    for (const format of FORMATS) {
      const pdf = await renderPdf(xmlOf(52), { cedible: true, format });
      expect(pages(pdf)).toHaveLength(2);
      expect(text(pdf, 2)).toContain('CEDIBLE CON SU FACTURA');
      expect(text(pdf, 1)).not.toContain('CEDIBLE');
      png(pdf, `52-${format}-cedible`);
    }
    for (const tipo of [34, 46]) expect(text(await renderPdf(xmlOf(tipo), { cedible: true }), 2)).toContain('CEDIBLE');
  });

  it('refuses a cedible copy for types without one (ERR_INPUT_INVALID, field cedible)', async () => {
    for (const tipo of [61, 39, 110]) {
      const e = await timbreError(renderPdf(xmlOf(tipo), { cedible: true }));
      expect(e.code).toBe('ERR_INPUT_INVALID');
      expect(e.field).toBe('cedible');
    }
  });
});

// ---------------------------------------------------------------- long documents, envelopes, options

describe('pagination and envelopes', () => {
  /** 60 signed lines plus 10 more spliced into the XML: a received document over the XSD limit. */
  async function seventyLines(): Promise<Buffer> {
    const j = example(33);
    delete j.totales;
    delete j.descuentos_globales;
    j.items = Array.from({ length: 60 }, (_, i) => ({
      codigo: `ART-${i + 1}`,
      nombre: `Artículo número ${i + 1}`,
      ...(i % 9 === 0 ? { descripcion: 'Descripción extensa que ocupa varias líneas en la columna de descripción de la tabla de detalle del documento' } : {}),
      cantidad: 1,
      precio_unitario: 1000,
    }));
    const xml = emit(j, 950).xml;
    const lines = [...xml.matchAll(/<Detalle>[\s\S]*?<\/Detalle>/g)].map((m) => m[0]);
    const extra = lines.slice(0, 10).map((l, i) => l.replace(/<NroLinDet>\d+<\/NroLinDet>/, `<NroLinDet>${61 + i}</NroLinDet>`).replace(/Artículo número \d+/, `Artículo número ${61 + i}`));
    const last = lines[lines.length - 1] as string;
    return toBytes(xml.replace(last, `${last}\n${extra.join('\n')}`));
  }

  it('continues a 70-line invoice over several pages, header repeated, "Página n de m", total and timbre on the last', async () => {
    const xml = await seventyLines();
    expect(readDte(parseXml(xml).root).dte.detalle).toHaveLength(70);
    for (const format of ['letter', 'a4'] as const) {
      const pdf = await renderPdf(xml, { format });
      const n = pages(pdf).length;
      expect(n).toBeGreaterThanOrEqual(2);
      for (let p = 1; p <= n; p++) {
        const t = text(pdf, p);
        expect(t).toContain('FACTURA ELECTRÓNICA');
        expect(t).toContain('N° 950');
        expect(t).toContain(`Página ${p} de ${n}`);
        expect(t).toContain('Descripción');
        const last = p === n;
        expect(t.includes('TOTAL')).toBe(last);
        expect(t.includes('Timbre Electrónico SII')).toBe(last);
      }
      const all = text(pdf);
      for (let i = 1; i <= 70; i++) expect(all).toContain(`Artículo número ${i}`);
      expect(text(pdf, n)).toContain('$ 71.400'); // the signed Totales (60 lines): printed as the document says
      png(pdf, `70-lines-${format}`, 60);
    }
    const thermal = await renderPdf(xml, { format: 'thermal' });
    expect(pages(thermal)).toHaveLength(1);
    expect(text(thermal)).toContain('Artículo número 70');
  });

  it('renders each DTE of an EnvioDTE on its own page, with the Carátula resolution', async () => {
    const dtes = [33, 56, 61].map((t) => emitted.get(t) as EmittedDte);
    const env = buildEnvelope({
      dtes: dtes.map((d) => ({ xml: d.xml, tipoDte: d.key.tipoDte, canonical: d.canonical })),
      caratula: { rutEmisor: '76086428-5', rutEnvia: cert.rut, rutReceptor: '60803000-K', fchResol: '2014-08-22', nroResol: 80, tmstFirmaEnv: NOW },
      key: cert.signingKey,
    });
    const pdf = await renderPdf(toBytes(env.xml));
    expect(pages(pdf)).toHaveLength(3);
    [33, 56, 61].forEach((tipo, i) => {
      const t = text(pdf, i + 1);
      expect(t).toContain(NAMES[tipo]);
      expect(t).toContain('Res. 80 de 2014');
    });
    // options.resolucion wins over the carátula.
    expect(text(await renderPdf(toBytes(env.xml), { resolucion: { numero: 12, fecha: '2020-03-01' } }))).toContain('Res. 12 de 2020');
    // A lone DTE without options: the line is printed without an invented resolution.
    expect(text(await renderPdf(xmlOf(33)))).toContain('Res. —');
  });

  it('renders an EnvioBOLETA', async () => {
    const dtes = [39, 41].map((t) => emitted.get(t) as EmittedDte);
    const env = buildEnvelope({
      dtes: dtes.map((d) => ({ xml: d.xml, tipoDte: d.key.tipoDte })),
      caratula: { rutEmisor: '76086428-5', rutEnvia: cert.rut, rutReceptor: '60803000-K', fchResol: '2021-01-05', nroResol: 0, tmstFirmaEnv: NOW },
      key: cert.signingKey,
    });
    const pdf = await renderPdf(toBytes(env.xml), { format: 'thermal' });
    expect(pages(pdf)).toHaveLength(2);
    expect(text(pdf, 1)).toContain('Res. 0 de 2021');
    expect(text(pdf, 2)).toContain('BOLETA EXENTA ELECTRÓNICA');
  });

  it('renderDocuments prints parsed documents like renderPdf (same bytes)', async () => {
    const d = emitted.get(52) as EmittedDte;
    const parsed = readDte(parseXml(xmlOf(52)).root);
    const a = await renderDocuments([{ dte: parsed.dte, tedText: flattenTed(d.ted), ...(parsed.tmstFirma ? { tmstFirma: parsed.tmstFirma } : {}) }], { resolucion: RES });
    const b = await renderPdf(xmlOf(52), { resolucion: RES });
    expect(a.equals(b)).toBe(true);
    // Without a TED the place of the timbre says so.
    expect(text(await renderDocuments([{ dte: d.dte }]))).toContain('Documento sin timbre electrónico');
  });

  it('is deterministic and sets the document info (Title, Author, Producer, CreationDate from TmstFirma)', async () => {
    const a = await renderPdf(xmlOf(33), { cedible: true });
    const b = await renderPdf(xmlOf(33), { cedible: true });
    expect(a.equals(b)).toBe(true);
    // The XML as a JS string (how the service stores it) prints the same bytes.
    expect((await renderPdf((emitted.get(33) as EmittedDte).xml, { cedible: true })).equals(a)).toBe(true);
    const info = run('pdfinfo', ['-isodates', save(a)]);
    expect(info).toMatch(/Title:\s+Factura Electrónica N° 100/);
    expect(info).toMatch(/Author:\s+EMPRESA DEMO TIMBRE SPA/);
    expect(info).toMatch(/Producer:\s+Timbre/);
    expect(info).toMatch(/CreationDate:\s+2026-11-27T13:15:00/); // 10:15 in Santiago (UTC−3)
  });

  it('compresses and stays small: a one-page invoice under 30 KB', async () => {
    expect((await renderPdf(xmlOf(33))).length).toBeLessThan(30_000);
  });
});

// ---------------------------------------------------------------- logos

/** A PNG written here (each row with a different filter), so the expected pixels are known. */
function makePng(w: number, h: number, colorType: 0 | 2 | 3 | 4 | 6, pixel: (x: number, y: number) => number[], opts: { depth?: number; palette?: number[][]; trns?: number[] } = {}): Buffer {
  const depth = opts.depth ?? 8;
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  const bpp = Math.max(1, (channels * depth) / 8);
  const stride = Math.ceil((w * channels * depth) / 8);
  const rows: Buffer[] = [];
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < h; y++) {
    const line = Buffer.alloc(stride);
    for (let x = 0; x < w; x++) {
      const px = pixel(x, y);
      for (let c = 0; c < channels; c++) {
        const v = px[c] as number;
        const i = x * channels + c;
        if (depth === 8) line[i] = v;
        else if (depth === 16) line.writeUInt16BE(v, 2 * i);
        else {
          const bit = i * depth;
          line[bit >> 3] = (line[bit >> 3] as number) | (v << (8 - depth - (bit & 7)));
        }
      }
    }
    const f = y % 5;
    const out = Buffer.alloc(stride + 1);
    out[0] = f;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? (line[i - bpp] as number) : 0;
      const b = prev[i] as number;
      const c = i >= bpp ? (prev[i - bpp] as number) : 0;
      const p = a + b - c;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      out[i + 1] = ((line[i] as number) - pred) & 0xff;
    }
    rows.push(out);
    prev = line;
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]); // CRC unchecked by readers here
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(opts.palette ? [chunk('PLTE', Buffer.from(opts.palette.flat()))] : []),
    ...(opts.trns ? [chunk('tRNS', Buffer.from(opts.trns))] : []),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The images pdfimages extracts (raw PPM/PGM), with their pixels. */
function extractImages(pdf: Buffer): Array<{ w: number; h: number; channels: number; data: Buffer }> {
  const prefix = path.join(tmp, `img${++fileNo}`);
  run('pdfimages', ['-f', '1', '-l', '1', save(pdf), prefix]);
  const out: Array<{ w: number; h: number; channels: number; data: Buffer }> = [];
  for (let i = 0; ; i++) {
    const base = `${prefix}-${String(i).padStart(3, '0')}`;
    let buf: Buffer | undefined;
    for (const ext of ['ppm', 'pgm']) {
      try {
        buf = readFileSync(`${base}.${ext}`);
      } catch {
        /* next */
      }
    }
    if (!buf) break;
    const m = /^P([56])\s+(\d+)\s+(\d+)\s+255\s/.exec(buf.toString('latin1', 0, 40)) as RegExpExecArray;
    out.push({ w: Number(m[2]), h: Number(m[3]), channels: m[1] === '6' ? 3 : 1, data: buf.subarray(m[0].length) });
  }
  return out;
}

describe('logo', () => {
  const rgb = (x: number, y: number) => [(x * 7) & 255, (y * 11) & 255, (x + y) & 255];

  it('embeds PNG logos of every colour type with exact pixels and alpha as a soft mask', async () => {
    const w = 40;
    const h = 24;
    const cases: Array<{ name: string; png: Buffer; expect: (x: number, y: number) => number[]; alpha?: (x: number, y: number) => number }> = [
      { name: 'rgb', png: makePng(w, h, 2, rgb), expect: rgb },
      { name: 'rgba', png: makePng(w, h, 6, (x, y) => [...rgb(x, y), (x * 6) & 255]), expect: rgb, alpha: (x) => (x * 6) & 255 },
      { name: 'gray', png: makePng(w, h, 0, (x, y) => [(x * 5 + y) & 255]), expect: (x, y) => [(x * 5 + y) & 255] },
      { name: 'gray+alpha', png: makePng(w, h, 4, (x, y) => [(x * 5) & 255, y * 10]), expect: (x) => [(x * 5) & 255], alpha: (_x, y) => y * 10 },
      { name: 'rgb16', png: makePng(w, h, 2, (x, y) => rgb(x, y).map((v) => v * 257), { depth: 16 }), expect: rgb },
      { name: 'gray4', png: makePng(w, h, 0, (x) => [x % 16], { depth: 4 }), expect: (x) => [(x % 16) * 17] },
      {
        name: 'palette2+tRNS',
        png: makePng(w, h, 3, (x, y) => [(x + y) % 4], { depth: 2, palette: [[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]], trns: [255, 128] }),
        expect: (x, y) => [[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]][(x + y) % 4] as number[],
        alpha: (x, y) => [255, 128, 255, 255][(x + y) % 4] as number,
      },
    ];
    for (const c of cases) {
      const pdf = await renderPdf(xmlOf(33), { logo: c.png });
      const imgs = extractImages(pdf);
      const img = imgs.find((i) => i.w === w && i.h === h) as (typeof imgs)[number];
      expect(img, c.name).toBeDefined();
      const colors = img.channels;
      for (const [x, y] of [[0, 0], [5, 3], [39, 23], [17, 11]] as const) {
        const e = c.expect(x, y);
        const exp = e.length === 1 && colors === 3 ? [e[0], e[0], e[0]] : e; // gray may come out expanded to RGB
        const got = [...img.data.subarray((y * w + x) * colors, (y * w + x + 1) * colors)];
        expect(got, `${c.name} pixel ${x},${y}`).toEqual(exp);
      }
      if (c.alpha) {
        // pdfimages writes the soft mask right after its image (as gray, or gray expanded to RGB).
        const mask = imgs[imgs.indexOf(img) + 1] as (typeof imgs)[number];
        expect(mask, `${c.name} soft mask`).toBeDefined();
        for (const [x, y] of [[3, 2], [30, 20], [1, 1]] as const) expect(mask.data[(y * w + x) * mask.channels], `${c.name} alpha`).toBe(c.alpha(x, y));
      } else {
        expect(imgs.filter((i) => i.w === w && i.h === h)).toHaveLength(1);
      }
    }
    const pdf = await renderPdf(xmlOf(33), { logo: cases[1]?.png as Buffer, cedible: true });
    png(pdf, '33-letter-logo');
    png(await renderPdf(xmlOf(39), { logo: cases[1]?.png as Buffer, format: 'thermal' }), '39-thermal-logo');
  });

  it('reduces a large PNG to print resolution and accepts a JPEG as is', async () => {
    const big = makePng(1600, 900, 2, rgb);
    const imgs = extractImages(await renderPdf(xmlOf(33), { logo: big }));
    expect(imgs[0]?.w).toBe(800);
    expect(imgs[0]?.h).toBe(450);
    // A minimal JPEG header (SOI, SOF0 60×30 3 components, EOI): dimensions are all the PDF needs.
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x1e, 0x00, 0x3c, 0x03, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9]);
    const list = run('pdfimages', ['-list', save(await renderPdf(xmlOf(33), { logo: jpeg }))]);
    expect(list).toMatch(/\s60\s+30\s+rgb\s+3\s+8\s+jpeg/);
  });

  it('refuses what is not a usable PNG or JPEG (ERR_INPUT_INVALID, field logo)', async () => {
    const good = makePng(10, 10, 2, rgb);
    const bad = [
      Buffer.from('GIF89a not a logo'),
      Buffer.alloc(0),
      good.subarray(0, 30),
      Buffer.concat([good.subarray(0, 33), Buffer.from([0, 0, 0, 10]), Buffer.from('IDAT'), Buffer.from('garbage!!!'), Buffer.alloc(4)]),
      makePng(1, 1, 2, () => [1, 2, 3]).fill(0xff, 8 + 8, 8 + 12), // IHDR width 4294967295
      Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
    ];
    for (const logo of bad) {
      const e = await timbreError(renderPdf(xmlOf(33), { logo }));
      expect(e.code).toBe('ERR_INPUT_INVALID');
      expect(e.field).toBe('logo');
    }
  });
});

// ---------------------------------------------------------------- hostile input

describe('hostile input', () => {
  it('refuses what is not a DTE with a TimbreError', async () => {
    const cases: Array<[string | Buffer, string]> = [
      ['not xml at all', 'ERR_XML_MALFORMED'],
      [Buffer.alloc(0), 'ERR_XML_MALFORMED'],
      ['<?xml version="1.0"?><!DOCTYPE DTE [<!ENTITY x "y">]><DTE>&x;</DTE>', 'ERR_XML_FORBIDDEN_FEATURE'],
      ['<EnvioDTE><SetDTE><Caratula/></SetDTE></EnvioDTE>', 'ERR_XML_UNEXPECTED'],
      ['<foo><bar/></foo>', 'ERR_XML_UNEXPECTED'],
      ['<DTE><Documento ID="x"/></DTE>', 'ERR_XML_UNEXPECTED'],
      ['<DTE><Documento><Encabezado><IdDoc><TipoDTE>99</TipoDTE></IdDoc></Encabezado></Documento></DTE>', 'ERR_XML_UNEXPECTED'],
    ];
    for (const [xml, code] of cases) expect((await timbreError(renderPdf(xml))).code).toBe(code);
  });

  it('prints a bare minimum DTE (no TED, no optional data) without crashing', async () => {
    const xml = `<DTE><Documento><Encabezado><IdDoc><TipoDTE>33</TipoDTE><Folio>5</Folio><FchEmis>2026-01-02</FchEmis></IdDoc>
      <Emisor><RUTEmisor>1-9</RUTEmisor><RznSoc>X</RznSoc><GiroEmis>Y</GiroEmis><Acteco>1</Acteco></Emisor>
      <Receptor><RUTRecep>2-7</RUTRecep><RznSocRecep>Z</RznSocRecep></Receptor><Totales><MntTotal>0</MntTotal></Totales></Encabezado>
      <Detalle><NroLinDet>1</NroLinDet><NmbItem>I</NmbItem><MontoItem>0</MontoItem></Detalle></Documento></DTE>`;
    for (const format of FORMATS) {
      const t = text(await renderPdf(xml, { format }));
      expect(t).toContain('FACTURA ELECTRÓNICA');
      expect(t).toContain('Documento sin timbre electrónico');
      expect(t).toContain('2 de enero de 2026');
    }
  });

  it('survives huge numbers, long texts and odd dates', async () => {
    const latin = xmlOf(33).toString('latin1');
    const odd = latin
      .replace(/<MntTotal>\d+<\/MntTotal>/, `<MntTotal>${'9'.repeat(400)}</MntTotal>`)
      .replace(/<NmbItem>[^<]*<\/NmbItem>/, `<NmbItem>${'PALABRASINESPACIOS'.repeat(60)}</NmbItem>`)
      .replace(/<DscItem>[^<]*<\/DscItem>/, `<DscItem>${'línea con texto '.repeat(300)}</DscItem>`)
      .replace(/<FchEmis>[^<]*<\/FchEmis>/, '<FchEmis>2026-13-45</FchEmis>');
    for (const format of FORMATS) {
      const pdf = await renderPdf(Buffer.from(odd, 'latin1'), { format });
      expect(pages(pdf).length).toBeGreaterThanOrEqual(1);
    }
  });

  it('never throws anything but a TimbreError on truncated or mangled documents', async () => {
    const latin = xmlOf(110).toString('latin1');
    const variants: string[] = [];
    for (let i = 1; i < 40; i++) variants.push(latin.slice(0, Math.floor((latin.length * i) / 40)));
    const elements = [...new Set([...latin.matchAll(/<([A-Za-z]+)[ >]/g)].map((m) => m[1] as string))];
    for (const el of elements) {
      variants.push(latin.replace(new RegExp(`<${el}[ >][\\s\\S]*?</${el}>`), '')); // element removed
      variants.push(latin.replace(new RegExp(`(<${el}>)[^<]*(</${el}>)`), '$1$2')); // emptied
      variants.push(latin.replace(new RegExp(`(<${el}>)[^<]*(</${el}>)`), '$1-1e999$2')); // nonsense number
    }
    let rendered = 0;
    for (const v of variants) {
      try {
        await renderPdf(Buffer.from(v, 'latin1'));
        rendered++;
      } catch (e) {
        expect(e, v.slice(0, 80)).toBeInstanceOf(TimbreError);
      }
    }
    expect(rendered).toBeGreaterThan(elements.length); // most optional damage still prints
  });

  it('refuses unknown options with a TimbreError', async () => {
    const e = await timbreError(renderPdf(xmlOf(33), { format: 'legal' as PdfFormat }));
    expect(e.field).toBe('format');
    expect((await timbreError(renderDocuments([]))).code).toBe('ERR_INPUT_INVALID');
  });
});
