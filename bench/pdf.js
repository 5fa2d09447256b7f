// PDF benchmark (issue 6): printed DTEs per second on one core (one thread: pdfkit and the encoder
// are synchronous), from the signed XML to the PDF bytes, for the shapes that matter — a letter
// factura, its cedible copy, an 80 mm boleta, a 60-line guía over two pages, an export invoice.
// Baseline measured in the same run: bwip-js drawing the same timbre (its PDF417 encoder, then its
// PNG), which is what a straightforward implementation spends per document on the barcode alone.
// Target: ≥ 100 PDFs/s per core. Last line: one JSON object.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bwipjs from 'bwip-js';
import { emitDte, generateFixtures, inputToDte, loadPkcs12, parseCaf, parseDteInput, toBytes } from '@timbre/dte';
import { renderPdf, flattenTed } from '@timbre/pdf';
import { rateAsync } from './lib/rate.js';

const rate = (fn) => rateAsync(fn, { seconds });

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NOW = '2026-11-27T10:00:00';
const seconds = Number(process.env.BENCH_SECONDS ?? 3);


const fx = generateFixtures({ fechaAutorizacion: '2026-11-01', desde: 1, hasta: 100_000 });
const cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T12:00:00Z') });
const cafs = fx.cafs.map((c) => parseCaf(c.xml));
const example = (tipo) => JSON.parse(readFileSync(path.join(root, 'examples/dte', `${tipo}.json`), 'utf8'));
const emit = (json, folio) => emitDte(inputToDte(parseDteInput(json), { folio, fchEmis: NOW.slice(0, 10) }), { cafs, signer: cert, now: NOW });

// Distinct documents (different folios → different TEDs), so nothing is served from a cache.
const many = (json, n) => Array.from({ length: n }, (_, i) => toBytes(emit(json, 100 + i).xml));
const long52 = example(52);
long52.items = Array.from({ length: 60 }, (_, i) => ({ ...long52.items[0], nombre: `Artículo de bodega número ${i + 1}`, codigo: `SKU-${1000 + i}` }));

const cases = [
  ['33 letter', many(example(33), 200), { format: 'letter' }],
  ['33 letter + cedible', many(example(33), 200), { format: 'letter', cedible: true }],
  ['39 thermal 80 mm', many(example(39), 200), { format: 'thermal' }],
  ['52 letter, 60 lines', many(long52, 100), { format: 'letter' }],
  ['110 A4 (USD)', many(example(110), 200), { format: 'a4' }],
];

const results = {};
for (const [name, docs, opts] of cases) {
  results[name] = await rate((i) => renderPdf(docs[i % docs.length], opts));
}

// Baseline: bwip-js on the same timbres, barcode only (encode + PNG), EC level 5, binary text.
const teds = Array.from({ length: 200 }, (_, i) => flattenTed(emit(example(33), 5000 + i).ted));
const bwipPng = await rate((i) => bwipjs.toBuffer({ bcid: 'pdf417', text: teds[i % teds.length], binarytext: true, eclevel: 5, columns: 18, scale: 2 }));
const bwipRaw = await rate((i) => bwipjs.raw({ bcid: 'pdf417', text: teds[i % teds.length], binarytext: true, eclevel: 5, columns: 18 }));

const fmt = (x) => x.toFixed(x >= 100 ? 0 : 1);
const main = results['33 letter'];
for (const [name, r] of Object.entries(results)) console.log(`${name.padEnd(22)} ${fmt(r).padStart(6)} PDFs/s per core  (${(1000 / r).toFixed(2)} ms each)`);
console.log(`baseline: bwip-js PDF417 encode only ${fmt(bwipRaw)}/s, encode + PNG ${fmt(bwipPng)}/s (barcode alone, no page)`);
console.log(`33 letter vs. bwip-js barcode alone: ${(main / bwipPng).toFixed(2)}× (encode + PNG), ${(main / bwipRaw).toFixed(2)}× (encode only); target ≥ 100 PDFs/s: ${main >= 100 ? 'met' : 'NOT met'}`);
console.log(
  JSON.stringify({
    bench: 'pdf',
    pdfs_per_s: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v)])),
    baseline_bwip_encode_per_s: Math.round(bwipRaw),
    baseline_bwip_png_per_s: Math.round(bwipPng),
    ratio_to_bwip_png: +(main / bwipPng).toFixed(2),
    ratio_to_bwip_encode: +(main / bwipRaw).toFixed(2),
    target_met: main >= 100,
  }),
);
