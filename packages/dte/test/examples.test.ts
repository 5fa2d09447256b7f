import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { inputToDte, parseDteInput } from '../src/input.js';
import { validateDte } from '../src/rules.js';
import { TIPOS_DTE } from '../src/tipos.js';
import type { Dte } from '../src/model.js';

const dir = new URL('../../../examples/dte/', import.meta.url);
const raw = (tipo: number): Record<string, unknown> => JSON.parse(readFileSync(new URL(`${tipo}.json`, dir), 'utf8')) as Record<string, unknown>;
const build = (tipo: number): Dte => inputToDte(parseDteInput(raw(tipo)), { fchEmis: '2026-11-27' });

describe('examples/dte', () => {
  it('has exactly one example per document type', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => Number(f.replace('.json', ''))).sort((a, b) => a - b);
    expect(files).toEqual([...TIPOS_DTE].sort((a, b) => a - b));
  });

  it.each([...TIPOS_DTE])('%i passes parseDteInput + inputToDte and the rules, as the demo company, without folio', (tipo) => {
    const json = raw(tipo);
    expect(json.folio).toBeUndefined();
    expect(json.fecha_emision).toBeUndefined(); // the signing date decides (inputToDte's fchEmis / the CLI's --now)
    expect((json.emisor as { rut: string }).rut).toBe('76086428-5');
    const dte = build(tipo);
    expect(dte.encabezado.idDoc.tipoDte).toBe(tipo);
    expect(dte.encabezado.idDoc.fchEmis).toBe('2026-11-27');
    expect(dte.encabezado.idDoc.folio).toBe(0);
    expect(validateDte(dte)).toEqual([]);
  });

  it('use Spanish characters (ñ, á…), kept as Latin-1', () => {
    const all = TIPOS_DTE.map((t) => JSON.stringify(build(t))).join('\n');
    expect(all).toMatch(/Ñ|ñ/);
    expect(all).toMatch(/á|é|í|ó|ú/);
    // the en dash of “Curicó–Santiago” became '-'
    expect([...all].every((c) => (c.codePointAt(0) ?? 0) <= 0xff)).toBe(true);
  });
});

