/** Hold-out evaluation (pure): last `holdout` days of each series vs models fitted on the rest. */
import { dayNumber } from './dates.js';
import { fitBest, maseScale, predictDay } from './forecast.js';
import { randomForest, seasonalNaive } from './models.js';

export interface EvalSeries { id: string; start: string; counts: number[] }
export interface EvalRow { id: string; chosen: string; mase: { ours: number; seasonalNaive: number; forest: number }; coverage: number }
export interface EvalReport {
  series: number;
  holdout: number;
  mase: { ours: number; seasonalNaive: number; forest: number };
  coverage80: number;
  wins: { vsSeasonalNaive: number; vsForest: number };
  chosen: Record<string, number>;
  rows: EvalRow[];
}

export function evaluate(list: EvalSeries[], holdout = 28): EvalReport {
  const rows: EvalRow[] = [];
  const forest = randomForest();
  for (const s of list) {
    const start = dayNumber(s.start);
    const train = s.counts.slice(0, -holdout);
    const test = s.counts.slice(-holdout);
    const scale = maseScale(train);
    const fit = fitBest({ start, y: train }, holdout);
    const sn = seasonalNaive.fit(train, start);
    const rf = forest.fit(train, start);
    let eo = 0, es = 0, ef = 0, cov = 0;
    test.forEach((a, i) => {
      const q = predictDay(fit, i + 1);
      eo += Math.abs(a - q.p);
      es += Math.abs(a - sn(i + 1));
      ef += Math.abs(a - rf(i + 1));
      if (a >= q.lo - 1e-9 && a <= q.hi + 1e-9) cov++;
    });
    const k = holdout * scale;
    rows.push({ id: s.id, chosen: fit.model.name, mase: { ours: eo / k, seasonalNaive: es / k, forest: ef / k }, coverage: cov / holdout });
  }
  const mean = (f: (r: EvalRow) => number) => rows.reduce((a, r) => a + f(r), 0) / Math.max(1, rows.length);
  const chosen: Record<string, number> = {};
  for (const r of rows) chosen[r.chosen] = (chosen[r.chosen] ?? 0) + 1;
  return {
    series: rows.length,
    holdout,
    mase: { ours: mean((r) => r.mase.ours), seasonalNaive: mean((r) => r.mase.seasonalNaive), forest: mean((r) => r.mase.forest) },
    coverage80: mean((r) => r.coverage),
    wins: { vsSeasonalNaive: rows.filter((r) => r.mase.ours < r.mase.seasonalNaive).length, vsForest: rows.filter((r) => r.mase.ours < r.mase.forest).length },
    chosen,
    rows,
  };
}
