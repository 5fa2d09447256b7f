/**
 * Totals from the lines: line amounts, line and global discounts/surcharges, IVA, additional taxes
 * and retentions, commissions (43), gross-price documents and boletas, exports and their CLP
 * conversion.
 *
 * Sources (keys of sii-spec.md §0):
 *  - FMT = SII "Formato Documentos Tributarios Electrónicos" v2.2 (2019-11-15). Field numbers below
 *    are its Encabezado (A.n), Detalle (B.n), Descuentos/Recargos (D.n), Comisiones (F.n) tables and
 *    its §4 "Codificación tipos de impuestos y recargos".
 *  - XSD = DTE_v10.xsd / SiiTypes_v10.xsd / EnvioBOLETA_v11.xsd.
 *  - LDTE = LibreDTE/libredte-lib-core (Normalizer traits, `Utils::calcularNetoIVA`,
 *    `resources/data/repository/impuestos_adicionales_retenciones.php`).
 *  - RDTE = happier-milo/ruraldte-engine `docs/DTE_CERT_APRENDIZAJES.md` §6–7 and
 *    `engine/cert-factura.ts` (`computeLiquidacionCertTotals`), field notes of a 2026 certification.
 */
import { TimbreError } from './errors.js';
import type { ComisionesTotales, Detalle, Dte, ImptoReten, Totales } from './model.js';
import { isBoleta, isExportacion, type TipoDte } from './tipos.js';
import { divideRound, formatDecimal, multiplyRound, percentOf, roundHalfAway, sumRound } from './amounts.js';

/** IVA rate in percent (LDTE1 `lib/Sii.php` IVA = 19; FMT A.111 `TasaIVA`). */
export const TASA_IVA_PCT = 19;

/** Decimals of amounts: CLP pesos are integers; export documents carry up to 4 (XSD Exportaciones
 * MontoItem / MntExe / MntTotal: xs:decimal fractionDigits 4, totalDigits 18). */
export const decimalsOf = (tipo: TipoDte): 0 | 4 => (isExportacion(tipo) ? 4 : 0);

// ------------------------------------------------------------------------------------------------
// Additional taxes (A) and retentions (R): `ImpAdicDTEType` codes.
// ------------------------------------------------------------------------------------------------

export interface ImpuestoAdicionalInfo {
  codigo: number;
  /** A: added to MntTotal (impuesto adicional / específico / IVA anticipado / IVA margen).
   *  R: retention of IVA, subtracted from MntTotal (FMT A.124 "− IVA Retenido productos"). */
  tipo: 'A' | 'R';
  glosa: string;
  /** Default rate in percent; `undefined` when the amount is not rate × lines and must be given. */
  tasa?: number;
  /** The amount is not `tasa × Σ lines with the code` (FMT A.117 a/b/c): specific taxes (UTM per m³),
   *  margins and IVA anticipado faenamiento (on `MntBase`); the issuer must state it. */
  montoExplicito?: true;
}

const A = (codigo: number, glosa: string, tasa?: number, montoExplicito?: true): ImpuestoAdicionalInfo =>
  ({ codigo, tipo: 'A', glosa, ...(tasa !== undefined ? { tasa } : {}), ...(montoExplicito ? { montoExplicito } : {}) });
const R = (codigo: number, glosa: string, tasa?: number): ImpuestoAdicionalInfo =>
  ({ codigo, tipo: 'R', glosa, ...(tasa !== undefined ? { tasa } : {}) });

/**
 * The code table. Classification and rates from FMT §4 (pp. 46–49) — "Facturas cod (30, 33)" codes
 * are charged to the buyer (A), "Factura de Compra emitida cod (45, 46)" codes and every "IVA
 * retenido …" are retentions (R) — cross-checked with LDTE `impuestos_adicionales_retenciones.php`
 * (tipo A/R and tasa) and the XSD `ImpAdicDTEType` annotations. Notes:
 *  - 14/50 (IVA de margen de comercialización) and 17/18/19 (IVA anticipado) are ADDED: FMT A.124
 *    lists "+ Iva Margen Comercialización + IVA Anticipado". (Some third-party code treats 14/17–19 as
 *    retentions; FMT is explicit.)
 *  - 301…481 are the "cambio de sujeto en retención total" variants of 30…48 (FMT §4 2nd column):
 *    the whole IVA (19 %) is retained.
 *  - 16 (retenido parcial), 40 (retenido opcional): no standard rate; the issuer states it.
 *  - 53 (Impuesto retenido suplementeros, Art. 74 N°5 LIR, 0.5 % of the PUBLIC price, on facturas de
 *    venta): it is charged on the invoice, so it is added; its base is not the line amount, so the
 *    amount must be stated. (Classification not confirmed by an SII-accepted sample.)
 *  - 46 (IVA retenido oro) applies to facturas 33 per FMT §4 and is a 100 % retention.
 *  - 54/55 are in the XSD enumeration without any public definition: refused.
 */
