/**
 * Per-type business rules the XSD cannot express (mandatory fields per type, references, exempt
 * documents, boletas, guías, exports, 43, 46, counts, dates, RUTs). Lengths, enumerations and
 * numeric formats that the XSD enforces are checked by the XML writer, not here.
 *
 * Sources: FMT = SII "Formato Documentos Tributarios Electrónicos" v2.2 (field columns per type;
 * A.n = Encabezado field n, B.n = Detalle, D = descuentos/recargos, E = referencias, F = comisiones);
 * BOLF = SII "Formato Boletas Electrónicas" v4.1; XSD = DTE_v10.xsd / EnvioBOLETA_v11.xsd;
 * LDTE = LibreDTE `SiiEnvioAyudas.php` (SII rejection codes); sii-spec.md §2–3.
 */
import { TimbreError } from './errors.js';
import type { Dte } from './model.js';
import { Rut, RUT_GENERIC_BOLETA } from './rut.js';
import { TIPOS_DTE, isBoleta, isExenta, isExportacion, isNota, type TipoDte } from './tipos.js';
import { hasAtMostDecimals } from './amounts.js';
import { IMPUESTOS_ADICIONALES, decimalsOf } from './totals.js';

/** Generic receptor RUT of export documents (FMT A.50: "En doctos. Exportac. 55.555.555-5"). */
export const RUT_RECEPTOR_EXPORTACION = '55555555-5';

/** Tax-document type codes usable in `TpoDocRef` (FMT E.2); the rest (801–820, `SET`…) are not tax documents. */
const TIPOS_TRIBUTARIOS_REF = new Set(['30', '32', '33', '34', '35', '38', '39', '40', '41', '43', '45', '46', '50', '52', '55', '56', '60', '61', '103', '110', '111', '112']);

const MIN_FCH_EMIS = '2003-04-01'; // FMT A.4
const MIN_FECHA = '2002-08-01'; // FMT A.15, A.30, E.7
const MAX_FECHA = '2050-12-31';

