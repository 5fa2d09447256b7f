import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TimbreError } from '@timbre/dte';
import { describe, expect, it } from 'vitest';
import { evaluate, fitBest, forecastFolios, mulberry32, supply, toSeries, type EvalSeries } from '../src/index.js';
import { dayNumber, fromDayNumber } from '../src/dates.js';

function history(from: string, days: number, f: (i: number, date: string) => number): Record<string, number> {
  const start = dayNumber(from);
  const out: Record<string, number> = {};
  for (let i = 0; i < days; i++) out[fromDayNumber(start + i)] = f(i, fromDayNumber(start + i));
  return out;
}

describe('models', () => {
  it('recovers a pure weekly series', () => {
    const pattern = [0, 10, 12, 11, 13, 20, 3]; // Sun..Sat
    const h = history('2025-08-03', 210, (i) => pattern[i % 7]!); // 2025-08-03 is a Sunday
    const r = forecastFolios({ historical: h, horizonDays: 28, tipoDte: 33 });
    expect(r.daily_predictions[0]!.date).toBe('2026-03-01');
    for (const d of r.daily_predictions) {
      expect(Math.abs(d.predicted_count - pattern[new Date(d.date).getUTCDay()]!)).toBeLessThan(0.5);
    }
    expect(r.predicted_usage).toBe(4 * 69);
    expect(r.peak_day).toBe('2026-03-06');
    expect(r.model_accuracy).toBeGreaterThan(0.95);
  });

  it('80 % intervals widen with the horizon', () => {
    const r = mulberry32(7);
    const h = history('2025-01-01', 400, (i) => {
      const lambda = 30 * (new Date(Date.UTC(2025, 0, 1 + i)).getUTCDay() % 6 === 0 ? 0.2 : 1);
      let k = 0;
      for (let p = r(); p > Math.exp(-lambda); p *= r()) k++;
      return k;
    });
    const s = toSeries(h);
    const fit = fitBest(s, 120);
    const res = forecastFolios({ historical: h, horizonDays: 120, tipoDte: 33 });
    // the upper half-width in units of √(ŷ+1) (the lower bound is clipped at 0)
    const width = res.daily_predictions.map((d) => (d.confidence_high - d.predicted_count) / Math.sqrt(d.predicted_count + 1));
    for (let i = 1; i < width.length; i++) expect(width[i]!).toBeGreaterThanOrEqual(width[i - 1]! - 0.05);
    expect(width[119]!).toBeGreaterThan(width[0]! * 1.5);
    expect(fit.qhi[fit.H - 1]!).toBeGreaterThanOrEqual(fit.qhi[0]!);
    for (const d of res.daily_predictions) {
      expect(d.confidence_low).toBeLessThanOrEqual(d.predicted_count);
      expect(d.confidence_high).toBeGreaterThanOrEqual(d.predicted_count);
    }
  });
});

