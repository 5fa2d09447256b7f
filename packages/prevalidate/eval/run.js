#!/usr/bin/env node
/**
 * Pre-validation evaluation (`npm run eval -- ai` once wired; after `npx tsc -b packages/prevalidate`):
 * runs prevalidate() on eval/data/clean.json and eval/data/corrupted.json (see generate.js) and
 * prints, per injected violation kind, the recall of ours (the expected code among the error/warning
 * issues) and of two naive baselines (any failure counts): schema = parseDteInput only, engine =
 * parseDteInput + inputToDte (stated totals, per-type rules, no context). Then the false-positive
 * rate on clean documents (any error issue) and, last, a JSON line with ok = recall ≥ 0.98 and
 * FP ≤ 0.01. Options: --limit N (first N records of each set), --quiet (no per-kind rows),
 * --verbose (list misses and false positives).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluatePrevalidation } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--limit');
const limit = i > 0 ? Number(process.argv[i + 1]) : Infinity;
const load = (name) => JSON.parse(readFileSync(path.join(here, 'data', `${name}.json`), 'utf8')).slice(0, limit);
const records = [...load('clean'), ...load('corrupted')];
const rep = evaluatePrevalidation(records);
const pct = (x) => `${(x * 100).toFixed(1)} %`.padStart(8);
if (!process.argv.includes('--quiet')) {
  console.log('violation kind         expected code             n     ours   schema   engine');
  for (const k of rep.kinds) console.log(`${k.kind.padEnd(22)} ${k.expected.padEnd(22)} ${String(k.n).padStart(4)} ${pct(k.recall)} ${pct(k.schema)} ${pct(k.engine)}`);
}
if (process.argv.includes('--verbose')) {
  for (const m of rep.misses) console.log(`miss  ${m}`);
  for (const f of rep.falsePositives) console.log(`FP    ${f}`);
}
console.log(`\nprevalidation, ${rep.corrupted} corrupted documents (${rep.kinds.length} kinds) + ${rep.clean} clean (${rep.ms} ms)`);
console.log(`  recall of injected violations   ours ${pct(rep.recall)}   schema-only ${pct(rep.baseline.schema.recall)}   engine-only ${pct(rep.baseline.engine.recall)}   (target ≥ 98 %)`);
console.log(`  false positives on clean docs   ours ${pct(rep.falsePositiveRate)}   schema-only ${pct(rep.baseline.schema.falsePositiveRate)}   engine-only ${pct(rep.baseline.engine.falsePositiveRate)}   (target ≤ 1 %)`);
const ok = rep.recall >= 0.98 && rep.falsePositiveRate <= 0.01;
const r3 = (x) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({
  eval: 'prevalidate',
  corrupted: rep.corrupted,
  clean: rep.clean,
  kinds: rep.kinds.length,
  recall: r3(rep.recall),
  false_positive_rate: r3(rep.falsePositiveRate),
  baseline: { schema: { recall: r3(rep.baseline.schema.recall), false_positive_rate: r3(rep.baseline.schema.falsePositiveRate) }, engine: { recall: r3(rep.baseline.engine.recall), false_positive_rate: r3(rep.baseline.engine.falsePositiveRate) } },
  per_kind: Object.fromEntries(rep.kinds.map((k) => [k.kind, r3(k.recall)])),
  ok,
}));
