/**
 * SII and Aduana codes as the Spanish text a reader expects (FMT §2.2: codes are printed as text).
 * Only codes whose meaning is certain are listed; anything else prints as its code, never a guess.
 * Sources: FMT v2.2 tables (tipos de documento, CodRef, FmaPago, IndTraslado, TipoDespacho,
 * impuestos adicionales y retenciones, MedioPago), and the Aduana code tables used by the SII for
 * export documents (modalidad de venta, cláusula de venta, vía de transporte, unidades, bultos,
 * países, puertos), cross-checked against LibreDTE's repository data.
 */
import { NOMBRES_DTE, isTipoDte } from '@timbre/dte';

/** Reference-only document types (FMT E.2): paper documents and commercial documents 801–820. */
const TIPOS_REFERENCIA: Readonly<Record<string, string>> = {
  '30': 'Factura',
  '32': 'Factura de venta bienes y servicios no afectos o exentos de IVA',
  '35': 'Boleta',
  '38': 'Boleta exenta',
  '40': 'Liquidación factura',
  '45': 'Factura de compra',
  '50': 'Guía de despacho',
  '55': 'Nota de débito',
  '60': 'Nota de crédito',
  '103': 'Liquidación',
  '801': 'Orden de compra',
  '802': 'Nota de pedido',
  '803': 'Contrato',
  '804': 'Resolución',
  '805': 'Proceso ChileCompra',
  '806': 'Ficha ChileCompra',
  '807': 'DUS',
  '808': 'B/L (conocimiento de embarque)',
  '809': 'AWB (guía aérea)',
  '810': 'MIC/DTA',
  '811': 'Carta de porte',
  '812': 'Resolución del SNA',
  '813': 'Pasaporte',
  '814': 'Certificado de depósito Bolsa de Productos',
  '815': 'Vale de prenda Bolsa de Productos',
  '820': 'Registro de acuerdo con plazo de pago excepcional',
  HES: 'Hoja de entrada de servicios',
  HEM: 'Hoja de entrada de materiales',
  SET: 'Set de pruebas',
};

/** TpoDocRef (or TpoDocLiq) as its name; unknown codes print as written. */
export function tipoDocumentoName(code: string | number): string {
  const c = String(code).trim().toUpperCase();
  if (/^\d+$/.test(c) && isTipoDte(Number(c))) return NOMBRES_DTE[Number(c) as keyof typeof NOMBRES_DTE];
  return TIPOS_REFERENCIA[c.replace(/^0+(?=\d)/, '')] ?? String(code);
}

export const COD_REF: Readonly<Record<number, string>> = {
  1: 'Anula documento de referencia',
  2: 'Corrige texto del documento de referencia',
  3: 'Corrige montos',
};

export const FMA_PAGO: Readonly<Record<number, string>> = { 1: 'Contado', 2: 'Crédito', 3: 'Sin costo (entrega gratuita)' };

/** MedioPago of Documento (FMT A.22). Boletas use numeric codes: printed as is. */
export const MEDIO_PAGO: Readonly<Record<string, string>> = {
  CH: 'Cheque',
  CF: 'Cheque a fecha',
  LT: 'Letra',
  EF: 'Efectivo',
  PE: 'Pago a cuenta corriente',
  TC: 'Tarjeta de crédito',
  OT: 'Otro',
};

export const IND_TRASLADO: Readonly<Record<number, string>> = {
  1: 'Operación constituye venta',
  2: 'Ventas por efectuar',
  3: 'Consignaciones',
  4: 'Entrega gratuita',
  5: 'Traslados internos',
  6: 'Otros traslados no venta',
  7: 'Guía de devolución',
  8: 'Traslado para exportación',
  9: 'Venta para exportación',
};

export const TIPO_DESPACHO: Readonly<Record<number, string>> = {
  1: 'Por cuenta del receptor',
  2: 'Por cuenta del emisor a instalaciones del cliente',
  3: 'Por cuenta del emisor a otras instalaciones',
};

/** Detalle/IndExe: the short marker printed next to the line, and its meaning for the legend. */
export const IND_EXE: Readonly<Record<number, { mark: string; text: string }>> = {
  1: { mark: '(E)', text: 'exento o no afecto' },
  2: { mark: '(NF)', text: 'no facturable' },
  3: { mark: '(GE)', text: 'garantía de depósito de envases' },
  4: { mark: '(NV)', text: 'ítem no venta' },
  5: { mark: '(AR)', text: 'ítem a rebajar' },
  6: { mark: '(NF-)', text: 'no facturable negativo' },
};

/** ImptoReten/TipoImp names (FMT table of impuestos adicionales y retenciones). */
const IMPUESTOS: Readonly<Record<number, string>> = {
  14: 'IVA de margen de comercialización',
  15: 'IVA retenido total',
  17: 'IVA anticipado faenamiento carne',
  18: 'IVA anticipado carne',
  19: 'IVA anticipado harina',
  23: 'Impuesto adicional Art. 37 letras a), b) y c)',
  24: 'Impuesto licores, piscos y destilados',
  25: 'Impuesto vinos',
  26: 'Impuesto cervezas y bebidas alcohólicas',
  27: 'Impuesto bebidas analcohólicas y minerales',
  271: 'Impuesto bebidas azucaradas',
  30: 'IVA retenido legumbres',
  31: 'IVA retenido silvestres',
  32: 'IVA retenido ganado',
  33: 'IVA retenido madera',
  34: 'IVA retenido trigo',
  36: 'IVA retenido arroz',
  37: 'IVA retenido hidrobiológicas',
  38: 'IVA retenido chatarra',
  39: 'IVA retenido PPA',
  41: 'IVA retenido construcción',
  44: 'Impuesto adicional Art. 37 letras e), h), i) y l)',
  45: 'Impuesto adicional Art. 37 letra j)',
  47: 'IVA retenido cartones',
  48: 'IVA retenido frambuesas y pasas',
};

