/**
 * The reconciler's input and output. Input names follow the SII (tipoDte, folio, rutEmisor,
 * fechaEmision, montoTotal, referencias with tipoDocumento/folio/codigo = TpoDocRef/FolioRef/CodRef)
 * and the ERP's own documents; the HTTP route maps its snake_case body onto these.
 */

export interface ReceivedItem {
  nombre: string;
  cantidad?: number;
  precioUnitario?: number;
  montoItem?: number;
}

export interface Referencia {
  /** TpoDocRef: 801 orden de compra, 52 guía de despacho, 33 factura… (string or number). */
  tipoDocumento: string | number;
  folio: string | number;
  fecha?: string;
  /** CodRef: 1 anula, 2 corrige texto, 3 corrige montos. */
  codigo?: number;
}

/** A DTE received from a supplier (tipoDte 33/34/46/52/56/61). */
export interface ReceivedDte {
  /** Caller's id; default `${rutEmisor}-${tipoDte}-${folio}`. */
  id?: string;
  tipoDte: number;
  folio: number;
  rutEmisor: string;
  razonSocial?: string;
  fechaEmision: string;
  montoNeto?: number;
  montoExento?: number;
  iva?: number;
  montoTotal: number;
  items?: ReceivedItem[];
  referencias?: Referencia[];
}

export type ExpectedKind = 'purchase_order' | 'goods_receipt' | 'vendor_bill';

export interface ExpectedLine {
  descripcion: string;
  cantidad?: number;
  precioUnitario?: number;
}

/** A document the ERP expects to be invoiced (typed by people: RUT formats, typos). */
export interface ExpectedDoc {
  id: string;
  kind: ExpectedKind;
  rutProveedor: string;
  fecha: string;
  montoNeto?: number;
  montoTotal: number;
  lines?: ExpectedLine[];
  /** The ERP's number: OC number of a purchase order, guía number of a goods receipt. */
  numero?: string | number;
  /** Vendor bills: the supplier's invoice folio as typed by hand. */
  folioFactura?: string | number;
}

/** An entry of the SII's Registro de Compras y Ventas (purchases side). */
export interface RcvEntry {
  /** Default `${rutEmisor}-${tipoDte}-${folio}`. */
  id?: string;
  rutEmisor: string;
  tipoDte: number;
  folio: number;
  fechaEmision: string;
  montoTotal: number;
  montoNeto?: number;
  iva?: number;
  estado?: string;
}

export interface ReconcileInput {
  received: ReceivedDte[];
  expected?: ExpectedDoc[];
  rcv?: RcvEntry[];
}

export interface ReconcileOptions {
  /** Pesos of difference always accepted (default 2). */
  amountTolerance?: number;
  /** Extra pesos accepted per line (rounding of each line; default 1). */
  amountTolerancePerLine?: number;
  /** Days within which dates count as close (default 30). */
  dateWindowDays?: number;
  /** Lowest score that is a match (default 0.6). */
  threshold?: number;
  /** Most invoices per purchase order / goods receipts per invoice (default 4). */
  maxParts?: number;
}

export type MatchKind = 'exact' | 'partial' | 'credit_note' | 'fuzzy';

export interface Match {
  received: string;
  /** ERP documents: one PO with several invoices, or several goods receipts for one invoice. */
  expected: string[];
  rcv: string | null;
  score: number;
  kind: MatchKind;
  /** Credit/debit notes: the received invoice they adjust. */
  adjusts?: string;
  /** Spanish, the evidence. */
  explanation: string;
}

export interface Unmatched {
  id: string;
  /** Spanish: why nothing was matched. */
  reason: string;
}

export interface UnmatchedReceived extends Unmatched {
  /** The RCV entry it was found in, if any (the DTE is registered but the ERP does not expect it). */
  rcv: string | null;
}

export interface Remaining {
  purchaseOrder: string;
  numero: string | null;
  montoTotal: number;
  /** Sum of the invoices matched to it. */
  facturado: number;
  /** Credit notes (negative) and debit notes (positive) on those invoices. */
  ajustes: number;
  /** montoTotal − facturado − ajustes (open amount; negative: over-invoiced). */
  pendiente: number;
  invoices: string[];
}

export interface ReconcileResult {
  matches: Match[];
  unmatchedReceived: UnmatchedReceived[];
  unmatchedExpected: Unmatched[];
  unmatchedRcv: Unmatched[];
  remaining: Remaining[];
}
