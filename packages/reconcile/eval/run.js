#!/usr/bin/env node
/**
 * Reconciliation evaluation (`npm run eval -- ai`, after `npm run build`): every set in eval/data is
 * reconciled by @timbre/reconcile and by the naive baseline (exact RUT + exact total, first come);
 * both are scored on links — received↔ERP document, received↔RCV entry, note↔invoice — against the
 * labels. Prints a table and, last, a JSON line; exit code 1 when ours is below 0.95 precision or
 * recall on any set. Sets named adversarial-* (eval/generate-adversarial.js, written blind to the engine)
 * get their own table. Options: --quiet (no per-set rows), --data DIR (other sets, e.g. another seed),
 * --bench (also time 2,000 × 2,000).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { naiveReconcile, reconcile } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const d = process.argv.indexOf('--data');
const dir = d > 0 ? path.resolve(process.argv[d + 1]) : path.join(here, 'data');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

function truth(labels) {
  return new Set([...labels.expected.map(([r, e]) => `e|${r}|${e}`), ...labels.rcv.map(([r, c]) => `c|${r}|${c}`), ...labels.adjusts.map(([n, i]) => `n|${n}|${i}`)]);
}

function ours(res) {
  const out = new Set();
  for (const m of res.matches) {
    if (m.kind !== 'credit_note') for (const e of m.expected) out.add(`e|${m.received}|${e}`);
    if (m.rcv) out.add(`c|${m.received}|${m.rcv}`);
    if (m.adjusts) out.add(`n|${m.received}|${m.adjusts}`);
  }
  for (const u of res.unmatchedReceived) if (u.rcv) out.add(`c|${u.id}|${u.rcv}`);
  return out;
}

function baseline(links) {
  return new Set(links.map((l) => (l.expected ? `e|${l.received}|${l.expected}` : `c|${l.received}|${l.rcv}`)));
}

function score(pred, gold, prefix = '') {
  const p = [...pred].filter((x) => x.startsWith(prefix));
  const g = [...gold].filter((x) => x.startsWith(prefix));
  const tp = p.filter((x) => gold.has(x)).length;
  const precision = p.length ? tp / p.length : 1;
  const recall = g.length ? tp / g.length : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, tp, predicted: p.length, gold: g.length };
}

const f = (x) => x.toFixed(3).padStart(6);
const pct = (x) => x.toFixed(3).padStart(6);

/** Reconciles one labelled set with ours and the baseline; the per-link-type scores. */
function evaluate(data) {
  const input = { received: data.received, expected: data.expected, rcv: data.rcv };
  const gold = truth(data.labels);
  const t0 = performance.now();
  const res = reconcile(input);
  const ms = performance.now() - t0;
  const pred = ours(res);
  const base = baseline(naiveReconcile(input));
  return { name: data.name, received: data.received.length, expected: data.expected.length, rcv: data.rcv.length, gold, pred, base, ours: score(pred, gold), baseScore: score(base, gold), erp: score(pred, gold, 'e|'), rcvS: score(pred, gold, 'c|'), notes: score(pred, gold, 'n|'), ms };
}

/** Pooled scores over several sets (links prefixed by set name). */
function pooled(rows, key, prefix = '') {
  const p = new Set();
  const g = new Set();
  for (const r of rows) {
    for (const x of r[key]) if (x.startsWith(prefix)) p.add(`${r.name}|${x}`);
    for (const x of r.gold) if (x.startsWith(prefix)) g.add(`${r.name}|${x}`);
  }
  return score(p, g);
}