export const IMPUESTOS_ADICIONALES: Readonly<Record<number, ImpuestoAdicionalInfo>> = Object.fromEntries(
  [
    A(14, 'IVA de margen de comercialización', undefined, true),
    R(15, 'IVA retenido total', 19),
    R(16, 'IVA retenido parcial'),
    A(17, 'IVA anticipado faenamiento carne', 5, true),
    A(18, 'IVA anticipado carne', 5),
    A(19, 'IVA anticipado harina', 12),
    A(23, 'Impuesto adicional Art. 37 letras a, b, c', 15),
    A(24, 'Impuesto Art. 42 b) licores, piscos, destilados', 31.5),
    A(25, 'Impuesto Art. 42 c) vinos', 20.5),
    A(26, 'Impuesto Art. 42 c) cervezas y bebidas alcohólicas', 20.5),
    A(27, 'Impuesto Art. 42 a) bebidas analcohólicas y minerales', 10),
    A(271, 'Impuesto Art. 42 a) inciso 2° bebidas azucaradas', 18),
    A(28, 'Impuesto específico diésel', undefined, true),
    R(30, 'IVA retenido legumbres', 10),
    R(31, 'IVA retenido silvestres', 19),
    R(32, 'IVA retenido ganado', 8),
    R(33, 'IVA retenido madera', 8),
    R(34, 'IVA retenido trigo', 4),
    A(35, 'Impuesto específico gasolina', undefined, true),
    R(36, 'IVA retenido arroz', 10),
    R(37, 'IVA retenido hidrobiológicas', 10),
    R(38, 'IVA retenido chatarra', 19),
    R(39, 'IVA retenido PPA', 19),
    R(40, 'IVA retenido opcional'),
    R(41, 'IVA retenido construcción', 19),
    A(44, 'Impuesto adicional Art. 37 letras e, h, i, l', 15),
    A(45, 'Impuesto adicional Art. 37 letra j (pirotecnia)', 50),
    R(46, 'IVA retenido oro', 19),
    R(47, 'IVA retenido cartones', 19),
    R(48, 'IVA retenido frambuesas y pasas', 14),
    R(49, 'Factura de compra sin retención (Bolsa de Productos)', 0),
    A(50, 'IVA de margen de comercialización de instrumentos de prepago', undefined, true),
    A(51, 'Impuesto gas natural comprimido', undefined, true),
    A(52, 'Impuesto gas licuado de petróleo', undefined, true),
    A(53, 'Impuesto retenido suplementeros (Art. 74 N°5 LIR)', undefined, true),
    R(301, 'IVA retenido legumbres (cambio de sujeto, total)', 19),
    R(321, 'IVA retenido ganado (cambio de sujeto, total)', 19),
    R(331, 'IVA retenido madera (cambio de sujeto, total)', 19),
    R(341, 'IVA retenido trigo (cambio de sujeto, total)', 19),
    R(361, 'IVA retenido arroz (cambio de sujeto, total)', 19),
    R(371, 'IVA retenido hidrobiológicas (cambio de sujeto, total)', 19),
    R(481, 'IVA retenido frambuesas (cambio de sujeto, total)', 19),
  ].map((i) => [i.codigo, i]),
);

export const impuestoAdicionalInfo = (codigo: number): ImpuestoAdicionalInfo | undefined => IMPUESTOS_ADICIONALES[codigo];
export const isRetencionIva = (codigo: number): boolean => IMPUESTOS_ADICIONALES[codigo]?.tipo === 'R';

