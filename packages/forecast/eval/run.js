#!/usr/bin/env node
/**
 * Folio-forecast evaluation (`npm run eval -- ai`, after `npm run build`): for every series in
 * eval/data the last 28 days are held out; the backtest-chosen model, the weekly seasonal-naive
 * and the calendar-feature random forest are fitted on the rest. Prints a table and, last, a JSON
 * line. Options: --limit N (first N series), --quiet (no per-series rows).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, 'data');
const i = process.argv.indexOf('--limit');
const limit = i > 0 ? Number(process.argv[i + 1]) : Infinity;
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().slice(0, limit);
const list = files.map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
const t0 = Date.now();
const rep = evaluate(list, 28);
const f = (x) => x.toFixed(3).padStart(8);
if (!process.argv.includes('--quiet')) {
  console.log('series      chosen                   ours   s-naive    forest  cover80');
  for (const r of rep.rows) console.log(`${r.id.padEnd(11)} ${r.chosen.padEnd(22)} ${f(r.mase.ours)}  ${f(r.mase.seasonalNaive)}  ${f(r.mase.forest)}  ${f(r.coverage)}`);
}
console.log(`\nfolio forecast, ${rep.series} series, last ${rep.holdout} days held out (${Date.now() - t0} ms)`);
console.log(`  mean MASE   ours ${rep.mase.ours.toFixed(3)}   seasonal-naive ${rep.mase.seasonalNaive.toFixed(3)}   random forest ${rep.mase.forest.toFixed(3)}`);
console.log(`  ours better on ${rep.wins.vsSeasonalNaive}/${rep.series} vs seasonal-naive, ${rep.wins.vsForest}/${rep.series} vs forest; chosen: ${JSON.stringify(rep.chosen)}`);
console.log(`  80 % interval coverage ${(rep.coverage80 * 100).toFixed(1)} % (target 75–85 %)`);
const ok = rep.mase.ours < rep.mase.seasonalNaive && rep.mase.ours < rep.mase.forest && rep.coverage80 >= 0.75 && rep.coverage80 <= 0.85;
console.log(JSON.stringify({ eval: 'forecast', series: rep.series, holdout: rep.holdout, mase: rep.mase, coverage80: rep.coverage80, wins: rep.wins, chosen: rep.chosen, ok }));
