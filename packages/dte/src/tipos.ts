/**
 * Document types handled by Timbre (sii-spec §2; SiiTypes_v10.xsd DTEType / LIQType / EXPType;
 * EnvioBOLETA_v11.xsd for 39/41).
 */
export const TIPOS_DTE = [33, 34, 39, 41, 43, 46, 52, 56, 61, 110, 111, 112] as const;
export type TipoDte = (typeof TIPOS_DTE)[number];

export const NOMBRES_DTE: Record<TipoDte, string> = {
  33: 'Factura Electrónica',
  34: 'Factura No Afecta o Exenta Electrónica',
  39: 'Boleta Electrónica',
  41: 'Boleta Exenta Electrónica',
  43: 'Liquidación-Factura Electrónica',
  46: 'Factura de Compra Electrónica',
  52: 'Guía de Despacho Electrónica',
  56: 'Nota de Débito Electrónica',
  61: 'Nota de Crédito Electrónica',
  110: 'Factura de Exportación Electrónica',
  111: 'Nota de Débito de Exportación Electrónica',
  112: 'Nota de Crédito de Exportación Electrónica',
};

export const isTipoDte = (n: unknown): n is TipoDte => TIPOS_DTE.includes(Number(n) as TipoDte) && String(Number(n)) === String(n).trim();

/** 39/41 travel in EnvioBOLETA only (SiiTypes DTEType excludes them). */
export const isBoleta = (t: TipoDte): boolean => t === 39 || t === 41;
/** 110/111/112: `Exportaciones` branch, amounts may carry decimals in foreign currency. */
export const isExportacion = (t: TipoDte): boolean => t === 110 || t === 111 || t === 112;
/** 43: `Liquidacion` branch. */
export const isLiquidacion = (t: TipoDte): boolean => t === 43;
/** Notes must reference the document they modify, with CodRef (FMT §2.1, E.8). */
export const isNota = (t: TipoDte): boolean => t === 56 || t === 61 || t === 111 || t === 112;
/** Documents with no IVA at all: all lines exempt. */
export const isExenta = (t: TipoDte): boolean => t === 34 || t === 41 || isExportacion(t);
/** Root element of the document inside `<DTE>`. */
export const documentoElement = (t: TipoDte): 'Documento' | 'Liquidacion' | 'Exportaciones' =>
  isLiquidacion(t) ? 'Liquidacion' : isExportacion(t) ? 'Exportaciones' : 'Documento';
/** CAFs of these types are treated as valid 6 months from FA (sii-spec §4; SII CAF-3-517). */
export const cafExpires = (t: number): boolean => [33, 43, 46, 56, 61].includes(t);
