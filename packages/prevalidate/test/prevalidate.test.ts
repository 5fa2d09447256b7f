import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PV_CODES, contextFromCompany, evaluatePrevalidation, prevalidate, type EvalRecord, type PrevalidateContext } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const TODAY = '2026-12-04';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
const example = (tipo: number): Doc => {
  const d = JSON.parse(readFileSync(path.join(root, 'examples/dte', `${tipo}.json`), 'utf8'));
  d.fecha_emision = '2026-12-03';
  d.folio = 120;
  return d;
};
const ctxFor = (tipo: number, extra: Partial<PrevalidateContext> = {}): PrevalidateContext => ({
  today: TODAY,
  cafs: [{ tipoDte: tipo, desde: 100, hasta: 199, fechaAutorizacion: '2026-09-15' }],
  seenFolios: [{ tipoDte: tipo, folio: 119 }],
  ...extra,
});
const codes = (d: unknown, ctx: PrevalidateContext) =>
  prevalidate(d, ctx)
    .issues.filter((i) => i.severity !== 'info')
    .map((i) => i.code);

describe('clean documents', () => {
  const tipos = readdirSync(path.join(root, 'examples/dte')).map((f) => Number(f.replace('.json', '')));
  it.each(tipos)('example %i gives no error', (tipo) => {
    const r = prevalidate(example(tipo), ctxFor(tipo));
    expect(r.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(r.is_valid).toBe(true);
    expect(r.confidence).toBeGreaterThan(0.9);
  });

  it.each([0, undefined])('folio %s (the service allocates it when issuing) is valid, before any folio exists', (folio) => {
    const d = example(33);
    if (folio === undefined) delete d.folio;
    else d.folio = folio;
    const r = prevalidate(d, ctxFor(33));
    expect(r.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(r.is_valid).toBe(true);
  });

  it('a document without context is valid with lower confidence', () => {
    const r = prevalidate(example(33), { today: TODAY });
    expect(r.is_valid).toBe(true);
    expect(r.confidence).toBeLessThan(prevalidate(example(33), ctxFor(33)).confidence);
  });
});

// [name, type, mutation of document / context, expected code]
const CASES: Array<[string, number, (d: Doc, c: PrevalidateContext) => void, string]> = [
  ['receptor RUT check digit', 33, (d) => (d.receptor.rut = '77894717-1'), 'PV_RUT_DV'],
  ['emisor RUT check digit', 39, (d) => (d.emisor.rut = '76086428-4'), 'PV_RUT_DV'],
  ['driver RUT check digit', 52, (d) => (d.transporte.chofer.rut = '12345678-9'), 'PV_RUT_DV'],
  ['malformed RUT', 33, (d) => (d.receptor.rut = '77894717'), 'PV_RUT_FORMAT'],
  ['IVA wrong', 33, (d) => (d.totales.iva = 156457), 'PV_TOTAL_IVA'],
  ['IVA truncated instead of rounded', 46, (d) => { d.items[1].precio_unitario = 85003; d.totales = { monto_neto: 435003, iva: Math.floor(435003 * 0.19) }; }, 'PV_TOTAL_IVA'],
  ['IVA rate', 33, (d) => (d.totales.tasa_iva = 18), 'PV_IVA_RATE'],
  ['neto wrong', 33, (d) => (d.totales.monto_neto = 823451), 'PV_TOTAL_NETO'],
  ['total wrong', 33, (d) => (d.totales.monto_total = 1129907), 'PV_TOTAL_MONTO'],
  ['line amount wrong', 33, (d) => (d.items[0].monto_total = 827821), 'PV_LINE_AMOUNT'],
  ['decimals in pesos', 33, (d) => (d.totales.monto_total = 1129906.5), 'PV_ROUNDING'],
  ['negative line outside 43', 61, (d) => { delete d.items[0].precio_unitario; d.items[0].monto_total = -5000; }, 'PV_AMOUNT_NEGATIVE'],
  ['note without references', 61, (d) => delete d.referencias, 'PV_REF_MISSING'],
  ['export note without references', 112, (d) => delete d.referencias, 'PV_REF_MISSING'],
  ['note without CodRef', 56, (d) => delete d.referencias[0].codigo, 'PV_REF_CODREF'],
  ['reference dated after the issue', 61, (d) => (d.referencias[0].fecha = '2026-12-20'), 'PV_REF_DATE'],
  ['issue date in the future', 33, (d) => (d.fecha_emision = '2026-12-10'), 'PV_DATE_FUTURE'],
  ['issue date late', 33, (d) => (d.fecha_emision = '2026-11-20'), 'PV_DATE_LATE'],
  ['invalid date', 34, (d) => (d.fecha_emision = '2026-02-30'), 'PV_DATE_INVALID'],
  ['due date before issue', 33, (d) => (d.fecha_vencimiento = '2026-11-01'), 'PV_DATE_ORDER'],
  ['issue before CAF authorization', 33, (_d, c) => (c.cafs![0]!.fechaAutorizacion = '2026-12-04'), 'PV_CAF_BEFORE_AUTH'],
  ['CAF expired', 61, (_d, c) => (c.cafs![0]!.fechaAutorizacion = '2026-05-01'), 'PV_CAF_EXPIRED'],
  ['folio outside the CAFs', 33, (d) => (d.folio = 200), 'PV_FOLIO_OUT_OF_CAF'],
  ['folio already used', 52, (d) => (d.folio = 119), 'PV_FOLIO_DUPLICATE'],
  ['item name too long', 34, (d) => (d.items[0].nombre = 'x'.repeat(81)), 'PV_FIELD_LENGTH'],
  ['receptor giro longer than 40', 33, (d) => (d.receptor.giro = 'Venta al por menor de artículos de ferretería'), 'PV_FIELD_LENGTH'],
  ['emoji', 39, (d) => (d.items[0].nombre += ' 🎉'), 'PV_LATIN1'],
  ['curly quotes are replaced (warning)', 33, (d) => (d.items[1].nombre = 'Mouse “inalámbrico”'), 'PV_LATIN1_REPLACED'],
  ['acteco of 4 digits', 33, (d) => (d.emisor.acteco = [6202]), 'PV_ACTECO'],
  ['acteco of 7 digits', 110, (d) => (d.emisor.acteco = [6202001]), 'PV_ACTECO'],
  ['generic receptor outside boletas', 33, (d) => (d.receptor.rut = '66666666-6'), 'PV_RECEPTOR_TYPE'],
  ['national receptor in an export', 110, (d) => (d.receptor.rut = '77894717-K'), 'PV_RECEPTOR_TYPE'],
  ['boleta without IndServicio', 41, (d) => delete d.indicador_servicio, 'PV_INDSERVICIO'],
  ['export without currency', 110, (d) => delete d.moneda, 'PV_EXPORT_CURRENCY'],
  ['export without conversion', 111, (d) => delete d.otra_moneda, 'PV_EXPORT_CURRENCY'],
  ['guía without IndTraslado', 52, (d) => delete d.indicador_traslado, 'PV_GUIA_TRASLADO'],
  ['receptor giro missing', 46, (d) => delete d.receptor.giro, 'PV_REQUIRED_FIELD'],
  ['affected line in a factura exenta', 34, (d) => (d.items[0].exento = false), 'PV_EXENTO'],
  ['quantity as text', 33, (d) => (d.items[1].cantidad = '3'), 'PV_SCHEMA'],
  ['unknown field', 33, (d) => (d.descuento = 5), 'PV_UNKNOWN_FIELD'],
  ['unknown type', 33, (d) => (d.dte_type = '35'), 'PV_DTE_TYPE'],
  ['no items', 39, (d) => (d.items = []), 'PV_ITEMS'],
  ['export aduana incomplete', 110, (d) => delete d.transporte.aduana.puerto_embarque, 'PV_EXPORT_ADUANA'],
];

describe('each violation kind is detected', () => {
  it.each(CASES)('%s (%i) → %s', (_name, tipo, mutate, code) => {
    const d = example(tipo);
    const c = ctxFor(tipo);
    mutate(d, c);
    expect(codes(d, c)).toContain(code);
    const issue = prevalidate(d, c).issues.find((i) => i.code === code)!;
    expect(issue.severity).toBe(PV_CODES[issue.code].severity);
    expect(issue.message).toMatch(/[a-záéíóúñ]/);
    expect(issue.field).toBeTruthy();
  });

  it('issues carry the SII rejection they prevent', () => {
    const d = example(61);
    delete d.referencias[0].codigo;
    const c = ctxFor(61, { seenFolios: [{ tipoDte: 61, folio: 120 }] });
    const r = prevalidate(d, c);
    expect(r.issues.find((i) => i.code === 'PV_REF_CODREF')?.sii_rejection).toMatch(/REF-3-758/);
    expect(r.issues.find((i) => i.code === 'PV_FOLIO_DUPLICATE')?.sii_rejection).toMatch(/DTE-3-101/);
    expect(r.is_valid).toBe(false);
    expect(r.recommendations.length).toBeGreaterThan(0);
    expect(r.issues.find((i) => i.code === 'PV_REF_CODREF')?.field).toBe('referencias[0].codigo');
  });

  it('the company context: recent rejections and industry', () => {
    const d = example(33);
    const ctx = contextFromCompany({ industry: 'Construcción', historical_errors: [{ code: 'HED-3-861', field: 'emisor.acteco' }, 'DTE-3-101'] }, ctxFor(33));
    const r = prevalidate(d, ctx);
    expect(r.is_valid).toBe(true);
    expect(r.issues).toContainEqual(expect.objectContaining({ code: 'PV_RECENT_REJECTION', field: 'emisor.acteco', severity: 'info' }));
    expect(r.recommendations.join(' ')).toMatch(/HED-3-861/);
    expect(r.recommendations.join(' ')).toMatch(/constructoras/);
    // a recent rejection of the same kind raises a warning to an error
    d.fecha_emision = '2026-11-20';
    expect(prevalidate(d, ctxFor(33)).is_valid).toBe(true);
    expect(prevalidate(d, { ...ctxFor(33), recentRejections: [{ code: 'DTE-1-650' }] }).is_valid).toBe(false);
  });
});

describe('hostile input gives issues, never exceptions', () => {
  const deep: Record<string, unknown> = {};
  let cur = deep;
  for (let i = 0; i < 200_000; i++) {
    const n: Record<string, unknown> = {};
    cur.a = n;
    cur = n;
  }
  const huge = example(33);
  huge.receptor.razon_social = 'x'.repeat(10_000_000);
  const wide = example(33);
  wide.items = Array.from({ length: 100_000 }, () => ({ nombre: 'a', cantidad: 1, precio_unitario: 1 }));
  const cyclic: Record<string, unknown> = { dte_type: 33 };
  cyclic.self = cyclic;
  const cases: Array<[string, unknown, string]> = [
    ['null', null, 'PV_INPUT_INVALID'],
    ['undefined', undefined, 'PV_INPUT_INVALID'],
    ['a string', '{"dte_type":33}', 'PV_INPUT_INVALID'],
    ['a number', 42, 'PV_INPUT_INVALID'],
    ['an array', [example(33)], 'PV_INPUT_INVALID'],
    ['an empty object', {}, 'PV_DTE_TYPE'],
    ['deep nesting', deep, 'PV_INPUT_TOO_DEEP'],
    ['a 10 MB string', huge, 'PV_INPUT_TOO_LARGE'],
    ['100,000 items', wide, 'PV_INPUT_TOO_LARGE'],
    ['a cycle', cyclic, 'PV_INPUT_TOO_DEEP'],
    ['wrong types everywhere', { dte_type: {}, emisor: [], receptor: 'x', items: 'y', totales: null, folio: -1 }, 'PV_DTE_TYPE'],
    ['NaN and Infinity', { ...example(33), folio: Number.NaN, totales: { iva: Infinity } }, 'PV_SCHEMA'],
  ];
  it.each(cases)('%s', (_name, input, code) => {
    const t0 = Date.now();
    const r = prevalidate(input, { today: TODAY });
    expect(r.is_valid).toBe(false);
    expect(r.issues.map((i) => i.code)).toContain(code);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(() => JSON.stringify(r)).not.toThrow();
  });

  it('a hostile context is ignored, not fatal', () => {
    const bad = { today: 'yesterday', cafs: [null, 5, { tipoDte: 33 }], seenFolios: 'x', recentRejections: [null, { code: 5 }] } as unknown as PrevalidateContext;
    const r = prevalidate(example(33), bad);
    expect(Array.isArray(r.issues)).toBe(true);
  });
});

describe('evaluation targets on a subset of eval/data', () => {
  it('recall ≥ 0.98 on injected violations, false positives ≤ 1 % on clean documents', () => {
    const load = (name: string) => JSON.parse(readFileSync(path.join(here, '../eval/data', `${name}.json`), 'utf8')) as EvalRecord[];
    const records = [...load('clean').slice(0, 150), ...load('corrupted').slice(0, 330)];
    const rep = evaluatePrevalidation(records);
    expect(rep.kinds.length).toBeGreaterThanOrEqual(20);
    expect(rep.recall).toBeGreaterThanOrEqual(0.98);
    expect(rep.falsePositiveRate).toBeLessThanOrEqual(0.01);
    // the naive baselines are far below
    expect(rep.baseline.schema.recall).toBeLessThan(0.5);
    expect(rep.baseline.engine.recall).toBeLessThan(0.9);
  });
});
