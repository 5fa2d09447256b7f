/**
 * The stable issue codes of the pre-validation, each with its default severity, the SII rejection it
 * prevents (code and glosa from packages/sii's catalogue or the SII status it leads to) and the fix,
 * in Spanish. Callers narrow on `code`; wording may change.
 */
export type Severity = 'error' | 'warning' | 'info';

export interface CodeInfo {
  severity: Severity;
  /** The SII rejection (or objection) the check prevents, when known. */
  sii?: string;
  /** What to do, in Spanish (becomes a recommendation). */
  fix: string;
}

const RSC = 'RSC: Rechazado por Error en Schema';
const RCH_MONTOS = 'RCH: DTE Rechazado (montos descuadrados; TED-3-640 Monto del timbre no corresponde)';

export const PV_CODES = {
  PV_INPUT_INVALID: { severity: 'error', sii: RSC, fix: 'Envíe el documento como un objeto JSON con la forma del contrato de la API.' },
  PV_INPUT_TOO_LARGE: { severity: 'error', sii: 'Upload 2: Error en tamaño del archivo', fix: 'Reduzca el documento: ningún texto de un DTE supera los 1.000 caracteres.' },
  PV_INPUT_TOO_DEEP: { severity: 'error', sii: RSC, fix: 'El documento tiene anidamiento excesivo: revise la serialización del JSON.' },
  PV_SCHEMA: { severity: 'error', sii: RSC, fix: 'Corrija el tipo o formato de los campos señalados según el esquema del documento.' },
  PV_UNKNOWN_FIELD: { severity: 'error', sii: RSC, fix: 'Elimine los campos que el formato no define (o corrija su nombre).' },
  PV_DTE_TYPE: { severity: 'error', sii: RSC, fix: 'Use un tipo de DTE válido: 33, 34, 39, 41, 43, 46, 52, 56, 61, 110, 111 o 112.' },
  PV_ITEMS: { severity: 'error', sii: RSC, fix: 'Incluya entre 1 y 60 líneas de detalle (boletas hasta 1.000).' },
  PV_RUT_DV: { severity: 'error', sii: `${RSC} (RUT con dígito verificador inválido)`, fix: 'Verifique el dígito verificador del RUT (módulo 11) con el cliente o en el SII.' },
  PV_RUT_FORMAT: { severity: 'error', sii: `${RSC} (RUTType)`, fix: 'Escriba el RUT como 12345678-9 (sin puntos, K mayúscula).' },
  PV_ACTECO: { severity: 'error', sii: 'HED-3-861: Actividad Económica no registrada', fix: 'Use el código de actividad económica del SII de 6 dígitos registrado para la empresa.' },
  PV_REQUIRED_FIELD: { severity: 'error', sii: RSC, fix: 'Complete los datos obligatorios para este tipo de documento.' },
  PV_FIELD_LENGTH: { severity: 'error', sii: RSC, fix: 'Acorte el texto al largo máximo que admite el SII para ese campo.' },
  PV_LATIN1: { severity: 'error', sii: 'ENV-3-0: Caracter o dato no permitido en el XML', fix: 'Quite emojis y caracteres fuera de ISO-8859-1 (Latin-1) de los textos.' },
  PV_LATIN1_REPLACED: { severity: 'warning', fix: 'Revise los textos: algunos caracteres (comillas tipográficas, guiones largos, €) se reemplazarán por equivalentes Latin-1.' },
  PV_TOTAL_NETO: { severity: 'error', sii: RCH_MONTOS, fix: 'Recalcule el monto neto como la suma de las líneas afectas menos descuentos más recargos.' },
  PV_TOTAL_EXENTO: { severity: 'error', sii: RCH_MONTOS, fix: 'Recalcule el monto exento como la suma de las líneas exentas.' },
  PV_TOTAL_IVA: { severity: 'error', sii: RCH_MONTOS, fix: 'Calcule el IVA como round(neto × 19 %), redondeando a peso entero (0,5 hacia arriba).' },
  PV_IVA_RATE: { severity: 'error', sii: RCH_MONTOS, fix: 'La tasa de IVA vigente es 19 %.' },
  PV_TOTAL_MONTO: { severity: 'error', sii: RCH_MONTOS, fix: 'Recalcule el monto total: neto + exento + IVA + impuestos adicionales − retenciones.' },
  PV_TOTALS: { severity: 'error', sii: RCH_MONTOS, fix: 'Recalcule los totales a partir de las líneas.' },
  PV_LINE_AMOUNT: { severity: 'error', sii: RCH_MONTOS, fix: 'El monto de cada línea es cantidad × precio − descuento + recargo, redondeado a peso.' },
  PV_ROUNDING: { severity: 'error', sii: `${RSC} (montos en pesos enteros)`, fix: 'Los montos de documentos en pesos son enteros: redondee a peso (0,5 hacia arriba).' },
  PV_AMOUNT_NEGATIVE: { severity: 'error', sii: RSC, fix: 'Sólo la liquidación-factura (43) admite montos negativos: use una nota de crédito.' },
  PV_REF_MISSING: { severity: 'error', sii: 'REF-3-415: Referencia no válida para el tipo de documento', fix: 'Las notas de crédito y débito deben referenciar el documento que modifican (tipo, folio, fecha y CodRef).' },
  PV_REF_CODREF: { severity: 'error', sii: 'REF-3-758: Falta código de referencia (CodRef) en NC/ND', fix: 'Indique el CodRef de la referencia: 1 anula, 2 corrige texto, 3 corrige montos.' },
  PV_REF_INVALID: { severity: 'error', sii: 'REF-3-415: Referencia no válida para el tipo de documento', fix: 'Revise las referencias: una nota que anula o corrige texto referencia un único documento.' },
  PV_REF_DATE: { severity: 'error', sii: 'REF-3-415: Referencia no válida para el tipo de documento', fix: 'La fecha del documento referenciado no puede ser posterior a la fecha de emisión.' },
  PV_DATE_INVALID: { severity: 'error', sii: RSC, fix: 'Use fechas válidas AAAA-MM-DD.' },
  PV_DATE_FUTURE: { severity: 'error', sii: 'DTE-1-650: Fecha de emisión fuera de plazo respecto de la recepción', fix: 'La fecha de emisión no puede estar más de 3 días en el futuro: emita con la fecha de hoy.' },
  PV_DATE_LATE: { severity: 'warning', sii: 'DTE-1-650: Fecha de emisión fuera de plazo respecto de la recepción (reparo)', fix: 'Envíe el DTE al SII dentro de los 3 días siguientes a su fecha de emisión.' },
  PV_DATE_ORDER: { severity: 'warning', fix: 'La fecha de vencimiento no debería ser anterior a la fecha de emisión.' },
  PV_CAF_BEFORE_AUTH: { severity: 'error', sii: 'HED-3-305: Fecha de emisión anterior a la fecha de autorización (TED-1-646)', fix: 'La fecha de emisión debe ser igual o posterior a la fecha de autorización del CAF.' },
  PV_CAF_EXPIRED: { severity: 'error', sii: 'CAF-3-517: CAF Vencido', fix: 'Los CAF de 33, 43, 46, 56 y 61 vencen a los 6 meses: solicite un CAF nuevo y use un folio de él.' },
  PV_FOLIO_OUT_OF_CAF: { severity: 'error', sii: 'FNA: Documento No Autorizado (folio fuera del rango del CAF)', fix: 'Use un folio dentro de un CAF autorizado para este tipo de documento.' },
  PV_FOLIO_DUPLICATE: { severity: 'error', sii: 'DTE-3-101: Folio ya fue usado para enviar un DTE con otros datos', fix: 'Nunca reutilice un folio: asigne el siguiente folio libre del CAF.' },
  PV_RECEPTOR_TYPE: { severity: 'error', sii: RSC, fix: 'El RUT 66666666-6 sólo se usa en boletas y el 55555555-5 en documentos de exportación.' },
  PV_INDSERVICIO: { severity: 'error', sii: RSC, fix: 'Las boletas requieren IndServicio (1–4); en facturas es 1–3 y en exportaciones 3–6.' },
  PV_GUIA_TRASLADO: { severity: 'error', sii: RSC, fix: 'La guía de despacho (52) requiere el indicador de traslado (1–9).' },
  PV_EXPORT_CURRENCY: { severity: 'error', sii: RSC, fix: 'Los documentos de exportación indican la moneda de la operación y la conversión a pesos (otra_moneda, PESO CL, tipo de cambio).' },
  PV_EXPORT_ADUANA: { severity: 'error', sii: RSC, fix: 'Complete los datos de aduana que exige la factura de exportación.' },
  PV_EXENTO: { severity: 'error', sii: RSC, fix: 'Revise la exención de las líneas: un documento exento no tiene líneas afectas y una factura sólo exenta es 34.' },
  PV_RULE: { severity: 'error', sii: 'RCH: DTE Rechazado', fix: 'Corrija el campo según las reglas del SII para este tipo de documento.' },
  PV_RECENT_REJECTION: { severity: 'info', fix: 'Este campo causó rechazos recientes del SII en su empresa: revíselo antes de enviar.' },
  PV_INTERNAL: { severity: 'warning', fix: 'No se pudo completar una verificación: revise el documento manualmente.' },
} as const satisfies Record<string, CodeInfo>;

export type PvCode = keyof typeof PV_CODES;
