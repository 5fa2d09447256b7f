import { describe, expect, it } from 'vitest';
import type { Comision, Detalle, DscRcgGlobal, Dte, IdDoc, ImptoReten, OtraMoneda, Totales } from '../src/model.js';
import type { TipoDte } from '../src/tipos.js';
import { IMPUESTOS_ADICIONALES, checkStatedLineTotals, checkStatedTotals, computeTotals } from '../src/totals.js';
import { TimbreError } from '../src/errors.js';

type Line = Partial<Detalle> & { nmbItem?: string };

function doc(
  tipo: TipoDte,
  lines: Line[],
  o: { idDoc?: Partial<IdDoc>; totales?: Partial<Totales>; dr?: Omit<DscRcgGlobal, 'nroLinDr'>[]; comisiones?: Omit<Comision, 'nroLinCom'>[]; otraMoneda?: OtraMoneda } = {},
): Dte {
  return {
    encabezado: {
      idDoc: { tipoDte: tipo, folio: 1, fchEmis: '2026-11-27', ...o.idDoc },
      emisor: { rutEmisor: '76086428-5', rznSoc: 'EMPRESA DEMO TIMBRE SPA', giroEmis: 'Software', acteco: [620200] },
      receptor: { rutRecep: '77894717-K', rznSocRecep: 'COMERCIAL ÑUÑOA LIMITADA' },
      totales: { mntTotal: 0, ...o.totales } as Totales,
      ...(o.otraMoneda ? { otraMoneda: o.otraMoneda } : {}),
    },
    detalle: lines.map((l, i) => ({ nroLinDet: i + 1, nmbItem: l.nmbItem ?? `Item ${i + 1}`, montoItem: 0, ...l })),
    ...(o.dr ? { dscRcgGlobal: o.dr.map((d, i) => ({ nroLinDr: i + 1, ...d })) } : {}),
    ...(o.comisiones ? { comisiones: o.comisiones.map((c, i) => ({ nroLinCom: i + 1, ...c })) } : {}),
  };
}

const totals = (d: Dte) => computeTotals(d).dte.encabezado.totales;

describe('line amounts (FMT B.38)', () => {
  it('MontoItem = round(Qty × Prc) − DescuentoMonto + RecargoMonto, percentages on round(Qty × Prc)', () => {
    const out = computeTotals(
      doc(33, [
        { qtyItem: 2, prcItem: 459900, descuentoPct: 10 }, // 919800 − 91980
        { qtyItem: 1, prcItem: 10000, recargoPct: 15 }, // 10000 + 1500
        { qtyItem: 3, prcItem: 1234.5 }, // 3703.5 → 3704
        { qtyItem: 4, prcItem: 1000, descuentoPct: 12.5, recargoPct: 2.5 }, // 4000 − 500 + 100
        { prcItem: 990 }, // no quantity → 1
        { qtyItem: 5, montoItem: 7000 }, // no price: the stated amount stands
        { qtyItem: 2, prcItem: 5000, descuentoMonto: 1200 }, // amount given directly
      ]),
    ).dte;
    const [a, b, c, e, f, g, h] = out.detalle;
    expect(a).toMatchObject({ descuentoMonto: 91980, montoItem: 827820 });
    expect(b).toMatchObject({ recargoMonto: 1500, montoItem: 11500 });
    expect(c?.montoItem).toBe(3704);
    expect(e).toMatchObject({ descuentoMonto: 500, recargoMonto: 100, montoItem: 3600 });
    expect(f).toMatchObject({ qtyItem: 1, montoItem: 990 });
    expect(g?.montoItem).toBe(7000);
    expect(h).toMatchObject({ descuentoMonto: 1200, montoItem: 8800 });
  });

  it('drops a discount that rounds to 0 (DescuentoMonto is a positive integer in the XSD)', () => {
    const [l] = computeTotals(doc(33, [{ qtyItem: 1, prcItem: 4, descuentoPct: 10 }])).dte.detalle;
    expect(l?.montoItem).toBe(4);
    expect(l?.descuentoMonto).toBeUndefined();
    expect(l?.descuentoPct).toBeUndefined();
  });

  it('forces MontoItem 0 on IndExe 4 (no venta) and 5 (a rebajar)', () => {
    const out = computeTotals(doc(52, [{ qtyItem: 1, prcItem: 5000 }, { qtyItem: 2, prcItem: 3000, indExe: 4 }], { idDoc: { indTraslado: 1 } })).dte;
    expect(out.detalle[1]?.montoItem).toBe(0);
    expect(out.encabezado.totales).toMatchObject({ mntNeto: 5000, iva: 950, mntTotal: 5950 });
  });

  it('does not modify its input', () => {
    const d = doc(33, [{ qtyItem: 2, prcItem: 100 }]);
    const before = JSON.stringify(d);
    computeTotals(d);
    expect(JSON.stringify(d)).toBe(before);
  });
});

