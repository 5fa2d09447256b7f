import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  DTE_INPUT_SCHEMA_PATH,
  dteInputJsonSchema,
  dteInputJsonSchemaText,
  dteInputSchema,
  inputToDte,
  modelPathToInputPath,
  parseDteInput,
  type DteInput,
} from '../src/input.js';
import { TimbreError, TimbreValidationError } from '../src/errors.js';
import { TOTALES_INPUT_KEYS } from '../src/totals.js';

const root = new URL('../../../', import.meta.url);

/** The api-contract.md example document (totals 104480 / 19851 / 124331). */
const contract = (): Record<string, unknown> => ({
  dte_type: '33',
  folio: 0,
  fecha_emision: '2026-11-28',
  emisor: { rut: '76086428-5', razon_social: 'EMPRESA DEMO TIMBRE SPA', giro: 'Software', direccion: 'Av. Providencia 1234', comuna: 'Providencia', ciudad: 'Santiago', acteco: [620200] },
  receptor: { rut: '77894717-K', razon_social: 'COMERCIAL ÑUÑOA LIMITADA', giro: 'Comercio', direccion: 'Av. Irarrázaval 2950', comuna: 'Ñuñoa', ciudad: 'Santiago' },
  totales: { monto_neto: 104480, monto_exento: 0, iva: 19851, monto_total: 124331 },
  items: [
    { numero_linea: 1, nombre: 'Impresora láser', descripcion: 'Monocromática', cantidad: 2, unidad: 'UN', precio_unitario: 45990, descuento_pct: 0, descuento_monto: 0, exento: false, monto_total: 91980 },
    { numero_linea: 2, nombre: 'Instalación', cantidad: 1, precio_unitario: 12500 },
  ],
  referencias: [{ numero_linea: 1, tipo_documento: '801', folio: 120, fecha: '2026-11-20', razon: 'Orden de compra' }],
});

function caught(fn: () => unknown): TimbreValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TimbreValidationError);
    return e as TimbreValidationError;
  }
  throw new Error('expected a TimbreValidationError');
}
const issues = (e: TimbreValidationError) => e.issues.map((i) => [i.code, i.field]);

describe('parseDteInput', () => {
  it('accepts the api-contract document, dte_type as string or number', () => {
    const a = parseDteInput(contract());
    expect(a.dte_type).toBe('33');
    expect(parseDteInput({ ...contract(), dte_type: 33 }).dte_type).toBe(33);
  });

  it('reports every problem with its input path (ERR_INPUT_INVALID)', () => {
    const bad = contract();
    (bad.items as Record<string, unknown>[])[0]!.cantidad = -2;
    (bad.items as Record<string, unknown>[])[1]!.nombre = '';
    (bad.emisor as Record<string, unknown>).rut = undefined;
    (bad.receptor as Record<string, unknown>).rut = '77894717-5';
    (bad.receptor as Record<string, unknown>).razon_socal = 'typo';
    bad.dte_type = '35';
    bad.fecha_emision = '2026-02-30';
    const e = caught(() => parseDteInput(bad));
    expect(e.code).toBe('ERR_INPUT_INVALID');
    expect(issues(e).map(([, f]) => f).sort()).toEqual(
      ['dte_type', 'emisor.rut', 'fecha_emision', 'items[0].cantidad', 'items[1].nombre', 'receptor.razon_socal', 'receptor.rut'].sort(),
    );
    expect(e.issues.find((i) => i.field === 'receptor.rut')?.message).toMatch(/check digit/);
    expect(e.issues.find((i) => i.field === 'receptor.razon_socal')?.message).toMatch(/unknown field/);
    expect(e.issues.find((i) => i.field === 'dte_type')?.message).toMatch(/33, 34, 39/);
    expect(e.issues.find((i) => i.field === 'items[0].cantidad')?.actual).toBe(-2);
  });

  it('rejects a document without items and non-objects', () => {
    expect(issues(caught(() => parseDteInput({ ...contract(), items: [] })))).toEqual([['ERR_INPUT_INVALID', 'items']]);
    expect(issues(caught(() => parseDteInput('hola')))).toEqual([['ERR_INPUT_INVALID', 'input']]);
  });
});

