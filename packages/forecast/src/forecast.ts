import { TimbreError, addCalendarMonths } from '@timbre/dte';
import { dayNumber, fromDayNumber } from './dates.js';
import { CANDIDATES, randomForest, type Forecaster, type Model } from './models.js';

export interface CafRemaining {
  desde: number;
  hasta: number;
  /** Next folio to use (defaults to `desde`). */
  next?: number;
  /** `YYYY-MM-DD`. */
  fechaAutorizacion: string;
}

export interface ForecastInput {
  historical: Record<string, number>;
  horizonDays: number;
  remaining?: CafRemaining[];
  tipoDte: number | string;
  /** `YYYY-MM-DD`; defaults to the day after the last historical date. */
  today?: string;
}

export interface DailyPrediction {
  date: string;
  predicted_count: number;
  confidence_low: number;
  confidence_high: number;
}

export interface ForecastResult {
  model: string;
  predicted_usage: number;
  daily_predictions: DailyPrediction[];
  avg_daily: number;
  peak_day: string;
  /** max(0, 1 − WAPE) of the chosen model on the rolling-origin backtest (WAPE = Σ|e| / Σy). */
  model_accuracy: number;
  backtest: { origins: number; horizon: number; mase: number; wape: number; candidates: Array<{ model: string; mase: number }> };
  supply?: SupplyResult;
}

export interface SupplyResult {
  remaining_folios: number;
  /** First date the expected cumulative usage exceeds the usable folios (null: not within 400 days). */
  runs_out_on: string | null;
  /** Same with the 80 % upper bound (the early date). */
  runs_out_on_p80: string | null;
  /** First date a CAF with unused folios expires (types 33/43/46/56/61: fechaAutorizacion + 6 months). */
  expires_on: string | null;
  /** Why the folios run out: used up, or the CAFs expire first. */
  reason: 'exhausted' | 'expired' | null;
  recommendation: { request_by: string; folios: number } | null;
}

const EXPIRING = new Set(['33', '43', '46', '56', '61']);
const LEAD_DAYS = 5;
const COVER_DAYS = 30;
const SIM_DAYS = 400;

function bad(field: string, message: string, actual?: unknown): never {
  throw new TimbreError('ERR_INPUT_INVALID', message, { field, actual });
}

export interface Series { start: number; y: number[] }

/** Validates and densifies the history (missing days between the first and last date are 0). */
export function toSeries(historical: Record<string, number>): Series {
  if (historical === null || typeof historical !== 'object') bad('historical_data', 'historical_data must be an object');
  const entries: Array<[number, number]> = [];
  for (const [k, v] of Object.entries(historical)) {
    const n = dayNumber(k);
    if (!Number.isFinite(n)) bad(`historical_data.${k}`, `"${k}" is not a YYYY-MM-DD date`, k);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`historical_data.${k}`, `count must be a non-negative number`, v);
    entries.push([n, v]);
  }
  if (entries.length < 14) bad('historical_data', 'at least 14 days of history are needed', entries.length);
  entries.sort((a, b) => a[0] - b[0]);
  const start = entries[0]![0];
  const y = new Array<number>(entries[entries.length - 1]![0] - start + 1).fill(0);
  for (const [n, v] of entries) y[n - start] = v;
  return { start, y };
}

