import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Dte, Referencia } from '../src/model.js';
import { inputToDte, parseDteInput } from '../src/input.js';
import { validateDte } from '../src/rules.js';
import { computeTotals } from '../src/totals.js';

const example = (tipo: number): Dte => {
  const json: unknown = JSON.parse(readFileSync(new URL(`../../../examples/dte/${tipo}.json`, import.meta.url), 'utf8'));
  return inputToDte(parseDteInput(json), { fchEmis: '2026-11-27' });
};

/** Clone a valid example, change it, recompute its totals, validate. */
function violations(tipo: number, change: (d: Dte) => void, recompute = true) {
  const d = structuredClone(example(tipo));
  change(d);
  const dte = recompute ? computeTotals(d).dte : d;
  return validateDte(dte);
}
const fields = (errs: ReturnType<typeof validateDte>) => errs.map((e) => e.field);

const ref = (r: Partial<Referencia>, i = 0): Referencia => ({ nroLinRef: i + 1, tpoDocRef: '33', folioRef: '1520', fchRef: '2026-11-20', ...r });

describe('valid documents', () => {
  it.each([33, 34, 39, 41, 43, 46, 52, 56, 61, 110, 111, 112])('example %i has no violations', (tipo) => {
    expect(validateDte(example(tipo))).toEqual([]);
  });
});

describe('references (FMT E; sii-spec §3.5)', () => {
  it('a note without references: REF-3-415', () => {
    const errs = violations(61, (d) => delete d.referencia);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ code: 'ERR_RULE_VIOLATION', field: 'referencia', siiCode: 'REF-3-415' });
    expect(errs[0]?.message).toMatch(/nota de crédito/);
  });

  it('a note whose reference lacks CodRef: REF-3-758 on referencia[0].codRef', () => {
    const errs = violations(56, (d) => delete d.referencia?.[0]?.codRef);
    expect(errs.map((e) => [e.field, e.siiCode])).toEqual([['referencia[0].codRef', 'REF-3-758']]);
    // after a SET reference (certification), the error points at the modified document's reference
    const set = violations(61, (d) => (d.referencia = [ref({ tpoDocRef: 'SET', folioRef: '4256' }), ref({}, 1)]));
    expect(set.map((e) => [e.field, e.siiCode])).toEqual([['referencia[1].codRef', 'REF-3-758']]);
  });

  it('CodRef 1 or 2 must reference exactly one document', () => {
    const errs = violations(61, (d) => {
      d.referencia = [ref({ codRef: 1 }), ref({ folioRef: '1521', codRef: 1 }, 1)];
    });
    expect(fields(errs)).toContain('referencia');
    // The certification convention (SET + the modified document) is one tax document: allowed.
    const ok = violations(61, (d) => {
      d.referencia = [ref({ tpoDocRef: 'SET', folioRef: '4256', razonRef: 'CASO 4256-3' }), ref({ codRef: 3 }, 1)];
    });
    expect(ok).toEqual([]);
    // CodRef 3 may reference several documents.
    expect(violations(61, (d) => (d.referencia = [ref({ codRef: 3 }), ref({ folioRef: '1521', codRef: 3 }, 1)]))).toEqual([]);
  });

  it('CodRef 2 (corrige texto) needs zero amounts', () => {
    const errs = violations(61, (d) => {
      d.referencia = [ref({ codRef: 2, razonRef: 'Donde dice Ñuñoa debe decir Providencia' })];
    });
    expect(fields(errs)).toEqual(['detalle[0].montoItem', 'encabezado.totales.mntTotal']);
    const zero = violations(61, (d) => {
      d.referencia = [ref({ codRef: 2 })];
      d.detalle = [{ nroLinDet: 1, nmbItem: 'Corrige giro del receptor', montoItem: 0 }];
    });
    expect(zero).toEqual([]);
  });

  it('a note cannot cancel a guía: REF-3-415', () => {
    const errs = violations(61, (d) => (d.referencia = [ref({ tpoDocRef: '52', codRef: 1 })]));
    expect(errs.map((e) => [e.field, e.siiCode])).toEqual([['referencia[0].tpoDocRef', 'REF-3-415']]);
  });

  it('export notes reference the export document; at most 40 references; global references have folio 0', () => {
    expect(fields(violations(112, (d) => (d.referencia = [ref({ tpoDocRef: '33', codRef: 3 })])))).toEqual(['referencia']);
    const many = violations(33, (d) => (d.referencia = Array.from({ length: 41 }, (_, i) => ref({ tpoDocRef: '52', folioRef: String(100 + i) }, i))));
    expect(fields(many)).toEqual(['referencia']);
    expect(fields(violations(33, (d) => (d.referencia = [ref({ tpoDocRef: '52', indGlobal: 1, folioRef: '12', razonRef: 'Guías del mes' })])))).toEqual(['referencia[0].folioRef']);
    expect(violations(33, (d) => (d.referencia = [ref({ tpoDocRef: '52', indGlobal: 1, folioRef: '0', razonRef: 'Guías de noviembre' })]))).toEqual([]);
  });
});