const rows = files.map((file) => evaluate(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))));
const original = rows.filter((r) => !r.name.startsWith('adversarial-'));
const adversarial = rows.filter((r) => r.name.startsWith('adversarial-'));
let largest = { n: 0 };
for (const r of rows) {
  const n = r.received + r.expected + r.rcv;
  if (n > largest.n) largest = { ...r, n };
}
const quiet = process.argv.includes('--quiet');
const out = {};
if (original.length) {
  if (!quiet) {
    console.log('set                        docs   ours P     R    F1 | baseline P    R    F1 | ERP R  RCV R  notes R    ms');
    for (const r of original)
      console.log(`${r.name.padEnd(25)} ${String(r.received).padStart(5)}  ${f(r.ours.precision)}${f(r.ours.recall)}${f(r.ours.f1)} |   ${f(r.baseScore.precision)}${f(r.baseScore.recall)}${f(r.baseScore.f1)} | ${f(r.erp.recall)}${f(r.rcvS.recall)}${f(r.notes.recall)} ${r.ms.toFixed(0).padStart(5)}`);
  }
  const o = pooled(original, 'pred');
  const b = pooled(original, 'base');
  console.log(`\nreconciliation, ${original.length} sets, ${original.reduce((a, r) => a + r.received, 0)} received DTEs, ${o.gold} labelled links`);
  console.log(`  ours      precision ${o.precision.toFixed(3)}  recall ${o.recall.toFixed(3)}  F1 ${o.f1.toFixed(3)}   (ERP links P ${pooled(original, 'pred', 'e|').precision.toFixed(3)} R ${pooled(original, 'pred', 'e|').recall.toFixed(3)}; RCV R ${pooled(original, 'pred', 'c|').recall.toFixed(3)}; notes R ${pooled(original, 'pred', 'n|').recall.toFixed(3)})`);
  console.log(`  baseline  precision ${b.precision.toFixed(3)}  recall ${b.recall.toFixed(3)}  F1 ${b.f1.toFixed(3)}   (exact RUT + exact total, first come)`);
  out.ours = { precision: o.precision, recall: o.recall, f1: o.f1 };
  out.baseline = { precision: b.precision, recall: b.recall, f1: b.f1 };
}
if (adversarial.length) {
  // Written blind by another author (eval/generate-adversarial.js): the RCV links are easy, so ERP and
  // note links are shown on their own.
  console.log('\nadversarial sets (eval/generate-adversarial.js)');
  if (!quiet) console.log('family                docs   ours P     R    F1 | baseline P    R    F1 | ERP P  ERP R | notes P  R    ms');
  for (const r of quiet ? [] : adversarial)
    console.log(`${r.name.replace('adversarial-', '').padEnd(20)} ${String(r.received).padStart(5)}  ${f(r.ours.precision)}${f(r.ours.recall)}${f(r.ours.f1)} |   ${f(r.baseScore.precision)}${f(r.baseScore.recall)}${f(r.baseScore.f1)} | ${pct(r.erp.precision)}${pct(r.erp.recall)} | ${pct(r.notes.precision)}${pct(r.notes.recall)} ${r.ms.toFixed(0).padStart(5)}`);
  const o = pooled(adversarial, 'pred');
  const b = pooled(adversarial, 'base');
  const oe = pooled(adversarial, 'pred', 'e|');
  const be = pooled(adversarial, 'base', 'e|');
  console.log(`  all adversarial: ours P ${o.precision.toFixed(3)} R ${o.recall.toFixed(3)} (ERP links P ${oe.precision.toFixed(3)} R ${oe.recall.toFixed(3)}); baseline P ${b.precision.toFixed(3)} R ${b.recall.toFixed(3)} (ERP links P ${be.precision.toFixed(3)} R ${be.recall.toFixed(3)}); ${o.gold} labelled links`);
  out.adversarial = { precision: o.precision, recall: o.recall, f1: o.f1, erp: { precision: oe.precision, recall: oe.recall }, baseline: { precision: b.precision, recall: b.recall, f1: b.f1 } };
}
console.log(`  largest set ${largest.name} (${largest.received} received, ${largest.expected} ERP, ${largest.rcv} RCV) in ${largest.ms.toFixed(0)} ms`);

if (process.argv.includes('--bench')) {
  // 2,000 × 2,000 (the HTTP route's bound): the largest set's documents repeated with new ids, folios and
  // OC numbers (many suppliers, realistic spread); and the worst case, one supplier's identical documents.
  const big = JSON.parse(readFileSync(path.join(dir, `${largest.name}.json`), 'utf8'));
  const take = (xs, n, map) => Array.from({ length: n }, (_, k) => map(xs[k % xs.length], Math.floor(k / xs.length), k));
  const received = take(big.received, 2000, (r, c, k) => ({ ...r, id: `B${k}`, folio: r.folio + c * 100_000, referencias: r.referencias?.map((x) => (Number(x.tipoDocumento) === 801 ? x : { ...x, folio: String(Number(String(x.folio).replace(/\D/g, '')) + c * 100_000) })) }));
  const expected = take(big.expected, 2000, (e, c, k) => ({ ...e, id: `X${k}`, ...(e.folioFactura !== undefined ? { folioFactura: String(e.folioFactura).replace(/\d+/, (m) => String(Number(m) + c * 100_000)) } : {}) }));
  const rcv = take(big.rcv, 2000, (x, c, k) => ({ ...x, id: `Y${k}`, folio: x.folio + c * 100_000 }));
  let t0 = performance.now();
  reconcile({ received, expected, rcv });
  const spread = performance.now() - t0;
  const same = Array.from({ length: 2000 }, (_, k) => ({ id: `S${k}`, tipoDte: 33, folio: 1000 + k, rutEmisor: '76086428-5', fechaEmision: '2026-03-10', montoNeto: 100_000, iva: 19_000, montoTotal: 119_000 }));
  const sameE = Array.from({ length: 2000 }, (_, k) => ({ id: `T${k}`, kind: 'purchase_order', rutProveedor: '76.086.428-5', fecha: '2026-03-05', numero: String(4_500_000 + k), montoTotal: 119_000 }));
  t0 = performance.now();
  reconcile({ received: same, expected: sameE, rcv: [] });
  const identical = performance.now() - t0;
  console.log(`  2,000 × 2,000 × 2,000 RCV (largest set repeated): ${spread.toFixed(0)} ms; 2,000 × 2,000 identical documents of one supplier: ${identical.toFixed(0)} ms`);
  out.bench_ms = { spread: Math.round(spread), identical: Math.round(identical) };
}
const ok = rows.every((r) => r.ours.precision >= 0.95 && r.ours.recall >= 0.95);
console.log(JSON.stringify({ eval: 'reconcile', sets: rows.length, ...out, largest_ms: Math.round(largest.ms), ok }));
process.exit(ok ? 0 : 1);