describe('hand-computed totals of the examples', () => {
  it('33: line discount 10 %, exempt line, global 5 % discount on the affected lines', () => {
    const d = build(33);
    // 2 × 459900 = 919800 − 10 % (91980) = 827820; 3 × 12990 = 38970; exempt 150000
    expect(d.detalle.map((l) => [l.montoItem, l.descuentoMonto, l.indExe])).toEqual([
      [827820, 91980, undefined],
      [38970, undefined, undefined],
      [150000, undefined, 1],
    ]);
    // affected 866790 − 5 % (43339.5 → 43340) = 823450; IVA 156455.5 → 156456
    expect(d.encabezado.totales).toEqual({ mntNeto: 823450, mntExe: 150000, tasaIva: 19, iva: 156456, mntTotal: 1129906 });
    expect(d.encabezado.receptor.rznSocRecep).toBe('COMERCIAL ÑUÑOA LIMITADA');
    expect(d.encabezado.receptor.cmnaRecep).toBe('Ñuñoa');
  });

  it('34: exempt lines only, no IVA', () => {
    // 250000 + (3 × 85000 = 255000 − 5 % 12750 = 242250)
    expect(build(34).encabezado.totales).toEqual({ mntExe: 492250, mntTotal: 492250 });
  });

  it('39: gross prices, generic receptor, IndServicio 3', () => {
    const d = build(39);
    expect(d.encabezado.receptor.rutRecep).toBe('66666666-6');
    expect(d.encabezado.idDoc.indServicio).toBe(3);
    // 14990 + 2 × 17990 = 50970 gross; 50970 / 1.19 = 42831.93 → 42832; IVA 8138
    expect(d.encabezado.totales).toEqual({ mntNeto: 42832, iva: 8138, mntTotal: 50970 });
  });

  it('41: exempt boleta', () => {
    // 2 × 24990 + 2500
    expect(build(41).encabezado.totales).toEqual({ mntExe: 52480, mntTotal: 52480 });
  });

  it('43: liquidated documents (one negative) minus commissions', () => {
    const d = build(43);
    // 1250000 + 830000 − 120000 = 1960000; IVA 372400
    // commissions 156800 + 45000 = 201800; their IVA 29792 + 8550 = 38342
    // MntTotal = 1960000 + 372400 − 201800 − 38342 = 2092258
    expect(d.encabezado.totales).toEqual({
      mntNeto: 1960000,
      tasaIva: 19,
      iva: 372400,
      ivaProp: 38342,
      ivaTerc: 334058,
      comisiones: { valComNeto: 201800, valComExe: 0, valComIva: 38342 },
      mntTotal: 2092258,
    });
    expect(d.detalle.map((l) => l.tpoDocLiq)).toEqual(['33', '33', '61']);
  });

  it('46: IVA retained in full (code 15): MntTotal = MntNeto', () => {
    const t = build(46).encabezado.totales;
    // 350000 + 85000 = 435000; IVA 82650 retained
    expect(t).toEqual({ mntNeto: 435000, tasaIva: 19, iva: 82650, imptoReten: [{ tipoImp: 15, tasaImp: 19, montoImp: 82650 }], mntTotal: 435000 });
  });

  it('52: IndTraslado 1 with Transporte', () => {
    const d = build(52);
    expect(d.encabezado.idDoc.indTraslado).toBe(1);
    expect(d.encabezado.transporte).toMatchObject({ patente: 'KXLT45', rutTrans: '8765432-K', chofer: { rutChofer: '12345678-5', nombreChofer: 'Pedro Ñancupil Araya' }, cmnaDest: 'Maipú' });
    // 1290000 + 489000 = 1779000; IVA 338010
    expect(d.encabezado.totales).toEqual({ mntNeto: 1779000, tasaIva: 19, iva: 338010, mntTotal: 2117010 });
  });

  it('56 and 61 reference a 33 with CodRef', () => {
    const nd = build(56);
    expect(nd.referencia).toEqual([{ nroLinRef: 1, tpoDocRef: '33', folioRef: '1520', fchRef: '2026-10-28', codRef: 3, razonRef: 'Cobro de intereses por pago atrasado' }]);
    expect(nd.encabezado.totales).toEqual({ mntNeto: 25000, tasaIva: 19, iva: 4750, mntTotal: 29750 });
    const nc = build(61);
    expect(nc.referencia?.[0]).toMatchObject({ tpoDocRef: '33', folioRef: '1521', codRef: 3 });
    // 12990 × 19 % = 2468.1 → 2468
    expect(nc.encabezado.totales).toEqual({ mntNeto: 12990, tasaIva: 19, iva: 2468, mntTotal: 15458 });
  });

  it('110: USD with decimals, flete and seguro as exempt surcharges, CLP conversion', () => {
    const d = build(110);
    // 25 × 189.95 = 4748.75; 25 × 42.35 = 1058.75; + 320.50 + 45.27 = 6173.27 USD
    expect(d.detalle.map((l) => l.montoItem)).toEqual([4748.75, 1058.75]);
    expect(d.dscRcgGlobal?.map((r) => [r.tpoMov, r.valorDr, r.indExeDr])).toEqual([
      ['R', 320.5, 1],
      ['R', 45.27, 1],
    ]);
    expect(d.encabezado.totales).toEqual({ tpoMoneda: 'DOLAR USA', mntExe: 6173.27, mntTotal: 6173.27 });
    // 6173.27 × 947.35 = 5 848 247.3345 → 5848247
    expect(d.encabezado.otraMoneda).toEqual({ tpoMoneda: 'PESO CL', tpoCambio: 947.35, mntExeOtrMnda: 5848247, mntTotOtrMnda: 5848247 });
    expect(d.encabezado.receptor.rutRecep).toBe('55555555-5');
    expect(d.encabezado.transporte?.aduana).toMatchObject({ codModVenta: 1, codClauVenta: 1, totClauVenta: 6173.27, codPtoEmbarque: 905, codPtoDesemb: 252, totBultos: 10, mntFlete: 320.5, mntSeguro: 45.27, codPaisRecep: '219' });
  });

  it('111/112 reference the 110 and convert to pesos', () => {
    const nd = build(111);
    // 85.40 × 950.10 = 81138.54 → 81139
    expect(nd.encabezado.totales).toEqual({ tpoMoneda: 'DOLAR USA', mntExe: 85.4, mntTotal: 85.4 });
    expect(nd.encabezado.otraMoneda?.mntTotOtrMnda).toBe(81139);
    expect(nd.referencia?.[0]).toMatchObject({ tpoDocRef: '110', folioRef: '4512', codRef: 3 });
    const nc = build(112);
    // 2 × 42.35 = 84.70; × 947.35 = 80240.545 → 80241
    expect(nc.encabezado.totales).toEqual({ tpoMoneda: 'DOLAR USA', mntExe: 84.7, mntTotal: 84.7 });
    expect(nc.encabezado.otraMoneda?.mntTotOtrMnda).toBe(80241);
    expect(nc.referencia?.[0]).toMatchObject({ tpoDocRef: '110', codRef: 3 });
  });
});