describe('exempt documents and IVA', () => {
  it('34 must not have affected lines', () => {
    const errs = violations(34, (d) => delete d.detalle[1]?.indExe);
    expect(fields(errs)).toContain('detalle[1].indExe');
    expect(fields(errs)).toContain('encabezado.totales.mntNeto');
    expect(errs.find((e) => e.field === 'detalle[1].indExe')?.message).toMatch(/34 must not have affected lines/);
  });

  it('a 33 whose lines are all exempt must be a 34', () => {
    const errs = violations(33, (d) => {
      for (const l of d.detalle) l.indExe = 1;
      delete d.dscRcgGlobal;
    });
    expect(errs.map((e) => [e.field, e.expected])).toEqual([['detalle', 34]]);
  });

  it('exempt types carry no IVA', () => {
    const errs = violations(34, (d) => Object.assign(d.encabezado.totales, { iva: 100, tasaIva: 19 }), false);
    expect(fields(errs)).toEqual(['encabezado.totales.tasaIva', 'encabezado.totales.iva']);
  });

  it('negative amounts only in 43', () => {
    expect(fields(violations(33, (d) => Object.assign(d.detalle[1]!, { prcItem: undefined, montoItem: -5000 })))).toContain('detalle[1].montoItem');
    expect(validateDte(example(43)).length).toBe(0); // has a −120000 line
  });
});

describe('boletas', () => {
  it('need IndServicio 1–4', () => {
    expect(fields(violations(39, (d) => delete d.encabezado.idDoc.indServicio))).toEqual(['encabezado.idDoc.indServicio']);
    expect(fields(violations(41, (d) => (d.encabezado.idDoc.indServicio = 5)))).toEqual(['encabezado.idDoc.indServicio']);
  });

  it('only boletas may use the generic receptor 66666666-6', () => {
    expect(violations(39, () => undefined)).toEqual([]);
    const errs = violations(33, (d) => (d.encabezado.receptor.rutRecep = '66666666-6'));
    expect(errs.map((e) => [e.field, e.actual])).toEqual([['encabezado.receptor.rutRecep', '66666666-6']]);
  });

  it('carry no Acteco, and allow up to 1000 lines', () => {
    expect(fields(violations(39, (d) => (d.encabezado.emisor.acteco = [620200])))).toEqual(['encabezado.emisor.acteco']);
    const big = violations(39, (d) => (d.detalle = Array.from({ length: 1000 }, (_, i) => ({ nroLinDet: i + 1, nmbItem: `Ítem ${i + 1}`, qtyItem: 1, prcItem: 100, montoItem: 0 }))));
    expect(big).toEqual([]);
  });
});