describe('facturas: neto, exento, IVA (FMT A.107–A.124)', () => {
  it('IVA of 104480 is 19851 (api-contract example)', () => {
    const t = totals(doc(33, [{ qtyItem: 2, prcItem: 45990 }, { qtyItem: 1, prcItem: 12500 }]));
    expect(t).toEqual({ mntNeto: 104480, tasaIva: 19, iva: 19851, mntTotal: 124331 });
  });

  it('global % discount applies to the affected lines only; IndExeDR 1 to the exempt lines', () => {
    const lines: Line[] = [
      { qtyItem: 2, prcItem: 459900, descuentoPct: 10 }, // 827820
      { qtyItem: 3, prcItem: 12990 }, // 38970
      { qtyItem: 1, prcItem: 150000, indExe: 1 },
    ];
    // afecto 866790 − 5 % (43339.5 → 43340) = 823450; IVA 156455.5 → 156456
    expect(totals(doc(33, lines, { dr: [{ tpoMov: 'D', tpoValor: '%', valorDr: 5 }] }))).toEqual({
      mntNeto: 823450,
      mntExe: 150000,
      tasaIva: 19,
      iva: 156456,
      mntTotal: 1129906,
    });
    // plus 10 % off the exempt 150000 and a $ surcharge of 1000 on the affected amount
    const t = totals(
      doc(33, lines, {
        dr: [
          { tpoMov: 'D', tpoValor: '%', valorDr: 5 },
          { tpoMov: 'D', tpoValor: '%', valorDr: 10, indExeDr: 1 },
          { tpoMov: 'R', tpoValor: '$', valorDr: 1000 },
        ],
      }),
    );
    // neto 823450 + 1000 = 824450; IVA 156645.5 → 156646; exento 135000
    expect(t).toEqual({ mntNeto: 824450, mntExe: 135000, tasaIva: 19, iva: 156646, mntTotal: 1116096 });
  });

  it('several % discounts each apply to the lines, not compounded', () => {
    const t = totals(doc(33, [{ qtyItem: 1, prcItem: 100000 }], { dr: [{ tpoMov: 'D', tpoValor: '%', valorDr: 10 }, { tpoMov: 'D', tpoValor: '%', valorDr: 10 }] }));
    expect(t.mntNeto).toBe(80000); // not 81000
  });

  it('34: only MntExe and MntTotal, no TasaIVA/IVA', () => {
    const t = totals(doc(34, [{ qtyItem: 1, prcItem: 250000, indExe: 1 }, { qtyItem: 3, prcItem: 85000, descuentoPct: 5, indExe: 1 }]));
    expect(t).toEqual({ mntExe: 492250, mntTotal: 492250 });
  });

  it('MntBruto 1: gross lines, neto = round(bruto / 1.19), IVA = bruto − neto', () => {
    expect(totals(doc(33, [{ qtyItem: 1, prcItem: 11900 }], { idDoc: { mntBruto: 1 } }))).toEqual({ mntNeto: 10000, tasaIva: 19, iva: 1900, mntTotal: 11900 });
    // 680 / 1.19 = 571.43 → 571; IVA 109 (not round(571 × 0.19) = 108, which would lose a peso)
    expect(totals(doc(33, [{ qtyItem: 1, prcItem: 680 }], { idDoc: { mntBruto: 1 } }))).toEqual({ mntNeto: 571, tasaIva: 19, iva: 109, mntTotal: 680 });
  });

  it('IndExe 2/6 → MontoNF and MontoPeriodo; IndExe 3 → GrntDep added to the total', () => {
    const t = totals(
      doc(33, [
        { qtyItem: 1, prcItem: 10000 },
        { qtyItem: 1, prcItem: 3000, indExe: 2 },
        { qtyItem: 1, prcItem: 500, indExe: 6 },
        { qtyItem: 6, prcItem: 150, indExe: 3 },
      ]),
    );
    expect(t).toEqual({ mntNeto: 10000, tasaIva: 19, iva: 1900, grntDep: 900, mntTotal: 12800, montoNf: 2500, montoPeriodo: 15300 });
  });

  it('CredEC: 65 % of the IVA is subtracted (FMT A.119)', () => {
    const t = totals(doc(33, [{ qtyItem: 1, prcItem: 100000 }], { totales: { credEc: 0 } }));
    expect(t).toEqual({ mntNeto: 100000, tasaIva: 19, iva: 19000, credEc: 12350, mntTotal: 106650 });
  });

  it('a 61 that corrects text (zero lines) has zero totals', () => {
    expect(totals(doc(61, [{ nmbItem: 'Donde dice Ñuñoa debe decir Providencia', montoItem: 0 }]))).toEqual({ mntNeto: 0, tasaIva: 19, iva: 0, mntTotal: 0 });
  });

  it('52 without values (traslado interno): MntTotal 0 only', () => {
    expect(totals(doc(52, [{ qtyItem: 10, unmdItem: 'UN' }, { qtyItem: 2 }], { idDoc: { indTraslado: 5 } }))).toEqual({ mntTotal: 0 });
  });
});