// ------------------------------------------------------------------------------------------------
// computeTotals
// ------------------------------------------------------------------------------------------------

/** Totales keys in XSD order (DTE_v10.xsd Documento/Liquidacion/Exportaciones Totales, boletas). */
const TOTALES_ORDER: readonly (keyof Totales)[] = [
  'tpoMoneda', 'mntNeto', 'mntExe', 'mntBase', 'mntMargenCom', 'tasaIva', 'iva', 'ivaProp', 'ivaTerc', 'imptoReten', 'ivaNoRet',
  'credEc', 'grntDep', 'comisiones', 'mntTotal', 'montoNf', 'montoPeriodo', 'totalPeriodo', 'saldoAnterior', 'vlrPagar',
];
const ordered = (t: Totales): Totales => {
  const out: Record<string, unknown> = {};
  for (const k of TOTALES_ORDER) if (t[k] !== undefined) out[k] = t[k];
  return out as unknown as Totales;
};

const ruleError = (message: string, field: string, extra: { expected?: unknown; actual?: unknown } = {}) =>
  new TimbreError('ERR_RULE_VIOLATION', message, { field, ...extra });

/** Line amount from quantity × price, discount and surcharge (FMT B.38, B.29–B.34). Mutates `d`. */
function computeLine(d: Detalle, decimals: number): void {
  // FMT B.38: MontoItem must be 0 for IndExe 4 (ítem no venta) and 5 (ítem a rebajar); a price on
  // such a line is informative only.
  if (d.indExe === 4 || d.indExe === 5) {
    d.montoItem = 0;
    return;
  }
  if (d.prcItem === undefined) {
    // No price: the stated amount stands (43 aggregated lines, guías sin valor, notes "corrige texto").
    d.montoItem = roundHalfAway(d.montoItem ?? 0, decimals);
    return;
  }
  if (d.qtyItem === undefined) d.qtyItem = 1; // LDTE NormalizeDetalleTrait: price without quantity → 1
  const base = multiplyRound(d.qtyItem, d.prcItem, decimals);
  // DescuentoMonto / RecargoMonto are `MntImpType` (positive integers) in every branch, exports
  // included (XSD DTE_v10 Detalle), so they are rounded to integers even when MontoItem has decimals
  // (same as LDTE: `round(MontoItem × DescuentoPct / 100)`). Both percentages apply to
  // round(Qty × Prc) (sii-spec §3.3: "DescuentoMonto = round(MontoItem_before × DescuentoPct/100), same
  // for recargo"); LDTE applies the surcharge after the discount, the SII states no base.
  if (d.descuentoPct !== undefined) d.descuentoMonto = percentOf(base, d.descuentoPct, 0);
  if (d.recargoPct !== undefined) d.recargoMonto = percentOf(base, d.recargoPct, 0);
  if (d.descuentoMonto === 0) {
    delete d.descuentoMonto; // MntImpType is ≥ 1: a 0 discount is no discount
    delete d.descuentoPct;
  }
  if (d.recargoMonto === 0) {
    delete d.recargoMonto;
    delete d.recargoPct;
  }
  d.montoItem = sumRound([base, -(d.descuentoMonto ?? 0), d.recargoMonto ?? 0], decimals);
}

type Kind = 'afecto' | 'exento' | 'nf' | 'garantia' | 'none';
const kindOfLine = (d: Detalle): Kind => {
  switch (d.indExe) {
    case undefined:
      return 'afecto';
    case 1:
      return 'exento';
    case 2:
    case 6:
      return 'nf';
    case 3:
      return 'garantia';
    default:
      return 'none'; // 4, 5: zero by definition
  }
};

export interface ComputeTotalsResult {
  /** A copy of the input with detalle[].montoItem, descuentoMonto, recargoMonto, dscRcgGlobal
   *  (IndExeDR forced on exports), comisiones[].valComIva and encabezado.totales (and otraMoneda
   *  amounts) computed. */
  dte: Dte;
}