describe('guías 52', () => {
  it('need IndTraslado; only guías carry it', () => {
    expect(fields(violations(52, (d) => delete d.encabezado.idDoc.indTraslado))).toEqual(['encabezado.idDoc.indTraslado']);
    expect(fields(violations(33, (d) => (d.encabezado.idDoc.indTraslado = 1)))).toEqual(['encabezado.idDoc.indTraslado']);
  });

  it('need the destination commune; no global discounts', () => {
    expect(fields(violations(52, (d) => delete d.encabezado.transporte?.cmnaDest))).toEqual(['encabezado.transporte.cmnaDest']);
    expect(fields(violations(52, (d) => (d.dscRcgGlobal = [{ nroLinDr: 1, tpoMov: 'D', tpoValor: '%', valorDr: 5 }])))).toEqual(['dscRcgGlobal']);
  });

  it('may have no values (traslado interno)', () => {
    const errs = violations(52, (d) => {
      d.encabezado.idDoc.indTraslado = 5;
      for (const l of d.detalle) {
        delete l.prcItem;
        l.montoItem = 0;
      }
    });
    expect(errs).toEqual([]);
  });
});

describe('exports 110–112', () => {
  it('need OtraMoneda (conversion to pesos, mandatory since 2017) and the currency', () => {
    const errs = violations(110, (d) => {
      delete d.encabezado.otraMoneda;
      delete d.encabezado.totales.tpoMoneda;
    });
    expect(fields(errs)).toEqual(['encabezado.totales.tpoMoneda', 'encabezado.otraMoneda']);
  });

  it('a 110 of goods needs the Aduana data FMT marks mandatory; services only the country', () => {
    const errs = violations(110, (d) => {
      d.encabezado.transporte = { aduana: { codPaisRecep: '219' } };
    });
    expect(fields(errs)).toEqual([
      'encabezado.transporte.aduana.codModVenta',
      'encabezado.transporte.aduana.codClauVenta',
      'encabezado.transporte.aduana.totClauVenta',
      'encabezado.transporte.aduana.codViaTransp',
      'encabezado.transporte.aduana.codPtoEmbarque',
      'encabezado.transporte.aduana.codPtoDesemb',
      'encabezado.transporte.aduana.totBultos',
      'encabezado.transporte.aduana.codPaisDestin',
    ]);
    const services = violations(110, (d) => {
      d.encabezado.idDoc.indServicio = 3;
      d.encabezado.transporte = { aduana: { codPaisRecep: '219' } };
    });
    expect(services).toEqual([]);
    expect(fields(violations(110, (d) => delete d.encabezado.transporte))).toEqual(['encabezado.transporte.aduana']);
  });

  it('the receptor is foreign: 55555555-5', () => {
    const errs = violations(111, (d) => (d.encabezado.receptor.rutRecep = '77894717-K'));
    expect(errs.map((e) => [e.field, e.expected])).toEqual([['encabezado.receptor.rutRecep', '55555555-5']]);
  });

  it('TotBultos is the sum of the packages', () => {
    const errs = violations(110, (d) => (d.encabezado.transporte!.aduana!.totBultos = 12));
    expect(errs.map((e) => [e.field, e.expected, e.actual])).toEqual([['encabezado.transporte.aduana.totBultos', 10, 12]]);
  });
});

describe('43 and 46', () => {
  it('43 needs Comisiones and TpoDocLiq on every line', () => {
    expect(fields(violations(43, (d) => delete d.comisiones))).toEqual(['comisiones']);
    expect(fields(violations(43, (d) => delete d.detalle[2]?.tpoDocLiq))).toEqual(['detalle[2].tpoDocLiq']);
  });

  it('46 needs its IVA retention; retention codes do not go on a 33', () => {
    expect(fields(violations(46, (d) => {
      delete d.encabezado.totales.imptoReten;
      for (const l of d.detalle) delete l.codImpAdic;
    }))).toEqual(['encabezado.totales.imptoReten']);
    const on33 = violations(33, (d) => {
      d.detalle[1]!.codImpAdic = [15];
    });
    expect(on33.map((e) => [e.field, e.actual])).toEqual([['encabezado.totales.imptoReten[0].tipoImp', 33]]);
  });

  it('commissions only in 43, 46 and notes', () => {
    expect(fields(violations(33, (d) => (d.comisiones = [{ nroLinCom: 1, tipoMovim: 'C', glosa: 'Comisión', valComNeto: 1000, valComExe: 0, valComIva: 190 }])))).toEqual(['comisiones']);
  });
});