describe('inputToDte: normalization', () => {
  it('maps the api-contract document and computes its totals', () => {
    const dte = inputToDte(parseDteInput(contract()), { folio: 1234 });
    expect(dte.encabezado.idDoc).toMatchObject({ tipoDte: 33, folio: 1234, fchEmis: '2026-11-28' });
    expect(dte.encabezado.totales).toEqual({ mntNeto: 104480, tasaIva: 19, iva: 19851, mntTotal: 124331 });
    expect(dte.detalle[0]).toMatchObject({ nroLinDet: 1, nmbItem: 'Impresora láser', dscItem: 'Monocromática', qtyItem: 2, unmdItem: 'UN', prcItem: 45990, montoItem: 91980 });
    expect(dte.detalle[0]?.indExe).toBeUndefined();
    expect(dte.encabezado.emisor).toMatchObject({ rutEmisor: '76086428-5', dirOrigen: 'Av. Providencia 1234', cmnaOrigen: 'Providencia', acteco: [620200] });
  });

  it('folio: input.folio > 0, else opts.folio, else 0', () => {
    const input = parseDteInput(contract());
    expect(inputToDte({ ...input, folio: 77 }, { folio: 5 }).encabezado.idDoc.folio).toBe(77);
    expect(inputToDte({ ...input, folio: 0 }, { folio: 5 }).encabezado.idDoc.folio).toBe(5);
    expect(inputToDte({ ...input, folio: undefined }).encabezado.idDoc.folio).toBe(0);
  });

  it('canonical RUTs, Latin-1 text with replacements, sequential numbering', () => {
    const j = contract();
    (j.emisor as Record<string, unknown>).rut = '76.086.428-5';
    (j.receptor as Record<string, unknown>).rut = '77894717-k';
    (j.receptor as Record<string, unknown>).razon_social = '  COMERCIAL “ÑUÑOA” LIMITADA – SUCURSAL ';
    const items = j.items as Record<string, unknown>[];
    items[0]!.numero_linea = 7;
    items[1]!.numero_linea = 3;
    const dte = inputToDte(parseDteInput(j));
    expect(dte.encabezado.emisor.rutEmisor).toBe('76086428-5');
    expect(dte.encabezado.receptor.rutRecep).toBe('77894717-K');
    expect(dte.encabezado.receptor.rznSocRecep).toBe('COMERCIAL "ÑUÑOA" LIMITADA - SUCURSAL');
    expect(dte.detalle.map((d) => d.nroLinDet)).toEqual([1, 2]);
  });

  it('characters outside Latin-1: refused with the field, per policy', () => {
    const j = contract();
    (j.items as Record<string, unknown>[])[1]!.nombre = 'Instalación 🚀';
    const e = caught(() => inputToDte(parseDteInput(j)));
    expect(issues(e)).toEqual([['ERR_CHAR_NOT_LATIN1', 'items[1].nombre']]);
    const k = contract();
    (k.items as Record<string, unknown>[])[1]!.descripcion = 'Instalación ’express’';
    expect(inputToDte(parseDteInput(k)).detalle[1]?.dscItem).toBe("Instalación 'express'");
    expect(issues(caught(() => inputToDte(parseDteInput(k), { nonLatin1: 'refuse' })))).toEqual([['ERR_CHAR_NOT_LATIN1', 'items[1].descripcion']]);
  });

  it('lines of 34, 41 and exports are exempt by default; exento:false in a 34 is a rule violation on that item', () => {
    const j = { fecha_emision: '2026-11-27', ...JSON.parse(readFileSync(new URL('examples/dte/34.json', root), 'utf8')) } as Record<string, unknown>;
    expect(inputToDte(parseDteInput(j)).detalle.map((d) => d.indExe)).toEqual([1, 1]);
    (j.items as Record<string, unknown>[])[0]!.exento = false;
    const e = caught(() => inputToDte(parseDteInput(j)));
    expect(e.issues.map((i) => [i.code, i.field])).toContainEqual(['ERR_RULE_VIOLATION', 'items[0].exento']);
  });

  it('boletas: gross by default, montos_brutos false = net lines (IndMntNeto 2); emisor fields boletas lack are dropped', () => {
    const j = { fecha_emision: '2026-11-27', ...JSON.parse(readFileSync(new URL('examples/dte/39.json', root), 'utf8')) } as DteInput;
    const gross = inputToDte(parseDteInput(j));
    expect(gross.encabezado.emisor.acteco).toEqual([]);
    expect(gross.encabezado.emisor.telefono).toBeUndefined(); // EnvioBOLETA Emisor has no Telefono/CorreoEmisor
    expect(gross.encabezado.emisor.correoEmisor).toBeUndefined();
    expect(inputToDte(parseDteInput({ fecha_emision: '2026-11-27', ...JSON.parse(readFileSync(new URL('examples/dte/33.json', root), 'utf8')) }), { fchEmis: '2026-11-27' }).encabezado.emisor.telefono).toEqual(['+56 2 2345 6789']);
    expect(gross.encabezado.totales).toEqual({ mntNeto: 42832, iva: 8138, mntTotal: 50970 });
    const net = inputToDte(parseDteInput({ ...j, montos_brutos: false }));
    expect(net.encabezado.idDoc.indMntNeto).toBe(2);
    // 50970 net → IVA 9684.3 → 9684
    expect(net.encabezado.totales).toEqual({ mntNeto: 50970, iva: 9684, mntTotal: 60654 });
  });

  it('retenciones [{codigo: 15}] flags the affected lines; a stated wrong amount is reported on its field', () => {
    const j = { fecha_emision: '2026-11-27', ...JSON.parse(readFileSync(new URL('examples/dte/46.json', root), 'utf8')) } as Record<string, unknown>;
    expect(inputToDte(parseDteInput(j)).detalle.map((d) => d.codImpAdic)).toEqual([[15], [15]]);
    j.retenciones = [{ codigo: 15, monto: 80000 }];
    const e = caught(() => inputToDte(parseDteInput(j)));
    expect(e.issues.map((i) => [i.code, i.field, i.expected, i.actual])).toEqual([['ERR_TOTALS_MISMATCH', 'retenciones[0].monto', 82650, 80000]]);
  });

  it('specific taxes need their amount; codes are not listed twice', () => {
    const j = contract();
    j.impuestos_adicionales = [{ codigo: 28 }];
    expect(issues(caught(() => inputToDte(parseDteInput(j))))).toEqual([['ERR_INPUT_INVALID', 'impuestos_adicionales[0].monto']]);
    j.impuestos_adicionales = [{ codigo: 27 }];
    j.retenciones = [{ codigo: 27 }];
    expect(issues(caught(() => inputToDte(parseDteInput(j))))).toEqual([['ERR_INPUT_INVALID', 'retenciones[0].codigo']]);
  });

  it('other input-level checks: otra_moneda only for exports, medio_pago per family, references CodRef', () => {
    const j = contract();
    j.otra_moneda = { tipo_cambio: 950 };
    j.medio_pago = 2;
    j.referencias = [{ tipo_documento: '33', folio: 10, fecha: '2026-11-01', codigo: 'SET' }];
    expect(issues(caught(() => inputToDte(parseDteInput(j)))).map(([, f]) => f)).toEqual(['medio_pago', 'referencias[0].codigo', 'otra_moneda']);
  });
});

