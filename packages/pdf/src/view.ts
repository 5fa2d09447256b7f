/**
 * What the printed document says, independent of the paper: every code turned into text, every
 * number and date formatted, optional data dropped when absent. The page and thermal layouts only
 * place these strings. Nothing here throws on odd input: a received XML may lack anything optional.
 */
import { NOMBRES_DTE, RUT_GENERIC_BOLETA, divideRound, isBoleta, isExenta, isExportacion, isTipoDte, percentOf, siiTimestampToDate, type Detalle, type Dte } from '@timbre/dte';
import type { Rgb } from './canvas.js';
import { formatClp, formatDateLong, formatDateShort, formatInt, formatNumber, formatPct, formatQty, formatRut, yearOf } from './format.js';
import {
  CLAUSULA_VENTA,
  COD_REF,
  FMA_PAGO,
  FORMA_PAGO_EXPORTACION,
  IND_EXE,
  IND_TRASLADO,
  MEDIO_PAGO,
  MODALIDAD_VENTA,
  TIPO_BULTO,
  TIPO_DESPACHO,
  UNIDAD_MEDIDA,
  VIA_TRANSPORTE,
  impuestoName,
  labelOf,
  paisName,
  puertoName,
  tipoDocumentoName,
} from './labels.js';
import type { PdfOptions } from './options.js';
import { siiUnitOf } from './sii-offices.js';

export interface Field {
  label: string;
  value: string;
}
/** One line of a field block: one field, or two side by side (Comuna / Ciudad). */
export type FieldRow = Field[];

export interface ItemRow {
  codigo: string;
  nombre: string;
  /** DscItem and other line details, printed smaller under the name. */
  detalle: string[];
  cantidad: string;
  unidad: string;
  precio: string;
  descuento: string;
  monto: string;
  /** 43: the type of the liquidated document. */
  tipoDoc: string;
}

export interface Column {
  title: string;
  /** Relative width. */
  weight: number;
  align: 'left' | 'right';
  /** One line, never wrapped (dates). */
  nowrap?: boolean;
}

export interface SimpleTable {
  title: string;
  columns: Column[];
  rows: string[][];
  /** The same rows as "label … amount" pairs, for the narrow thermal layout. */
  compact: Field[];
}

export interface TotalRow {
  label: string;
  value: string;
  strong?: boolean;
}

export interface DocView {
  tipo: number;
  /** Upper-case document name for the box: FACTURA ELECTRÓNICA. */
  title: string;
  folio: string;
  rutEmisor: string;
  /** `lines`: each a group of pieces, printed on one line joined by " · " when it fits, else one per line. */
  emisor: { razonSocial: string; giro: string; lines: string[][] };
  siiUnit: string;
  boxColor: Rgb;
  /** Undefined for a boleta to the generic receptor with nothing else to say. */
  receptor?: FieldRow[];
  docInfo: Field[];
  transporte: FieldRow[];
  aduana: FieldRow[];
  items: ItemRow[];
  columns: { codigo: boolean; unidad: boolean; descuento: boolean; tipoDoc: boolean };
  /** Tables after the detail, in order: global discounts, commissions, subtotals, references. */
  tables: SimpleTable[];
  /** Only the references table (the thermal layout prints it compactly). */
  referencias: Array<{ tipo: string; folio: string; fecha: string; codigo: string; razon: string }>;
  totals: TotalRow[];
  totalsCaption?: string;
  otraMoneda: Field[];
  otraMonedaTitle: string;
  notes: string[];
  timbreLines: string[];
  cedibleLegend: string;
  boleta: boolean;
  info: { title: string; author: string; date: Date };
}

export interface ViewContext {
  options: PdfOptions;
  /** NroResol / FchResol from an EnvioDTE carátula, when the document came in one. */
  caratula?: { numero?: string; fecha?: string };
  tmstFirma?: string;
}

const RED: Rgb = [0.8, 0.05, 0.05];
const GREEN: Rgb = [0.05, 0.5, 0.2];

/** Keep hostile or oversized text printable: at most `max` characters. */
const clip = (s: unknown, max = 300): string => {
  if (s === undefined || s === null) return '';
  const t = String(s).trim();
  return t.length > max ? `${t.slice(0, max - 1)}\u2026` : t;
};
const has = (s: unknown): boolean => s !== undefined && s !== null && String(s).trim() !== '';
const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