describe('additional taxes and retentions (FMT A.115–A.118, §4)', () => {
  it('27 (bebidas analcohólicas 10 %) on the lines carrying the code, added to the total', () => {
    const t = totals(
      doc(33, [
        { nmbItem: 'Bebida cola 1,5 L', qtyItem: 24, prcItem: 1190, codImpAdic: [27] }, // 28560
        { nmbItem: 'Galletas de avena', qtyItem: 10, prcItem: 890 }, // 8900
      ]),
    );
    // neto 37460; IVA 7117.4 → 7117; 27: 2856
    expect(t).toEqual({ mntNeto: 37460, tasaIva: 19, iva: 7117, imptoReten: [{ tipoImp: 27, tasaImp: 10, montoImp: 2856 }], mntTotal: 47433 });
  });

  it('several codes: 24 licores 31.5 %, 271 azucaradas 18 %', () => {
    const t = totals(
      doc(33, [
        { qtyItem: 6, prcItem: 8990, codImpAdic: [24] }, // 53940 → 16991.1
        { qtyItem: 12, prcItem: 1390, codImpAdic: [271] }, // 16680 → 3002.4
      ]),
    );
    expect(t.imptoReten).toEqual([
      { tipoImp: 24, tasaImp: 31.5, montoImp: 16991 },
      { tipoImp: 271, tasaImp: 18, montoImp: 3002 },
    ]);
    // 70620 + IVA 13417.8 → 13418 + 16991 + 3002
    expect(t.mntTotal).toBe(70620 + 13418 + 16991 + 3002);
  });

  it('46 with retention 15: the whole IVA is retained, MntTotal = Neto (+ exempt)', () => {
    const out = computeTotals(
      doc(46, [{ qtyItem: 1, prcItem: 350000 }, { qtyItem: 1, prcItem: 85000 }, { qtyItem: 1, prcItem: 20000, indExe: 1 }], { totales: { imptoReten: [{ tipoImp: 15, montoImp: 0 }] } }),
    ).dte;
    expect(out.encabezado.totales).toEqual({
      mntNeto: 435000,
      mntExe: 20000,
      tasaIva: 19,
      iva: 82650,
      imptoReten: [{ tipoImp: 15, tasaImp: 19, montoImp: 82650 }],
      mntTotal: 455000,
    });
    // the affected lines now carry the code (the SII cross-checks it), the exempt one does not
    expect(out.detalle.map((d) => d.codImpAdic)).toEqual([[15], [15], undefined]);
  });

  it('total retention on MntNeto after a global discount equals the IVA', () => {
    const t = totals(doc(46, [{ qtyItem: 1, prcItem: 99999, codImpAdic: [15] }], { dr: [{ tpoMov: 'D', tpoValor: '%', valorDr: 3 }] }));
    // 99999 − 3000 (2999.97) = 96999; IVA 18429.81 → 18430
    expect(t.iva).toBe(18430);
    expect(t.imptoReten?.[0]?.montoImp).toBe(18430);
    expect(t.mntTotal).toBe(96999);
  });

  it('partial retention 32 (ganado 8 %): IVANoRet = IVA − retained', () => {
    const t = totals(doc(46, [{ qtyItem: 10, prcItem: 100000, codImpAdic: [32] }]));
    expect(t).toEqual({ mntNeto: 1000000, tasaIva: 19, iva: 190000, imptoReten: [{ tipoImp: 32, tasaImp: 8, montoImp: 80000 }], ivaNoRet: 110000, mntTotal: 1110000 });
  });

  it('a declared rate overrides the default; specific taxes take the stated amount', () => {
    const t = totals(
      doc(33, [{ qtyItem: 1000, prcItem: 700, codImpAdic: [28] }, { qtyItem: 10, prcItem: 1000, codImpAdic: [27] }], {
        totales: { imptoReten: [{ tipoImp: 28, montoImp: 61234 }, { tipoImp: 27, tasaImp: 12, montoImp: 0 }] },
      }),
    );
    expect(t.imptoReten).toEqual([
      { tipoImp: 28, montoImp: 61234 },
      { tipoImp: 27, tasaImp: 12, montoImp: 1200 },
    ]);
    expect(t.mntTotal).toBe(710000 + 134900 + 61234 + 1200);
  });

  it('refuses unknown codes and specific taxes without an amount', () => {
    const unknown = () => computeTotals(doc(33, [{ qtyItem: 1, prcItem: 100, codImpAdic: [54] }]));
    expect(unknown).toThrow(TimbreError);
    expect(unknown).toThrow(/54/);
    try {
      computeTotals(doc(33, [{ qtyItem: 1, prcItem: 100, codImpAdic: [35] }]));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TimbreError);
      expect((e as TimbreError).code).toBe('ERR_RULE_VIOLATION');
      expect((e as TimbreError).field).toBe('detalle.codImpAdic.montoImp');
    }
  });

  it('classifies codes per FMT §4: retentions subtract, IVA anticipado/margen add', () => {
    for (const c of [15, 16, 30, 31, 32, 33, 34, 36, 37, 38, 39, 40, 41, 46, 47, 48, 49, 301, 321, 331, 341, 361, 371, 481]) expect(IMPUESTOS_ADICIONALES[c]?.tipo).toBe('R');
    for (const c of [14, 17, 18, 19, 23, 24, 25, 26, 27, 271, 28, 35, 44, 45, 50, 51, 52, 53]) expect(IMPUESTOS_ADICIONALES[c]?.tipo).toBe('A');
    expect(IMPUESTOS_ADICIONALES[54]).toBeUndefined();
    // 18 IVA anticipado carne 5 % is added
    const t = totals(doc(33, [{ qtyItem: 1, prcItem: 100000, codImpAdic: [18] }]));
    expect(t.mntTotal).toBe(100000 + 19000 + 5000);
  });
});