describe('inputToDte: stated totals and rules', () => {
  it('rejects stated totals that disagree, naming the field and the expected value', () => {
    const j = contract();
    j.totales = { monto_neto: 104000, iva: 19851, monto_total: 124331 };
    const e = caught(() => inputToDte(parseDteInput(j)));
    expect(e.code).toBe('ERR_TOTALS_MISMATCH');
    expect(e.issues.map((i) => [i.code, i.field, i.expected, i.actual])).toEqual([['ERR_TOTALS_MISMATCH', 'totales.monto_neto', 104480, 104000]]);
    expect(e.toJSON()).toMatchObject({ code: 'ERR_TOTALS_MISMATCH', field: 'totales.monto_neto' });
  });

  it('rejects a stated line total and a stated discount that disagree', () => {
    const j = contract();
    const items = j.items as Record<string, unknown>[];
    items[0]!.monto_total = 91000;
    items[1]!.descuento_pct = 10;
    items[1]!.descuento_monto = 1200;
    j.totales = undefined;
    const e = caught(() => inputToDte(parseDteInput(j)));
    expect(e.issues.map((i) => [i.field, i.expected, i.actual])).toEqual([
      ['items[0].monto_total', 91980, 91000],
      ['items[1].descuento_monto', 1250, 1200],
    ]);
  });

  it('reports rule violations with input paths and SII codes', () => {
    const nc = { fecha_emision: '2026-11-27', ...JSON.parse(readFileSync(new URL('examples/dte/61.json', root), 'utf8')) } as Record<string, unknown>;
    delete nc.referencias;
    const e = caught(() => inputToDte(parseDteInput(nc)));
    expect(e.issues.map((i) => [i.code, i.field, i.siiCode])).toEqual([['ERR_RULE_VIOLATION', 'referencias', 'REF-3-415']]);

    const guia = { fecha_emision: '2026-11-27', ...JSON.parse(readFileSync(new URL('examples/dte/52.json', root), 'utf8')) } as Record<string, unknown>;
    delete guia.indicador_traslado;
    delete (guia.transporte as Record<string, unknown>).comuna_destino;
    guia.receptor = { ...(guia.receptor as object), rut: '66666666-6' };
    expect(issues(caught(() => inputToDte(parseDteInput(guia))))).toEqual([
      ['ERR_RULE_VIOLATION', 'indicador_traslado'],
      ['ERR_RULE_VIOLATION', 'receptor.rut'],
      ['ERR_RULE_VIOLATION', 'transporte.comuna_destino'],
    ]);
  });

  it('puts totals mismatches and rule violations in one error', () => {
    const j = contract();
    j.totales = { monto_total: 1 };
    j.indicador_traslado = 1;
    const e = caught(() => inputToDte(parseDteInput(j)));
    expect(issues(e)).toEqual([
      ['ERR_TOTALS_MISMATCH', 'totales.monto_total'],
      ['ERR_RULE_VIOLATION', 'indicador_traslado'],
    ]);
  });

  it('checks the IVA of commissions', () => {
    const j = { fecha_emision: '2026-11-27', ...JSON.parse(readFileSync(new URL('examples/dte/43.json', root), 'utf8')) } as Record<string, unknown>;
    (j.comisiones as Record<string, unknown>[])[0]!.valor_iva = 29000;
    const e = caught(() => inputToDte(parseDteInput(j)));
    expect(e.issues.map((i) => [i.field, i.expected])).toEqual([['comisiones[0].valor_iva', 29792]]);
  });

  it('maps model paths to input paths', () => {
    expect(modelPathToInputPath('encabezado.idDoc.indServicio')).toBe('indicador_servicio');
    expect(modelPathToInputPath('encabezado.transporte.aduana.codPtoEmbarque')).toBe('transporte.aduana.puerto_embarque');
    expect(modelPathToInputPath('encabezado.transporte.chofer.rutChofer')).toBe('transporte.chofer.rut');
    expect(modelPathToInputPath('encabezado.totales.mntNeto')).toBe('totales.monto_neto');
    expect(modelPathToInputPath('encabezado.otraMoneda.tpoCambio')).toBe('otra_moneda.tipo_cambio');
    expect(modelPathToInputPath('detalle[3].tpoDocLiq')).toBe('items[3].tipo_documento_liquidado');
    expect(modelPathToInputPath('referencia[0].codRef')).toBe('referencias[0].codigo');
    expect(modelPathToInputPath('dscRcgGlobal[1].valorDr')).toBe('descuentos_globales[1].valor');
    expect(modelPathToInputPath('comisiones[0].valComIva')).toBe('comisiones[0].valor_iva');
  });
});