export const impuestoName = (code: number): string => IMPUESTOS[code] ?? `Impuesto código ${code}`;

// ---- Aduana tables (export documents) ----

export const MODALIDAD_VENTA: Readonly<Record<number, string>> = {
  1: 'A firme',
  2: 'Bajo condición',
  3: 'En consignación libre',
  4: 'En consignación con un mínimo a firme',
  9: 'Sin pago',
};

/** Cláusula de compraventa (incoterm) by its Aduana code. */
export const CLAUSULA_VENTA: Readonly<Record<number, string>> = {
  1: 'CIF',
  2: 'CFR',
  3: 'EXW',
  4: 'FAS',
  5: 'FOB',
  6: 'S/CL (sin cláusula)',
  8: 'Otros',
  9: 'DDP',
  10: 'FCA',
  11: 'CPT',
  12: 'CIP',
  17: 'DAT',
  18: 'DAP',
};

export const VIA_TRANSPORTE: Readonly<Record<number, string>> = {
  1: 'Marítima, fluvial y lacustre',
  4: 'Aérea',
  5: 'Postal',
  6: 'Ferroviaria',
  7: 'Carretera / terrestre',
  8: 'Oleoductos, gasoductos',
  9: 'Tendido eléctrico',
  10: 'Otra',
};

/** Unidades de medida (Aduana): the abbreviation printed after a weight or quantity. */
export const UNIDAD_MEDIDA: Readonly<Record<number, string>> = {
  1: 'TMB',
  2: 'QMB',
  3: 'MKWH',
  4: 'TMN',
  5: 'KLT',
  6: 'KN',
  7: 'GN',
  8: 'HL',
  9: 'LT',
  10: 'U',
  11: 'DOC',
  12: 'U(JGO)',
  13: 'MU',
  14: 'MT',
  15: 'MT2',
  16: 'MCUB',
  17: 'PAR',
  18: 'KNFC',
  19: 'CARTON',
  20: 'KWH',
  23: 'BAR',
  24: 'M2/1MM',
  99: 'S.U.M.',
};

/** Tipos de bulto (Aduana), the common ones. */
export const TIPO_BULTO: Readonly<Record<number, string>> = {
  1: 'Polvo',
  2: 'Granos',
  4: 'Líquido',
  5: 'Gas',
  10: 'Pieza',
  11: 'Tubo',
  12: 'Cilindro',
  13: 'Rollos',
  16: 'Barra',
  17: 'Lingote',
  21: 'Cajón',
  22: 'Caja de cartón',
  23: 'Fardo',
  28: 'Caja de madera',
  29: 'Caja de lata',
  32: 'Botella',
  34: 'Bidón',
  44: 'Barril',
  45: 'Tambor',
  61: 'Paquete',
  62: 'Saco',
  64: 'Bolsa',
  67: 'Sobre',
  73: 'Contenedor 20 pies',
  74: 'Contenedor 40 pies',
  80: 'Pallets',
  91: 'Bobina',
  98: 'Sin bulto',
  99: 'Sin embalar',
};

/** Países (Aduana), a few verified ones; others print as their code. */
const PAISES: Readonly<Record<string, string>> = {
  '997': 'Chile',
  '202': 'Colombia',
  '216': 'México',
  '218': 'Ecuador',
  '219': 'Perú',
  '220': 'Brasil',
  '221': 'Bolivia',
  '222': 'Paraguay',
  '223': 'Uruguay',
  '224': 'Argentina',
  '225': 'Estados Unidos',
  '226': 'Canadá',
  '317': 'India',
  '331': 'Japón',
  '333': 'Corea del Sur',
  '336': 'China',
  '504': 'Italia',
  '505': 'Francia',
  '510': 'Reino Unido',
  '515': 'Países Bajos',
  '517': 'España',
  '563': 'Alemania',
};

/** Puertos (Aduana), the main Chilean ports and a few destinations; others print as their code. */
const PUERTOS: Readonly<Record<string, string>> = {
  '901': 'Arica',
  '902': 'Iquique',
  '903': 'Antofagasta',
  '904': 'Coquimbo',
  '905': 'Valparaíso',
  '906': 'San Antonio',
  '907': 'Talcahuano',
  '908': 'San Vicente',
  '910': 'Puerto Montt',
  '912': 'Punta Arenas',
  '915': 'Mejillones',
  '252': 'Callao',
  '262': 'Buenos Aires',
  '292': 'Santos',
};

const withCode = (table: Readonly<Record<string, string>>, code: string | number): string => {
  const c = String(code).trim();
  const name = table[c];
  return name ? `${name} (${c})` : c;
};
export const paisName = (code: string | number): string => withCode(PAISES, code);
export const puertoName = (code: string | number): string => withCode(PUERTOS, code);

/** Label of a known code from a table, or the code itself. */
export const labelOf = (table: Readonly<Record<number, string>>, code: number | undefined): string | undefined =>
  code === undefined ? undefined : (table[code] ?? String(code));

/** Forma de pago of export documents (FmaPagExp), as the Aduana abbreviations. */
export const FORMA_PAGO_EXPORTACION: Readonly<Record<number, string>> = {
  1: 'COB1',
  2: 'COBRANZA',
  11: 'ACRED',
  12: 'CBOF',
  21: 'S/PAGO',
  32: 'ANTICIPO',
  50: 'ANT/COB',
  60: 'ANT/CRED',
  80: 'S/PAGO/COB',
};