describe('43 liquidación-factura with Comisiones', () => {
  it('MntTotal = MntNeto + MntExe + IVA − ValComNeto − ValComExe − ValComIVA; IVAProp/IVATerc', () => {
    const t = totals(
      doc(
        43,
        [
          { tpoDocLiq: '33', qtyItem: 1000, montoItem: 1250000 },
          { tpoDocLiq: '33', qtyItem: 500, montoItem: 830000 },
          { tpoDocLiq: '61', qtyItem: 80, montoItem: -120000 },
        ],
        {
          comisiones: [
            { tipoMovim: 'C', glosa: 'Comisión 8 %', tasaComision: 8, valComNeto: 156800, valComExe: 0 } as Comision,
            { tipoMovim: 'O', glosa: 'Flete', valComNeto: 45000, valComExe: 1500 } as Comision,
          ],
        },
      ),
    );
    // neto 1960000; IVA 372400; commissions 201800 + IVA (29792 + 8550) + exempt 1500
    expect(t).toEqual({
      mntNeto: 1960000,
      tasaIva: 19,
      iva: 372400,
      ivaProp: 38342,
      ivaTerc: 334058,
      comisiones: { valComNeto: 201800, valComExe: 1500, valComIva: 38342 },
      mntTotal: 1960000 + 372400 - 201800 - 1500 - 38342,
    });
  });

  it('negative amounts round half away from zero (not toward +∞)', () => {
    const t = totals(doc(43, [{ tpoDocLiq: '61', montoItem: -12350 }], { comisiones: [{ tipoMovim: 'C', glosa: 'Ajuste', valComNeto: -50, valComExe: 0 } as Comision] }));
    // IVA −2346.5 → −2347 (Math.round would give −2346); commission IVA −9.5 → −10
    expect(t.iva).toBe(-2347);
    expect(t.comisiones).toEqual({ valComNeto: -50, valComExe: 0, valComIva: -10 });
    expect(t.mntTotal).toBe(-12350 - 2347 + 50 + 10);
    expect(t.ivaProp).toBeUndefined(); // no split for a negative IVA
  });
});

