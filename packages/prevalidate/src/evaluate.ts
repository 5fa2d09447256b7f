/**
 * Evaluation of the pre-validation on labelled sets (eval/data): recall of injected violations
 * (the injected kind's expected code among the error/warning issues) per kind and overall, and the
 * false-positive rate on clean documents (any error issue). Two naive baselines beside it, scored
 * generously (any failure counts as a detection, whatever the code): `schema` (parseDteInput only)
 * and `engine` (parseDteInput + inputToDte: stated totals and per-type rules, no context).
 */
import { inputToDte, parseDteInput } from '@timbre/dte';
import { prevalidate, type PrevalidateContext } from './prevalidate.js';

export interface EvalRecord {
  id: string;
  /** `clean` or the injected violation kind. */
  kind: string;
  /** The issue code the injected violation must produce; null for clean documents. */
  expected: string | null;
  dte_data: unknown;
  ctx: PrevalidateContext;
}

export interface KindRow {
  kind: string;
  expected: string;
  n: number;
  recall: number;
  schema: number;
  engine: number;
}

export interface EvalReport {
  corrupted: number;
  clean: number;
  recall: number;
  falsePositiveRate: number;
  falsePositives: string[];
  misses: string[];
  baseline: { schema: { recall: number; falsePositiveRate: number }; engine: { recall: number; falsePositiveRate: number } };
  kinds: KindRow[];
  ms: number;
}

function schemaFails(d: unknown): boolean {
  try {
    parseDteInput(d);
    return false;
  } catch {
    return true;
  }
}

function engineFails(d: unknown, today: string | undefined): boolean {
  try {
    inputToDte(parseDteInput(d), today ? { fchEmis: today } : {});
    return false;
  } catch {
    return true;
  }
}

export function evaluatePrevalidation(records: EvalRecord[]): EvalReport {
  const t0 = Date.now();
  const byKind = new Map<string, { expected: string; n: number; hit: number; schema: number; engine: number }>();
  let corrupted = 0;
  let clean = 0;
  let hits = 0;
  let fp = 0;
  let sHit = 0;
  let eHit = 0;
  let sFp = 0;
  let eFp = 0;
  const falsePositives: string[] = [];
  const misses: string[] = [];
  for (const r of records) {
    const res = prevalidate(r.dte_data, r.ctx);
    const s = schemaFails(r.dte_data);
    const e = engineFails(r.dte_data, r.ctx?.today);
    if (r.expected === null) {
      clean++;
      if (res.issues.some((i) => i.severity === 'error')) {
        fp++;
        falsePositives.push(`${r.id}: ${res.issues.filter((i) => i.severity === 'error').map((i) => `${i.code} ${i.field}`).join(', ')}`);
      }
      if (s) sFp++;
      if (e) eFp++;
      continue;
    }
    corrupted++;
    const row = byKind.get(r.kind) ?? { expected: r.expected, n: 0, hit: 0, schema: 0, engine: 0 };
    row.n++;
    const hit = res.issues.some((i) => i.code === r.expected && (i.severity === 'error' || i.severity === 'warning'));
    if (hit) {
      hits++;
      row.hit++;
    } else misses.push(`${r.id} (${r.kind}, expected ${r.expected}): got ${res.issues.map((i) => i.code).join(', ') || 'nothing'}`);
    if (s) {
      sHit++;
      row.schema++;
    }
    if (e) {
      eHit++;
      row.engine++;
    }
    byKind.set(r.kind, row);
  }
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  return {
    corrupted,
    clean,
    recall: ratio(hits, corrupted),
    falsePositiveRate: ratio(fp, clean),
    falsePositives,
    misses,
    baseline: {
      schema: { recall: ratio(sHit, corrupted), falsePositiveRate: ratio(sFp, clean) },
      engine: { recall: ratio(eHit, corrupted), falsePositiveRate: ratio(eFp, clean) },
    },
    kinds: [...byKind.entries()]
      .map(([kind, v]) => ({ kind, expected: v.expected, n: v.n, recall: ratio(v.hit, v.n), schema: ratio(v.schema, v.n), engine: ratio(v.engine, v.n) }))
      .sort((a, b) => a.kind.localeCompare(b.kind)),
    ms: Date.now() - t0,
  };
}
