/**
 * Declarative field tables of the DTE XML, one per XSD element, each in the EXACT order of its
 * xs:sequence. They drive both the writer (write.ts) and the reader (read.ts): one source of truth.
 *
 * Four branches, because the schemas differ in element sets, order, names and types:
 *  - `Documento`     DTE_v10.xsd DTEDefType/Documento      (33, 34, 46, 52, 56, 61)
 *  - `Liquidacion`   DTE_v10.xsd DTEDefType/Liquidacion    (43: ValorType amounts, may be negative)
 *  - `Exportaciones` DTE_v10.xsd DTEDefType/Exportaciones  (110, 111, 112: decimal amounts)
 *  - `Boleta`        EnvioBOLETA_v11.xsd BOLETADefType/Documento (39, 41)
 *
 * `key` is the property of the typed model (model.ts); `xml` the XSD element name. Limits are the
 * XSD facets (maxLength, totalDigits → max, fractionDigits → decimals, min/maxInclusive, enums).
 * A sub-table identical in several branches is defined once and shared (its `xsd` names every path).
 * A branch table that differs only slightly from another branch's is `derive`d from it, listing each
 * dropped, patched, replaced or inserted element with its XSD source at the call site.
 * Everything here is built once at module load and never mutated.
 */
import type { TipoDte } from '../tipos.js';

export type ScalarKind = 'string' | 'int' | 'decimal' | 'date' | 'datetime' | 'rut' | 'enum';
export type FieldKind = ScalarKind | 'element' | 'list';

export interface FieldDef {
  /** XSD element name. */
  readonly xml: string;
  /** Model property; a dotted path (`emisor.rutProvSw`) when the XSD puts it elsewhere than the model. */
  readonly key: string;
  readonly kind: FieldKind;
  /** minOccurs ≥ 1 in the XSD. */
  readonly required?: boolean;
  /** XSD-mandatory but optional in the model: the reader warns instead of throwing when absent. */
  readonly modelOptional?: boolean;
  /** maxOccurs > 1: the model value is an array (of objects for `element`, of scalars for `list`). */
  readonly maxOccurs?: number;
  /** `list`: kind of each item (its facets are the other properties of this def). */
  readonly item?: ScalarKind;
  /** `element`: the child table. */
  readonly table?: Table;
  readonly maxLength?: number;
  readonly minLength?: number;
  /** Extra lexical constraint for strings the model keeps as text (e.g. numeric country codes). */
  readonly pattern?: RegExp;
  /** `decimal`: xs:fractionDigits. Values with more decimals are rounded half away from zero. */
  readonly decimals?: number;
  readonly min?: number;
  readonly max?: number;
  /** `date` / `datetime`: inclusive lexical range. */
  readonly range?: readonly [string, string];
  /** `enum`: allowed values; numbers mean the model holds a number. */
  readonly values?: readonly (string | number)[];
  /** Reader: model-required but XSD-optional here; the value used when the element is absent. */
  readonly readDefault?: string | number | readonly unknown[];
  /** Reader: other element names seen in the wild for this field (accepted with a warning). */
  readonly aliases?: readonly string[];
}

export interface Table {
  /** The XSD path this table mirrors. */
  readonly xsd: string;
  readonly fields: readonly FieldDef[];
  /**
   * Model properties that exist in the model but have no element in this branch and are not an
   * error when present (model-required fields the branch lacks, or keys written by the parent).
   * Any other model property not in `fields` is refused by the writer.
   */
  readonly ignore?: readonly string[];
  /** Reader: values for model-required properties this branch has no element for. */
  readonly absentDefaults?: Readonly<Record<string, string | readonly unknown[]>>;
}

export type BranchName = 'Documento' | 'Liquidacion' | 'Exportaciones' | 'Boleta';

export interface Branch {
  readonly name: BranchName;
  /** Element under `<DTE>`. Boletas use `Documento` with the EnvioBOLETA structure. */
  readonly root: 'Documento' | 'Liquidacion' | 'Exportaciones';
  /** Schema file that defines the branch. */
  readonly schema: 'DTE_v10.xsd' | 'EnvioBOLETA_v11.xsd';
  /** Children of the root element before TED and TmstFirma. */
  readonly documento: Table;
}

/** After the model fields every branch ends with `TED` (inserted verbatim) and `TmstFirma`. */
export const TRAILER = ['TED', 'TmstFirma'] as const;

// ---------------------------------------------------------------------------------------------
// Builders and XSD simple types (SiiTypes_v10.xsd / DTE_v10.xsd; EnvioBOLETA_v11.xsd has its own)
// ---------------------------------------------------------------------------------------------

type Extra = Omit<Partial<FieldDef>, 'xml' | 'key'>;
const REQ = { required: true } as const;
/** Mandatory in the XSD but optional in the model (the reader warns when absent). */
const REQ_XSD = { required: true, modelOptional: true } as const;

const str = (xml: string, key: string, maxLength: number, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'string', maxLength, ...extra });
const int = (xml: string, key: string, type: Extra, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'int', ...type, ...extra });
const dec = (xml: string, key: string, type: Extra, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'decimal', ...type, ...extra });
const date = (xml: string, key: string, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'date', range: FECHA, ...extra });
const rut = (xml: string, key: string, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'rut', ...extra });
const enm = (xml: string, key: string, values: readonly (string | number)[], extra: Extra = {}): FieldDef => ({ xml, key, kind: 'enum', values, ...extra });
const el = (xml: string, key: string, table: Table, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'element', table, ...extra });
const many = (xml: string, key: string, table: Table, maxOccurs: number, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'element', table, maxOccurs, ...extra });
const list = (xml: string, key: string, item: ScalarKind, maxOccurs: number, extra: Extra = {}): FieldDef => ({ xml, key, kind: 'list', item, maxOccurs, ...extra });

/** totalDigits 18 (the largest double below 10^18; integers this large are not exact in JS anyway). */
const MAX18 = 999_999_999_999_999_872;
/** xs:positiveInteger with totalDigits n. */
const posInt = (digits: number): Extra => ({ min: 1, max: 10 ** digits - 1 });
/** MontoType: xs:nonNegativeInteger, totalDigits 18. */
const MONTO: Extra = { min: 0, max: MAX18 };
/** ValorType: xs:integer, totalDigits 18 (negative allowed). */
const VALOR: Extra = { min: -MAX18, max: MAX18 };
/** MntImpType: xs:positiveInteger, totalDigits 18. */
const MNTIMP: Extra = { min: 1, max: MAX18 };
/** PctType: decimal(5,2) 0.01..999.99. */
const PCT: Extra = { decimals: 2, min: 0.01, max: 999.99 };
/** Dec12_6Type (boletas: Dec5Type, same facets). Upper bounds as the nearest doubles. */
const DEC12_6: Extra = { decimals: 6, min: 0.000001, max: 1e12 - 1e-6 };
/** Dec16_2Type (boletas: Dec1Type, same facets). */
const DEC16_2: Extra = { decimals: 2, min: 0.01, max: 1e16 - 0.01 };
/** Dec14_4Type. */
const DEC14_4: Extra = { decimals: 4, min: 0.0001, max: 1e14 - 0.0001 };
/** Dec14_4-0Type and the inline export amounts (minInclusive 0.0000). */
const DEC14_4_0: Extra = { decimals: 4, min: 0, max: 1e14 - 0.0001 };
/** Dec6_4Type. */
const DEC6_4: Extra = { decimals: 4, min: 0.0001, max: 999_999.9999 };
/** FechaType / FechaHoraType ranges. */
const FECHA = ['2000-01-01', '2050-12-31'] as const;
/** FechaHoraType range (TmstFirma). */
export const FECHA_HORA = ['2000-01-01T00:00:00', '2050-12-31T23:59:59'] as const;
/** Plain xs:date / xs:dateTime (EnvioBOLETA uses them instead of FechaType). */
const ANY_DATE = ['0001-01-01', '9999-12-31'] as const;