describe('boletas (BOLF; EnvioBOLETA_v11.xsd)', () => {
  it('39 gross 680 → neto 571 + IVA 109 (neto = round(680 / 1.19), IVA = the rest)', () => {
    expect(totals(doc(39, [{ qtyItem: 1, prcItem: 680 }], { idDoc: { indServicio: 3 } }))).toEqual({ mntNeto: 571, iva: 109, mntTotal: 680 });
  });

  it('39 gross with an exempt line and a global % discount on the gross amount', () => {
    const t = totals(doc(39, [{ qtyItem: 1, prcItem: 11900 }, { qtyItem: 1, prcItem: 5000, indExe: 1 }], { dr: [{ tpoMov: 'D', tpoValor: '%', valorDr: 10 }] }));
    // gross 11900 − 1190 = 10710 → neto 9000, IVA 1710
    expect(t).toEqual({ mntNeto: 9000, mntExe: 5000, iva: 1710, mntTotal: 15710 });
  });

  it('39 with IndMntNeto 2: net lines', () => {
    expect(totals(doc(39, [{ qtyItem: 1, prcItem: 1000 }], { idDoc: { indMntNeto: 2 } }))).toEqual({ mntNeto: 1000, iva: 190, mntTotal: 1190 });
  });

  it('86710 gross → 72866 + 13844 (the LibreDTE edge case, total preserved)', () => {
    expect(totals(doc(39, [{ montoItem: 86710 }]))).toEqual({ mntNeto: 72866, iva: 13844, mntTotal: 86710 });
  });

  it('41 exempt boleta: MntExe = MntTotal; no TasaIVA in boletas', () => {
    expect(totals(doc(41, [{ qtyItem: 2, prcItem: 24990, indExe: 1 }, { qtyItem: 1, prcItem: 2500, indExe: 1 }]))).toEqual({ mntExe: 52480, mntTotal: 52480 });
  });
});

describe('exports (110–112): decimals and the CLP conversion', () => {
  const lines: Line[] = [
    { qtyItem: 25, prcItem: 189.95 }, // 4748.75
    { qtyItem: 25, prcItem: 42.35 }, // 1058.75
  ];
  const dr: Omit<DscRcgGlobal, 'nroLinDr'>[] = [
    { tpoMov: 'R', tpoValor: '$', valorDr: 320.5 },
    { tpoMov: 'R', tpoValor: '$', valorDr: 45.27 },
  ];

  it('forces IndExe 1 and IndExeDR 1, keeps 4 decimals, converts with TpoCambio rounding half away', () => {
    const out = computeTotals(doc(110, lines, { dr, totales: { tpoMoneda: 'DOLAR USA' }, otraMoneda: { tpoMoneda: 'PESO CL', tpoCambio: 947.35, mntTotOtrMnda: 0 } })).dte;
    expect(out.detalle.map((d) => [d.indExe, d.montoItem])).toEqual([
      [1, 4748.75],
      [1, 1058.75],
    ]);
    expect(out.dscRcgGlobal?.map((d) => d.indExeDr)).toEqual([1, 1]);
    expect(out.encabezado.totales).toEqual({ tpoMoneda: 'DOLAR USA', mntExe: 6173.27, mntTotal: 6173.27 });
    // 6173.27 × 947.35 = 5 848 247.3345
    expect(out.encabezado.otraMoneda).toEqual({ tpoMoneda: 'PESO CL', tpoCambio: 947.35, mntExeOtrMnda: 5848247, mntTotOtrMnda: 5848247 });
  });

  it('the CLP conversion is exact where floats are not (1.005 × 100 = 100.4999… as doubles)', () => {
    const om = computeTotals(doc(112, [{ qtyItem: 1, prcItem: 1.005 }], { totales: { tpoMoneda: 'DOLAR USA' }, otraMoneda: { tpoMoneda: 'PESO CL', tpoCambio: 100, mntTotOtrMnda: 0 } })).dte.encabezado.otraMoneda;
    expect(om?.mntTotOtrMnda).toBe(101);
  });

  it('line amounts keep 4 decimals; line discounts are whole (MntImpType)', () => {
    const out = computeTotals(doc(110, [{ qtyItem: 3, prcItem: 33.33335 }, { qtyItem: 10, prcItem: 99.99, descuentoPct: 10 }], { totales: { tpoMoneda: 'EURO' } })).dte;
    expect(out.detalle[0]?.montoItem).toBe(100.0001); // 100.00005 → half away
    expect(out.detalle[1]).toMatchObject({ descuentoMonto: 100, montoItem: 899.9 }); // 999.9 − round(99.99)
    expect(out.encabezado.totales.mntTotal).toBe(999.9001); // 100.0001 + 899.9
  });

  it('a global % surcharge keeps 4 decimals; FmaPagExp 21 (sin pago) has MntTotal 0', () => {
    const t = totals(doc(110, [{ qtyItem: 1, prcItem: 1234.56 }], { dr: [{ tpoMov: 'R', tpoValor: '%', valorDr: 2.5 }], idDoc: { fmaPagExp: 21 } }));
    // 2.5 % of 1234.56 = 30.864
    expect(t).toEqual({ mntExe: 1265.424, mntTotal: 0 });
  });
});

