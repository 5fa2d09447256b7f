/**
 * The typed model of a DTE. Property names are the XSD element names in lowerCamelCase
 * (`RUTEmisor` → `rutEmisor`, `MntNeto` → `mntNeto`, `IVA` → `iva`), so that the writer and the
 * parser map one to one (see xml-schema/dte-fields.ts). Amounts in CLP are integer pesos; export
 * documents carry decimals where the XSD allows them. Dates are `YYYY-MM-DD` strings, timestamps
 * `YYYY-MM-DDTHH:MM:SS` (local Chilean time, no zone, as every SII sample).
 */
import type { TipoDte } from './tipos.js';

export interface MntPago {
  fchPago: string;
  mntPago: number;
  glosaPagos?: string;
}

export interface IdDoc {
  tipoDte: TipoDte;
  folio: number;
  fchEmis: string;
  /** 1: NC sin derecho a rebajar débito. */
  indNoRebaja?: 1;
  /** 1 por cuenta del receptor, 2 emisor a instalaciones del cliente, 3 emisor a otras instalaciones. */
  tipoDespacho?: 1 | 2 | 3;
  /** Guía (52) only, required there. */
  indTraslado?: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  tpoImpresion?: 'N' | 'T';
  /** Documento 1–3; boletas 1–4 (mandatory); exportación 1–6. */
  indServicio?: number;
  /** 1: line amounts are gross (IVA included). Boletas use `indMntNeto` instead. */
  mntBruto?: 1;
  /** Boletas: 2 = line amounts are net. */
  indMntNeto?: 2;
  tpoTranCompra?: number;
  tpoTranVenta?: number;
  /** 1 contado, 2 crédito, 3 sin costo. */
  fmaPago?: 1 | 2 | 3;
  fmaPagExp?: number;
  fchCancel?: string;
  mntCancel?: number;
  saldoInsol?: number;
  mntPagos?: MntPago[];
  periodoDesde?: string;
  periodoHasta?: string;
  medioPago?: string;
  tpoCtaPago?: string;
  numCtaPago?: string;
  bcoPago?: string;
  termPagoCdg?: string;
  termPagoGlosa?: string;
  termPagoDias?: number;
  fchVenc?: string;
  /** `TipoFactEsp` (Documento only): 1 = factura de inicio. */
  tipoFactEsp?: 1;
}

/** `Emisor/GuiaExport` (Documento only): guía de despacho issued for an export. */
export interface GuiaExport {
  cdgTraslado?: number;
  folioAut?: number;
  fchAut?: string;
}

export interface Emisor {
  rutEmisor: string;
  /** `RznSoc` (boletas: `RznSocEmisor`), ≤100. */
  rznSoc: string;
  /** `GiroEmis` (boletas: `GiroEmisor`), ≤80. */
  giroEmis: string;
  telefono?: string[];
  correoEmisor?: string;
  /** 1..4 six-digit activity codes (not in boletas). */
  acteco: number[];
  sucursal?: string;
  cdgSiiSucur?: number;
  dirOrigen?: string;
  cmnaOrigen?: string;
  ciudadOrigen?: string;
  cdgVendedor?: string;
  /** Software provider RUT (boletas, `RUTProvSW`). */
  rutProvSw?: string;
  /** Documento only. */
  guiaExport?: GuiaExport;
  /** Exportaciones only (`CodAdicSucur`). */
  codAdicSucur?: string;
  /** Documento and Exportaciones (`IdAdicEmisor`). */
  idAdicEmisor?: string;
  /** Documento only (`RUTProveedor`, `RznSocProveedor`). */
  rutProveedor?: string;
  rznSocProveedor?: string;
}

export interface Extranjero {
  numId?: string;
  nacionalidad?: string;
  /** Documento only (`TipoDocID`, 1|2). */
  tipoDocId?: number;
  /** Exportaciones only (`IdAdicRecep`). */
  idAdicRecep?: string;
}

export interface Receptor {
  rutRecep: string;
  cdgIntRecep?: string;
  rznSocRecep: string;
  extranjero?: Extranjero;
  giroRecep?: string;
  contacto?: string;
  correoRecep?: string;
  /** Boletas only (2024-12). */
  telefonoRecep?: string;
  dirRecep?: string;
  cmnaRecep?: string;
  ciudadRecep?: string;
  dirPostal?: string;
  cmnaPostal?: string;
  ciudadPostal?: string;
}

export interface Chofer {
  rutChofer: string;
  nombreChofer: string;
}

export interface TipoBulto {
  codTpoBultos: number;
  cantBultos: number;
  marcas?: string;
  idContainer?: string;
  sello?: string;
  emisorSello?: string;
}

