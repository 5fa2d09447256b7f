/**
 * Input checking for the reconciler: anything a caller can send (NaN, strings for numbers, missing
 * fields, malformed RUTs or dates, oversized lists) becomes a TimbreError ERR_INPUT_INVALID /
 * ERR_RUT_INVALID naming the field (`received[3].montoTotal`), never a crash further down.
 */
import { TimbreError } from '@timbre/dte';
import { canonicalRut, dayNumber } from './normalize.js';
import type { ExpectedDoc, ReceivedDte, RcvEntry, ReconcileOptions } from './types.js';

/** Bounds on one call (the engine is quadratic only within one supplier, but stays bounded overall). */
export const LIMITS = { maxDocuments: 5000, maxLines: 500, maxReferencias: 40, maxText: 1000 } as const;

export const RECEIVED_TIPOS: ReadonlySet<number> = new Set([33, 34, 46, 52, 56, 61]);
const KINDS = new Set(['purchase_order', 'goods_receipt', 'vendor_bill']);

function fail(field: string, message: string, actual?: unknown): never {
  throw new TimbreError('ERR_INPUT_INVALID', `${field}: ${message}`, { field, ...(actual !== undefined ? { actual } : {}) });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function list(v: unknown, field: string, max: number): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(field, 'must be an array');
  if (v.length > max) fail(field, `at most ${max} entries (got ${v.length})`);
  return v;
}

