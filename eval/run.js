#!/usr/bin/env node
// `npm run eval -- <name>`: run an evaluation (after `npm run build`). Extra arguments are passed on.
// Each evaluation runs in its own process; the exit code is non-zero when any misses its targets.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const EVALS = {
  // AI service: pre-validation, reconciliation, folio usage forecasting (each package's labelled set)
  // the chat's retrieval over the SII knowledge base (packages/knowledge), the SII monitor's classifier
  ai: ['packages/prevalidate/eval/run.js', 'packages/reconcile/eval/run.js', 'packages/forecast/eval/run.js', 'packages/knowledge/eval/run.js', 'packages/sii-monitor/eval/run.js'],
  prevalidate: ['packages/prevalidate/eval/run.js'],
  reconcile: ['packages/reconcile/eval/run.js'],
  forecast: ['packages/forecast/eval/run.js'],
  knowledge: ['packages/knowledge/eval/run.js'],
  'sii-monitor': ['packages/sii-monitor/eval/run.js'],
};
const [name, ...rest] = process.argv.slice(2);
const files = name === undefined ? undefined : EVALS[name];
if (files === undefined) {
  console.error(`usage: npm run eval -- <${Object.keys(EVALS).join('|')}> [options]`);
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  const r = spawnSync(process.execPath, [path.join(root, file), ...rest], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