/** Export customs block (`Transporte/Aduana`), codes from the SII/Aduana tables. */
export interface Aduana {
  codModVenta?: number;
  codClauVenta?: number;
  totClauVenta?: number;
  codViaTransp?: number;
  nombreTransp?: string;
  rutCiaTransp?: string;
  nomCiaTransp?: string;
  idAdicTransp?: string;
  booking?: string;
  operador?: string;
  codPtoEmbarque?: number;
  idAdicPtoEmb?: string;
  codPtoDesemb?: number;
  idAdicPtoDesemb?: string;
  tara?: number;
  codUnidMedTara?: number;
  pesoBruto?: number;
  codUnidPesoBruto?: number;
  pesoNeto?: number;
  codUnidPesoNeto?: number;
  totItems?: number;
  totBultos?: number;
  tipoBultos?: TipoBulto[];
  mntFlete?: number;
  mntSeguro?: number;
  codPaisRecep?: string;
  codPaisDestin?: string;
}

export interface Transporte {
  patente?: string;
  rutTrans?: string;
  chofer?: Chofer;
  dirDest?: string;
  cmnaDest?: string;
  ciudadDest?: string;
  aduana?: Aduana;
}

export interface ImptoReten {
  /** ImpAdicDTEType code (14, 15, 17, 18, 19, 23–28, 30–41, 44–55, 271, …). */
  tipoImp: number;
  tasaImp?: number;
  montoImp: number;
}

export interface ComisionesTotales {
  valComNeto: number;
  valComExe: number;
  valComIva: number;
}

export interface Totales {
  /** Exportación: currency of the document (`TpoMoneda`, e.g. `DOLAR USA`). */
  tpoMoneda?: string;
  mntNeto?: number;
  mntExe?: number;
  mntBase?: number;
  mntMargenCom?: number;
  tasaIva?: number;
  iva?: number;
  ivaProp?: number;
  ivaTerc?: number;
  imptoReten?: ImptoReten[];
  ivaNoRet?: number;
  credEc?: number;
  grntDep?: number;
  comisiones?: ComisionesTotales;
  mntTotal: number;
  montoNf?: number;
  montoPeriodo?: number;
  /** Boletas: `TotalPeriodo`. */
  totalPeriodo?: number;
  saldoAnterior?: number;
  vlrPagar?: number;
}

/** `OtraMoneda/ImpRetOtrMnda` (Documento only). */
export interface ImpRetOtrMnda {
  tipoImpOtrMnda: number;
  tasaImpOtrMnda?: number;
  vlrImpOtrMnda: number;
}

export interface OtraMoneda {
  tpoMoneda: string;
  tpoCambio?: number;
  mntNetoOtrMnda?: number;
  mntExeOtrMnda?: number;
  /** Documento only. */
  mntFaeCarneOtrMnda?: number;
  /** Documento only. */
  mntMargComOtrMnda?: number;
  ivaOtrMnda?: number;
  /** Documento only. */
  impRetOtrMnda?: ImpRetOtrMnda[];
  /** Documento only. */
  ivaNoRetOtrMnda?: number;
  mntTotOtrMnda: number;
}

export interface CdgItem {
  tpoCodigo: string;
  vlrCodigo: string;
}

/** `SubDscto` (TipoDscto/ValorDscto) and `SubRecargo` (TipoRecargo/ValorRecargo). */
export interface SubDsctoRecargo {
  tipo: '%' | '$';
  valor: number;
}

/** `Detalle/Retenedor` (Documento only): retention agent data of the line. */
export interface Retenedor {
  indAgente: 'R';
  mntBaseFaena?: number;
  mntMargComer?: number;
  prcConsFinal?: number;
}

/** `Detalle/Subcantidad`. */
export interface Subcantidad {
  subQty: number;
  subCod: string;
  /** Exportaciones only. */
  tipCodSubQty?: string;
}

/** `Detalle/OtrMnda` (Documento, Exportaciones): the line price in another currency. */
export interface OtrMnda {
  prcOtrMon: number;
  moneda: string;
  fctConv?: number;
  dctoOtrMnda?: number;
  recargoOtrMnda?: number;
  /** Mandatory in Exportaciones. */
  montoItemOtrMnda?: number;
}

/** `Detalle/InfoTicket` (boletas only: tickets for shows). */
export interface InfoTicket {
  folioTicket: number;
  fchGenera: string;
  nmbEvento: string;
  tpoTicket: string;
  cdgEvento: string;
  fchEvento: string;
  lugarEvento: string;
  ubicEvento: string;
  filaUbicEvento?: string;
  asntoUbicEvento?: string;
}