describe('checkStatedTotals / checkStatedLineTotals', () => {
  const computed: Totales = { mntNeto: 104480, tasaIva: 19, iva: 19851, mntTotal: 124331 };

  it('reports each disagreeing field with the input path, the expected and the stated value', () => {
    const errs = checkStatedTotals({ mntNeto: 104000, iva: 19851, mntTotal: 123851, mntExe: 0 }, computed);
    expect(errs.map((e) => [e.code, e.field, e.expected, e.actual])).toEqual([
      ['ERR_TOTALS_MISMATCH', 'totales.monto_neto', 104480, 104000],
      ['ERR_TOTALS_MISMATCH', 'totales.monto_total', 124331, 123851],
    ]);
    expect(errs[0]?.message).toContain('104480');
  });

  it('accepts agreeing totals, a stated 0 for an absent amount, and takes a field prefix', () => {
    expect(checkStatedTotals({ mntNeto: 104480, iva: 19851, mntTotal: 124331, mntExe: 0, tasaIva: 19 }, computed)).toEqual([]);
    expect(checkStatedTotals({ mntExe: 1 }, computed, 'documents[3].totales')[0]?.field).toBe('documents[3].totales.monto_exento');
  });

  it('compares export decimals exactly to 4 places', () => {
    const exp: Totales = { mntExe: 6173.27, mntTotal: 6173.27 };
    expect(checkStatedTotals({ mntTotal: 6173.27 }, exp)).toEqual([]);
    expect(checkStatedTotals({ mntTotal: 6173.28 }, exp)[0]).toMatchObject({ field: 'totales.monto_total', expected: 6173.27, actual: 6173.28 });
  });

  it('checks stated line amounts and line discounts', () => {
    const lines = computeTotals(doc(33, [{ qtyItem: 2, prcItem: 45990 }, { qtyItem: 2, prcItem: 459900, descuentoPct: 10 }])).dte.detalle;
    const errs = checkStatedLineTotals([{ montoItem: 91980 }, { montoItem: 827800, descuentoMonto: 92000 }], lines);
    expect(errs.map((e) => [e.field, e.expected, e.actual])).toEqual([
      ['items[1].descuento_monto', 91980, 92000],
      ['items[1].monto_total', 827820, 827800],
    ]);
  });
});

describe('declared ImptoReten input is rebuilt, not trusted', () => {
  it('ignores a stale montoImp of a rate-based code', () => {
    const declared: ImptoReten[] = [{ tipoImp: 27, montoImp: 999999 }];
    const t = totals(doc(33, [{ qtyItem: 1, prcItem: 1000, codImpAdic: [27] }], { totales: { imptoReten: declared } }));
    expect(t.imptoReten).toEqual([{ tipoImp: 27, tasaImp: 10, montoImp: 100 }]);
  });
});
