/**
 * The timbre survives printing: every document type is rendered to PDF by renderPdf, rasterized by
 * poppler (pdftoppm), the barcode decoded by an independent reader (ZXing, Debian's
 * zxing-cpp-tools), and the decoded TED verified: its bytes are the document's TED flattened, FRMT
 * verifies over the DD with the CAF's public key (node:crypto and `openssl dgst`), the embedded CAF
 * is the one the fake SII key signed. PNGs land in packages/pdf/test-output/ for a person to look at.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { verify as cryptoVerify } from 'node:crypto';
import {
  TIPOS_DTE,
  emitDte,
  generateFixtures,
  inputToDte,
  loadPkcs12,
  loadTrustedKeys,
  parseCaf,
  parseDteInput,
  parseXml,
  toBytes,
  verifyCaf,
  cafFromElement,
  child,
  type Caf,
  type Certificado,
  type EmittedDte,
} from '@timbre/dte';
import { renderPdf, flattenTed, type PdfFormat } from '../src/index.js';

const NOW = '2026-11-27T10:15:00';
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const out = path.join(root, 'packages/pdf/test-output');
const tmp = mkdtempSync(path.join(tmpdir(), 'timbre-timbre-'));
const example = (tipo: number) => JSON.parse(readFileSync(path.join(root, 'examples/dte', `${tipo}.json`), 'utf8')) as unknown;

let cert: Certificado;
let cafs: Caf[];
let trusted: ReturnType<typeof loadTrustedKeys>;
let siiIdk: number;

beforeAll(() => {
  mkdirSync(out, { recursive: true });
  const fx = generateFixtures({ now: new Date('2026-11-27T13:00:00Z') });
  cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T13:00:00Z') });
  cafs = fx.cafs.map((c) => parseCaf(c.xml));
  trusted = loadTrustedKeys([{ idk: fx.sii.idk, pem: fx.sii.publicKeyPem }]);
  siiIdk = fx.sii.idk;
});

const emit = (tipo: number, folio: number): EmittedDte => emitDte(inputToDte(parseDteInput(example(tipo)), { folio, fchEmis: NOW.slice(0, 10) }), { cafs, signer: cert, now: NOW });

/** Rasterize every page and return the bytes of each PDF417 ZXing finds, page by page. */
function decodePages(pdf: Buffer, name: string, dpi: number): Buffer[][] {
  const pdfFile = path.join(tmp, `${name}.pdf`);
  writeFileSync(pdfFile, pdf);
  const prefix = path.join(out, name);
  const r = spawnSync('pdftoppm', ['-r', String(dpi), '-png', pdfFile, prefix]);
  expect(r.status, r.stderr.toString()).toBe(0);
  const pages = Number(/Pages:\s+(\d+)/.exec(spawnSync('pdfinfo', [pdfFile]).stdout.toString())?.[1]);
  const found: Buffer[][] = [];
  for (let p = 1; p <= pages; p++) {
    const png = `${prefix}-${pages >= 10 ? String(p).padStart(2, '0') : p}.png`;
    const z = spawnSync('ZXingReader', ['-format', 'PDF417', '-1', png]);
    const text = z.stdout.toString();
    // -1 prints one line per barcode; the raw bytes need -bytes (one symbol per page here).
    const count = text.split('\n').filter((l) => l.trim() && !/No barcode found/i.test(l)).length;
    found.push(count === 0 ? [] : [spawnSync('ZXingReader', ['-format', 'PDF417', '-bytes', png]).stdout]);
  }
  return found;
}