function num(o: Record<string, unknown>, key: string, field: string, opts: { required?: boolean; int?: boolean; min?: number } = {}): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.required) fail(`${field}.${key}`, 'is required');
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${field}.${key}`, 'must be a finite number', v);
  if (opts.int && !Number.isInteger(v)) fail(`${field}.${key}`, 'must be an integer', v);
  if (opts.min !== undefined && v < opts.min) fail(`${field}.${key}`, `must be ≥ ${opts.min}`, v);
  return v;
}

function str(o: Record<string, unknown>, key: string, field: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) fail(`${field}.${key}`, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') fail(`${field}.${key}`, 'must be a string', v);
  if (v.length > LIMITS.maxText) fail(`${field}.${key}`, `at most ${LIMITS.maxText} characters`);
  return v;
}

function strOrNum(o: Record<string, unknown>, key: string, field: string, required: boolean): string | number | undefined {
  const v = o[key];
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(`${field}.${key}`, 'must be a finite number or a string', v);
    return v;
  }
  return str(o, key, field, required);
}

function date(o: Record<string, unknown>, key: string, field: string, required: boolean): string | undefined {
  const v = str(o, key, field, required);
  if (v !== undefined && dayNumber(v) === null) fail(`${field}.${key}`, 'must be a real date YYYY-MM-DD', v);
  return v;
}

function rut(o: Record<string, unknown>, key: string, field: string): string {
  const v = str(o, key, field, true)!;
  if (canonicalRut(v) === null) throw new TimbreError('ERR_RUT_INVALID', `${field}.${key}: "${v}" is not a RUT`, { field: `${field}.${key}`, actual: v });
  return v;
}

function amounts(o: Record<string, unknown>, f: string): void {
  num(o, 'montoTotal', f, { required: true, min: 0 });
  num(o, 'montoNeto', f, { min: 0 });
  num(o, 'montoExento', f, { min: 0 });
  num(o, 'iva', f, { min: 0 });
}

function checkReceived(v: unknown, f: string): ReceivedDte {
  if (!isObj(v)) fail(f, 'must be an object');
  str(v, 'id', f, false);
  const tipo = num(v, 'tipoDte', f, { required: true, int: true })!;
  if (!RECEIVED_TIPOS.has(tipo)) fail(`${f}.tipoDte`, `must be one of ${[...RECEIVED_TIPOS].join(', ')}`, tipo);
  num(v, 'folio', f, { required: true, int: true, min: 1 });
  rut(v, 'rutEmisor', f);
  str(v, 'razonSocial', f, false);
  date(v, 'fechaEmision', f, true);
  amounts(v, f);
  list(v.items, `${f}.items`, LIMITS.maxLines).forEach((it, j) => {
    const g = `${f}.items[${j}]`;
    if (!isObj(it)) fail(g, 'must be an object');
    str(it, 'nombre', g, true);
    num(it, 'cantidad', g);
    num(it, 'precioUnitario', g);
    num(it, 'montoItem', g);
  });
  list(v.referencias, `${f}.referencias`, LIMITS.maxReferencias).forEach((r, j) => {
    const g = `${f}.referencias[${j}]`;
    if (!isObj(r)) fail(g, 'must be an object');
    strOrNum(r, 'tipoDocumento', g, true);
    strOrNum(r, 'folio', g, true);
    date(r, 'fecha', g, false);
    num(r, 'codigo', g, { int: true, min: 1 });
  });
  return v as unknown as ReceivedDte;
}

function checkExpected(v: unknown, f: string): ExpectedDoc {
  if (!isObj(v)) fail(f, 'must be an object');
  const id = str(v, 'id', f, true)!;
  if (id === '') fail(`${f}.id`, 'must not be empty');
  const kind = str(v, 'kind', f, true)!;
  if (!KINDS.has(kind)) fail(`${f}.kind`, `must be one of ${[...KINDS].join(', ')}`, kind);
  rut(v, 'rutProveedor', f);
  date(v, 'fecha', f, true);
  num(v, 'montoTotal', f, { required: true, min: 0 });
  num(v, 'montoNeto', f, { min: 0 });
  strOrNum(v, 'numero', f, false);
  strOrNum(v, 'folioFactura', f, false);
  list(v.lines, `${f}.lines`, LIMITS.maxLines).forEach((l, j) => {
    const g = `${f}.lines[${j}]`;
    if (!isObj(l)) fail(g, 'must be an object');
    str(l, 'descripcion', g, true);
    num(l, 'cantidad', g);
    num(l, 'precioUnitario', g);
  });
  return v as unknown as ExpectedDoc;
}

function checkRcv(v: unknown, f: string): RcvEntry {
  if (!isObj(v)) fail(f, 'must be an object');
  str(v, 'id', f, false);
  rut(v, 'rutEmisor', f);
  num(v, 'tipoDte', f, { required: true, int: true, min: 1 });
  num(v, 'folio', f, { required: true, int: true, min: 1 });
  date(v, 'fechaEmision', f, true);
  num(v, 'montoTotal', f, { required: true });
  num(v, 'montoNeto', f);
  num(v, 'iva', f);
  str(v, 'estado', f, false);
  return v as unknown as RcvEntry;
}

function unique(ids: string[], field: string): void {
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    const prev = seen.get(id);
    if (prev !== undefined) fail(`${field}[${i}].id`, `duplicate id "${id}" (also ${field}[${prev}])`, id);
    seen.set(id, i);
  });
}

export interface CheckedInput {
  received: ReceivedDte[];
  expected: ExpectedDoc[];
  rcv: RcvEntry[];
}

/** Checks the whole input (types, ranges, RUT shapes, dates, unique ids) or throws naming the field. */
export function checkInput(input: unknown): CheckedInput {
  if (!isObj(input)) fail('input', 'must be an object');
  if (input.received === undefined) fail('received', 'is required');
  const received = list(input.received, 'received', LIMITS.maxDocuments).map((v, i) => checkReceived(v, `received[${i}]`));
  const expected = list(input.expected, 'expected', LIMITS.maxDocuments).map((v, i) => checkExpected(v, `expected[${i}]`));
  const rcv = list(input.rcv, 'rcv', LIMITS.maxDocuments).map((v, i) => checkRcv(v, `rcv[${i}]`));
  unique(received.map((r) => r.id).filter((x): x is string => x !== undefined), 'received');
  unique(expected.map((e) => e.id), 'expected');
  unique(rcv.map((r) => r.id).filter((x): x is string => x !== undefined), 'rcv');
  return { received, expected, rcv };
}

export interface ResolvedOptions {
  amountTolerance: number;
  amountTolerancePerLine: number;
  dateWindowDays: number;
  threshold: number;
  maxParts: number;
}

export function checkOptions(o: ReconcileOptions | undefined): ResolvedOptions {
  const src = (o ?? {}) as Record<string, unknown>;
  if (!isObj(src)) fail('options', 'must be an object');
  const r: ResolvedOptions = {
    amountTolerance: num(src, 'amountTolerance', 'options', { min: 0 }) ?? 2,
    amountTolerancePerLine: num(src, 'amountTolerancePerLine', 'options', { min: 0 }) ?? 1,
    dateWindowDays: num(src, 'dateWindowDays', 'options', { min: 1 }) ?? 30,
    threshold: num(src, 'threshold', 'options', { min: 0 }) ?? 0.6,
    maxParts: num(src, 'maxParts', 'options', { int: true, min: 1 }) ?? 4,
  };
  if (r.threshold > 1) fail('options.threshold', 'must be ≤ 1', r.threshold);
  if (r.maxParts > 6) fail('options.maxParts', 'must be ≤ 6 (the subset search is exponential in it)', r.maxParts);
  return r;
}