/** ImpAdicDTEType (SiiTypes_v10.xsd). */
export const IMP_ADIC = [
  14, 15, 16, 17, 18, 19, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54,
  55, 271, 301, 321, 331, 341, 361, 371, 481,
] as const;
/** TipMonType (SiiTypes_v10.xsd). */
export const TIPOS_MONEDA = [
  'BOLIVAR', 'BOLIVIANO', 'CHELIN', 'CORONA DIN', 'CORONA NOR', 'CORONA SC', 'CRUZEIRO REAL', 'DIRHAM', 'DOLAR AUST', 'DOLAR CAN',
  'DOLAR HK', 'DOLAR NZ', 'DOLAR SIN', 'DOLAR TAI', 'DOLAR USA', 'DRACMA', 'ESCUDO', 'EURO', 'FLORIN', 'FRANCO BEL', 'FRANCO FR',
  'FRANCO SZ', 'GUARANI', 'LIBRA EST', 'LIRA', 'MARCO AL', 'MARCO FIN', 'NUEVO SOL', 'OTRAS MONEDAS', 'PESETA', 'PESO', 'PESO CL',
  'PESO COL', 'PESO MEX', 'PESO URUG', 'RAND', 'RENMINBI', 'RUPIA', 'SUCRE', 'YEN',
] as const;
/** MedioPagoType (SiiTypes_v10.xsd). Boletas use 1..5 instead. */
const MEDIO_PAGO = ['CH', 'LT', 'EF', 'PE', 'TC', 'CF', 'OT'] as const;
const DINERO_PCT = ['%', '$'] as const;
/** Aduana country codes: xs:positiveInteger totalDigits 3, kept as text in the model. */
const COD_PAIS = /^(?!0+$)[0-9]{1,3}$/;

// ---------------------------------------------------------------------------------------------
// Branch variants: a table that differs only slightly from the same element in another branch
// ---------------------------------------------------------------------------------------------

/**
 * How a branch's table differs from `base`, the same element in another branch. Elements are named
 * by their XSD name in `base`; every call site comments each difference with its XSD source.
 */
interface Differences {
  /** Elements the branch's xs:sequence lacks. */
  readonly drop?: readonly string[];
  /** Elements whose facets, type or occurrence differ: merged over the base definition, same position. */
  readonly patch?: Readonly<Record<string, Extra>>;
  /** Elements that differ by more than a merge can say (renamed, or made optional): replaced, same position. */
  readonly replace?: Readonly<Record<string, FieldDef>>;
  /** Elements the branch adds, inserted after the named base element (XSD order). */
  readonly insertAfter?: Readonly<Record<string, readonly FieldDef[]>>;
}

/**
 * `base` with the `diff` applied, as the table of `xsd`. Built once at module load; throws there if
 * `diff` names an element `base` does not have (a typo would otherwise silently do nothing). The
 * result does not inherit `ignore` / `absentDefaults`.
 */
function derive(xsd: string, base: Table, diff: Differences): Table {
  const { drop = [], patch = {}, replace = {}, insertAfter = {} } = diff;
  for (const name of [...drop, ...Object.keys(patch), ...Object.keys(replace), ...Object.keys(insertAfter)]) {
    if (!base.fields.some((f) => f.xml === name)) throw new Error(`fields.ts: ${xsd}: <${name}> is not in ${base.xsd}`);
  }
  const fields: FieldDef[] = [];
  for (const f of base.fields) {
    if (!drop.includes(f.xml)) {
      const p = patch[f.xml];
      fields.push(replace[f.xml] ?? (p ? { ...f, ...p } : f));
    }
    fields.push(...(insertAfter[f.xml] ?? []));
  }
  return { xsd, fields };
}

// ---------------------------------------------------------------------------------------------
// Shared pieces (identical in the branches that use them)
// ---------------------------------------------------------------------------------------------

/** DTE_v10.xsd …/Encabezado/IdDoc/MntPagos (Documento, Liquidacion, Exportaciones). */
const MNT_PAGOS: Table = {
  xsd: 'DTE/*/Encabezado/IdDoc/MntPagos',
  fields: [date('FchPago', 'fchPago', REQ), int('MntPago', 'mntPago', MONTO, REQ), str('GlosaPagos', 'glosaPagos', 40)],
};

/** DTE_v10.xsd …/Transporte/Chofer (Documento, Exportaciones). */
const CHOFER: Table = {
  xsd: 'DTE/*/Encabezado/Transporte/Chofer',
  fields: [rut('RUTChofer', 'rutChofer', REQ), str('NombreChofer', 'nombreChofer', 30, REQ)],
};

/** DTE_v10.xsd …/Transporte/Aduana/TipoBultos (Documento, Exportaciones). */
const TIPO_BULTOS: Table = {
  xsd: 'DTE/*/Encabezado/Transporte/Aduana/TipoBultos',
  fields: [
    int('CodTpoBultos', 'codTpoBultos', posInt(3), { readDefault: 0 }),
    int('CantBultos', 'cantBultos', posInt(10), { readDefault: 0 }),
    str('Marcas', 'marcas', 255),
    str('IdContainer', 'idContainer', 25),
    str('Sello', 'sello', 20),
    str('EmisorSello', 'emisorSello', 70),
  ],
};

/** Aduana PesoBruto / PesoNeto: xs:decimal totalDigits 10, fractionDigits 2. */
const PESO: Extra = { decimals: 2, min: -99_999_999.99, max: 99_999_999.99 };

/** DTE_v10.xsd …/Transporte/Aduana (Documento, Exportaciones: identical). */
const ADUANA: Table = {
  xsd: 'DTE/*/Encabezado/Transporte/Aduana',
  fields: [
    int('CodModVenta', 'codModVenta', posInt(2)),
    int('CodClauVenta', 'codClauVenta', posInt(2)),
    dec('TotClauVenta', 'totClauVenta', DEC16_2),
    int('CodViaTransp', 'codViaTransp', posInt(2)),
    str('NombreTransp', 'nombreTransp', 40),
    rut('RUTCiaTransp', 'rutCiaTransp'),
    str('NomCiaTransp', 'nomCiaTransp', 40),
    str('IdAdicTransp', 'idAdicTransp', 20),
    str('Booking', 'booking', 20),
    str('Operador', 'operador', 20),
    int('CodPtoEmbarque', 'codPtoEmbarque', posInt(4)),
    str('IdAdicPtoEmb', 'idAdicPtoEmb', 20),
    int('CodPtoDesemb', 'codPtoDesemb', posInt(4)),
    str('IdAdicPtoDesemb', 'idAdicPtoDesemb', 20),
    int('Tara', 'tara', posInt(7)),
    int('CodUnidMedTara', 'codUnidMedTara', posInt(2)),
    dec('PesoBruto', 'pesoBruto', PESO),
    int('CodUnidPesoBruto', 'codUnidPesoBruto', posInt(2)),
    dec('PesoNeto', 'pesoNeto', PESO),
    int('CodUnidPesoNeto', 'codUnidPesoNeto', posInt(2)),
    int('TotItems', 'totItems', posInt(18)),
    int('TotBultos', 'totBultos', posInt(18)),
    many('TipoBultos', 'tipoBultos', TIPO_BULTOS, 10),
    dec('MntFlete', 'mntFlete', DEC14_4),
    dec('MntSeguro', 'mntSeguro', DEC14_4),
    str('CodPaisRecep', 'codPaisRecep', 3, { pattern: COD_PAIS }),
    str('CodPaisDestin', 'codPaisDestin', 3, { pattern: COD_PAIS }),
  ],
};