function isValidDate(s: unknown): s is string {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

const isBlank = (s: string | undefined | null): boolean => s === undefined || s === null || s.trim() === '';

/**
 * Validate a document against the per-type rules. Returns every violation found (ERR_RULE_VIOLATION,
 * ERR_RUT_INVALID for RUTs), each with a model field path (`referencia[0].codRef`,
 * `encabezado.idDoc.indTraslado`, `detalle[2].indExe`), an English message naming the rule and its
 * source, and the SII's code when one is known (REF-3-758 missing CodRef, REF-3-415 missing or invalid
 * reference, HED-2-300). Expects computed totals
 * (`computeTotals`).
 */
export function validateDte(dte: Dte): TimbreError[] {
  const errors: TimbreError[] = [];
  const err = (field: string, message: string, extra: { siiCode?: string; expected?: unknown; actual?: unknown } = {}) =>
    errors.push(new TimbreError('ERR_RULE_VIOLATION', message, { field, ...extra }));

  const enc = dte.encabezado;
  const { idDoc, emisor, receptor } = enc;
  const totales = enc.totales ?? { mntTotal: 0 };
  const tipo = idDoc.tipoDte as TipoDte;
  if (!(TIPOS_DTE as readonly number[]).includes(tipo)) {
    err('encabezado.idDoc.tipoDte', `document type ${String(tipo)} is not one of ${TIPOS_DTE.join(', ')}`, { actual: tipo });
    return errors;
  }
  const boleta = isBoleta(tipo);
  const exp = isExportacion(tipo);
  const exenta = isExenta(tipo);
  const nota = isNota(tipo);
  const dec = decimalsOf(tipo);
  const P = 'encabezado.idDoc';

  // ---------------------------------------------------------------- identification
  if (!Number.isInteger(idDoc.folio) || idDoc.folio < 0) err(`${P}.folio`, 'Folio must be a positive integer (0 = to be allocated from the CAF)', { actual: idDoc.folio });
  if (!isValidDate(idDoc.fchEmis)) err(`${P}.fchEmis`, 'FchEmis must be a valid date AAAA-MM-DD (FMT A.4)', { actual: idDoc.fchEmis });
  else if (idDoc.fchEmis < MIN_FCH_EMIS || idDoc.fchEmis > MAX_FECHA) err(`${P}.fchEmis`, `FchEmis must be between ${MIN_FCH_EMIS} and ${MAX_FECHA} (FMT A.4)`, { actual: idDoc.fchEmis });
  for (const k of ['fchVenc', 'fchCancel', 'periodoDesde', 'periodoHasta'] as const) {
    const v = idDoc[k];
    if (v === undefined) continue;
    if (!isValidDate(v) || v < MIN_FECHA || v > MAX_FECHA) err(`${P}.${k}`, `${k} must be a valid date between ${MIN_FECHA} and ${MAX_FECHA} (FMT A.15, A.30)`, { actual: v });
  }
  if (idDoc.periodoDesde && idDoc.periodoHasta && idDoc.periodoDesde > idDoc.periodoHasta) {
    err(`${P}.periodoHasta`, 'PeriodoHasta must not be before PeriodoDesde (FMT A.21–A.22)', { actual: idDoc.periodoHasta });
  }

  // IndServicio: boletas 1–4 mandatory (BOLF; EnvioBOLETA_v11.xsd); Documento/Liquidacion 1–3;
  // exports 3–6 (XSD Exportaciones enumeration); not in guías (FMT A.9 GUIA = 0).
  if (boleta) {
    if (idDoc.indServicio === undefined) err(`${P}.indServicio`, 'boletas need IndServicio (1 servicios periódicos, 2 periódicos domiciliarios, 3 ventas y servicios, 4 espectáculos) (BOLF; EnvioBOLETA_v11.xsd)');
    else if (![1, 2, 3, 4].includes(idDoc.indServicio)) err(`${P}.indServicio`, 'IndServicio of a boleta must be 1–4 (BOLF)', { actual: idDoc.indServicio });
  } else if (idDoc.indServicio !== undefined) {
    const allowed = exp ? [3, 4, 5, 6] : tipo === 52 ? [] : [1, 2, 3];
    if (!allowed.includes(idDoc.indServicio)) {
      err(`${P}.indServicio`, tipo === 52 ? 'a guía de despacho does not carry IndServicio (FMT A.9)' : `IndServicio of type ${tipo} must be one of ${allowed.join(', ')} (FMT A.9; XSD)`, { actual: idDoc.indServicio });
    }
  }
  if (idDoc.indMntNeto !== undefined && tipo !== 39) err(`${P}.indMntNeto`, 'IndMntNeto (net line amounts) exists only in boletas afectas 39 (BOLF)');
  // MntBruto: FMT A.10 — not in guías, exports, boletas; "sólo para documentos sin impuestos adicionales".
  if (idDoc.mntBruto !== undefined) {
    if (boleta || exp || tipo === 52) err(`${P}.mntBruto`, `MntBruto does not apply to type ${tipo} (FMT A.10)`);
    if ((totales.imptoReten?.length ?? 0) > 0) err(`${P}.mntBruto`, 'MntBruto (gross lines) is only for documents without additional taxes (FMT A.10)');
  }
  // Guía: IndTraslado mandatory and only there (FMT A.7); TpoImpresion only in guías (FMT A.8).
  if (tipo === 52) {
    if (idDoc.indTraslado === undefined) err(`${P}.indTraslado`, 'a guía de despacho (52) needs IndTraslado (1 venta … 9 venta para exportación) (FMT A.7)');
  } else {
    if (idDoc.indTraslado !== undefined) err(`${P}.indTraslado`, 'IndTraslado exists only in guías de despacho 52 (FMT A.7)');
    if (idDoc.tpoImpresion !== undefined) err(`${P}.tpoImpresion`, 'TpoImpresion exists only in guías de despacho 52 (FMT A.8)');
  }
  // TipoDespacho: FMT A.6 — 33, 34, 52, 46, 110 only.
  if (idDoc.tipoDespacho !== undefined && ![33, 34, 46, 52, 110].includes(tipo)) err(`${P}.tipoDespacho`, `TipoDespacho does not apply to type ${tipo} (FMT A.6)`);
  if (idDoc.indNoRebaja !== undefined && tipo !== 61) err(`${P}.indNoRebaja`, 'IndNoRebaja exists only in notas de crédito 61 (FMT A.5)');
  if (idDoc.fmaPago !== undefined && boleta) err(`${P}.fmaPago`, 'boletas have no FmaPago (EnvioBOLETA_v11.xsd)');
  if (idDoc.fmaPagExp !== undefined && !exp) err(`${P}.fmaPagExp`, 'FmaPagExp exists only in export documents (FMT A.14)');
  // FMT A.15: FchCancel mandatory in an export invoice paid in advance (FmaPagExp 32 = anticipo).
  if (tipo === 110 && idDoc.fmaPagExp === 32 && idDoc.fchCancel === undefined) err(`${P}.fchCancel`, 'an export invoice paid in advance (FmaPagExp 32) needs FchCancel (FMT A.15)');
  if (idDoc.medioPago !== undefined) {
    const ok = boleta ? /^[1-5]$/.test(String(idDoc.medioPago)) : ['CH', 'CF', 'LT', 'EF', 'PE', 'TC', 'OT'].includes(String(idDoc.medioPago));
    if (!ok) err(`${P}.medioPago`, boleta ? 'MedioPago of a boleta is 1–5 (BOLF 2024-12)' : 'MedioPago is one of CH, CF, LT, EF, PE, TC, OT (FMT A.23)', { actual: idDoc.medioPago });
  }

  // ---------------------------------------------------------------- RUTs
  const checkRut = (field: string, value: string | undefined, required = false) => {
    if (value === undefined || value === '') {
      if (required) err(field, 'RUT is mandatory');
      return;
    }
    try {
      const r = Rut.parse(value, { field });
      if (r.canonical !== value) err(field, `RUT must be written canonically (${r.canonical}): no dots, upper-case K (XSD RUTType)`, { expected: r.canonical, actual: value });
    } catch (e) {
      if (e instanceof TimbreError) errors.push(e);
      else throw e;
    }
  };
  checkRut('encabezado.emisor.rutEmisor', emisor.rutEmisor, true);
  checkRut('encabezado.receptor.rutRecep', receptor.rutRecep, true);
  checkRut('encabezado.rutMandante', enc.rutMandante);
  checkRut('encabezado.rutSolicita', enc.rutSolicita);
  checkRut('encabezado.emisor.rutProvSw', emisor.rutProvSw);
  checkRut('encabezado.transporte.rutTrans', enc.transporte?.rutTrans);
  checkRut('encabezado.transporte.chofer.rutChofer', enc.transporte?.chofer?.rutChofer);
  checkRut('encabezado.transporte.aduana.rutCiaTransp', enc.transporte?.aduana?.rutCiaTransp);
  (dte.referencia ?? []).forEach((r, i) => checkRut(`referencia[${i}].rutOtr`, r.rutOtr));

  // ---------------------------------------------------------------- emisor
  const E = 'encabezado.emisor';
  if (isBlank(emisor.rznSoc)) err(`${E}.rznSoc`, 'the issuer needs its razón social (FMT A.33 RznSoc; boletas RznSocEmisor)');
  if (isBlank(emisor.giroEmis)) err(`${E}.giroEmis`, 'the issuer needs its giro (FMT A.34 GiroEmis; boletas GiroEmisor)');
  if (!boleta) {
    const ac = emisor.acteco ?? [];
    if (ac.length < 1 || ac.length > 4) err(`${E}.acteco`, 'the issuer needs 1 to 4 economic activity codes (Acteco, FMT A.37)', { actual: ac.length });
    ac.forEach((a, i) => {
      if (!Number.isInteger(a) || a < 1 || a > 999_999) err(`${E}.acteco[${i}]`, 'Acteco is a six-digit SII activity code (FMT A.37)', { actual: a });
    });
  } else if ((emisor.acteco?.length ?? 0) > 0) {
    err(`${E}.acteco`, 'boletas carry no Acteco (EnvioBOLETA_v11.xsd Emisor)');
  }
  // FMT A.44/A.45: DirOrigen / CmnaOrigen mandatory in 33, 34, 52, 46, 43, 110.
  if ([33, 34, 43, 46, 52, 110].includes(tipo)) {
    if (isBlank(emisor.dirOrigen)) err(`${E}.dirOrigen`, `type ${tipo} needs the issuer's address DirOrigen (FMT A.44)`);
    if (isBlank(emisor.cmnaOrigen)) err(`${E}.cmnaOrigen`, `type ${tipo} needs the issuer's commune CmnaOrigen (FMT A.45)`);
  }

  // ---------------------------------------------------------------- receptor
  const Rc = 'encabezado.receptor';
  if (receptor.rutRecep === RUT_GENERIC_BOLETA && !boleta) {
    err(`${Rc}.rutRecep`, `the generic receptor ${RUT_GENERIC_BOLETA} is allowed only in boletas (BOLF; sii-spec §3.2)`, { actual: receptor.rutRecep });
  }
  if (exp) {
    if (receptor.rutRecep !== RUT_RECEPTOR_EXPORTACION) {
      err(`${Rc}.rutRecep`, `the receptor of an export document is foreign: RUTRecep must be ${RUT_RECEPTOR_EXPORTACION} (FMT A.50)`, { expected: RUT_RECEPTOR_EXPORTACION, actual: receptor.rutRecep });
    }
  } else if (receptor.rutRecep === RUT_RECEPTOR_EXPORTACION && tipo !== 33) {
    // 55555555-5 is also the receptor of facturas "turista" (TipoFactEsp, type 33, FMT A.31).
    err(`${Rc}.rutRecep`, `${RUT_RECEPTOR_EXPORTACION} is the foreign receptor of export documents (FMT A.50)`, { actual: receptor.rutRecep });
  }
  if (!boleta && isBlank(receptor.rznSocRecep)) err(`${Rc}.rznSocRecep`, 'the receptor needs its razón social (FMT A.52)');
  // FMT A.57/A.60/A.61/A.62 columns: GiroRecep 33 34 52 46 43; DirRecep 33 34 52 46 43 110;
  // CmnaRecep 33 34 52 46 43; CiudadRecep 110.
  if ([33, 34, 43, 46, 52].includes(tipo)) {
    if (isBlank(receptor.giroRecep)) err(`${Rc}.giroRecep`, `type ${tipo} needs the receptor's giro (FMT A.57)`);
    if (isBlank(receptor.cmnaRecep)) err(`${Rc}.cmnaRecep`, `type ${tipo} needs the receptor's commune (FMT A.61)`);
  }
  if ([33, 34, 43, 46, 52, 110].includes(tipo) && isBlank(receptor.dirRecep)) err(`${Rc}.dirRecep`, `type ${tipo} needs the receptor's address (FMT A.60)`);
  if (tipo === 110 && isBlank(receptor.ciudadRecep)) err(`${Rc}.ciudadRecep`, 'an export invoice needs the receptor\'s city abroad (FMT A.62)');
  if (receptor.telefonoRecep !== undefined && !boleta) err(`${Rc}.telefonoRecep`, 'TelefonoRecep exists only in boletas (BOLF 2024-12)');

  // ---------------------------------------------------------------- transporte / aduana
  const tr = enc.transporte;
  if (tr?.chofer && (isBlank(tr.chofer.nombreChofer) || isBlank(tr.chofer.rutChofer))) err('encabezado.transporte.chofer', 'the driver needs RUT and name (FMT A.69–A.70)');
  if (tipo === 52 && isBlank(tr?.cmnaDest)) err('encabezado.transporte.cmnaDest', 'a guía de despacho needs the destination commune CmnaDest (FMT A.72)');
  if (tr?.aduana && !exp && tipo !== 52) err('encabezado.transporte.aduana', 'Aduana exists only in export documents and guías (FMT Transporte.Aduana)');
  if (tipo === 110) {
    const ad = tr?.aduana;
    const A = 'encabezado.transporte.aduana';
    if (!ad) err(A, 'an export invoice (110) needs the Aduana block (FMT A.74–A.105)');
    else {
      if (ad.codPaisRecep === undefined) err(`${A}.codPaisRecep`, 'an export invoice needs the receptor country CodPaisRecep (FMT A.104)');
      // Goods exports (no IndServicio 3–6): FMT A.74–A.77, A.84, A.86, A.95, A.105.
      const servicios = idDoc.indServicio !== undefined && [3, 4, 5, 6].includes(idDoc.indServicio);
      if (!servicios) {
        const need: [keyof typeof ad, string][] = [
          ['codModVenta', 'modalidad de venta CodModVenta (FMT A.74)'],
          ['codClauVenta', 'cláusula de venta CodClauVenta (FMT A.75)'],
          ['totClauVenta', 'total cláusula de venta TotClauVenta (FMT A.76)'],
          ['codViaTransp', 'vía de transporte CodViaTransp (FMT A.77)'],
          ['codPtoEmbarque', 'puerto de embarque CodPtoEmbarque (FMT A.84)'],
          ['codPtoDesemb', 'puerto de desembarque CodPtoDesemb (FMT A.86)'],
          ['totBultos', 'total de bultos TotBultos (FMT A.95)'],
          ['codPaisDestin', 'país de destino CodPaisDestin (FMT A.105)'],
        ];
        for (const [k, what] of need) if (ad[k] === undefined) err(`${A}.${k}`, `an export invoice of goods needs the ${what}; only services (IndServicio 3–6) may omit it`);
      }
    }
  }
  const adu = tr?.aduana;
  if (adu) {
    if ((adu.mntFlete !== undefined && adu.mntFlete <= 0) || (adu.mntSeguro !== undefined && adu.mntSeguro <= 0)) {
      err('encabezado.transporte.aduana', 'MntFlete and MntSeguro must be greater than zero when present (FMT bitácora 08/03/2010)');
    }
    if (adu.totBultos !== undefined && adu.tipoBultos && adu.tipoBultos.length > 0) {
      const sum = adu.tipoBultos.reduce((s, b) => s + b.cantBultos, 0);
      if (sum !== adu.totBultos) err('encabezado.transporte.aduana.totBultos', 'TotBultos must be the sum of TipoBultos/CantBultos (FMT A.95–A.97)', { expected: sum, actual: adu.totBultos });
    }
  }

  // ---------------------------------------------------------------- exports: currency
  if (exp) {
    if (isBlank(totales.tpoMoneda)) err('encabezado.totales.tpoMoneda', 'an export document needs the currency of the transaction TpoMoneda (FMT A.106)');
    const om = enc.otraMoneda;
    if (!om) err('encabezado.otraMoneda', 'export documents must carry OtraMoneda with the conversion to Chilean pesos, mandatory since 2017 (FMT bitácora 31/05/2017)');
    else {
      if (om.tpoMoneda !== 'PESO CL') err('encabezado.otraMoneda.tpoMoneda', 'OtraMoneda of an export document is the conversion to pesos: TpoMoneda "PESO CL" (FMT bitácora 31/05/2017)', { expected: 'PESO CL', actual: om.tpoMoneda });
      if (om.tpoCambio === undefined || !(om.tpoCambio > 0)) err('encabezado.otraMoneda.tpoCambio', 'the conversion to pesos needs TpoCambio > 0 (FMT bitácora 31/05/2017)', { actual: om.tpoCambio });
    }
  }

  // ---------------------------------------------------------------- detalle
  const D = dte.detalle ?? [];
  const maxLines = boleta ? 1000 : 60;
  if (D.length < 1) err('detalle', 'a document needs at least one Detalle line (FMT B)');
  if (D.length > maxLines) err('detalle', `at most ${maxLines} Detalle lines (${boleta ? 'BOLF' : 'FMT §2.1: "no podrá exceder de 60 líneas"'})`, { actual: D.length });
  let afectoLines = 0;
  let exentoLines = 0;
  const codesInLines = new Set<number>();
  D.forEach((d, i) => {
    const L = `detalle[${i}]`;
    if (d.nroLinDet !== i + 1) err(`${L}.nroLinDet`, 'lines are numbered 1, 2, 3… in order (FMT B.1)', { expected: i + 1, actual: d.nroLinDet });
    if (isBlank(d.nmbItem)) err(`${L}.nmbItem`, 'every line needs a name NmbItem (FMT B.10)');
    if (d.indExe === undefined) afectoLines++;
    if (d.indExe === 1) exentoLines++;
    if (d.indExe !== undefined) {
      if (boleta && ![1, 2, 6].includes(d.indExe)) err(`${L}.indExe`, 'IndExe of a boleta line is 1, 2 or 6 (EnvioBOLETA_v11.xsd)', { actual: d.indExe });
      if (d.indExe === 5 && tipo !== 52) err(`${L}.indExe`, 'IndExe 5 (ítem a rebajar) exists only in guías de despacho (FMT B.5)');
      if (d.indExe === 6 && tipo === 43) err(`${L}.indExe`, 'IndExe 6 is not used in liquidaciones-factura: use 2 with a negative amount (FMT B.5)');
      if ((d.indExe === 4 || d.indExe === 5) && d.montoItem !== 0) err(`${L}.montoItem`, 'MontoItem must be 0 for IndExe 4 and 5 (FMT B.38)', { expected: 0, actual: d.montoItem });
    }
    if (exenta && d.indExe === undefined) {
      err(`${L}.indExe`, exp
        ? 'every line of an export document is exempt (IndExe 1)'
        : `a ${tipo === 34 ? 'factura exenta 34' : 'boleta exenta 41'} must not have affected lines: mark the line exempt (FMT A.107: no MntNeto in ${tipo})`);
    }
    if (d.montoItem < 0 && tipo !== 43) err(`${L}.montoItem`, 'MontoItem may be negative only in liquidaciones-factura 43 (FMT B.38)', { actual: d.montoItem });
    if (!hasAtMostDecimals(d.montoItem, dec)) err(`${L}.montoItem`, dec === 0 ? 'MontoItem is in whole pesos' : 'MontoItem of an export document has at most 4 decimals (XSD)', { actual: d.montoItem });
    if (d.qtyItem !== undefined && !(d.qtyItem > 0)) err(`${L}.qtyItem`, 'QtyItem must be greater than zero (XSD Dec12_6Type)', { actual: d.qtyItem });
    if (d.prcItem !== undefined && d.prcItem < 0) err(`${L}.prcItem`, 'PrcItem must not be negative (XSD Dec12_6Type)', { actual: d.prcItem });
    if (d.descuentoPct !== undefined && (d.descuentoPct <= 0 || d.descuentoPct > 100)) err(`${L}.descuentoPct`, 'DescuentoPct must be greater than 0 and at most 100', { actual: d.descuentoPct });
    if (d.recargoPct !== undefined && d.recargoPct <= 0) err(`${L}.recargoPct`, 'RecargoPct must be greater than 0', { actual: d.recargoPct });
    if (d.descuentoPct !== undefined && d.descuentoMonto === undefined) err(`${L}.descuentoMonto`, 'a line discount in % needs its amount DescuentoMonto (FMT B.30)');
    if (d.recargoPct !== undefined && d.recargoMonto === undefined) err(`${L}.recargoMonto`, 'a line surcharge in % needs its amount RecargoMonto (FMT B.34)');
    for (const k of ['descuentoMonto', 'recargoMonto'] as const) {
      const v = d[k];
      if (v !== undefined && (!Number.isInteger(v) || v < 0)) err(`${L}.${k}`, `${k} is a whole non-negative amount (XSD MntImpType)`, { actual: v });
    }
    // TpoDocLiq: mandatory in every line of a 43, absent elsewhere (FMT B.4).
    if (tipo === 43 && isBlank(d.tpoDocLiq)) err(`${L}.tpoDocLiq`, 'every line of a liquidación-factura needs TpoDocLiq, the type of the liquidated document (FMT B.4)');
    if (tipo !== 43 && d.tpoDocLiq !== undefined) err(`${L}.tpoDocLiq`, 'TpoDocLiq exists only in liquidaciones-factura 43 (FMT B.4)');
    const codes = d.codImpAdic ?? [];
    if (codes.length > 0) {
      if (boleta || exp || tipo === 43) err(`${L}.codImpAdic`, `type ${tipo} lines carry no CodImpAdic (FMT B.37; XSD)`);
      if (codes.length > 2) err(`${L}.codImpAdic`, 'at most 2 CodImpAdic per line (FMT B.37)', { actual: codes.length });
      if (d.indExe !== undefined) err(`${L}.codImpAdic`, 'additional taxes and retentions apply to affected lines only');
      for (const c of codes) {
        codesInLines.add(c);
        if (!IMPUESTOS_ADICIONALES[c]) err(`${L}.codImpAdic`, `tax code ${c} is not in the SII code table (FMT §4)`, { actual: c });
      }
    }
    if (d.retenedor && (boleta || exp || tipo === 43)) err(`${L}.retenedor`, 'Retenedor exists only in Documento types (33, 34, 46, 52, 56, 61) (XSD)');
  });
  if (tipo === 33 && D.length > 0 && exentoLines === D.length) {
    err('detalle', 'a factura whose lines are all exempt must be a factura exenta 34, not 33 (FMT B.5)', { expected: 34, actual: 33 });
  }
  if (tipo === 39 && D.length > 0 && afectoLines === 0 && D.every((d) => d.indExe === 1)) {
    err('detalle', 'a boleta whose lines are all exempt must be a boleta exenta 41, not 39 (BOLF)', { expected: 41, actual: 39 });
  }

  // ---------------------------------------------------------------- totals per type
  const T = 'encabezado.totales';
  if (exenta) {
    for (const k of ['mntNeto', 'tasaIva', 'iva'] as const) {
      const v = totales[k];
      if (v !== undefined && v !== 0) err(`${T}.${k}`, `type ${tipo} is exempt: it carries no ${k === 'mntNeto' ? 'MntNeto' : k === 'tasaIva' ? 'TasaIVA' : 'IVA'} (FMT A.107–A.112)`, { expected: 0, actual: v });
    }
  }
  if (tipo !== 43) {
    for (const k of ['mntNeto', 'mntExe', 'iva', 'mntTotal'] as const) {
      const v = totales[k];
      if (v !== undefined && v < 0) err(`${T}.${k}`, `${k} may be negative only in liquidaciones-factura 43 (FMT A.107–A.124)`, { actual: v });
    }
  }
  for (const k of ['mntNeto', 'mntExe', 'iva', 'mntTotal'] as const) {
    const v = totales[k];
    if (v !== undefined && !hasAtMostDecimals(v, dec)) err(`${T}.${k}`, dec === 0 ? `${k} is in whole pesos (FMT §2.2)` : `${k} has at most 4 decimals (XSD Exportaciones)`, { actual: v });
  }
  if (!exp && totales.tpoMoneda !== undefined) err(`${T}.tpoMoneda`, 'TpoMoneda in Totales exists only in export documents (XSD)');

  // Additional taxes / retentions.
  const ir = totales.imptoReten ?? [];
  if (ir.length > 20) err(`${T}.imptoReten`, 'at most 20 ImptoReten (XSD)', { actual: ir.length });
  if (ir.length > 0 && (boleta || exp)) err(`${T}.imptoReten`, `type ${tipo} carries no additional taxes or retentions (XSD; FMT A.115 columns)`);
  if (ir.length > 0 && tipo === 34 && ir.some((i) => IMPUESTOS_ADICIONALES[i.tipoImp]?.tipo === 'R')) {
    err(`${T}.imptoReten`, 'IVA retentions do not apply to a factura exenta (no IVA) (FMT §4)');
  }
  let retenido = 0;
  ir.forEach((imp, i) => {
    const info = IMPUESTOS_ADICIONALES[imp.tipoImp];
    if (!info) {
      err(`${T}.imptoReten[${i}].tipoImp`, `tax code ${imp.tipoImp} is not in the SII code table (FMT §4)`, { actual: imp.tipoImp });
      return;
    }
    if (!codesInLines.has(imp.tipoImp)) err(`${T}.imptoReten[${i}].tipoImp`, `no line carries CodImpAdic ${imp.tipoImp}: the SII cross-checks totals with the lines (HED-2-300)`, { siiCode: 'HED-2-300' });
    if (info.tipo === 'R') {
      retenido += imp.montoImp;
      // FMT §4: IVA retentions apply to facturas de compra (46) and the notes that modify them;
      // code 46 (oro) applies to facturas 33 and their notes.
      const allowed = imp.tipoImp === 46 ? [33, 56, 61] : [46, 56, 61];
      if (!allowed.includes(tipo)) err(`${T}.imptoReten[${i}].tipoImp`, `retention code ${imp.tipoImp} (${info.glosa}) applies to ${allowed.join('/')} only (FMT §4)`, { actual: tipo });
    }
  });
  if (retenido > 0 && totales.iva !== undefined && retenido > totales.iva) {
    err(`${T}.imptoReten`, 'the IVA retained cannot exceed the IVA of the document (FMT A.117–A.118)', { expected: totales.iva, actual: retenido });
  }
  // 46: the buyer issues it because it retains the seller's IVA (cambio de sujeto). A 46 without any
  // IVA retention code (15, partial codes, or 49 "sin retención") is rejected by the SII review (RDTE §7.3).
  if (tipo === 46 && (totales.iva ?? 0) > 0 && !ir.some((i) => IMPUESTOS_ADICIONALES[i.tipoImp]?.tipo === 'R')) {
    err(`${T}.imptoReten`, 'a factura de compra (46) needs its IVA retention: code 15 (total), a partial code (16, 30–41, 47, 48…) or 49 (sin retención, Bolsa de Productos) (FMT §4; A.117)');
  }

  // ---------------------------------------------------------------- global D/R
  const DR = dte.dscRcgGlobal ?? [];
  if (DR.length > 20) err('dscRcgGlobal', 'at most 20 DscRcgGlobal (FMT D)', { actual: DR.length });
  if (DR.length > 0 && (tipo === 43 || tipo === 52)) err('dscRcgGlobal', `global discounts/surcharges do not apply to type ${tipo} (FMT §2.1 zone table)`);
  const distinctCodes = new Set(D.filter((d) => d.indExe === undefined).map((d) => (d.codImpAdic ?? []).slice().sort().join(',')));
  DR.forEach((dr, i) => {
    const G = `dscRcgGlobal[${i}]`;
    if (dr.nroLinDr !== i + 1) err(`${G}.nroLinDr`, 'global discounts are numbered 1, 2, 3… in order (FMT D.1)', { expected: i + 1, actual: dr.nroLinDr });
    if (!(dr.valorDr > 0)) err(`${G}.valorDr`, 'ValorDR must be greater than zero', { actual: dr.valorDr });
    if (dr.tpoValor === '%' && dr.tpoMov === 'D' && dr.valorDr > 100) err(`${G}.valorDr`, 'a discount cannot exceed 100 %', { actual: dr.valorDr });
    if (dr.tpoValor === '$' && !hasAtMostDecimals(dr.valorDr, dec === 0 ? 0 : 2)) {
      err(`${G}.valorDr`, dec === 0 ? 'a discount in $ of a peso document is a whole amount' : 'ValorDR has at most 2 decimals (XSD Dec16_2Type)', { actual: dr.valorDr });
    }
    if (exp && dr.indExeDr !== 1) err(`${G}.indExeDr`, 'global discounts/surcharges of export documents apply to the exempt amount (IndExeDR 1)');
    const applies = dr.indExeDr === 1 ? exentoLines > 0 : dr.indExeDr === 2 ? D.some((d) => d.indExe === 2 || d.indExe === 6) : afectoLines > 0;
    if (!applies) err(`${G}.indExeDr`, `the ${dr.indExeDr === 1 ? 'exempt' : dr.indExeDr === 2 ? 'non-billable' : 'affected'} lines this discount/surcharge applies to do not exist (FMT D preamble b)`);
    // FMT D preamble a): with lines of distinct tax codes, a global D/R on affected amounts must be in %.
    if (dr.indExeDr === undefined && dr.tpoValor === '$' && distinctCodes.size > 1) {
      err(`${G}.tpoValor`, 'with affected lines of different additional-tax codes, a global discount/surcharge must be in % (FMT D preamble a)');
    }
  });

  // ---------------------------------------------------------------- comisiones
  const C = dte.comisiones ?? [];
  if (C.length > 20) err('comisiones', 'at most 20 Comisiones (FMT F)', { actual: C.length });
  if (C.length > 0 && ![43, 46, 56, 61].includes(tipo)) err('comisiones', 'Comisiones y otros cargos exist only in liquidaciones-factura 43, facturas de compra 46 and their notes (FMT F)');
  // FMT §2.1 text, §F and bitácora 22/09/2005: "obligatoria para Liquidaciones-Factura".
  if (tipo === 43 && C.length === 0) err('comisiones', 'a liquidación-factura (43) needs its Comisiones y otros cargos (FMT F: "obligatoriamente en Liquidaciones-Factura")');
  C.forEach((c, i) => {
    const K = `comisiones[${i}]`;
    if (c.nroLinCom !== i + 1) err(`${K}.nroLinCom`, 'commission lines are numbered 1, 2, 3… in order (FMT F.1)', { expected: i + 1, actual: c.nroLinCom });
    if (isBlank(c.glosa)) err(`${K}.glosa`, 'every commission needs its Glosa (FMT F.3)');
    if (c.valComNeto === 0 && c.valComExe === 0) err(`${K}.valComNeto`, 'a commission needs a net or an exempt value (FMT F.5–F.6)');
    if (tipo !== 43) {
      for (const k of ['valComNeto', 'valComExe', 'valComIva'] as const) {
        const v = c[k];
        if (v !== undefined && v < 0) err(`${K}.${k}`, 'commission values may be negative only in liquidaciones-factura 43 (FMT F.5–F.7)', { actual: v });
      }
    }
    for (const k of ['valComNeto', 'valComExe', 'valComIva'] as const) {
      const v = c[k];
      if (v !== undefined && !Number.isInteger(v)) err(`${K}.${k}`, 'commission values are whole pesos', { actual: v });
    }
  });

  // ---------------------------------------------------------------- referencias
  const Rf = dte.referencia ?? [];
  if (Rf.length > 40) err('referencia', 'at most 40 references (FMT E)', { actual: Rf.length });
  Rf.forEach((r, i) => {
    const F = `referencia[${i}]`;
    if (r.nroLinRef !== i + 1) err(`${F}.nroLinRef`, 'references are numbered 1, 2, 3… in order (FMT E.1)', { expected: i + 1, actual: r.nroLinRef });
    if (!boleta) {
      if (isBlank(r.tpoDocRef)) err(`${F}.tpoDocRef`, 'a reference needs TpoDocRef (FMT E.2)');
      if (isBlank(r.folioRef)) err(`${F}.folioRef`, 'a reference needs FolioRef (FMT E.4)');
      if (!isValidDate(r.fchRef) || r.fchRef < MIN_FECHA || r.fchRef > MAX_FECHA) err(`${F}.fchRef`, `FchRef must be a valid date between ${MIN_FECHA} and ${MAX_FECHA} (FMT E.7)`, { actual: r.fchRef });
    }
    if (r.indGlobal === 1 && r.folioRef !== '0') err(`${F}.folioRef`, 'a global reference (IndGlobal 1) has FolioRef 0 (FMT E.3–E.4)', { expected: '0', actual: r.folioRef });
    if (r.indGlobal !== 1 && r.folioRef === '0') err(`${F}.folioRef`, 'FolioRef 0 is only for global references (IndGlobal 1) (FMT E.4)', { actual: r.folioRef });
    if (r.indGlobal === 1 && isBlank(r.razonRef)) err(`${F}.razonRef`, 'a global reference explains itself in RazonRef (FMT E.3)');
    if (r.rutOtr !== undefined && ![46, 56, 61, 110, 111, 112].includes(tipo)) err(`${F}.rutOtr`, `RUTOtr does not apply to type ${tipo} (FMT E.5)`);
    if (r.codRef !== undefined && boleta) err(`${F}.codRef`, 'boletas use a free-text CodRef (e.g. SET), not 1–3 (EnvioBOLETA_v11.xsd)');
    // NC cannot cancel a guía (no tax debit): REF-3-415 (LDTE SiiEnvioAyudas).
    if ((tipo === 61 || tipo === 56) && r.codRef === 1 && (r.tpoDocRef === '52' || r.tpoDocRef === '50')) {
      err(`${F}.tpoDocRef`, 'a nota de crédito/débito cannot cancel a guía de despacho: it has no tax debit', { siiCode: 'REF-3-415' });
    }
  });
  if (nota) {
    const withCod = Rf.filter((r) => r.codRef !== undefined);
    if (Rf.length === 0) {
      // REF-3-415: "DTE que requiere referencias y no se está colocando una referencia válida" (LDTE).
      err('referencia', `a ${tipo === 61 || tipo === 112 ? 'nota de crédito' : 'nota de débito'} must reference the document it modifies (FMT §2.1, E)`, { siiCode: 'REF-3-415' });
    } else if (withCod.length === 0) {
      // SII "REF L[n]-3-758": CodRef is mandatory in NC/ND (LDTE SiiEnvioAyudas).
      const at = Math.max(0, Rf.findIndex((r) => TIPOS_TRIBUTARIOS_REF.has(r.tpoDocRef)));
      err(`referencia[${at}].codRef`, 'the reference of a nota de crédito/débito needs CodRef (1 anula, 2 corrige texto, 3 corrige montos) (FMT E.8)', { siiCode: 'REF-3-758' });
    }
    // FMT E.8: CodRef 1 (anula) and 2 (corrige texto) "deben tener un único documento de referencia".
    // References to non-tax documents (orden de compra 801, SET of the certification set…) do not count.
    const codes12 = withCod.filter((r) => r.codRef === 1 || r.codRef === 2);
    const taxRefs = Rf.filter((r) => TIPOS_TRIBUTARIOS_REF.has(r.tpoDocRef));
    if (codes12.length > 0 && (taxRefs.length > 1 || withCod.length > 1)) {
      err('referencia', 'a note that cancels (CodRef 1) or corrects text (CodRef 2) must reference exactly one document (FMT E.8)', { expected: 1, actual: Math.max(taxRefs.length, withCod.length) });
    }
    // CodRef 2 (corrige texto): all amounts are zero (FMT B.38; sii-spec §3.5).
    if (withCod.some((r) => r.codRef === 2)) {
      D.forEach((d, i) => {
        if (d.montoItem !== 0) err(`detalle[${i}].montoItem`, 'a note that only corrects text (CodRef 2) has zero amounts (FMT B.38)', { expected: 0, actual: d.montoItem });
      });
      if (totales.mntTotal !== 0) err(`${T}.mntTotal`, 'a note that only corrects text (CodRef 2) has MntTotal 0 (FMT B.38)', { expected: 0, actual: totales.mntTotal });
    }
    // FMT E.2: NC/ND de exportación must reference the export document they modify.
    if ((tipo === 111 || tipo === 112) && Rf.length > 0 && !Rf.some((r) => ['110', '111', '112'].includes(r.tpoDocRef) && r.codRef !== undefined)) {
      err('referencia', 'an export note must reference the export document it modifies (110/111/112) with CodRef (FMT E.2)');
    }
  }
  if (tipo === 52 && idDoc.indTraslado !== undefined && D.some((d) => d.indExe === 5) && Rf.length === 0) {
    err('referencia', 'a guía with lines to subtract (IndExe 5) must reference the previous guía (FMT B.5)');
  }

  return errors;
}