describe('JSON Schema', () => {
  it(`${DTE_INPUT_SCHEMA_PATH} is up to date with the generator (node scripts/gen-input-schema.js)`, () => {
    const committed = readFileSync(new URL(DTE_INPUT_SCHEMA_PATH, root), 'utf8');
    expect(committed).toBe(dteInputJsonSchemaText());
  });

  it('is draft 2020-12, closed, with English descriptions naming the SII fields', () => {
    const s = dteInputJsonSchema() as {
      $schema: string;
      additionalProperties: boolean;
      required: string[];
      properties: Record<string, { description?: string; properties?: Record<string, { description?: string }> }>;
    };
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(['dte_type', 'emisor', 'receptor', 'items']);
    expect(s.properties.dte_type?.description).toMatch(/TipoDTE/);
    expect(s.properties.emisor?.properties?.rut?.description).toMatch(/RUTEmisor/);
    expect(s.properties.indicador_traslado?.description).toMatch(/IndTraslado/);
  });

  it('stated totals keys are the ones the checker knows', () => {
    const keys = Object.keys((dteInputSchema.shape.totales.unwrap() as { shape: Record<string, unknown> }).shape).sort();
    expect(keys).toEqual(Object.values(TOTALES_INPUT_KEYS).sort());
  });

  it('TimbreError fields survive JSON (for application/problem+json)', () => {
    const e = new TimbreError('ERR_TOTALS_MISMATCH', 'x', { field: 'totales.iva', expected: 1, actual: 2 });
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: 'ERR_TOTALS_MISMATCH', message: 'x', field: 'totales.iva', expected: 1, actual: 2 });
  });
});

describe('fecha_emision', () => {
  const base = () => {
    const j = JSON.parse(readFileSync(new URL('../../../examples/dte/33.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    delete j.fecha_emision;
    return parseDteInput(j);
  };
  it('defaults to the signing date given by the caller, and the input wins when it has one', () => {
    expect(inputToDte(base(), { fchEmis: '2026-12-01' }).encabezado.idDoc.fchEmis).toBe('2026-12-01');
    expect(inputToDte({ ...base(), fecha_emision: '2026-11-30' }, { fchEmis: '2026-12-01' }).encabezado.idDoc.fchEmis).toBe('2026-11-30');
  });
  it('is required when neither the input nor the caller gives it', () => {
    try {
      inputToDte(base());
      expect.unreachable();
    } catch (e) {
      expect((e as TimbreValidationError).issues.map((i) => [i.code, i.field])).toContainEqual(['ERR_INPUT_INVALID', 'fecha_emision']);
    }
  });
});
