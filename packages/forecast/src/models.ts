/**
 * The forecasting models. A model is fitted on a contiguous daily series (`y[i]` is the count of
 * day number `start + i`) and returns a function giving the point forecast for horizon step h ≥ 1.
 */
import { daysInMonth, parts } from './dates.js';
import { isHolidayDay } from './holidays.js';

export type Forecaster = (h: number) => number;
export interface Model {
  name: string;
  fit(y: readonly number[], start: number): Forecaster;
}

function isBusinessDay(n: number): boolean {
  const dow = parts(n).dow;
  return dow !== 0 && dow !== 6 && !isHolidayDay(n);
}

const monthEndCache = new Map<number, boolean>();
/** True on the last 3 business days of the month (when invoicing peaks). */
export function isMonthEnd(n: number): boolean {
  const c = monthEndCache.get(n);
  if (c !== undefined) return c;
  let r = false;
  if (isBusinessDay(n)) {
    const p = parts(n);
    let after = 0;
    for (let k = n + 1, d = p.day + 1; d <= daysInMonth(p.year, p.month); k++, d++) if (isBusinessDay(k)) after++;
    r = after < 3;
  }
  monthEndCache.set(n, r);
  return r;
}

/** Seasonal naive, period 7: ŷ(T+h) = y(T+h−7k). */
export const seasonalNaive: Model = {
  name: 'seasonal-naive',
  fit(y) {
    const n = y.length;
    return (h) => y[n - 7 + ((h - 1) % 7)] ?? 0;
  },
};