describe('supply: runs_out_on, CAF expiry, recommendation', () => {
  const today = dayNumber('2026-01-01');
  const flat = (p: number, hi: number) => () => ({ p, hi });
  it('runs out when the folios are used up', () => {
    const s = supply([{ desde: 1, hasta: 100, fechaAutorizacion: '2025-12-01' }], '33', today, flat(10, 12));
    expect(s.remaining_folios).toBe(100);
    expect(s.runs_out_on).toBe('2026-01-11'); // 10 days × 10 = 100, short on day 11
    expect(s.runs_out_on_p80).toBe('2026-01-09'); // 8 × 12 = 96, 4 left for 12 on day 9
    expect(s.expires_on).toBe('2026-06-01');
    expect(s.reason).toBe('exhausted');
    expect(s.recommendation).toEqual({ request_by: '2026-01-04', folios: 360 });
  });
  it('next, several ranges, expired ranges ignored', () => {
    const s = supply([
      { desde: 1, hasta: 100, next: 51, fechaAutorizacion: '2025-12-01' },
      { desde: 101, hasta: 130, fechaAutorizacion: '2025-11-01' },
      { desde: 500, hasta: 900, fechaAutorizacion: '2025-06-01' }, // expired 2025-12-01
    ], '33', today, flat(10, 10));
    expect(s.remaining_folios).toBe(80);
    expect(s.runs_out_on).toBe('2026-01-09');
  });
  it('the 6-month expiry comes first for types 33/43/46/56/61 only', () => {
    const ranges = [{ desde: 1, hasta: 10_000, fechaAutorizacion: '2025-08-15' }];
    const s33 = supply(ranges, '33', today, flat(10, 12));
    expect(s33.expires_on).toBe('2026-02-15');
    expect(s33.runs_out_on).toBe('2026-02-15');
    expect(s33.reason).toBe('expired');
    const s39 = supply(ranges, '39', today, flat(10, 12));
    expect(s39.expires_on).toBeNull();
    expect(s39.runs_out_on).toBeNull(); // 1000 days of folios, beyond the 400-day simulation
    expect(s39.recommendation).toBeNull();
  });
  it('never recommends more than 6 months of expected use for expiring types', () => {
    const s = supply([], '33', today, flat(10, 100));
    expect(s.runs_out_on).toBe('2026-01-01');
    expect(s.recommendation).toEqual({ request_by: '2026-01-01', folios: 1820 });
  });
  it('forecastFolios wires the supply', () => {
    const h = history('2025-06-01', 200, () => 5);
    const r = forecastFolios({ historical: h, horizonDays: 30, tipoDte: '33', today: '2026-01-01', remaining: [{ desde: 1, hasta: 50, fechaAutorizacion: '2025-12-20' }] });
    expect(r.daily_predictions[0]!.date).toBe('2026-01-01');
    expect(r.supply?.remaining_folios).toBe(50);
    expect(r.supply?.runs_out_on).not.toBeNull();
  });
});

describe('bad input', () => {
  const ok = history('2025-01-01', 60, () => 3);
  const field = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(TimbreError);
      expect((e as TimbreError).code).toBe('ERR_INPUT_INVALID');
      return (e as TimbreError).field;
    }
    throw new Error('did not throw');
  };
  it('rejects with a field', () => {
    expect(field(() => forecastFolios({ historical: { ...ok, 'not-a-date': 1 }, horizonDays: 7, tipoDte: 33 }))).toBe('historical_data.not-a-date');
    expect(field(() => forecastFolios({ historical: { ...ok, '2025-02-30': 1 }, horizonDays: 7, tipoDte: 33 }))).toBe('historical_data.2025-02-30');
    expect(field(() => forecastFolios({ historical: { ...ok, '2025-01-05': -1 }, horizonDays: 7, tipoDte: 33 }))).toBe('historical_data.2025-01-05');
    expect(field(() => forecastFolios({ historical: ok, horizonDays: 0, tipoDte: 33 }))).toBe('horizon_days');
    expect(field(() => forecastFolios({ historical: ok, horizonDays: 366, tipoDte: 33 }))).toBe('horizon_days');
    expect(field(() => forecastFolios({ historical: { '2025-01-01': 1 }, horizonDays: 7, tipoDte: 33 }))).toBe('historical_data');
    expect(field(() => forecastFolios({ historical: ok, horizonDays: 7, tipoDte: 33, remaining: [{ desde: 10, hasta: 5, fechaAutorizacion: '2025-01-01' }] }))).toBe('remaining[0].desde');
  });
});

describe('evaluation (subset of eval/data)', () => {
  it('beats seasonal-naive and the forest; 80 % intervals cover 75–85 %', () => {
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'eval', 'data');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().slice(0, 16);
    const list = files.map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as EvalSeries);
    const rep = evaluate(list, 28);
    expect(rep.series).toBe(16);
    expect(rep.mase.ours).toBeLessThan(rep.mase.seasonalNaive);
    expect(rep.mase.ours).toBeLessThan(rep.mase.forest);
    expect(rep.coverage80).toBeGreaterThanOrEqual(0.75);
    expect(rep.coverage80).toBeLessThanOrEqual(0.85);
  });
});