/** DTE_v10.xsd …/Encabezado/Transporte (Documento, Exportaciones: identical). */
const TRANSPORTE: Table = {
  xsd: 'DTE/*/Encabezado/Transporte',
  fields: [
    str('Patente', 'patente', 8),
    rut('RUTTrans', 'rutTrans'),
    el('Chofer', 'chofer', CHOFER),
    str('DirDest', 'dirDest', 70),
    str('CmnaDest', 'cmnaDest', 20),
    str('CiudadDest', 'ciudadDest', 20),
    el('Aduana', 'aduana', ADUANA),
  ],
};

/** DTE_v10.xsd …/Detalle/CdgItem (all branches; EnvioBOLETA identical). */
const CDG_ITEM: Table = {
  xsd: '*/Detalle/CdgItem',
  fields: [str('TpoCodigo', 'tpoCodigo', 10, REQ), str('VlrCodigo', 'vlrCodigo', 35, REQ)],
};

/** DTE_v10.xsd Documento|Liquidacion/Detalle/Subcantidad (Exportaciones adds TipCodSubQty). */
const SUBCANTIDAD: Table = {
  xsd: 'DTE/Documento|Liquidacion/Detalle/Subcantidad',
  fields: [dec('SubQty', 'subQty', DEC12_6, REQ), str('SubCod', 'subCod', 35, REQ)],
};

/** DTE_v10.xsd …/Detalle/SubDscto (TipoDscto, ValorDscto). */
const SUB_DSCTO: Table = {
  xsd: 'DTE/Documento|Exportaciones/Detalle/SubDscto',
  fields: [enm('TipoDscto', 'tipo', DINERO_PCT, REQ), dec('ValorDscto', 'valor', DEC16_2, REQ)],
};

/** DTE_v10.xsd …/Detalle/SubRecargo (TipoRecargo, ValorRecargo). */
const SUB_RECARGO: Table = {
  xsd: 'DTE/Documento|Exportaciones/Detalle/SubRecargo',
  fields: [enm('TipoRecargo', 'tipo', DINERO_PCT, REQ), dec('ValorRecargo', 'valor', DEC16_2, REQ)],
};

/** DTE_v10.xsd Documento|Liquidacion|Exportaciones/SubTotInfo (boletas: BOL_SUB_TOT_INFO). */
const SUB_TOT_INFO: Table = {
  xsd: 'DTE/*/SubTotInfo',
  fields: [
    int('NroSTI', 'nroSti', { min: 1, max: 99 }, REQ),
    str('GlosaSTI', 'glosaSti', 40, REQ_XSD),
    int('OrdenSTI', 'ordenSti', { min: 1, max: 99 }),
    dec('SubTotNetoSTI', 'subTotNetoSti', DEC16_2),
    dec('SubTotIVASTI', 'subTotIvaSti', DEC16_2),
    dec('SubTotAdicSTI', 'subTotAdicSti', DEC16_2),
    dec('SubTotExeSTI', 'subTotExeSti', DEC16_2),
    dec('ValSubtotSTI', 'valSubtotSti', DEC16_2),
    list('LineasDeta', 'lineasDeta', 'int', 60, { min: 1, max: MAX18 }),
  ],
};

/** DTE_v10.xsd Documento|Exportaciones/DscRcgGlobal (boletas: BOL_DSC_RCG_GLOBAL). */
const DSC_RCG_GLOBAL: Table = {
  xsd: 'DTE/Documento|Exportaciones/DscRcgGlobal',
  fields: [
    int('NroLinDR', 'nroLinDr', { min: 1, max: MAX18 }, REQ),
    enm('TpoMov', 'tpoMov', ['D', 'R'], REQ),
    str('GlosaDR', 'glosaDr', 45),
    enm('TpoValor', 'tpoValor', DINERO_PCT, REQ),
    dec('ValorDR', 'valorDr', DEC16_2, REQ),
    dec('ValorDROtrMnda', 'valorDrOtrMnda', DEC14_4),
    enm('IndExeDR', 'indExeDr', [1, 2]),
  ],
};

/** DTE_v10.xsd Documento|Boleta/GeoRefEmision (EnvioBOLETA identical). */
const GEO_REF_EMISION: Table = {
  xsd: '*/Documento/GeoRefEmision',
  fields: [
    str('LatitudEmision', 'latitudEmision', 30, REQ),
    str('LongitudEmision', 'longitudEmision', 30, REQ),
    int('SistemaReferencia', 'sistemaReferencia', { min: 1, max: 9 }, REQ),
  ],
};

// ---------------------------------------------------------------------------------------------
// Documento (33, 34, 46, 52, 56, 61) — DTE_v10.xsd DTEDefType/Documento
// The Liquidacion and Exportaciones tables that differ only slightly are derived from these.
// ---------------------------------------------------------------------------------------------