describe('counts, dates, RUTs, Acteco', () => {
  it('at most 60 lines (boletas 1000), 20 global D/R', () => {
    const lines = violations(33, (d) => (d.detalle = Array.from({ length: 61 }, (_, i) => ({ nroLinDet: i + 1, nmbItem: `Ítem ${i + 1}`, qtyItem: 1, prcItem: 1000, montoItem: 0 }))));
    expect(lines.map((e) => [e.field, e.actual])).toEqual([['detalle', 61]]);
    const dr = violations(33, (d) => (d.dscRcgGlobal = Array.from({ length: 21 }, (_, i) => ({ nroLinDr: i + 1, tpoMov: 'D' as const, tpoValor: '$' as const, valorDr: 10 }))));
    expect(fields(dr)).toEqual(['dscRcgGlobal']);
  });

  it('FchEmis between 2003-04-01 and 2050-12-31, and a real date', () => {
    expect(fields(violations(33, (d) => (d.encabezado.idDoc.fchEmis = '2003-03-31')))).toEqual(['encabezado.idDoc.fchEmis']);
    expect(violations(33, (d) => (d.encabezado.idDoc.fchEmis = '2003-04-01'))).toEqual([]);
    expect(fields(violations(33, (d) => (d.encabezado.idDoc.fchEmis = '2051-01-01')))).toEqual(['encabezado.idDoc.fchEmis']);
    expect(fields(violations(33, (d) => (d.encabezado.idDoc.fchEmis = '2026-02-30')))).toEqual(['encabezado.idDoc.fchEmis']);
  });

  it('RUTs need a correct check digit and the canonical form', () => {
    const dv = violations(33, (d) => (d.encabezado.receptor.rutRecep = '77894717-5'));
    expect(dv.map((e) => [e.code, e.field, e.expected])).toEqual([['ERR_RUT_INVALID', 'encabezado.receptor.rutRecep', '77894717-K']]);
    const dots = violations(52, (d) => (d.encabezado.transporte!.chofer!.rutChofer = '12.345.678-5'));
    expect(dots.map((e) => [e.field, e.expected])).toEqual([['encabezado.transporte.chofer.rutChofer', '12345678-5']]);
  });

  it('Acteco: 1 to 4 six-digit codes except boletas', () => {
    expect(fields(violations(33, (d) => (d.encabezado.emisor.acteco = [])))).toEqual(['encabezado.emisor.acteco']);
    expect(fields(violations(33, (d) => (d.encabezado.emisor.acteco = [620200, 620100, 631100, 582900, 620900])))).toEqual(['encabezado.emisor.acteco']);
    expect(fields(violations(33, (d) => (d.encabezado.emisor.acteco = [6202001])))).toEqual(['encabezado.emisor.acteco[0]']);
  });

  it('mandatory issuer and receptor data per type (FMT A.44–A.61)', () => {
    expect(fields(violations(33, (d) => delete d.encabezado.receptor.giroRecep))).toEqual(['encabezado.receptor.giroRecep']);
    expect(violations(61, (d) => delete d.encabezado.receptor.giroRecep)).toEqual([]); // optional in notes
    expect(fields(violations(34, (d) => delete d.encabezado.emisor.dirOrigen))).toEqual(['encabezado.emisor.dirOrigen']);
  });
});

describe('line rules', () => {
  it('IndExe 5 only in guías; additional-tax codes only on affected lines; global D/R needs its lines', () => {
    expect(fields(violations(33, (d) => (d.detalle[0]!.indExe = 5)))).toContain('detalle[0].indExe');
    const exento = violations(34, (d) => (d.dscRcgGlobal = [{ nroLinDr: 1, tpoMov: 'D', tpoValor: '%', valorDr: 10 }]));
    expect(fields(exento)).toContain('dscRcgGlobal[0].indExeDr');
  });

  it('with lines of different additional-tax codes a global D/R on affected amounts must be %', () => {
    const errs = violations(33, (d) => {
      d.detalle[0]!.codImpAdic = [27];
      d.dscRcgGlobal = [{ nroLinDr: 1, tpoMov: 'D', tpoValor: '$', valorDr: 1000 }];
    });
    expect(fields(errs)).toEqual(['dscRcgGlobal[0].tpoValor']);
  });
});