/**
 * Compute every amount of the document from its lines (FMT A.107–A.126, B.38, D, F; sii-spec
 * §3.3–3.8). The input is not modified.
 *
 * What is read from the input besides the lines:
 *  - `totales.imptoReten`: declares codes and rates (`tasaImp`) of additional taxes/retentions; a code
 *    declared with no line carrying it applies to every affected line (and those lines get the
 *    `CodImpAdic`, which the SII cross-checks: HED-2-300). `montoImp` is kept only for codes whose
 *    amount is not rate-based (`montoExplicito`); for the others it is computed.
 *  - `totales.tpoMoneda` (exports), `totales.credEc` (present ⇒ crédito 65 % empresas constructoras),
 *    `otraMoneda.tpoMoneda` / `tpoCambio` (exports: the CLP conversion is computed).
 * Throws ERR_RULE_VIOLATION for unknown tax codes or a code whose amount cannot be computed.
 */
export function computeTotals(input: Dte): ComputeTotalsResult {
  const dte: Dte = structuredClone(input);
  const { idDoc } = dte.encabezado;
  const tipo = idDoc.tipoDte;
  const dec = decimalsOf(tipo);
  const exp = isExportacion(tipo);
  const boleta = isBoleta(tipo);
  const given = dte.encabezado.totales ?? ({ mntTotal: 0 } as Totales);

  // ---- lines ----
  for (const d of dte.detalle) {
    if (exp) d.indExe = 1; // exports: every line is exempt (LDTE NormalizeDetalleTrait; sii-spec §3.3)
    computeLine(d, dec);
  }
  const sums: Record<Kind, number> = { afecto: 0, exento: 0, nf: 0, garantia: 0, none: 0 };
  const present = { afecto: false, exento: false, nf: false, garantia: false };
  for (const d of dte.detalle) {
    const k = kindOfLine(d);
    if (k === 'none') continue;
    present[k] = true;
    // FMT A.125: MontoNF = Σ IndExe 2 − Σ IndExe 6 (6 = "no facturable negativo").
    const v = d.indExe === 6 ? -Math.abs(d.montoItem) : d.montoItem;
    sums[k] = sumRound([sums[k], v], dec);
  }

  // ---- global discounts / surcharges (FMT D; sii-spec §3.4) ----
  // Each percentage applies to the sum of the lines of its kind (the SII formula is "Σ ítems −
  // descuentos globales + recargos globales", FMT A.107/A.108); several D/R are not compounded.
  const lineSums = { ...sums };
  const adj = { afecto: 0, exento: 0, nf: 0 };
  for (const dr of dte.dscRcgGlobal ?? []) {
    if (exp) dr.indExeDr = 1; // exports: D/R always on the exempt amount (LDTE; sii-spec §3.3)
    const kind = dr.indExeDr === 1 ? 'exento' : dr.indExeDr === 2 ? 'nf' : 'afecto';
    const amount = dr.tpoValor === '%' ? percentOf(lineSums[kind], dr.valorDr, dec) : roundHalfAway(dr.valorDr, dec);
    adj[kind] = sumRound([adj[kind], dr.tpoMov === 'D' ? -amount : amount], dec);
    if (kind !== 'nf') present[kind] = true;
    else present.nf = true;
  }
  const afecto = sumRound([sums.afecto, adj.afecto], dec);
  const exento = sumRound([sums.exento, adj.exento], dec);
  const nf = sumRound([sums.nf, adj.nf], dec);

  // Built in XSD order; mntTotal is assigned last (the object type requires it, hence the cast).
  const t = {} as Totales;

  // ---- exports (110/111/112): everything exempt, in the document's currency ----
  if (exp) {
    if (given.tpoMoneda !== undefined) t.tpoMoneda = given.tpoMoneda;
    t.mntExe = exento;
    // FMT A.124: "En documentos de exportación es 0 si forma de pago es 21 (sin pago)".
    t.mntTotal = idDoc.fmaPagExp === 21 ? 0 : exento;
    const om = dte.encabezado.otraMoneda;
    if (om && om.tpoCambio !== undefined) {
      // CLP conversion: the SII recomputes amount × TpoCambio and rounds half away from zero; a
      // 1-peso difference is rejected (RDTE §6.2). CLP amounts are integers; other currencies keep 4.
      const d2 = om.tpoMoneda === 'PESO CL' ? 0 : 4;
      dte.encabezado.otraMoneda = {
        tpoMoneda: om.tpoMoneda,
        tpoCambio: om.tpoCambio,
        mntExeOtrMnda: multiplyRound(t.mntExe, om.tpoCambio, d2),
        mntTotOtrMnda: multiplyRound(t.mntTotal, om.tpoCambio, d2),
      };
    }
    dte.encabezado.totales = ordered(t);
    return { dte };
  }

  // ---- boletas (39/41): no TasaIVA, no ImptoReten (EnvioBOLETA_v11.xsd Totales) ----
  if (boleta) {
    const netLines = tipo === 39 && idDoc.indMntNeto === 2;
    if (present.afecto) {
      if (netLines) {
        t.mntNeto = afecto;
        t.iva = percentOf(afecto, TASA_IVA_PCT);
      } else {
        // Gross lines (default of 39): neto = round(bruto / 1.19), IVA = bruto − neto
        // (sii-spec §3.7; LDTE NormalizeIvaMntTotalTrait + Utils::calcularNetoIVA).
        t.mntNeto = divideRound(afecto, 1 + TASA_IVA_PCT / 100);
        t.iva = afecto - t.mntNeto;
      }
    }
    if (present.exento) t.mntExe = exento;
    t.mntTotal = (t.mntNeto ?? 0) + (t.iva ?? 0) + (t.mntExe ?? 0);
    if (present.nf) {
      t.montoNf = nf;
      t.totalPeriodo = t.mntTotal + nf;
    }
    dte.encabezado.totales = ordered(t);
    return { dte };
  }

  // ---- Documento (33, 34, 46, 52, 56, 61) and Liquidacion (43) ----
  // Guía without any value (non-sale moves, sii-spec §3.8): only MntTotal = 0.
  const allZero = dte.detalle.every((d) => d.montoItem === 0) && (dte.dscRcgGlobal ?? []).length === 0;
  if (tipo === 52 && allZero) {
    t.mntTotal = 0;
    dte.encabezado.totales = ordered(t);
    return { dte };
  }

  if (present.afecto) {
    if (idDoc.mntBruto === 1) {
      // FMT A.107: with MntBruto = 1 the affected sum is divided by (1 + TasaIVA); IVA = bruto − neto
      // so that the total is what the lines say (LDTE Utils::calcularNetoIVA; e.g. 680 → 571 + 109).
      t.mntNeto = divideRound(afecto, 1 + TASA_IVA_PCT / 100);
      t.tasaIva = TASA_IVA_PCT;
      t.iva = afecto - t.mntNeto;
    } else {
      t.mntNeto = afecto;
      t.tasaIva = TASA_IVA_PCT;
      t.iva = percentOf(afecto, TASA_IVA_PCT); // FMT A.112; half away from zero (43 may be negative)
    }
  }
  if (present.exento) t.mntExe = exento;

  // ---- additional taxes and retentions (FMT A.115–A.118, §4) ----
  const imptoReten = computeImptoReten(dte, given.imptoReten ?? [], t.mntNeto ?? 0);
  if (imptoReten.length > 0) t.imptoReten = imptoReten;
  const adicionales = sumRound(imptoReten.filter((i) => IMPUESTOS_ADICIONALES[i.tipoImp]?.tipo === 'A').map((i) => i.montoImp));
  const retenido = sumRound(imptoReten.filter((i) => IMPUESTOS_ADICIONALES[i.tipoImp]?.tipo === 'R').map((i) => i.montoImp));
  // FMT A.118: IVANoRet = IVA − IVA retenido, only on 46 and the notes that correct it, not if 0.
  if (retenido !== 0 && (tipo === 46 || tipo === 56 || tipo === 61) && t.iva !== undefined && t.iva - retenido > 0) {
    t.ivaNoRet = t.iva - retenido;
  }
  // FMT A.119: crédito especial 65 % empresas constructoras = IVA × 0.65, subtracted.
  if (given.credEc !== undefined) t.credEc = percentOf(t.iva ?? 0, 65);
  // FMT A.120: garantía por depósito de envases = Σ lines with IndExe 3, added.
  if (present.garantia) t.grntDep = sums.garantia;

  // ---- comisiones y otros cargos (FMT F; 43 mandatory, 46 and its notes optional) ----
  let com: ComisionesTotales | undefined;
  if (dte.comisiones && dte.comisiones.length > 0) {
    com = { valComNeto: 0, valComExe: 0, valComIva: 0 };
    for (const c of dte.comisiones) {
      // FMT F.7: ValComIVA = Valor × Tasa IVA.
      if ((c.valComIva as number | undefined) === undefined) c.valComIva = percentOf(c.valComNeto, TASA_IVA_PCT);
      com.valComNeto += c.valComNeto;
      com.valComExe += c.valComExe;
      com.valComIva += c.valComIva;
    }
    t.comisiones = com;
  }
  if (tipo === 43 && t.iva !== undefined) {
    // 43: IVAProp = IVA of the commissions (the mandatario's own), IVATerc = IVA − IVAProp (FMT
    // A.113/A.114 "< que IVA"). Verified by RDTE against the SII's certified 43 example (MntNeto
    // 234955, IVA 44641, IVAProp 918, IVATerc 43723, MntTotal 328912). Omitted when the split would
    // break the FMT bound (negative commission IVA).
    const prop = com?.valComIva ?? 0;
    if (t.iva > 0 && prop >= 0 && prop <= t.iva) {
      t.ivaProp = prop;
      t.ivaTerc = t.iva - prop;
    }
  }

  // ---- MntTotal (FMT A.124) ----
  // MntNeto + MntExe + IVA + impuestos adicionales/específicos/IVA anticipado/IVA margen + GrntDep
  // − CredEC − IVA retenido − ValComNeto − ValComIVA − ValComExe.
  t.mntTotal = sumRound([
    t.mntNeto ?? 0,
    t.mntExe ?? 0,
    t.iva ?? 0,
    adicionales,
    t.grntDep ?? 0,
    -(t.credEc ?? 0),
    -retenido,
    -(com?.valComNeto ?? 0),
    -(com?.valComIva ?? 0),
    -(com?.valComExe ?? 0),
  ]);
  // FMT A.125/A.126.
  if (present.nf) {
    t.montoNf = nf;
    t.montoPeriodo = t.mntTotal + nf;
  }
  dte.encabezado.totales = ordered(t);
  return { dte };
}