function checkTed(decoded: Buffer, e: EmittedDte, caf: Caf): void {
  // 1. exactly the document's TED, flattened, in ISO-8859-1
  expect(decoded.toString('latin1')).toBe(flattenTed(e.ted));
  const text = decoded.toString('latin1');
  // 2. FRMT over the DD verifies with the public key of the CAF the document was stamped with
  const dd = /<DD>[\s\S]*<\/DD>/.exec(text)?.[0];
  const frmt = /<FRMT algoritmo="SHA1withRSA">([^<]+)<\/FRMT>/.exec(text)?.[1];
  expect(dd && frmt).toBeTruthy();
  expect(cryptoVerify('sha1', Buffer.from(dd!, 'latin1'), caf.publicKey, Buffer.from(frmt!, 'base64'))).toBe(true);
  // … and with openssl, an oracle that shares no code with us
  const base = path.join(tmp, `ted-${e.key.tipoDte}-${e.key.folio}`);
  writeFileSync(`${base}.dd`, Buffer.from(dd!, 'latin1'));
  writeFileSync(`${base}.sig`, Buffer.from(frmt!, 'base64'));
  writeFileSync(`${base}.pub`, caf.publicKey.export({ type: 'spki', format: 'pem' }));
  const o = spawnSync('openssl', ['dgst', '-sha1', '-verify', `${base}.pub`, '-signature', `${base}.sig`, `${base}.dd`]);
  expect(o.stdout.toString().trim()).toBe('Verified OK');
  // 3. the CAF inside the TED is the SII-signed one, and its key is the stamping CAF's key
  const doc = parseXml(decoded);
  const cafEl = child(child(doc.root, 'DD')!, 'CAF')!;
  const embedded = cafFromElement(cafEl, doc.text);
  expect(embedded.idk).toBe(siiIdk);
  expect(() => verifyCaf(embedded, { trustedKeys: trusted })).not.toThrow();
  expect(embedded.publicKey.export({ type: 'spki', format: 'der' }).equals(caf.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  // 4. the DD's fields are the document's
  expect(text).toContain(`<F>${e.key.folio}</F>`);
  expect(text).toContain(`<TD>${e.key.tipoDte}</TD>`);
}

const cafFor = (tipo: number) => cafs.find((c) => c.tipoDte === tipo)!;

describe('the printed timbre decodes back to a valid TED', () => {
  const cases: Array<[number, PdfFormat, number]> = [];
  for (const t of TIPOS_DTE) cases.push([t, 'letter', 300]);
  for (const t of TIPOS_DTE) cases.push([t, 'thermal', 203]);
  cases.push([33, 'a4', 300]);

  it.each(cases)('type %i, %s, rasterized at %i dpi', async (tipo, format, dpi) => {
    const e = emit(tipo, 40 + tipo);
    const pdf = await renderPdf(toBytes(e.xml), { format, resolucion: { numero: 80, fecha: '2014-08-22' } });
    const pages = decodePages(pdf, `T${tipo}-${format}`, dpi);
    // one timbre, on the last page of the document
    expect(pages.flat()).toHaveLength(1);
    expect(pages.at(-1)).toHaveLength(1);
    checkTed(pages.at(-1)![0]!, e, cafFor(tipo));
  });

  it('the cedible copy carries the same timbre (33, 52)', async () => {
    for (const tipo of [33, 52]) {
      const e = emit(tipo, 90);
      const pdf = await renderPdf(toBytes(e.xml), { format: 'letter', cedible: true });
      const pages = decodePages(pdf, `T${tipo}-cedible`, 300);
      expect(pages.flat()).toHaveLength(2);
      for (const p of pages.flat()) checkTed(p, e, cafFor(tipo));
    }
  });

  it('a TED whose issuer pretty-printed it is printed flattened, and still verifies', async () => {
    const e = emit(33, 91);
    // Received documents are often indented: the DD signature covers the flattened form.
    const pretty = e.xml.replace(/<TED version="1.0">[\s\S]*<\/TED>/, (ted) => ted.replace(/></g, '>\n    <'));
    expect(pretty).not.toBe(e.xml);
    const pdf = await renderPdf(Buffer.from(pretty, 'latin1'), { format: 'letter' });
    const [decoded] = decodePages(pdf, 'T33-pretty', 300).flat();
    checkTed(decoded!, e, cafFor(33));
  });
});

describe('the barcode geometry follows the SII rules', () => {
  it('EC level 5, X ≥ 6.7 mils, rows 3× X, within 2×5 cm and about 3×9 cm on paper; ≥ 2×4.5 cm on thermal', async () => {
    const { timbreBarcode } = await import('../src/ted-barcode.js');
    const ted = flattenTed(emit(33, 5).ted);
    const mm = (pt: number) => (pt / 72) * 25.4;
    const page = timbreBarcode(ted, 'letter');
    expect(page.symbol.ecLevel).toBe(5);
    expect(mm(page.width / page.symbol.width)).toBeGreaterThanOrEqual(0.17); // 6.7 mils
    expect(mm(page.width)).toBeGreaterThanOrEqual(50);
    expect(mm(page.width)).toBeLessThanOrEqual(90);
    expect(mm(page.height)).toBeGreaterThanOrEqual(20);
    expect(mm(page.height)).toBeLessThanOrEqual(40);
    const thermal = timbreBarcode(ted, 'thermal');
    expect(mm(thermal.width)).toBeGreaterThanOrEqual(45);
    expect(mm(thermal.width)).toBeLessThanOrEqual(72);
    expect(mm(thermal.height)).toBeGreaterThanOrEqual(20);
  });
});