export interface CalendarOptions {
  /** Level smoothing (Holt). */
  alpha: number;
  /** Trend smoothing; 0 disables the trend. */
  beta: number;
  /** Trend damping. */
  phi: number;
  /** Days of history used. */
  window: number;
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Calendar model ("ETS-like"): y = level(t) × dow[dow] × monthEnd^[last 3 business days] ×
 * holiday^[holiday]. Factors are ratio-to-moving-average estimates (centred 7-day mean) with
 * shrinkage towards 1; the level/trend is a damped Holt filter run on the calendar-adjusted
 * series, skipping holidays and with each observation winsorised against the running level.
 */
export function calendarModel(name: string, o: CalendarOptions): Model {
  return {
    name,
    fit(yAll, startAll) {
      const off = Math.max(0, yAll.length - o.window);
      const y = yAll.slice(off);
      const start = startAll + off;
      const n = y.length;
      const hol = y.map((_, i) => isHolidayDay(start + i));
      const me = y.map((_, i) => isMonthEnd(start + i));
      const dowOf = (i: number) => parts(start + i).dow;
      // centred moving average over non-holiday days
      const ma: number[] = new Array<number>(n).fill(NaN);
      for (let i = 3; i < n - 3; i++) {
        let s = 0;
        let c = 0;
        for (let k = i - 3; k <= i + 3; k++) if (!hol[k]) { s += y[k]!; c++; }
        if (c >= 5) ma[i] = s / c;
      }
      const ratio = (i: number) => (ma[i]! > 0 ? y[i]! / ma[i]! : NaN);
      const dowF = new Array<number>(7).fill(1);
      for (let d = 0; d < 7; d++) {
        const num: number[] = [];
        for (let i = 0; i < n; i++) if (dowOf(i) === d && !hol[i] && !me[i] && Number.isFinite(ratio(i))) num.push(ratio(i));
        const mean = num.length ? num.reduce((a, b) => a + b, 0) / num.length : 1;
        const w = num.length / (num.length + 2);
        dowF[d] = w * mean + (1 - w);
      }
      const avg = dowF.reduce((a, b) => a + b, 0) / 7;
      for (let d = 0; d < 7; d++) dowF[d] = dowF[d]! / (avg || 1);
      const effect = (flag: boolean[], prior: number, k: number) => {
        const r: number[] = [];
        for (let i = 0; i < n; i++) if (flag[i] && Number.isFinite(ratio(i)) && dowF[dowOf(i)]! > 0) r.push(ratio(i) / dowF[dowOf(i)]!);
        if (r.length === 0) return prior;
        const m = r.reduce((a, b) => a + b, 0) / r.length;
        return (r.length * m + k * prior) / (r.length + k);
      };
      const meF = effect(me.map((v, i) => v && !hol[i]), 1, 3);
      const holF = effect(hol, 0.15, 2);
      const season = (day: number) =>
        (isHolidayDay(day) ? holF : dowF[parts(day).dow]!) * (isMonthEnd(day) ? meF : 1);
      // damped Holt on the adjusted series
      const adj: number[] = [];
      for (let i = 0; i < n; i++) if (!hol[i]) {
        const s = season(start + i);
        if (s > 0.05) adj.push(y[i]! / s);
      }
      const init = adj.slice(0, 28);
      let level = median(init.length ? init : [0]) || 0;
      let trend = 0;
      const resid: number[] = [];
      for (const x of adj) {
        const pred = level + o.phi * trend;
        // winsorise: clip the observation at pred ± 4·MAD of recent residuals
        const mad = resid.length > 10 ? median(resid.slice(-56).map(Math.abs)) : Infinity;
        const e0 = x - pred;
        const e = Math.max(-4 * mad - 1, Math.min(4 * mad + 1, e0));
        resid.push(e0);
        const newLevel = pred + o.alpha * e;
        trend = o.beta > 0 ? o.phi * trend + o.beta * (newLevel - level - o.phi * trend) : 0;
        level = newLevel;
      }
      const lastDay = start + n - 1;
      return (h) => {
        let damp = 0;
        let p = 1;
        for (let k = 1; k <= h; k++) { p *= o.phi; damp += p; }
        const lv = Math.max(0, level + damp * trend);
        return lv * season(lastDay + h);
      };
    },
  };
}

/** Small deterministic PRNG (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The original design's features: [dow, day of month, month, is_holiday, is_month_end]. */
export function calendarFeatures(n: number): number[] {
  const p = parts(n);
  return [p.dow, p.day, p.month, isHolidayDay(n) ? 1 : 0, isMonthEnd(n) ? 1 : 0];
}

interface Node { f: number; t: number; l: Node | number; r: Node | number }

function buildTree(X: number[][], y: number[], idx: number[], depth: number, minLeaf: number, mtry: number, rnd: () => number): Node | number {
  const mean = idx.reduce((s, i) => s + y[i]!, 0) / idx.length;
  if (depth === 0 || idx.length < 2 * minLeaf) return mean;
  const nf = X[0]!.length;
  const feats = Array.from({ length: nf }, (_, i) => i);
  for (let i = nf - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [feats[i], feats[j]] = [feats[j]!, feats[i]!]; }
  let best: { f: number; t: number; sse: number } | null = null;
  const total = idx.reduce((s, i) => s + y[i]!, 0);
  for (const f of feats.slice(0, mtry)) {
    // features are small integers: aggregate by value, scan thresholds
    const sum = new Map<number, number>();
    const cnt = new Map<number, number>();
    for (const i of idx) { const v = X[i]![f]!; sum.set(v, (sum.get(v) ?? 0) + y[i]!); cnt.set(v, (cnt.get(v) ?? 0) + 1); }
    const vals = [...sum.keys()].sort((a, b) => a - b);
    let ls = 0;
    let lc = 0;
    for (let k = 0; k < vals.length - 1; k++) {
      ls += sum.get(vals[k]!)!; lc += cnt.get(vals[k]!)!;
      const rc = idx.length - lc;
      if (lc < minLeaf || rc < minLeaf) continue;
      const rs = total - ls;
      const score = -(ls * ls / lc + rs * rs / rc); // SSE up to a constant
      if (!best || score < best.sse) best = { f, t: (vals[k]! + vals[k + 1]!) / 2, sse: score };
    }
  }
  if (!best) return mean;
  const li = idx.filter((i) => X[i]![best.f]! <= best.t);
  const ri = idx.filter((i) => X[i]![best.f]! > best.t);
  return { f: best.f, t: best.t, l: buildTree(X, y, li, depth - 1, minLeaf, mtry, rnd), r: buildTree(X, y, ri, depth - 1, minLeaf, mtry, rnd) };
}

function predictTree(node: Node | number, x: number[]): number {
  let cur = node;
  while (typeof cur !== 'number') cur = x[cur.f]! <= cur.t ? cur.l : cur.r;
  return cur;
}

/** Calendar-feature random forest (bootstrap CART, mtry 3, depth 8, min leaf 3), seeded. */
export function randomForest(trees = 40, seed = 42): Model {
  return {
    name: 'random-forest',
    fit(y, start) {
      const X = y.map((_, i) => calendarFeatures(start + i));
      const rnd = mulberry32(seed);
      const forest: Array<Node | number> = [];
      for (let t = 0; t < trees; t++) {
        const idx = y.map(() => Math.floor(rnd() * y.length));
        forest.push(buildTree(X, y as number[], idx, 8, 3, 3, rnd));
      }
      const last = start + y.length - 1;
      return (h) => {
        const x = calendarFeatures(last + h);
        let s = 0;
        for (const tr of forest) s += predictTree(tr, x);
        return s / forest.length;
      };
    },
  };
}

export const CANDIDATES: Model[] = [
  seasonalNaive,
  calendarModel('calendar-damped-trend', { alpha: 0.08, beta: 0.01, phi: 0.97, window: 365 }),
  calendarModel('calendar-adaptive', { alpha: 0.2, beta: 0, phi: 1, window: 182 }),
  calendarModel('calendar-smooth', { alpha: 0.04, beta: 0, phi: 1, window: 365 }),
];