function push(rows: Field[], label: string, value: unknown, max = 300): void {
  if (has(value)) rows.push({ label, value: clip(value, max) });
}

export function documentName(tipo: number): string {
  return isTipoDte(tipo) ? NOMBRES_DTE[tipo] : `Documento tributario electrónico ${tipo}`;
}

export function buildView(dte: Dte, ctx: ViewContext): DocView {
  const enc = dte.encabezado;
  const idDoc = enc.idDoc;
  const em = enc.emisor;
  const rc = enc.receptor;
  const tot = enc.totales;
  const tipo = Number(idDoc.tipoDte);
  const foreign = isTipoDte(tipo) && isExportacion(tipo);
  const boleta = isTipoDte(tipo) && isBoleta(tipo);
  const exenta = isTipoDte(tipo) && isExenta(tipo);
  const money = foreign ? (n: number) => formatNumber(n, 2, 4) : formatClp;
  const cell = foreign ? (n: number) => formatNumber(n, 2, 4) : (n: number) => formatNumber(n, 0, 4);
  const name = documentName(tipo);

  // ---- issuer
  const lines: string[][] = [];
  const place = [em.dirOrigen, em.cmnaOrigen, em.ciudadOrigen].filter(has).map((s) => clip(s, 80));
  const placeUnique = place.filter((p, i) => place.findIndex((q) => q.toLowerCase() === p.toLowerCase()) === i);
  if (placeUnique.length > 0) lines.push([placeUnique.join(', ')]);
  const phones = (em.telefono ?? []).filter(has).map((t) => clip(t, 30));
  const contact = [phones.length > 0 ? `Teléfono: ${phones.join(' / ')}` : '', has(em.correoEmisor) ? `E-mail: ${clip(em.correoEmisor, 80)}` : ''].filter((s) => s !== '');
  if (contact.length > 0) lines.push(contact);
  const other: string[] = [];
  if (has(em.sucursal) || isNum(em.cdgSiiSucur)) {
    other.push(`Sucursal: ${[has(em.sucursal) ? clip(em.sucursal, 80) : '', isNum(em.cdgSiiSucur) ? `(código SII ${em.cdgSiiSucur})` : ''].filter((s) => s !== '').join(' ')}`);
  }
  if (has(em.cdgVendedor)) other.push(`Vendedor: ${clip(em.cdgVendedor, 60)}`);
  if (other.length > 0) lines.push(other);

  // ---- receptor
  const generic = (rc?.rutRecep ?? '').trim() === RUT_GENERIC_BOLETA;
  let receptor: FieldRow[] | undefined = [];
  const one = (label: string, value: unknown, max?: number): void => {
    const f: Field[] = [];
    push(f, label, value, max);
    if (f.length > 0) receptor?.push(f);
  };
  if (rc) {
    one('Señor(es)', rc.rznSocRecep, 100);
    one('R.U.T.', has(rc.rutRecep) ? formatRut(rc.rutRecep) : undefined);
    if (rc.extranjero) {
      const ex: Field[] = [];
      push(ex, 'Id. extranjero', rc.extranjero.numId, 40);
      if (has(rc.extranjero.nacionalidad)) push(ex, 'Nacionalidad', paisName(String(rc.extranjero.nacionalidad)));
      if (ex.length > 0) receptor.push(ex);
    }
    one('Código cliente', rc.cdgIntRecep, 40);
    one('Giro', rc.giroRecep, 80);
    one('Dirección', rc.dirRecep, 100);
    const cc: Field[] = [];
    push(cc, 'Comuna', rc.cmnaRecep, 40);
    push(cc, 'Ciudad', rc.ciudadRecep, 40);
    if (cc.length > 0) receptor.push(cc);
    one('Contacto', rc.contacto, 100);
    const ce: Field[] = [];
    push(ce, 'E-mail', rc.correoRecep, 80);
    push(ce, 'Teléfono', rc.telefonoRecep, 30);
    if (ce.length > 0) receptor.push(ce);
    const postal = [rc.dirPostal, rc.cmnaPostal, rc.ciudadPostal].filter(has).map((s) => clip(s, 70));
    if (postal.length > 0) one('Dir. postal', postal.join(', '));
  }
  if (has(enc.rutMandante)) one('R.U.T. mandante', formatRut(String(enc.rutMandante)));
  if (has(enc.rutSolicita)) one('R.U.T. solicitante', formatRut(String(enc.rutSolicita)));
  // A boleta to the generic receptor says nothing about the buyer beyond that RUT.
  if (boleta && generic && receptor.every((r) => r.every((f) => f.label === 'R.U.T.' || f.label === 'Señor(es)'))) receptor = undefined;
  if (receptor && receptor.length === 0) receptor = undefined;

  // ---- document data
  const docInfo: Field[] = [];
  push(docInfo, 'Fecha de emisión', has(idDoc.fchEmis) ? formatDateLong(idDoc.fchEmis) : undefined);
  push(docInfo, 'Vencimiento', has(idDoc.fchVenc) ? formatDateLong(String(idDoc.fchVenc)) : undefined);
  if (has(idDoc.periodoDesde) || has(idDoc.periodoHasta)) {
    push(docInfo, 'Período', `${formatDateShort(String(idDoc.periodoDesde ?? ''))} al ${formatDateShort(String(idDoc.periodoHasta ?? ''))}`.trim());
  }
  if (tipo === 52 && isNum(idDoc.indTraslado)) push(docInfo, 'Tipo de traslado', labelOf(IND_TRASLADO, idDoc.indTraslado));
  if (isNum(idDoc.tipoDespacho)) push(docInfo, 'Tipo de despacho', labelOf(TIPO_DESPACHO, idDoc.tipoDespacho));
  if (isNum(idDoc.fmaPago)) push(docInfo, 'Forma de pago', labelOf(FMA_PAGO, idDoc.fmaPago));
  if (isNum(idDoc.fmaPagExp)) push(docInfo, 'Forma de pago', labelOf(FORMA_PAGO_EXPORTACION, idDoc.fmaPagExp));
  if (has(idDoc.medioPago)) push(docInfo, 'Medio de pago', MEDIO_PAGO[String(idDoc.medioPago).toUpperCase()] ?? idDoc.medioPago);
  const cuenta = [idDoc.tpoCtaPago, idDoc.numCtaPago, idDoc.bcoPago].filter(has).map((s) => clip(s, 40));
  if (cuenta.length > 0) push(docInfo, 'Cuenta de pago', cuenta.join(' '));
  const terms = [has(idDoc.termPagoGlosa) ? clip(idDoc.termPagoGlosa, 100) : '', isNum(idDoc.termPagoDias) ? `${idDoc.termPagoDias} días` : '', has(idDoc.termPagoCdg) ? clip(idDoc.termPagoCdg, 10) : ''].filter((s) => s !== '');
  if (terms.length > 0) push(docInfo, 'Términos de pago', terms.join(', '));
  if (has(idDoc.fchCancel)) push(docInfo, 'Fecha de pago', formatDateShort(String(idDoc.fchCancel)));
  if (isNum(idDoc.mntCancel)) push(docInfo, 'Monto cancelado', money(idDoc.mntCancel));
  if (isNum(idDoc.saldoInsol)) push(docInfo, 'Saldo insoluto', money(idDoc.saldoInsol));
  for (const p of idDoc.mntPagos ?? []) {
    push(docInfo, 'Pago', [formatDateShort(String(p.fchPago ?? '')), isNum(p.mntPago) ? money(p.mntPago) : '', clip(p.glosaPagos, 40)].filter((s) => s !== '').join(' '));
  }
  if (foreign && has(tot.tpoMoneda)) push(docInfo, 'Moneda', tot.tpoMoneda);

  // ---- transport (guías and any document that carries it) and customs (exports)
  const tr = enc.transporte;
  const transporte: FieldRow[] = [];
  const aduana: FieldRow[] = [];
  if (tr) {
    const a: Field[] = [];
    push(a, 'Patente', tr.patente, 10);
    if (has(tr.rutTrans)) push(a, 'R.U.T. transportista', formatRut(String(tr.rutTrans)));
    const ch = tr.chofer;
    if (ch && (has(ch.nombreChofer) || has(ch.rutChofer))) {
      push(a, 'Chofer', [clip(ch.nombreChofer, 40), has(ch.rutChofer) ? `R.U.T. ${formatRut(String(ch.rutChofer))}` : ''].filter((s) => s !== '').join(', '));
    }
    const dest = [tr.dirDest, tr.cmnaDest, tr.ciudadDest].filter(has).map((s) => clip(s, 70));
    if (dest.length > 0) push(a, 'Destino', dest.join(', '));
    pairUp(a, transporte);
    const ad = tr.aduana;
    if (ad) {
      const f: Field[] = [];
      const unit = (v: number | undefined, u: number | undefined) => (isNum(v) ? `${formatQty(v)}${isNum(u) ? ` ${labelOf(UNIDAD_MEDIDA, u)}` : ''}` : undefined);
      if (isNum(ad.codModVenta)) push(f, 'Modalidad de venta', labelOf(MODALIDAD_VENTA, ad.codModVenta));
      if (isNum(ad.codClauVenta)) push(f, 'Cláusula de venta', `${labelOf(CLAUSULA_VENTA, ad.codClauVenta)}${isNum(ad.totClauVenta) ? ` ${formatNumber(ad.totClauVenta, 2, 4)}` : ''}`);
      if (isNum(ad.codViaTransp)) push(f, 'Vía de transporte', labelOf(VIA_TRANSPORTE, ad.codViaTransp));
      push(f, 'Transporte', ad.nombreTransp, 40);
      const cia = [has(ad.rutCiaTransp) ? formatRut(String(ad.rutCiaTransp)) : '', clip(ad.nomCiaTransp, 40)].filter((s) => s !== '');
      if (cia.length > 0) push(f, 'Cía. transportadora', cia.join(' '));
      push(f, 'Booking', ad.booking, 20);
      push(f, 'Operador', ad.operador, 20);
      if (isNum(ad.codPtoEmbarque)) push(f, 'Puerto de embarque', puertoName(ad.codPtoEmbarque));
      if (isNum(ad.codPtoDesemb)) push(f, 'Puerto de desembarque', puertoName(ad.codPtoDesemb));
      push(f, 'Tara', unit(ad.tara, ad.codUnidMedTara));
      push(f, 'Peso bruto', unit(ad.pesoBruto, ad.codUnidPesoBruto));
      push(f, 'Peso neto', unit(ad.pesoNeto, ad.codUnidPesoNeto));
      if (isNum(ad.totItems)) push(f, 'Total ítems', formatInt(ad.totItems));
      if (isNum(ad.totBultos)) push(f, 'Total bultos', formatInt(ad.totBultos));
      for (const b of ad.tipoBultos ?? []) {
        const parts = [isNum(b.cantBultos) ? formatInt(b.cantBultos) : '', isNum(b.codTpoBultos) ? (labelOf(TIPO_BULTO, b.codTpoBultos) ?? '') : '', has(b.marcas) ? `marcas ${clip(b.marcas, 60)}` : '', has(b.idContainer) ? `contenedor ${clip(b.idContainer, 30)}` : '', has(b.sello) ? `sello ${clip(b.sello, 30)}` : ''].filter((s) => s !== '');
        push(f, 'Bultos', parts.join(', '));
      }
      if (isNum(ad.mntFlete)) push(f, 'Flete', formatNumber(ad.mntFlete, 2, 4));
      if (isNum(ad.mntSeguro)) push(f, 'Seguro', formatNumber(ad.mntSeguro, 2, 4));
      if (has(ad.codPaisRecep)) push(f, 'País receptor', paisName(String(ad.codPaisRecep)));
      if (has(ad.codPaisDestin)) push(f, 'País de destino', paisName(String(ad.codPaisDestin)));
      pairUp(f, aduana);
    }
  }

  // ---- detail
  const detalle: Detalle[] = Array.isArray(dte.detalle) ? dte.detalle : [];
  const marks = new Set<number>();
  const items: ItemRow[] = detalle.map((d) => {
    const detail: string[] = [];
    if (has(d.dscItem)) detail.push(clip(d.dscItem, 1000));
    const extra: string[] = [];
    if (has(d.fchElabor)) extra.push(`Elaboración: ${formatDateShort(String(d.fchElabor))}`);
    if (has(d.fchVencim)) extra.push(`Vencimiento: ${formatDateShort(String(d.fchVencim))}`);
    if (isNum(d.qtyRef)) extra.push(`Ref.: ${formatQty(d.qtyRef)}${has(d.unmdRef) ? ` ${clip(d.unmdRef, 10)}` : ''}${isNum(d.prcRef) ? ` a ${cell(d.prcRef)}` : ''}`);
    for (const s of d.subcantidad ?? []) if (isNum(s.subQty)) extra.push(`${clip(s.subCod, 35)}: ${formatQty(s.subQty)}`);
    if (d.otrMnda && isNum(d.otrMnda.prcOtrMon)) extra.push(`Precio en ${clip(d.otrMnda.moneda, 15)}: ${formatNumber(d.otrMnda.prcOtrMon, 0, 6)}`);
    if (d.infoTicket && has(d.infoTicket.nmbEvento)) extra.push(`${clip(d.infoTicket.nmbEvento, 80)}, ${formatDateShort(String(d.infoTicket.fchEvento ?? ''))}, ${clip(d.infoTicket.lugarEvento, 80)}`);
    if (extra.length > 0) detail.push(extra.join(' · '));
    const disc: string[] = [];
    if (isNum(d.descuentoPct) && d.descuentoPct !== 0) disc.push(`${formatNumber(d.descuentoPct, 0, 2)}%`);
    else if (isNum(d.descuentoMonto) && d.descuentoMonto !== 0) disc.push(cell(d.descuentoMonto));
    if (isNum(d.recargoPct) && d.recargoPct !== 0) disc.push(`+${formatNumber(d.recargoPct, 0, 2)}%`);
    else if (isNum(d.recargoMonto) && d.recargoMonto !== 0) disc.push(`+${cell(d.recargoMonto)}`);
    const exe = isNum(d.indExe) ? IND_EXE[d.indExe] : undefined;
    // In an all-exempt document (34, 41, exports) "exento" on every line is noise.
    const mark = exe && !(exenta && d.indExe === 1) ? exe.mark : '';
    if (mark && isNum(d.indExe)) marks.add(d.indExe);
    return {
      codigo: (d.cdgItem ?? []).map((c) => clip(c.vlrCodigo, 35)).filter((s) => s !== '').join(' / '),
      nombre: `${clip(d.nmbItem, 300)}${mark ? ` ${mark}` : ''}`,
      detalle: detail,
      cantidad: isNum(d.qtyItem) ? formatQty(d.qtyItem) : '',
      unidad: clip(d.unmdItem, 10),
      precio: isNum(d.prcItem) ? (foreign ? formatNumber(d.prcItem, 2, 6) : formatQty(d.prcItem)) : '',
      descuento: disc.join(' '),
      monto: isNum(d.montoItem) ? cell(d.montoItem) : '',
      tipoDoc: has(d.tpoDocLiq) ? tipoDocumentoName(String(d.tpoDocLiq)) : '',
    };
  });
  const columns = {
    codigo: items.some((i) => i.codigo !== ''),
    unidad: items.some((i) => i.unidad !== ''),
    descuento: items.some((i) => i.descuento !== ''),
    tipoDoc: items.some((i) => i.tipoDoc !== ''),
  };

  // ---- global discounts and surcharges, with their amount when it can be computed
  const tables: SimpleTable[] = [];
  let descGlobal = 0;
  let recGlobal = 0;
  let globalsKnown = true;
  const dr = Array.isArray(dte.dscRcgGlobal) ? dte.dscRcgGlobal : [];
  if (dr.length > 0) {
    const baseOf = (ind: number | undefined): number => {
      let s = 0;
      for (const d of detalle) {
        if (!isNum(d.montoItem)) continue;
        const e = d.indExe;
        if (foreign || (ind === undefined ? e === undefined : e === ind)) s += d.montoItem;
      }
      return s;
    };
    const rows = dr.map((g) => {
      let amount: number | undefined;
      if (isNum(g.valorDr)) {
        if (g.tpoValor === '%') {
          try {
            amount = percentOf(baseOf(g.indExeDr), g.valorDr, foreign ? 2 : 0);
          } catch {
            amount = undefined;
          }
        } else amount = g.valorDr;
      }
      if (amount === undefined) globalsKnown = false;
      else if (g.tpoMov === 'R') recGlobal += amount;
      else descGlobal += amount;
      const kind = g.indExeDr === 1 ? ' (exento)' : g.indExeDr === 2 ? ' (no facturable)' : '';
      return [
        g.tpoMov === 'R' ? 'Recargo' : 'Descuento',
        `${clip(g.glosaDr, 60)}${kind}`.trim(),
        isNum(g.valorDr) ? (g.tpoValor === '%' ? formatPct(g.valorDr) : cell(g.valorDr)) : '',
        amount === undefined ? '' : cell(amount),
      ];
    });
    const compact = rows.map(([mov = '', glosa = '', valor = '', monto = '']) => ({
      label: `${mov}${glosa ? `: ${glosa}` : ''}${valor.endsWith('%') ? ` (${valor})` : ''}`,
      value: monto || valor,
    }));
    tables.push({
      title: 'Descuentos y recargos globales',
      columns: [
        { title: 'Movimiento', weight: 1.2, align: 'left' },
        { title: 'Glosa', weight: 4, align: 'left' },
        { title: 'Valor', weight: 1.2, align: 'right' },
        { title: foreign ? 'Monto' : 'Monto ($)', weight: 1.4, align: 'right' },
      ],
      rows,
      compact,
    });
  }

  // ---- 43's commissions and other charges
  const com = Array.isArray(dte.comisiones) ? dte.comisiones : [];
  if (com.length > 0) {
    tables.push({
      title: 'Comisiones y otros cargos',
      columns: [
        { title: 'Tipo', weight: 1.2, align: 'left' },
        { title: 'Glosa', weight: 3.4, align: 'left' },
        { title: 'Tasa', weight: 0.8, align: 'right' },
        { title: 'Neto', weight: 1.2, align: 'right' },
        { title: 'Exento', weight: 1.2, align: 'right' },
        { title: 'I.V.A.', weight: 1.2, align: 'right' },
      ],
      rows: com.map((c) => [
        c.tipoMovim === 'O' ? 'Otros cargos' : 'Comisión',
        clip(c.glosa, 60),
        isNum(c.tasaComision) ? formatPct(c.tasaComision) : '',
        isNum(c.valComNeto) ? formatNumber(c.valComNeto, 0, 4) : '',
        isNum(c.valComExe) ? formatNumber(c.valComExe, 0, 4) : '',
        isNum(c.valComIva) ? formatNumber(c.valComIva, 0, 4) : '',
      ]),
      compact: com.map((c) => ({
        label: `${clip(c.glosa, 60) || (c.tipoMovim === 'O' ? 'Otros cargos' : 'Comisión')}${isNum(c.tasaComision) ? ` (${formatPct(c.tasaComision)})` : ''}`,
        value: isNum(c.valComNeto) ? formatNumber(c.valComNeto + (isNum(c.valComExe) ? c.valComExe : 0), 0, 4) : '',
      })),
    });
  }

  // ---- informative subtotals
  const sti = Array.isArray(dte.subTotInfo) ? dte.subTotInfo : [];
  if (sti.length > 0) {
    const v = (n: number | undefined) => (isNum(n) ? cell(n) : '');
    tables.push({
      title: 'Subtotales informativos',
      columns: [
        { title: 'Glosa', weight: 3.4, align: 'left' },
        { title: 'Neto', weight: 1.2, align: 'right' },
        { title: 'I.V.A.', weight: 1.2, align: 'right' },
        { title: 'Adicional', weight: 1.2, align: 'right' },
        { title: 'Exento', weight: 1.2, align: 'right' },
        { title: 'Subtotal', weight: 1.2, align: 'right' },
      ],
      rows: sti.map((s) => [clip(s.glosaSti, 60), v(s.subTotNetoSti), v(s.subTotIvaSti), v(s.subTotAdicSti), v(s.subTotExeSti), v(s.valSubtotSti)]),
      compact: sti.map((s) => ({ label: clip(s.glosaSti, 60), value: v(s.valSubtotSti) || v(s.subTotNetoSti) })),
    });
  }

  // ---- references
  const refs = Array.isArray(dte.referencia) ? dte.referencia : [];
  const referencias = refs.map((r) => ({
    tipo: `${tipoDocumentoName(clip(r.tpoDocRef, 10))}${has(r.rutOtr) ? ` (emisor ${formatRut(String(r.rutOtr))})` : ''}`,
    folio: r.indGlobal === 1 ? `${clip(r.folioRef, 18)} (global)` : clip(r.folioRef, 18),
    fecha: has(r.fchRef) ? formatDateShort(String(r.fchRef)) : '',
    codigo: isNum(r.codRef) ? (labelOf(COD_REF, r.codRef) ?? '') : clip(r.codRefBoleta, 20),
    razon: clip(r.razonRef, 100),
  }));
  if (referencias.length > 0) {
    tables.push({
      title: 'Referencias',
      columns: [
        { title: 'Tipo de documento', weight: 2.5, align: 'left' },
        { title: 'Folio', weight: 1.2, align: 'left' },
        { title: 'Fecha', weight: 1.1, align: 'left', nowrap: true },
        { title: 'Código', weight: 2.1, align: 'left' },
        { title: 'Razón', weight: 3.1, align: 'left' },
      ],
      rows: referencias.map((r) => [r.tipo, r.folio, r.fecha, r.codigo, r.razon]),
      compact: [],
    });
  }

  // ---- totals
  const totals: TotalRow[] = [];
  const t = (label: string, n: number | undefined, strong = false) => {
    if (isNum(n)) totals.push({ label, value: money(n), ...(strong ? { strong } : {}) });
  };
  const notes: string[] = [];
  if (globalsKnown && descGlobal !== 0) t('Descuento global', descGlobal);
  if (globalsKnown && recGlobal !== 0) t('Recargo global', recGlobal);
  if (boleta) {
    if (isNum(tot.mntExe) && tot.mntExe !== 0) t('Monto exento', tot.mntExe);
  } else {
    t('Monto neto', tot.mntNeto);
    t('Monto exento', tot.mntExe);
    t('Base faenamiento carne', tot.mntBase);
    t('Base margen de comercialización', tot.mntMargenCom);
    if (isNum(tot.iva)) t(`I.V.A. ${formatPct(isNum(tot.tasaIva) ? tot.tasaIva : 19)}`, tot.iva);
    t('I.V.A. propio', tot.ivaProp);
    t('I.V.A. terceros', tot.ivaTerc);
  }
  for (const r of tot.imptoReten ?? []) {
    if (isNum(r.tipoImp)) t(`${impuestoName(r.tipoImp)}${isNum(r.tasaImp) ? ` ${formatPct(r.tasaImp)}` : ''}`, r.montoImp);
  }
  t('I.V.A. no retenido', tot.ivaNoRet);
  if (isNum(tot.credEc)) totals.push({ label: 'Crédito especial empresas constructoras', value: `-${money(tot.credEc)}` });
  t('Garantía depósito envases', tot.grntDep);
  if (tot.comisiones) {
    t('Comisiones neto', tot.comisiones.valComNeto);
    if (tot.comisiones.valComExe !== 0) t('Comisiones exento', tot.comisiones.valComExe);
    t('I.V.A. comisiones', tot.comisiones.valComIva);
  }
  t('TOTAL', tot.mntTotal, true);
  t('Monto no facturable', tot.montoNf);
  t('Total del período', tot.montoPeriodo ?? tot.totalPeriodo);
  t('Saldo anterior', tot.saldoAnterior);
  t('Valor a pagar', tot.vlrPagar, true);

  if (tipo === 39 && isNum(tot.mntTotal)) {
    let iva = tot.iva;
    if (!isNum(iva) && idDoc.indMntNeto !== 2) {
      try {
        const afecto = tot.mntTotal - (isNum(tot.mntExe) ? tot.mntExe : 0) - (isNum(tot.montoNf) ? tot.montoNf : 0);
        iva = afecto - divideRound(afecto, 1.19);
      } catch {
        iva = undefined;
      }
    }
    if (isNum(iva)) notes.push(`El IVA de esta boleta es ${formatClp(iva)}`);
  }
  for (const k of [...marks].sort()) {
    const e = IND_EXE[k];
    if (e) notes.push(`${e.mark} ítem ${e.text}`);
  }
  if (idDoc.mntBruto === 1) notes.push('Los montos de las líneas incluyen I.V.A.');
  if (idDoc.indMntNeto === 2) notes.push('Los montos de las líneas son netos.');
  if (idDoc.indNoRebaja === 1) notes.push('Nota de crédito sin derecho a rebajar el débito.');
  if (idDoc.tipoFactEsp === 1) notes.push('Factura de inicio.');

  // ---- the same amounts in another currency
  const om = enc.otraMoneda;
  const otraMoneda: Field[] = [];
  let otraMonedaTitle = '';
  if (om && has(om.tpoMoneda)) {
    const clp = /^PESO CL/i.test(String(om.tpoMoneda).trim());
    const m = (n: number | undefined) => (isNum(n) ? (clp ? formatClp(n) : formatNumber(n, 2, 4)) : undefined);
    otraMonedaTitle = `Montos en ${clip(om.tpoMoneda, 20)}`;
    if (isNum(om.tpoCambio)) push(otraMoneda, 'Tipo de cambio', formatNumber(om.tpoCambio, 0, 4));
    push(otraMoneda, 'Monto neto', m(om.mntNetoOtrMnda));
    push(otraMoneda, 'Monto exento', m(om.mntExeOtrMnda));
    push(otraMoneda, 'I.V.A.', m(om.ivaOtrMnda));
    push(otraMoneda, 'Total', m(om.mntTotOtrMnda));
  }

  // ---- timbre legends
  const res = ctx.options.resolucion;
  const numero = res ? String(res.numero) : ctx.caratula?.numero;
  const year = yearOf(res ? res.fecha : ctx.caratula?.fecha);
  const resLine = has(numero) ? `Res. ${clip(numero, 12)}${year ? ` de ${year}` : ''}` : 'Res. \u2014';
  const verify = boleta ? (ctx.options.verificationUrl ?? 'www.sii.cl') : 'www.sii.cl';

  let date: Date;
  try {
    date = has(ctx.tmstFirma) ? siiTimestampToDate(String(ctx.tmstFirma)) : new Date(`${idDoc.fchEmis}T12:00:00Z`);
  } catch {
    date = new Date(`${idDoc.fchEmis}T12:00:00Z`);
  }
  if (Number.isNaN(date.getTime())) date = new Date(Date.UTC(2000, 0, 1));

  const folio = isNum(idDoc.folio) ? String(idDoc.folio) : clip(idDoc.folio, 12);
  return {
    tipo,
    title: name.toLocaleUpperCase('es-CL'),
    folio,
    rutEmisor: formatRut(String(em.rutEmisor ?? '')),
    emisor: { razonSocial: clip(em.rznSoc, 100), giro: clip(em.giroEmis, 80), lines },
    siiUnit: ctx.options.oficinaSii?.trim() || siiUnitOf(em.cmnaOrigen),
    boxColor: tipo === 52 ? GREEN : RED,
    ...(receptor ? { receptor } : {}),
    docInfo,
    transporte,
    aduana,
    items,
    columns,
    tables,
    referencias,
    totals,
    ...(foreign && has(tot.tpoMoneda) ? { totalsCaption: `Montos en ${clip(tot.tpoMoneda, 20)}` } : {}),
    otraMoneda,
    otraMonedaTitle,
    notes,
    timbreLines: ['Timbre Electrónico SII', resLine, `Verifique documento: ${clip(verify, 80)}`],
    cedibleLegend: tipo === 52 ? 'CEDIBLE CON SU FACTURA' : 'CEDIBLE',
    boleta,
    info: { title: `${name} N° ${folio}`, author: clip(em.rznSoc, 100), date },
  };
}

/** Fields two per row, in order. */
function pairUp(fields: Field[], out: FieldRow[]): void {
  for (let i = 0; i < fields.length; i += 2) out.push(fields.slice(i, i + 2));
}