/** Mean absolute lag-7 difference (MASE scale), never 0. */
export function maseScale(y: readonly number[]): number {
  let s = 0;
  let c = 0;
  for (let i = 7; i < y.length; i++) { s += Math.abs(y[i]! - y[i - 7]!); c++; }
  const v = c ? s / c : 0;
  if (v > 0) return v;
  const mean = y.reduce((a, b) => a + b, 0) / Math.max(1, y.length);
  return Math.max(mean * 0.1, 0.1);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

interface Backtest { mase: number; wape: number; scaled: number[][] }

/** Rolling origin: origins every 7 days, the last one `H` days before the end. */
function backtest(model: Model, s: Series, H: number, origins: number): Backtest {
  const n = s.y.length;
  const scaled: number[][] = Array.from({ length: H }, () => []);
  let ae = 0;
  let ay = 0;
  let mase = 0;
  let used = 0;
  for (let o = 0; o < origins; o++) {
    const cut = n - H - 7 * o;
    if (cut < 56) break;
    const train = s.y.slice(0, cut);
    const f = model.fit(train, s.start);
    const scale = maseScale(train);
    let e = 0;
    for (let h = 1; h <= H; h++) {
      const p = Math.max(0, f(h));
      const a = s.y[cut + h - 1]!;
      e += Math.abs(a - p);
      ay += a;
      scaled[h - 1]!.push((a - p) / Math.sqrt(p + 1));
    }
    ae += e;
    mase += e / H / scale;
    used++;
  }
  return { mase: used ? mase / used : Infinity, wape: ay > 0 ? ae / ay : ae > 0 ? 1 : 0, scaled };
}

export interface FitResult {
  model: Model;
  forecaster: Forecaster;
  /** 10 % / 90 % quantiles of residual/√(ŷ+1) for each horizon step 1..H (then √h growth). */
  qlo: number[];
  qhi: number[];
  bt: Backtest;
  candidates: Array<{ model: string; mase: number }>;
  origins: number;
  H: number;
}

export interface FitOptions { models?: Model[]; origins?: number; maxBacktestHorizon?: number }

export function fitBest(s: Series, horizon: number, opts: FitOptions = {}): FitResult {
  const models = opts.models ?? [...CANDIDATES, randomForest()];
  const H = Math.max(1, Math.min(horizon, opts.maxBacktestHorizon ?? 28, Math.floor((s.y.length - 56) / 2)));
  const origins = opts.origins ?? 12;
  let best: { m: Model; bt: Backtest } | null = null;
  const candidates: Array<{ model: string; mase: number }> = [];
  for (const m of models) {
    const bt = backtest(m, s, H, origins);
    candidates.push({ model: m.name, mase: bt.mase });
    if (!best || bt.mase < best.bt.mase) best = { m, bt };
  }
  const { m, bt } = best!;
  // pooled quantiles over a ±7 step window, made monotone in |q| so intervals never shrink with h
  const qlo: number[] = [];
  const qhi: number[] = [];
  for (let h = 0; h < H; h++) {
    const pool: number[] = [];
    for (let k = Math.max(0, h - 7); k <= Math.min(H - 1, h + 7); k++) pool.push(...bt.scaled[k]!);
    pool.sort((a, b) => a - b);
    qlo.push(Math.min(0, quantile(pool, 0.1), h ? qlo[h - 1]! : 0));
    qhi.push(Math.max(0, quantile(pool, 0.9), h ? qhi[h - 1]! : 0));
  }
  return { model: m, forecaster: m.fit(s.y, s.start), qlo, qhi, bt, candidates, origins: bt.scaled[0]!.length, H };
}

export function predictDay(fit: FitResult, h: number): { p: number; lo: number; hi: number } {
  const p = Math.max(0, fit.forecaster(h));
  const k = Math.min(h, fit.H) - 1;
  const grow = h > fit.H ? Math.sqrt(h / fit.H) : 1;
  const sd = Math.sqrt(p + 1);
  return { p, lo: Math.max(0, p + fit.qlo[k]! * grow * sd), hi: Math.max(p, p + fit.qhi[k]! * grow * sd) };
}

const r2 = (x: number) => Math.round(x * 100) / 100;

export function forecastFolios(input: ForecastInput): ForecastResult {
  const { horizonDays } = input;
  if (!Number.isInteger(horizonDays) || horizonDays < 1 || horizonDays > 365) bad('horizon_days', 'horizon_days must be an integer in 1..365', horizonDays);
  const s = toSeries(input.historical);
  const lastDay = s.start + s.y.length - 1;
  let today = lastDay + 1;
  if (input.today !== undefined) {
    today = dayNumber(input.today);
    if (!Number.isFinite(today)) bad('today', `"${input.today}" is not a YYYY-MM-DD date`, input.today);
    if (today <= lastDay) bad('today', 'today must be after the last historical date', input.today);
  }
  const fit = fitBest(s, horizonDays);
  const gap = today - lastDay - 1; // days between the history and today (forecast, not reported)
  const daily: DailyPrediction[] = [];
  for (let d = 0; d < horizonDays; d++) {
    const q = predictDay(fit, gap + d + 1);
    daily.push({ date: fromDayNumber(today + d), predicted_count: r2(q.p), confidence_low: r2(q.lo), confidence_high: r2(q.hi) });
  }
  const total = daily.reduce((a, b) => a + b.predicted_count, 0);
  let peak = daily[0]!;
  for (const d of daily) if (d.predicted_count > peak.predicted_count) peak = d;
  const result: ForecastResult = {
    model: fit.model.name,
    predicted_usage: Math.round(total),
    daily_predictions: daily,
    avg_daily: r2(total / horizonDays),
    peak_day: peak.date,
    model_accuracy: r2(Math.max(0, 1 - fit.bt.wape)),
    backtest: { origins: fit.origins, horizon: fit.H, mase: r2(fit.bt.mase), wape: r2(fit.bt.wape), candidates: fit.candidates.map((c) => ({ model: c.model, mase: r2(c.mase) })) },
  };
  if (input.remaining !== undefined) result.supply = supply(input.remaining, String(input.tipoDte), today, (d) => predictDay(fit, gap + d + 1));
  return result;
}

interface Range { left: number; expires: number }

/**
 * Folio supply simulation: day by day from `today`, demand is served from the CAF that expires
 * first; on its expiry day a CAF's unused folios are lost. Runs out on the first day the day's
 * demand cannot be served in full.
 */
export function supply(ranges: CafRemaining[], tipo: string, today: number, day: (d: number) => { p: number; hi: number }): SupplyResult {
  if (!Array.isArray(ranges)) bad('remaining', 'remaining must be an array');
  const expiring = EXPIRING.has(tipo);
  const parsed: Range[] = ranges.map((r, i) => {
    const f = `remaining[${i}]`;
    if (!Number.isInteger(r.desde) || !Number.isInteger(r.hasta) || r.desde < 1 || r.hasta < r.desde) bad(`${f}.desde`, 'desde/hasta must be integers with 1 ≤ desde ≤ hasta', r);
    const next = r.next ?? r.desde;
    if (!Number.isInteger(next) || next < r.desde || next > r.hasta + 1) bad(`${f}.next`, 'next must be within desde..hasta+1', r.next);
    const fa = dayNumber(r.fechaAutorizacion);
    if (!Number.isFinite(fa)) bad(`${f}.fechaAutorizacion`, 'not a YYYY-MM-DD date', r.fechaAutorizacion);
    const expires = expiring ? dayNumber(addCalendarMonths(r.fechaAutorizacion, 6)) : Infinity;
    return { left: r.hasta - next + 1, expires };
  });
  const usable = parsed.filter((r) => r.expires > today && r.left > 0).sort((a, b) => a.expires - b.expires);
  const remaining = usable.reduce((a, r) => a + r.left, 0);
  const run = (pick: (d: number) => number) => {
    const rs = usable.map((r) => ({ ...r }));
    let lost = false;
    for (let d = 0; d < SIM_DAYS; d++) {
      const date = today + d;
      for (const r of rs) if (r.expires <= date && r.left > 0) { lost = true; r.left = 0; }
      let need = pick(d);
      for (const r of rs) { const take = Math.min(r.left, need); r.left -= take; need -= take; }
      if (need > 1e-9) return { on: date as number | null, reason: (lost ? 'expired' : 'exhausted') as SupplyResult['reason'] };
    }
    return { on: null as number | null, reason: null as SupplyResult['reason'] };
  };
  const exp = run((d) => day(d).p);
  const early = run((d) => day(d).hi);
  const firstExpiry = usable.length && Number.isFinite(usable[0]!.expires) ? usable[0]!.expires : null;
  let recommendation: SupplyResult['recommendation'] = null;
  const outDay = early.on ?? exp.on;
  if (outDay !== null) {
    const by = Math.max(today, outDay - LEAD_DAYS);
    let cover = 0;
    for (let d = by - today; d < by - today + COVER_DAYS; d++) cover += day(d).hi;
    let sixMonths = 0;
    for (let d = by - today; d < by - today + 182; d++) sixMonths += day(d).p;
    const folios = Math.max(1, Math.ceil(expiring ? Math.min(cover, sixMonths) : cover));
    recommendation = { request_by: fromDayNumber(by), folios };
  }
  return {
    remaining_folios: remaining,
    runs_out_on: exp.on === null ? null : fromDayNumber(exp.on),
    runs_out_on_p80: early.on === null ? null : fromDayNumber(early.on),
    expires_on: firstExpiry === null ? null : fromDayNumber(firstExpiry),
    reason: exp.reason ?? early.reason,
    recommendation,
  };
}