/** DTE_v10.xsd DTE/Documento/Encabezado/IdDoc. */
const DOC_IDDOC: Table = {
  xsd: 'DTE/Documento/Encabezado/IdDoc',
  fields: [
    enm('TipoDTE', 'tipoDte', [33, 34, 46, 52, 56, 61], REQ),
    int('Folio', 'folio', posInt(10), REQ),
    date('FchEmis', 'fchEmis', REQ),
    enm('IndNoRebaja', 'indNoRebaja', [1]),
    enm('TipoDespacho', 'tipoDespacho', [1, 2, 3]),
    enm('IndTraslado', 'indTraslado', [1, 2, 3, 4, 5, 6, 7, 8, 9]),
    enm('TpoImpresion', 'tpoImpresion', ['N', 'T']),
    enm('IndServicio', 'indServicio', [1, 2, 3]),
    enm('MntBruto', 'mntBruto', [1]),
    enm('TpoTranCompra', 'tpoTranCompra', [1, 2, 3, 4, 5, 6, 7]),
    enm('TpoTranVenta', 'tpoTranVenta', [1, 2, 3, 4]),
    enm('FmaPago', 'fmaPago', [1, 2, 3]),
    int('FmaPagExp', 'fmaPagExp', posInt(2)),
    date('FchCancel', 'fchCancel'),
    int('MntCancel', 'mntCancel', MONTO),
    int('SaldoInsol', 'saldoInsol', MONTO),
    many('MntPagos', 'mntPagos', MNT_PAGOS, 30),
    date('PeriodoDesde', 'periodoDesde'),
    date('PeriodoHasta', 'periodoHasta'),
    enm('MedioPago', 'medioPago', MEDIO_PAGO),
    enm('TpoCtaPago', 'tpoCtaPago', ['AHORRO', 'CORRIENTE', 'VISTA']),
    str('NumCtaPago', 'numCtaPago', 20),
    str('BcoPago', 'bcoPago', 40),
    str('TermPagoCdg', 'termPagoCdg', 4),
    str('TermPagoGlosa', 'termPagoGlosa', 100),
    int('TermPagoDias', 'termPagoDias', posInt(3)),
    date('FchVenc', 'fchVenc'),
    enm('TipoFactEsp', 'tipoFactEsp', [1]),
  ],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/Emisor/GuiaExport. */
const DOC_GUIA_EXPORT: Table = {
  xsd: 'DTE/Documento/Encabezado/Emisor/GuiaExport',
  fields: [enm('CdgTraslado', 'cdgTraslado', [1, 2, 3, 4]), int('FolioAut', 'folioAut', { min: 0, max: 999_999 }), date('FchAut', 'fchAut')],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/Emisor. */
const DOC_EMISOR: Table = {
  xsd: 'DTE/Documento/Encabezado/Emisor',
  fields: [
    rut('RUTEmisor', 'rutEmisor', REQ),
    str('RznSoc', 'rznSoc', 100, { required: true, aliases: ['RznSocEmisor'] }),
    str('GiroEmis', 'giroEmis', 80, { required: true, aliases: ['GiroEmisor'] }),
    list('Telefono', 'telefono', 'string', 2, { maxLength: 20 }),
    str('CorreoEmisor', 'correoEmisor', 80),
    list('Acteco', 'acteco', 'int', 4, { required: true, ...posInt(6) }),
    el('GuiaExport', 'guiaExport', DOC_GUIA_EXPORT),
    str('Sucursal', 'sucursal', 20),
    int('CdgSIISucur', 'cdgSiiSucur', posInt(9)),
    str('DirOrigen', 'dirOrigen', 70),
    str('CmnaOrigen', 'cmnaOrigen', 20),
    str('CiudadOrigen', 'ciudadOrigen', 20),
    str('CdgVendedor', 'cdgVendedor', 60),
    str('IdAdicEmisor', 'idAdicEmisor', 20),
    rut('RUTProveedor', 'rutProveedor'),
    str('RznSocProveedor', 'rznSocProveedor', 100),
  ],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/Receptor/Extranjero. */
const DOC_EXTRANJERO: Table = {
  xsd: 'DTE/Documento/Encabezado/Receptor/Extranjero',
  fields: [str('NumId', 'numId', 20), str('Nacionalidad', 'nacionalidad', 3), enm('TipoDocID', 'tipoDocId', [1, 2])],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/Receptor. */
const DOC_RECEPTOR: Table = {
  xsd: 'DTE/Documento/Encabezado/Receptor',
  fields: [
    rut('RUTRecep', 'rutRecep', REQ),
    str('CdgIntRecep', 'cdgIntRecep', 20),
    str('RznSocRecep', 'rznSocRecep', 100, REQ),
    el('Extranjero', 'extranjero', DOC_EXTRANJERO),
    str('GiroRecep', 'giroRecep', 40),
    str('Contacto', 'contacto', 80),
    str('CorreoRecep', 'correoRecep', 80),
    str('DirRecep', 'dirRecep', 70),
    str('CmnaRecep', 'cmnaRecep', 20),
    str('CiudadRecep', 'ciudadRecep', 20),
    str('DirPostal', 'dirPostal', 70),
    str('CmnaPostal', 'cmnaPostal', 20),
    str('CiudadPostal', 'ciudadPostal', 20),
  ],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/Totales/ImptoReten (TasaImp ≤ 100.00). */
const DOC_IMPTO_RETEN: Table = {
  xsd: 'DTE/Documento/Encabezado/Totales/ImptoReten',
  fields: [enm('TipoImp', 'tipoImp', IMP_ADIC, REQ), dec('TasaImp', 'tasaImp', { ...PCT, max: 100 }), int('MontoImp', 'montoImp', VALOR, REQ)],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/Totales/Comisiones (MontoType). */
const DOC_TOT_COMISIONES: Table = {
  xsd: 'DTE/Documento/Encabezado/Totales/Comisiones',
  fields: [
    int('ValComNeto', 'valComNeto', MONTO, { readDefault: 0 }),
    int('ValComExe', 'valComExe', MONTO, { readDefault: 0 }),
    int('ValComIVA', 'valComIva', MONTO, { readDefault: 0 }),
  ],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/Totales. */
const DOC_TOTALES: Table = {
  xsd: 'DTE/Documento/Encabezado/Totales',
  fields: [
    int('MntNeto', 'mntNeto', MONTO),
    int('MntExe', 'mntExe', MONTO),
    int('MntBase', 'mntBase', MONTO),
    int('MntMargenCom', 'mntMargenCom', MONTO),
    dec('TasaIVA', 'tasaIva', PCT),
    int('IVA', 'iva', MONTO),
    int('IVAProp', 'ivaProp', MONTO),
    int('IVATerc', 'ivaTerc', MONTO),
    many('ImptoReten', 'imptoReten', DOC_IMPTO_RETEN, 20),
    int('IVANoRet', 'ivaNoRet', MNTIMP),
    int('CredEC', 'credEc', MONTO),
    int('GrntDep', 'grntDep', MONTO),
    el('Comisiones', 'comisiones', DOC_TOT_COMISIONES),
    int('MntTotal', 'mntTotal', MONTO, REQ),
    int('MontoNF', 'montoNf', VALOR),
    int('MontoPeriodo', 'montoPeriodo', VALOR),
    int('SaldoAnterior', 'saldoAnterior', VALOR),
    int('VlrPagar', 'vlrPagar', VALOR),
  ],
};

/** DTE_v10.xsd DTE/Documento/Encabezado/OtraMoneda. */
const DOC_OTRA_MONEDA: Table = {
  xsd: 'DTE/Documento/Encabezado/OtraMoneda',
  fields: [
    enm('TpoMoneda', 'tpoMoneda', TIPOS_MONEDA, REQ),
    dec('TpoCambio', 'tpoCambio', DEC6_4),
    dec('MntNetoOtrMnda', 'mntNetoOtrMnda', DEC14_4),
    dec('MntExeOtrMnda', 'mntExeOtrMnda', DEC14_4),
    dec('MntFaeCarneOtrMnda', 'mntFaeCarneOtrMnda', DEC14_4),
    dec('MntMargComOtrMnda', 'mntMargComOtrMnda', DEC14_4),
    dec('IVAOtrMnda', 'ivaOtrMnda', DEC14_4),
    many(
      'ImpRetOtrMnda',
      'impRetOtrMnda',
      {
        xsd: 'DTE/Documento/Encabezado/OtraMoneda/ImpRetOtrMnda',
        fields: [
          enm('TipoImpOtrMnda', 'tipoImpOtrMnda', IMP_ADIC, REQ),
          dec('TasaImpOtrMnda', 'tasaImpOtrMnda', PCT),
          dec('VlrImpOtrMnda', 'vlrImpOtrMnda', DEC14_4, REQ),
        ],
      },
      20,
    ),
    dec('IVANoRetOtrMnda', 'ivaNoRetOtrMnda', DEC14_4),
    dec('MntTotOtrMnda', 'mntTotOtrMnda', DEC14_4, REQ),
  ],
};

/** DTE_v10.xsd DTE/Documento/Encabezado. */
const DOC_ENCABEZADO: Table = {
  xsd: 'DTE/Documento/Encabezado',
  fields: [
    el('IdDoc', 'idDoc', DOC_IDDOC, REQ),
    el('Emisor', 'emisor', DOC_EMISOR, REQ),
    rut('RUTMandante', 'rutMandante'),
    el('Receptor', 'receptor', DOC_RECEPTOR, REQ),
    rut('RUTSolicita', 'rutSolicita'),
    el('Transporte', 'transporte', TRANSPORTE),
    el('Totales', 'totales', DOC_TOTALES, REQ),
    el('OtraMoneda', 'otraMoneda', DOC_OTRA_MONEDA),
  ],
};

/** DTE_v10.xsd DTE/Documento/Detalle/OtrMnda. */
const DOC_OTR_MNDA: Table = {
  xsd: 'DTE/Documento/Detalle/OtrMnda',
  fields: [
    dec('PrcOtrMon', 'prcOtrMon', DEC12_6, REQ),
    str('Moneda', 'moneda', 3, REQ),
    dec('FctConv', 'fctConv', DEC6_4),
    dec('DctoOtrMnda', 'dctoOtrMnda', DEC14_4),
    dec('RecargoOtrMnda', 'recargoOtrMnda', DEC14_4),
    dec('MontoItemOtrMnda', 'montoItemOtrMnda', DEC14_4),
  ],
};

/** DTE_v10.xsd DTE/Documento/Detalle (≤60). */
const DOC_DETALLE: Table = {
  xsd: 'DTE/Documento/Detalle',
  fields: [
    int('NroLinDet', 'nroLinDet', { min: 1, max: 99 }, REQ),
    many('CdgItem', 'cdgItem', CDG_ITEM, 5),
    enm('IndExe', 'indExe', [1, 2, 3, 4, 5, 6]),
    el('Retenedor', 'retenedor', {
      xsd: 'DTE/Documento/Detalle/Retenedor',
      fields: [
        enm('IndAgente', 'indAgente', ['R'], REQ),
        int('MntBaseFaena', 'mntBaseFaena', MONTO),
        int('MntMargComer', 'mntMargComer', MONTO),
        int('PrcConsFinal', 'prcConsFinal', MONTO),
      ],
    }),
    str('NmbItem', 'nmbItem', 80, REQ),
    str('DscItem', 'dscItem', 1000),
    dec('QtyRef', 'qtyRef', DEC12_6),
    str('UnmdRef', 'unmdRef', 4),
    dec('PrcRef', 'prcRef', DEC12_6),
    dec('QtyItem', 'qtyItem', DEC12_6),
    many('Subcantidad', 'subcantidad', SUBCANTIDAD, 5),
    date('FchElabor', 'fchElabor'),
    date('FchVencim', 'fchVencim'),
    str('UnmdItem', 'unmdItem', 4),
    dec('PrcItem', 'prcItem', DEC12_6),
    el('OtrMnda', 'otrMnda', DOC_OTR_MNDA),
    dec('DescuentoPct', 'descuentoPct', PCT),
    int('DescuentoMonto', 'descuentoMonto', MNTIMP),
    many('SubDscto', 'subDscto', SUB_DSCTO, 5),
    dec('RecargoPct', 'recargoPct', PCT),
    int('RecargoMonto', 'recargoMonto', MNTIMP),
    many('SubRecargo', 'subRecargo', SUB_RECARGO, 5),
    list('CodImpAdic', 'codImpAdic', 'enum', 2, { values: IMP_ADIC }),
    int('MontoItem', 'montoItem', MONTO, REQ),
  ],
};

/** DTE_v10.xsd DTE/Documento/Referencia (≤40). */
const DOC_REFERENCIA: Table = {
  xsd: 'DTE/Documento/Referencia',
  fields: [
    int('NroLinRef', 'nroLinRef', { min: 1, max: 99 }, REQ),
    str('TpoDocRef', 'tpoDocRef', 3, REQ),
    enm('IndGlobal', 'indGlobal', [1]),
    str('FolioRef', 'folioRef', 18, REQ),
    rut('RUTOtr', 'rutOtr'),
    date('FchRef', 'fchRef', REQ),
    enm('CodRef', 'codRef', [1, 2, 3]),
    str('RazonRef', 'razonRef', 90),
  ],
};

/** DTE_v10.xsd DTE/Documento/ManejoMadera. */
const DOC_MANEJO_MADERA: Table = {
  xsd: 'DTE/Documento/ManejoMadera',
  fields: [
    int('ComunaRolOrigen', 'comunaRolOrigen', posInt(6), REQ),
    int('MnzRolOrigen', 'mnzRolOrigen', posInt(6), REQ),
    int('PrdRolOrigen', 'prdRolOrigen', posInt(6), REQ),
    str('CodPlanConaf', 'codPlanConaf', 40, REQ),
    str('LatitudOrigenMadera', 'latitudOrigenMadera', 30, REQ),
    str('LongitudOrigenMadera', 'longitudOrigenMadera', 30, REQ),
    int('SistemareferenciaMadera', 'sistemareferenciaMadera', posInt(1), REQ),
  ],
};

/** DTE_v10.xsd DTE/Documento/Comisiones (≤20, per-line commissions). */
const DOC_COMISIONES: Table = {
  xsd: 'DTE/Documento/Comisiones',
  fields: [
    int('NroLinCom', 'nroLinCom', { min: 1, max: 20 }, REQ),
    enm('TipoMovim', 'tipoMovim', ['C', 'O'], REQ),
    str('Glosa', 'glosa', 60, REQ),
    dec('TasaComision', 'tasaComision', PCT),
    int('ValComNeto', 'valComNeto', MONTO, REQ),
    int('ValComExe', 'valComExe', MONTO, REQ),
    int('ValComIVA', 'valComIva', MONTO, { readDefault: 0 }),
  ],
};

/** DTE_v10.xsd DTE/Documento. */
const DOCUMENTO: Table = {
  xsd: 'DTE/Documento',
  fields: [
    el('Encabezado', 'encabezado', DOC_ENCABEZADO, REQ),
    many('Detalle', 'detalle', DOC_DETALLE, 60, REQ),
    many('SubTotInfo', 'subTotInfo', SUB_TOT_INFO, 20),
    many('DscRcgGlobal', 'dscRcgGlobal', DSC_RCG_GLOBAL, 20),
    many('Referencia', 'referencia', DOC_REFERENCIA, 40),
    el('GeoRefEmision', 'geoRefEmision', GEO_REF_EMISION),
    el('ManejoMadera', 'manejoMadera', DOC_MANEJO_MADERA),
    many('Comisiones', 'comisiones', DOC_COMISIONES, 20),
  ],
};

// ---------------------------------------------------------------------------------------------
// Liquidacion (43) — DTE_v10.xsd DTEDefType/Liquidacion: the Documento tables minus some
// elements, with ValorType (may be negative) where Documento has MontoType
// ---------------------------------------------------------------------------------------------

/** DTE_v10.xsd DTE/Liquidacion/Encabezado/IdDoc. */
const LIQ_IDDOC = derive('DTE/Liquidacion/Encabezado/IdDoc', DOC_IDDOC, {
  patch: { TipoDTE: { values: [43] } }, // SiiDte:LIQType
  drop: ['IndNoRebaja', 'TipoDespacho', 'IndTraslado', 'TpoImpresion', 'FmaPagExp', 'TipoFactEsp'],
});

/** DTE_v10.xsd DTE/Liquidacion/Encabezado/Emisor (DirOrigen mandatory). */
const LIQ_EMISOR = derive('DTE/Liquidacion/Encabezado/Emisor', DOC_EMISOR, {
  patch: {
    RznSoc: { minLength: 1 }, // inline xs:string maxLength 100 minLength 1 (Documento: RznSocLargaType)
    DirOrigen: REQ_XSD, // no minOccurs="0" here
  },
  drop: ['GuiaExport', 'IdAdicEmisor', 'RUTProveedor', 'RznSocProveedor'],
});

/** DTE_v10.xsd DTE/Liquidacion/Encabezado/Receptor (no Extranjero; GiroRecep, DirRecep, CmnaRecep mandatory). */
const LIQ_RECEPTOR = derive('DTE/Liquidacion/Encabezado/Receptor', DOC_RECEPTOR, {
  drop: ['Extranjero'],
  patch: { GiroRecep: REQ_XSD, DirRecep: REQ_XSD, CmnaRecep: REQ_XSD }, // no minOccurs="0" here
});

/** DTE_v10.xsd DTE/Liquidacion/Encabezado/Totales (ValorType: may be negative). */
const LIQ_TOTALES = derive('DTE/Liquidacion/Encabezado/Totales', DOC_TOTALES, {
  drop: ['MntBase', 'MntMargenCom', 'IVANoRet', 'CredEC', 'GrntDep', 'MontoNF'],
  patch: {
    // SiiDte:ValorType instead of MontoType.
    MntNeto: VALOR, MntExe: VALOR, IVA: VALOR, IVAProp: VALOR, IVATerc: VALOR, MntTotal: VALOR,
    // ImptoReten/TasaImp: plain PctType, up to 999.99 (Documento restricts it to maxInclusive 100.00).
    ImptoReten: { table: derive('DTE/Liquidacion/Encabezado/Totales/ImptoReten', DOC_IMPTO_RETEN, { patch: { TasaImp: PCT } }) },
    // ValComNeto, ValComExe, ValComIVA: ValorType instead of MontoType.
    Comisiones: {
      table: derive('DTE/Liquidacion/Encabezado/Totales/Comisiones', DOC_TOT_COMISIONES, {
        patch: { ValComNeto: VALOR, ValComExe: VALOR, ValComIVA: VALOR },
      }),
    },
  },
});

/** DTE_v10.xsd DTE/Liquidacion/Encabezado (no RUTMandante, RUTSolicita, Transporte, OtraMoneda). */
const LIQ_ENCABEZADO: Table = {
  xsd: 'DTE/Liquidacion/Encabezado',
  fields: [
    el('IdDoc', 'idDoc', LIQ_IDDOC, REQ),
    el('Emisor', 'emisor', LIQ_EMISOR, REQ),
    el('Receptor', 'receptor', LIQ_RECEPTOR, REQ),
    el('Totales', 'totales', LIQ_TOTALES, REQ),
  ],
};

/** DTE_v10.xsd DTE/Liquidacion/Detalle (TpoDocLiq mandatory; no Retenedor, OtrMnda, descuentos/recargos). */
const LIQ_DETALLE = derive('DTE/Liquidacion/Detalle', DOC_DETALLE, {
  insertAfter: { CdgItem: [str('TpoDocLiq', 'tpoDocLiq', 3, REQ_XSD)] }, // mandatory xs:string maxLength 3
  drop: ['Retenedor', 'OtrMnda', 'DescuentoPct', 'DescuentoMonto', 'SubDscto', 'RecargoPct', 'RecargoMonto', 'SubRecargo'],
  patch: { MontoItem: VALOR }, // SiiDte:ValorType instead of MontoType
});

/** DTE_v10.xsd DTE/Liquidacion/Referencia (no RUTOtr). */
const LIQ_REFERENCIA = derive('DTE/Liquidacion/Referencia', DOC_REFERENCIA, { drop: ['RUTOtr'] });

/** DTE_v10.xsd DTE/Liquidacion/Comisiones (ValorType). */
const LIQ_COMISIONES = derive('DTE/Liquidacion/Comisiones', DOC_COMISIONES, {
  patch: { ValComNeto: VALOR, ValComExe: VALOR, ValComIVA: VALOR }, // SiiDte:ValorType instead of MontoType
});

/** DTE_v10.xsd DTE/Liquidacion (no DscRcgGlobal, GeoRefEmision, ManejoMadera). */
const LIQUIDACION: Table = {
  xsd: 'DTE/Liquidacion',
  fields: [
    el('Encabezado', 'encabezado', LIQ_ENCABEZADO, REQ),
    many('Detalle', 'detalle', LIQ_DETALLE, 60, REQ),
    many('SubTotInfo', 'subTotInfo', SUB_TOT_INFO, 20),
    many('Referencia', 'referencia', LIQ_REFERENCIA, 40),
    many('Comisiones', 'comisiones', LIQ_COMISIONES, 20),
  ],
};

// ---------------------------------------------------------------------------------------------
// Exportaciones (110, 111, 112) — DTE_v10.xsd DTEDefType/Exportaciones: decimal amounts
// ---------------------------------------------------------------------------------------------

/** DTE_v10.xsd DTE/Exportaciones/Encabezado/IdDoc (IndServicio 3..6). */
const EXP_IDDOC = derive('DTE/Exportaciones/Encabezado/IdDoc', DOC_IDDOC, {
  patch: {
    TipoDTE: { values: [110, 111, 112] }, // SiiDte:EXPType
    IndServicio: { values: [3, 4, 5, 6] }, // enumeration 3..6 (Documento: 1..3)
  },
  drop: ['IndNoRebaja', 'IndTraslado', 'TpoImpresion', 'MntBruto', 'TpoTranCompra', 'TpoTranVenta', 'TipoFactEsp'],
});

/** DTE_v10.xsd DTE/Exportaciones/Encabezado/Emisor (CodAdicSucur; no GuiaExport, RUTProveedor). */
const EXP_EMISOR = derive('DTE/Exportaciones/Encabezado/Emisor', DOC_EMISOR, {
  patch: { RznSoc: { minLength: 1 } }, // inline xs:string maxLength 100 minLength 1 (Documento: RznSocLargaType)
  insertAfter: { CdgSIISucur: [str('CodAdicSucur', 'codAdicSucur', 20)] },
  drop: ['GuiaExport', 'RUTProveedor', 'RznSocProveedor'],
});

/** DTE_v10.xsd DTE/Exportaciones/Encabezado/Receptor/Extranjero (IdAdicRecep instead of TipoDocID). */
const EXP_EXTRANJERO: Table = {
  xsd: 'DTE/Exportaciones/Encabezado/Receptor/Extranjero',
  fields: [str('NumId', 'numId', 20), str('Nacionalidad', 'nacionalidad', 3), str('IdAdicRecep', 'idAdicRecep', 20)],
};

/** DTE_v10.xsd DTE/Exportaciones/Encabezado/Receptor (as Documento but for its Extranjero). */
const EXP_RECEPTOR = derive('DTE/Exportaciones/Encabezado/Receptor', DOC_RECEPTOR, { patch: { Extranjero: { table: EXP_EXTRANJERO } } });

/** DTE_v10.xsd DTE/Exportaciones/Encabezado/Totales: TpoMoneda first, then MntExe and MntTotal only (decimal 18,4). */
const EXP_TOTALES: Table = {
  xsd: 'DTE/Exportaciones/Encabezado/Totales',
  fields: [
    enm('TpoMoneda', 'tpoMoneda', TIPOS_MONEDA, REQ_XSD),
    dec('MntExe', 'mntExe', DEC14_4_0, REQ_XSD),
    dec('MntTotal', 'mntTotal', DEC14_4_0, REQ),
  ],
};

/** DTE_v10.xsd DTE/Exportaciones/Encabezado/OtraMoneda (Dec14_4-0Type amounts; only MntExeOtrMnda, MntTotOtrMnda). */
const EXP_OTRA_MONEDA: Table = {
  xsd: 'DTE/Exportaciones/Encabezado/OtraMoneda',
  fields: [
    enm('TpoMoneda', 'tpoMoneda', TIPOS_MONEDA, REQ),
    dec('TpoCambio', 'tpoCambio', DEC6_4),
    dec('MntExeOtrMnda', 'mntExeOtrMnda', DEC14_4_0),
    dec('MntTotOtrMnda', 'mntTotOtrMnda', DEC14_4_0, REQ),
  ],
};

/** DTE_v10.xsd DTE/Exportaciones/Encabezado (no RUTMandante, RUTSolicita). */
const EXP_ENCABEZADO: Table = {
  xsd: 'DTE/Exportaciones/Encabezado',
  fields: [
    el('IdDoc', 'idDoc', EXP_IDDOC, REQ),
    el('Emisor', 'emisor', EXP_EMISOR, REQ),
    el('Receptor', 'receptor', EXP_RECEPTOR, REQ),
    el('Transporte', 'transporte', TRANSPORTE),
    el('Totales', 'totales', EXP_TOTALES, REQ),
    el('OtraMoneda', 'otraMoneda', EXP_OTRA_MONEDA),
  ],
};

/** DTE_v10.xsd DTE/Exportaciones/Detalle (no Retenedor, CodImpAdic; decimal MontoItem). */
const EXP_DETALLE = derive('DTE/Exportaciones/Detalle', DOC_DETALLE, {
  drop: ['Retenedor', 'CodImpAdic'],
  patch: {
    // Subcantidad adds TipCodSubQty (xs:string maxLength 10).
    Subcantidad: {
      table: derive('DTE/Exportaciones/Detalle/Subcantidad', SUBCANTIDAD, {
        insertAfter: { SubCod: [str('TipCodSubQty', 'tipCodSubQty', 10)] },
      }),
    },
    // OtrMnda: PrcOtrMon is Dec14_4Type (Documento: Dec12_6Type); MontoItemOtrMnda is mandatory.
    OtrMnda: {
      table: derive('DTE/Exportaciones/Detalle/OtrMnda', DOC_OTR_MNDA, {
        patch: { PrcOtrMon: DEC14_4, MontoItemOtrMnda: REQ_XSD },
      }),
    },
  },
  // MontoItem: inline xs:decimal 0.0000..99999999999999.9999 (Documento: MontoType integer).
  replace: { MontoItem: dec('MontoItem', 'montoItem', DEC14_4_0, REQ) },
});

/** DTE_v10.xsd DTE/Exportaciones/Referencia (IdAdicOtr; FchRef from 1950-01-01). */
const EXP_REFERENCIA = derive('DTE/Exportaciones/Referencia', DOC_REFERENCIA, {
  insertAfter: { RUTOtr: [str('IdAdicOtr', 'idAdicOtr', 20)] },
  patch: { FchRef: { range: ['1950-01-01', '2050-12-31'] } }, // inline xs:date (Documento: FechaType from 2000)
});

/** DTE_v10.xsd DTE/Exportaciones (no GeoRefEmision, ManejoMadera, Comisiones). */
const EXPORTACIONES: Table = {
  xsd: 'DTE/Exportaciones',
  fields: [
    el('Encabezado', 'encabezado', EXP_ENCABEZADO, REQ),
    many('Detalle', 'detalle', EXP_DETALLE, 60, REQ),
    many('SubTotInfo', 'subTotInfo', SUB_TOT_INFO, 20),
    many('DscRcgGlobal', 'dscRcgGlobal', DSC_RCG_GLOBAL, 20),
    many('Referencia', 'referencia', EXP_REFERENCIA, 40),
  ],
};

// ---------------------------------------------------------------------------------------------
// Boletas (39, 41) — EnvioBOLETA_v11.xsd BOLETADefType/Documento
// ---------------------------------------------------------------------------------------------

const BOL_DATE = { range: ANY_DATE } as const;

/** EnvioBOLETA_v11.xsd DTE/Documento/Encabezado/IdDoc (IndServicio mandatory; MedioPago 1..5). */
const BOL_IDDOC: Table = {
  xsd: 'EnvioBOLETA DTE/Documento/Encabezado/IdDoc',
  fields: [
    enm('TipoDTE', 'tipoDte', [39, 41], REQ),
    int('Folio', 'folio', posInt(10), REQ),
    date('FchEmis', 'fchEmis', { ...BOL_DATE, required: true }),
    enm('IndServicio', 'indServicio', [1, 2, 3, 4], REQ_XSD),
    enm('IndMntNeto', 'indMntNeto', [2]),
    date('PeriodoDesde', 'periodoDesde', BOL_DATE),
    date('PeriodoHasta', 'periodoHasta', BOL_DATE),
    date('FchVenc', 'fchVenc', BOL_DATE),
    enm('MedioPago', 'medioPago', ['1', '2', '3', '4', '5']),
  ],
};

/** EnvioBOLETA_v11.xsd DTE/Documento/Encabezado/Emisor (RznSocEmisor, GiroEmisor optional; no Acteco). */
const BOL_EMISOR: Table = {
  xsd: 'EnvioBOLETA DTE/Documento/Encabezado/Emisor',
  fields: [
    rut('RUTEmisor', 'rutEmisor', REQ),
    str('RznSocEmisor', 'rznSoc', 100, { readDefault: '', aliases: ['RznSoc'] }),
    str('GiroEmisor', 'giroEmis', 80, { readDefault: '', aliases: ['GiroEmis'] }),
    int('CdgSIISucur', 'cdgSiiSucur', posInt(9)),
    str('DirOrigen', 'dirOrigen', 70),
    str('CmnaOrigen', 'cmnaOrigen', 20),
    str('CiudadOrigen', 'ciudadOrigen', 20),
  ],
  // acteco is model-required but boletas have none; rutProvSw is written by the Encabezado.
  ignore: ['acteco', 'rutProvSw'],
  absentDefaults: { acteco: [] },
};

/** EnvioBOLETA_v11.xsd DTE/Documento/Encabezado/Receptor (RznSocRecep optional; TelefonoRecep). */
const BOL_RECEPTOR = derive('EnvioBOLETA DTE/Documento/Encabezado/Receptor', DOC_RECEPTOR, {
  replace: { RznSocRecep: str('RznSocRecep', 'rznSocRecep', 100, { readDefault: '' }) }, // minOccurs="0"
  drop: ['Extranjero', 'GiroRecep'],
  insertAfter: { CorreoRecep: [str('TelefonoRecep', 'telefonoRecep', 20)] }, // SiiDte:FonoType
});

/** EnvioBOLETA_v11.xsd DTE/Documento/Encabezado/Totales (no TasaIVA; TotalPeriodo). */
const BOL_TOTALES: Table = {
  xsd: 'EnvioBOLETA DTE/Documento/Encabezado/Totales',
  fields: [
    int('MntNeto', 'mntNeto', MONTO),
    int('MntExe', 'mntExe', MONTO),
    int('IVA', 'iva', MONTO),
    int('MntTotal', 'mntTotal', MONTO, REQ),
    int('MontoNF', 'montoNf', VALOR),
    int('TotalPeriodo', 'totalPeriodo', VALOR),
    int('SaldoAnterior', 'saldoAnterior', VALOR),
    int('VlrPagar', 'vlrPagar', VALOR),
  ],
};

/** EnvioBOLETA_v11.xsd DTE/Documento/Encabezado (RUTProvSW between Receptor and Totales). */
const BOL_ENCABEZADO: Table = {
  xsd: 'EnvioBOLETA DTE/Documento/Encabezado',
  fields: [
    el('IdDoc', 'idDoc', BOL_IDDOC, REQ),
    el('Emisor', 'emisor', BOL_EMISOR, REQ),
    el('Receptor', 'receptor', BOL_RECEPTOR, REQ),
    rut('RUTProvSW', 'emisor.rutProvSw'),
    el('Totales', 'totales', BOL_TOTALES, REQ),
  ],
};

/** EnvioBOLETA_v11.xsd InfoTicket FchGenera / FchEvento: mandatory xs:dateTime, 2010-03-10T00:00:00..2050-12-31T23:59:59. */
const BOL_TICKET_FCH = { range: ['2010-03-10T00:00:00', '2050-12-31T23:59:59'], required: true } as const;

/** EnvioBOLETA_v11.xsd DTE/Documento/Detalle/InfoTicket. */
const BOL_INFO_TICKET: Table = {
  xsd: 'EnvioBOLETA DTE/Documento/Detalle/InfoTicket',
  fields: [
    int('FolioTicket', 'folioTicket', posInt(6), REQ),
    { xml: 'FchGenera', key: 'fchGenera', kind: 'datetime', ...BOL_TICKET_FCH },
    str('NmbEvento', 'nmbEvento', 80, REQ),
    str('TpoTicket', 'tpoTicket', 10, REQ),
    str('CdgEvento', 'cdgEvento', 5, REQ),
    { xml: 'FchEvento', key: 'fchEvento', kind: 'datetime', ...BOL_TICKET_FCH },
    str('LugarEvento', 'lugarEvento', 80, REQ),
    str('UbicEvento', 'ubicEvento', 20, REQ),
    str('FilaUbicEvento', 'filaUbicEvento', 3),
    str('AsntoUbicEvento', 'asntoUbicEvento', 3),
  ],
};

/** EnvioBOLETA_v11.xsd PctType: 0.00..100.00. */
const BOL_PCT: Extra = { decimals: 2, min: 0, max: 100 };

/** EnvioBOLETA_v11.xsd DTE/Documento/Detalle (≤1000; IndExe 1|2|6). */
const BOL_DETALLE: Table = {
  xsd: 'EnvioBOLETA DTE/Documento/Detalle',
  fields: [
    int('NroLinDet', 'nroLinDet', { min: 1, max: 1000 }, REQ),
    many('CdgItem', 'cdgItem', CDG_ITEM, 5),
    enm('IndExe', 'indExe', [1, 2, 6]),
    enm('ItemEspectaculo', 'itemEspectaculo', [1, 2]),
    rut('RUTMandante', 'rutMandante'),
    str('NmbItem', 'nmbItem', 80, REQ),
    el('InfoTicket', 'infoTicket', BOL_INFO_TICKET),
    str('DscItem', 'dscItem', 1000),
    dec('QtyItem', 'qtyItem', DEC12_6),
    str('UnmdItem', 'unmdItem', 4),
    dec('PrcItem', 'prcItem', DEC12_6),
    dec('DescuentoPct', 'descuentoPct', BOL_PCT),
    int('DescuentoMonto', 'descuentoMonto', MONTO),
    dec('RecargoPct', 'recargoPct', BOL_PCT),
    int('RecargoMonto', 'recargoMonto', MONTO),
    int('MontoItem', 'montoItem', MONTO, REQ),
  ],
};

/** EnvioBOLETA_v11.xsd DTE/Documento/SubTotInfo (≤20 lines of ≤1000 details; GlosaSTI optional ≤80). */
const BOL_SUB_TOT_INFO = derive('EnvioBOLETA DTE/Documento/SubTotInfo', SUB_TOT_INFO, {
  patch: {
    NroSTI: { max: 20 }, // maxInclusive 20 (DTE_v10: 99)
    LineasDeta: { maxOccurs: 1000, max: 1000 }, // maxOccurs 1000, maxInclusive 1000 (DTE_v10: maxOccurs 60, no maxInclusive)
  },
  replace: { GlosaSTI: str('GlosaSTI', 'glosaSti', 80) }, // minOccurs="0", maxLength 80 (DTE_v10: mandatory, 40)
});

/** EnvioBOLETA_v11.xsd DTE/Documento/DscRcgGlobal (no ValorDROtrMnda). */
const BOL_DSC_RCG_GLOBAL = derive('EnvioBOLETA DTE/Documento/DscRcgGlobal', DSC_RCG_GLOBAL, {
  patch: { NroLinDR: { max: 20 } }, // maxInclusive 20 (DTE_v10: plain xs:positiveInteger)
  drop: ['ValorDROtrMnda'],
});

/** EnvioBOLETA_v11.xsd DTE/Documento/Referencia (CodRef free text; no FchRef). */
const BOL_REFERENCIA: Table = {
  xsd: 'EnvioBOLETA DTE/Documento/Referencia',
  fields: [
    int('NroLinRef', 'nroLinRef', { min: 1, max: 40 }, REQ),
    str('TpoDocRef', 'tpoDocRef', 3, { readDefault: '' }),
    str('FolioRef', 'folioRef', 18, { readDefault: '' }),
    str('CodRef', 'codRefBoleta', 18),
    str('RazonRef', 'razonRef', 90),
    str('CodVndor', 'codVndor', 8),
    str('CodCaja', 'codCaja', 8),
  ],
  // fchRef is model-required but boletas have no FchRef.
  ignore: ['fchRef'],
  absentDefaults: { fchRef: '' },
};

/** EnvioBOLETA_v11.xsd BOLETADefType/Documento (Detalle 0..1000). */
const BOLETA: Table = {
  xsd: 'EnvioBOLETA DTE/Documento',
  fields: [
    el('Encabezado', 'encabezado', BOL_ENCABEZADO, REQ),
    many('Detalle', 'detalle', BOL_DETALLE, 1000, { readDefault: [] }),
    many('SubTotInfo', 'subTotInfo', BOL_SUB_TOT_INFO, 20),
    many('DscRcgGlobal', 'dscRcgGlobal', BOL_DSC_RCG_GLOBAL, 20),
    many('Referencia', 'referencia', BOL_REFERENCIA, 40),
    el('GeoRefEmision', 'geoRefEmision', GEO_REF_EMISION),
  ],
};

// ---------------------------------------------------------------------------------------------

export const BRANCHES: Readonly<Record<BranchName, Branch>> = {
  Documento: { name: 'Documento', root: 'Documento', schema: 'DTE_v10.xsd', documento: DOCUMENTO },
  Liquidacion: { name: 'Liquidacion', root: 'Liquidacion', schema: 'DTE_v10.xsd', documento: LIQUIDACION },
  Exportaciones: { name: 'Exportaciones', root: 'Exportaciones', schema: 'DTE_v10.xsd', documento: EXPORTACIONES },
  Boleta: { name: 'Boleta', root: 'Documento', schema: 'EnvioBOLETA_v11.xsd', documento: BOLETA },
};

/** The branch of a document type, or undefined for a type Timbre does not handle. */
export function branchOf(tipo: TipoDte | number): Branch | undefined {
  switch (tipo) {
    case 33:
    case 34:
    case 46:
    case 52:
    case 56:
    case 61:
      return BRANCHES.Documento;
    case 43:
      return BRANCHES.Liquidacion;
    case 110:
    case 111:
    case 112:
      return BRANCHES.Exportaciones;
    case 39:
    case 41:
      return BRANCHES.Boleta;
    default:
      return undefined;
  }
}