function computeImptoReten(dte: Dte, declared: readonly ImptoReten[], mntNeto: number): ImptoReten[] {
  const lines = dte.detalle;
  const codes: number[] = [];
  const add = (c: number) => {
    if (!codes.includes(c)) codes.push(c);
  };
  for (const d of lines) for (const c of d.codImpAdic ?? []) add(c);
  for (const i of declared) add(i.tipoImp);
  const out: ImptoReten[] = [];
  for (const code of codes) {
    const info = IMPUESTOS_ADICIONALES[code];
    const di = declared.findIndex((i) => i.tipoImp === code);
    const decl = di >= 0 ? declared[di] : undefined;
    const field = di >= 0 ? `encabezado.totales.imptoReten[${di}]` : 'detalle.codImpAdic';
    if (!info) {
      throw ruleError(`tax code ${code} is not supported: unknown or undefined in the SII code table (FMT §4)`, `${field}.tipoImp`, { actual: code });
    }
    const affected = lines.filter((d) => d.indExe === undefined);
    let carrying = affected.filter((d) => d.codImpAdic?.includes(code));
    if (carrying.length === 0) {
      // Declared at document level only: it applies to every affected line, and those lines carry
      // the code (the SII cross-checks ImptoReten with the lines' CodImpAdic, HED-2-300 — RDTE §6.4).
      for (const d of affected) {
        if ((d.codImpAdic?.length ?? 0) >= 2) continue;
        d.codImpAdic = [...(d.codImpAdic ?? []), code];
      }
      carrying = affected.filter((d) => d.codImpAdic?.includes(code));
    }
    const tasa = decl?.tasaImp ?? info.tasa;
    let monto: number;
    if (info.montoExplicito) {
      if (decl === undefined || decl.montoImp === undefined || Number.isNaN(decl.montoImp)) {
        throw ruleError(`tax code ${code} (${info.glosa}) is not rate × lines (FMT A.117): its amount must be given`, `${field}.montoImp`);
      }
      monto = roundHalfAway(decl.montoImp);
    } else {
      if (tasa === undefined) {
        throw ruleError(`tax code ${code} (${info.glosa}) has no standard rate: give its rate (TasaImp)`, `${field}.tasaImp`);
      }
      // FMT A.117 a): MontoImp = Tasa × Σ lines carrying the code. A retention of IVA that covers
      // every affected line is computed on MntNeto (after global D/R), so that a total retention
      // equals the IVA exactly (the SII compares code 15 with the IVA: HED-2-302, RDTE §7.3).
      const all = info.tipo === 'R' && carrying.length === affected.length && affected.length > 0;
      const base = all ? mntNeto : sumRound(carrying.map((d) => d.montoItem));
      monto = percentOf(base, tasa);
    }
    out.push({ tipoImp: code, ...(tasa !== undefined ? { tasaImp: tasa } : {}), montoImp: monto });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Stated totals
// ------------------------------------------------------------------------------------------------

/** Model `Totales` key → input (`totales.*`) key of the JSON input format. */
export const TOTALES_INPUT_KEYS: Readonly<Partial<Record<keyof Totales, string>>> = {
  mntNeto: 'monto_neto',
  mntExe: 'monto_exento',
  tasaIva: 'tasa_iva',
  iva: 'iva',
  ivaProp: 'iva_propio',
  ivaTerc: 'iva_terceros',
  ivaNoRet: 'iva_no_retenido',
  credEc: 'credito_empresas_constructoras',
  grntDep: 'garantia_deposito',
  mntTotal: 'monto_total',
  montoNf: 'monto_no_facturable',
  montoPeriodo: 'monto_periodo',
  totalPeriodo: 'total_periodo',
};

const sameAmount = (a: number, b: number): boolean => formatDecimal(a, 4) === formatDecimal(b, 4);

/**
 * Compare the totals a client stated with the computed ones. Every stated field that disagrees gives
 * one ERR_TOTALS_MISMATCH with `field` (input style, e.g. `totales.monto_neto`), `expected` (computed)
 * and `actual` (stated). A stated 0 matches an absent computed field (e.g. `monto_exento: 0`).
 */
export function checkStatedTotals(stated: Partial<Totales>, computed: Totales, fieldPrefix = 'totales'): TimbreError[] {
  const errors: TimbreError[] = [];
  for (const [key, inputKey] of Object.entries(TOTALES_INPUT_KEYS) as [keyof Totales, string][]) {
    const s = stated[key];
    if (typeof s !== 'number') continue;
    const c = computed[key];
    const expected = typeof c === 'number' ? c : 0;
    if (!sameAmount(s, expected)) {
      const field = `${fieldPrefix}.${inputKey}`;
      errors.push(
        new TimbreError('ERR_TOTALS_MISMATCH', `${field}: stated ${s}, but the lines give ${expected}`, { field, expected, actual: s }),
      );
    }
  }
  return errors;
}

/** What a client may state about one line (input `items[i]`). */
export interface StatedLine {
  /** `monto_total`: the line amount. */
  montoItem?: number;
  /** `descuento_monto`, when given together with `descuento_pct`. */
  descuentoMonto?: number;
  /** `recargo_monto`, when given together with `recargo_pct`. */
  recargoMonto?: number;
}

/** Per-line check of stated line amounts against the computed lines (`items[i].monto_total`, …). */
export function checkStatedLineTotals(stated: ReadonlyArray<StatedLine | undefined>, computed: readonly Detalle[], fieldPrefix = 'items'): TimbreError[] {
  const errors: TimbreError[] = [];
  const check = (i: number, key: string, s: number | undefined, c: number | undefined) => {
    if (s === undefined) return;
    const expected = c ?? 0;
    if (!sameAmount(s, expected)) {
      const field = `${fieldPrefix}[${i}].${key}`;
      errors.push(new TimbreError('ERR_TOTALS_MISMATCH', `${field}: stated ${s}, but quantity × price gives ${expected}`, { field, expected, actual: s }));
    }
  };
  stated.forEach((s, i) => {
    const d = computed[i];
    if (!s || !d) return;
    check(i, 'descuento_monto', s.descuentoMonto, d.descuentoMonto);
    check(i, 'recargo_monto', s.recargoMonto, d.recargoMonto);
    check(i, 'monto_total', s.montoItem, d.montoItem);
  });
  return errors;
}
