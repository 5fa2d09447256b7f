#!/usr/bin/env node
/**
 * SII publication classifier evaluation (for `npm run eval -- ai`, after `npm run build`): the
 * deterministic classifier against the two hand-labelled sets in test/ — `labelled.json` (its
 * weights were tuned on it) and `heldout.json` (labelled before the classifier was read; the figure
 * that matters). Prints relevance accuracy, precision/recall of `relevante_dte` and priority-band
 * accuracy beside a keyword baseline (relevant ⇔ the text names a DTE document; band from that
 * alone), then a JSON line; exits 1 when the held-out set misses relevance 0.9 or band 0.85.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { banda, classify, fold } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const load = (f) => JSON.parse(readFileSync(path.join(here, '../test', f), 'utf8')).items;

/** The naive reading: a publication matters when it names an electronic document. */
const NAIVE = /\b(factura|boleta|guia de despacho|nota de credito|nota de debito|dte|documento(s)? tributario(s)? electronico(s)?|folio)/;
const baseline = (it) => {
  const relevante = NAIVE.test(fold(`${it.titulo} ${it.materia ?? ''}`));
  return { relevante_dte: relevante, prioridad: relevante ? 8 : 3 };
};

function score(items, fn) {
  let rel = 0;
  let band = 0;
  let tp = 0;
  let fp = 0;
  let fn_ = 0;
  for (const it of items) {
    const c = fn(it);
    if (c.relevante_dte === it.relevante) rel++;
    if (banda(c.prioridad) === it.banda) band++;
    if (c.relevante_dte && it.relevante) tp++;
    else if (c.relevante_dte) fp++;
    else if (it.relevante) fn_++;
  }
  const n = items.length;
  return { n, relevance: rel / n, precision: tp / Math.max(1, tp + fp), recall: tp / Math.max(1, tp + fn_), band: band / n };
}

const ours = (it) => classify({ tipo: it.tipo, fecha: '2025-01-01', titulo: it.titulo, materia: it.materia });
const t0 = Date.now();
const rows = [];
for (const [name, file] of [['held-out', 'heldout.json'], ['tuning set', 'labelled.json']]) {
  const items = load(file);
  rows.push({ name, ours: score(items, ours), baseline: score(items, baseline) });
}
const f = (x) => x.toFixed(3);
console.log(`SII publication classifier (${Date.now() - t0} ms)`);
console.log('set            n   ours rel  prec  rec   band | keyword baseline rel  prec  rec   band');
for (const r of rows) {
  console.log(`${r.name.padEnd(12)} ${String(r.ours.n).padStart(3)}   ${f(r.ours.relevance)} ${f(r.ours.precision)} ${f(r.ours.recall)} ${f(r.ours.band)} |                  ${f(r.baseline.relevance)} ${f(r.baseline.precision)} ${f(r.baseline.recall)} ${f(r.baseline.band)}`);
}
const held = rows[0].ours;
const ok = held.relevance >= 0.9 && held.band >= 0.85;
console.log(JSON.stringify({ eval: 'sii-monitor', heldout: held, tuning: rows[1].ours, baseline_heldout: rows[0].baseline, ok }));
process.exit(ok ? 0 : 1);