export interface Detalle {
  nroLinDet: number;
  cdgItem?: CdgItem[];
  /** 43 only: type of the liquidated document. */
  tpoDocLiq?: string;
  /** 1 exento, 2 no facturable, 3 garantía envases, 4 ítem no venta, 5 a rebajar, 6 no facturable negativo. */
  indExe?: 1 | 2 | 3 | 4 | 5 | 6;
  nmbItem: string;
  dscItem?: string;
  qtyRef?: number;
  unmdRef?: string;
  prcRef?: number;
  qtyItem?: number;
  fchElabor?: string;
  fchVencim?: string;
  unmdItem?: string;
  prcItem?: number;
  descuentoPct?: number;
  descuentoMonto?: number;
  recargoPct?: number;
  recargoMonto?: number;
  /** Additional tax codes applying to this line (≤2). */
  codImpAdic?: number[];
  /** Documento only. */
  retenedor?: Retenedor;
  /** ≤5 (not boletas). */
  subcantidad?: Subcantidad[];
  /** Documento and Exportaciones. */
  otrMnda?: OtrMnda;
  /** ≤5 (Documento and Exportaciones). */
  subDscto?: SubDsctoRecargo[];
  /** ≤5 (Documento and Exportaciones). */
  subRecargo?: SubDsctoRecargo[];
  /** Boletas only: 1 or 2 (`ItemEspectaculo`). */
  itemEspectaculo?: number;
  /** Boletas only: the principal's RUT for this line (`RUTMandante`). */
  rutMandante?: string;
  /** Boletas only. */
  infoTicket?: InfoTicket;
  /** Integer pesos; decimals allowed in export documents; negative only in 43. */
  montoItem: number;
}

export interface DscRcgGlobal {
  nroLinDr: number;
  tpoMov: 'D' | 'R';
  glosaDr?: string;
  tpoValor: '%' | '$';
  valorDr: number;
  valorDrOtrMnda?: number;
  /** 1: applies to exempt amounts; 2: to non-billable amounts. */
  indExeDr?: 1 | 2;
}

export interface Referencia {
  nroLinRef: number;
  /** A DTE type, a paper type, 801–820, or free text like `SET` (≤3 chars). */
  tpoDocRef: string;
  indGlobal?: 1;
  folioRef: string;
  rutOtr?: string;
  fchRef: string;
  /** 1 anula, 2 corrige texto, 3 corrige montos. */
  codRef?: 1 | 2 | 3;
  razonRef?: string;
  /** Boletas: `CodRef` in Referencia is free text (e.g. `SET`). */
  codRefBoleta?: string;
  /** Exportaciones only (`IdAdicOtr`). */
  idAdicOtr?: string;
  /** Boletas only (`CodVndor`, `CodCaja`). */
  codVndor?: string;
  codCaja?: string;
}

/** `SubTotInfo` (≤20): informative subtotals. */
export interface SubTotInfo {
  nroSti: number;
  /** Mandatory except in boletas. */
  glosaSti?: string;
  ordenSti?: number;
  subTotNetoSti?: number;
  subTotIvaSti?: number;
  subTotAdicSti?: number;
  subTotExeSti?: number;
  valSubtotSti?: number;
  lineasDeta?: number[];
}

/** `GeoRefEmision` (Documento, boletas). */
export interface GeoRefEmision {
  latitudEmision: string;
  longitudEmision: string;
  sistemaReferencia: number;
}

/** `ManejoMadera` (Documento only: wood transport guías). */
export interface ManejoMadera {
  comunaRolOrigen: number;
  mnzRolOrigen: number;
  prdRolOrigen: number;
  codPlanConaf: string;
  latitudOrigenMadera: string;
  longitudOrigenMadera: string;
  sistemareferenciaMadera: number;
}

/** 43's per-line commissions (`Comisiones` after the references). */
export interface Comision {
  nroLinCom: number;
  /** C comisión, O otros cargos. */
  tipoMovim: 'C' | 'O';
  glosa: string;
  tasaComision?: number;
  valComNeto: number;
  valComExe: number;
  valComIva: number;
}

export interface Encabezado {
  idDoc: IdDoc;
  emisor: Emisor;
  rutMandante?: string;
  receptor: Receptor;
  rutSolicita?: string;
  transporte?: Transporte;
  totales: Totales;
  otraMoneda?: OtraMoneda;
}

/** A DTE's content: what is stamped and signed. */
export interface Dte {
  encabezado: Encabezado;
  detalle: Detalle[];
  dscRcgGlobal?: DscRcgGlobal[];
  referencia?: Referencia[];
  comisiones?: Comision[];
  /** `SubTotInfo` (≤20). */
  subTotInfo?: SubTotInfo[];
  geoRefEmision?: GeoRefEmision;
  manejoMadera?: ManejoMadera;
}

/** The natural key of a DTE, and its slug `76354771-K--33--170`. */
export interface DteKey {
  rutEmisor: string;
  tipoDte: TipoDte;
  folio: number;
}
export const dteSlug = (k: DteKey): string => `${k.rutEmisor}--${k.tipoDte}--${k.folio}`;
export const dteKeyOf = (d: Dte): DteKey => ({
  rutEmisor: d.encabezado.emisor.rutEmisor,
  tipoDte: d.encabezado.idDoc.tipoDte,
  folio: d.encabezado.idDoc.folio,
});
