/**
 * The SII codes and glosas the simulator answers with.
 *
 * `source: 'sii'` codes are the SII's own, as documented in /work/shared/docs/sii-spec.md (and the
 * sources it cites: LibreDTE's SiiEnvioAyudas, field notes from real certifications). The SII does
 * not publish a complete catalogue of per-document rejection codes, so where no real code is known
 * the simulator uses its own number in the visibly artificial 9xx range of the SII's `XXX-n-nnn`
 * pattern (`n` = 3 rechazo, 1/2 reparo), so a client that reads the severity digit still works and
 * nobody mistakes them for confirmed SII codes (`source: 'simulator'`).
 */

export type Nivel = 'rechazo' | 'reparo';

export interface SiiCode {
  code: string;
  glosa: string;
  nivel: Nivel;
  source: 'sii' | 'simulator';
}

const sii = (code: string, glosa: string, nivel: Nivel = 'rechazo'): SiiCode => ({ code, glosa, nivel, source: 'sii' });
const sim = (code: string, glosa: string, nivel: Nivel = 'rechazo'): SiiCode => ({ code, glosa, nivel, source: 'simulator' });

export const CODES = {
  // ---- per document (REVISIONDTE) ----
  /** The same document (same TED data) was already received: LibreDTE "posible doble envío". */
  DTE_REPETIDO: sii('DTE-3-100', 'DTE Repetido: el documento ya fue recibido por el SII'),
  /** Folio used before with different data (sii-spec §4). */
  FOLIO_REUSADO: sii('DTE-3-101', 'Folio ya fue usado con otros datos'),
  /** sii-spec §7.1 "505 Firma DTE Incorrecta". */
  FIRMA_DTE: sii('DTE-3-505', 'Firma DTE Incorrecta'),
  /** sii-spec §4. */
  CAF_VENCIDO: sii('CAF-3-517', 'CAF Vencido'),
  /** FchEmis before the CAF's FA (sii-spec §4). */
  FECHA_ANTES_FA: sii('HED-3-305', 'Fecha de Emision anterior a la Fecha de Autorizacion del CAF'),
  /** TSTED before the CAF's FA (sii-spec §5); severity digit 1 = reparo. */
  TSTED_ANTES_FA: sii('TED-1-646', 'Fecha del Timbre anterior a la Fecha de Autorizacion del CAF', 'reparo'),
  /** FchEmis more than 3 days away from the reception (sii-spec §5), reparo leve. */
  FECHA_FUERA_PLAZO: sii('DTE-1-650', 'Fecha de Emision difiere en mas de 3 dias de la fecha de recepcion', 'reparo'),
  /** A referenced DTE the SII never received or rejected (sii-spec §3.5). */
  REFERENCIA_INEXISTENTE: sii('REF-3-750', 'Documento Referenciado No Existe en el SII'),
  /** The signer of the document is not authorized by the company (LibreDTE ENV-3-6). */
  SIN_PERMISO_FIRMA: sii('ENV-3-6', 'Usuario sin permiso para firmar documentos de la empresa'),
  DTE_ILEGIBLE: sim('DTE-3-901', 'DTE no se puede leer o le faltan datos obligatorios'),
  TOTALES: sim('DTE-3-902', 'Montos del documento no cuadran con su detalle'),
  TED_FIRMA: sim('TED-3-901', 'Firma TED del timbre no coincide'),
  TED_DATOS: sim('TED-3-902', 'Datos del timbre (TED) no coinciden con los del documento'),
  CAF_NO_AUTORIZADO: sim('CAF-3-901', 'CAF no autorizado por el SII (firma FRMA invalida o llave IDK desconocida)'),
  FOLIO_FUERA_RANGO: sim('CAF-3-902', 'Folio fuera del rango autorizado por el CAF'),
  CAF_OTRO: sim('CAF-3-903', 'CAF no corresponde al emisor o al tipo de documento'),

  // ---- envelope (ERRORENVIO) ----
  /** Schema errors (LibreDTE: "dato no permitido por el SII en el XML"). */
  SCHEMA: sii('ENV-3-0', 'Error de Schema'),
  /** sii-spec §8. */
  RUT_RECEPTOR_CARATULA: sii('CRT-3-18', 'RUT Receptor (Caratula) Invalido'),
  FIRMA_ENVIO: sim('ENV-3-901', 'Firma del Envio Incorrecta'),
  CERTIFICADO_VENCIDO: sim('ENV-3-902', 'Certificado del firmante no vigente'),
  CARATULA_EMISOR: sim('CRT-3-901', 'RUT Emisor de la Caratula no corresponde a la empresa del envio'),
  CARATULA_ENVIA: sim('CRT-3-902', 'RUT Envia de la Caratula no corresponde al usuario que envia'),
  CARATULA_FIRMANTE: sim('CRT-3-903', 'RUT Envia de la Caratula no corresponde al firmante del envio'),
  CARATULA_SUBTOTALES: sim('CRT-3-904', 'Cantidad de documentos no coincide con SubTotDTE'),
  CARATULA_DTE_EMISOR: sim('CRT-3-905', 'Envio contiene documentos de un emisor distinto al de la Caratula'),
} as const satisfies Record<string, SiiCode>;

export interface Observation {
  code: string;
  glosa: string;
  nivel: Nivel;
  /** What exactly was wrong (the simulator's explanation, for humans). */
  detalle?: string;
}

export const observe = (c: SiiCode, detalle?: string): Observation => ({
  code: c.code,
  glosa: c.glosa,
  nivel: c.nivel,
  ...(detalle ? { detalle } : {}),
});

/** Envelope states (SII estado_envio, as transcribed by LibreDTE), glosas as the SII writes them (no accents). */
export const ESTADOS_ENVIO = {
  REC: 'Envio Recibido',
  SOK: 'Schema Validado',
  FOK: 'Firma de Envio Validada',
  CRT: 'Caratula OK',
  EPR: 'Envio Procesado',
  RSC: 'Rechazado por Error en Schema',
  RFR: 'Rechazado por Error en Firma',
  RCT: 'Rechazado por Error en Caratula',
} as const;
export type EstadoEnvio = keyof typeof ESTADOS_ENVIO;
export type EstadoFinal = 'EPR' | 'RSC' | 'RFR' | 'RCT';

/** getToken ESTADO codes (sii-spec §9, AUTH §5.2.2). */
export const TOKEN_ESTADOS = {
  OK: ['00', 'Token Creado'],
  XML_INVALIDO: ['01', 'Error : (Message Exception) XML de entrada no es valido'],
  SIN_FIRMA: ['04', 'Error : No se encontro Firma'],
  FIRMA_INVALIDA: ['05', 'Error : Firma no es valida'],
  SIN_SEMILLA: ['06', 'Error : No existe Semilla en el XML'],
  SEMILLA_NO_EXISTE: ['08', 'Error : NO Existe SEED'],
  SEMILLA_VENCIDA: ['08', 'Error : TIME-OUT DEL SEED'],
  SIN_CERTIFICADO: ['11', 'Error : No existe Certificado'],
  LLAVE_NO_CORRESPONDE: ['21', 'Error : Llave publica no corresponde a certificado'],
  CERTIFICADO_NO_VIGENTE: ['-3', 'Error de autenticacion: certificado no vigente'],
  RUT_NO_HABILITADO: ['-07', 'RUT no habilitado para autenticacion con certificado'],
} as const satisfies Record<string, readonly [string, string]>;

/** Token errors answered by the status queries (sii-spec §11). */
export const TOKEN_QUERY_ERRORS = {
  COOKIE: ['001', 'Cookie Inactivo (o Token Inactivo)'],
  INACTIVO: ['002', 'Token Inactivo'],
  NO_EXISTE: ['003', 'Token No Existe'],
} as const satisfies Record<string, readonly [string, string]>;

/** QueryEstDte ESTADO with its ERR_CODE (LibreDTE ValidateDocumentResponse) and glosa. */
export const ESTADOS_DTE = {
  DOK: ['0', 'Documento Recibido por el SII. Datos Coinciden con los Registrados'],
  DNK: ['1', 'Documento Recibido por el SII pero Datos NO Coinciden con los registrados'],
  FAU: ['3', 'Documento No Recibido por el SII'],
  FNA: ['4', 'Documento No Autorizado'],
  FAN: ['5', 'Documento Anulado'],
  EMP: ['6', 'Empresa no autorizada a Emitir Documentos Tributarios Electronicos'],
  TMD: ['10', 'Existe Nota de Debito que Modifica Texto Documento'],
  TMC: ['11', 'Existe Nota de Credito que Modifica Textos Documento'],
  MMD: ['12', 'Existe Nota de Debito que Modifica Montos Documento'],
  MMC: ['13', 'Existe Nota de Credito que Modifica Montos Documento'],
  AND: ['14', 'Existe Nota de Debito que Anula Documento'],
  ANC: ['15', 'Existe Nota de Credito que Anula Documento'],
} as const satisfies Record<string, readonly [string, string]>;
export type EstadoDte = keyof typeof ESTADOS_DTE;

/** RCV `registroreclamodteservice` codResp (sii-spec §14.2, RCLM v1.2). */
export const RCV_CODES = {
  0: 'Accion Completada OK',
  1: 'Error en Rut Emisor',
  2: 'Error en Folio',
  3: 'Tipo de documento no corresponde',
  4: 'Accion no valida',
  5: 'DTE ya fue reclamado',
  6: 'No se puede registrar recibo de mercaderias de un DTE reclamado',
  7: 'Evento registrado previamente',
  8: 'Pasados 8 dias despues de la recepcion no es posible registrar reclamos o eventos',
  9: 'No existen registros',
  10: 'Documento emitido antes del 14-01-2017',
  11: 'No se puede reclamar un DTE aceptado',
  12: 'No se puede aceptar un DTE reclamado',
  13: 'No se puede reclamar un DTE con recibo de mercaderias',
  14: 'Accion solo la puede realizar el receptor del documento',
  15: 'Listado de eventos del documento',
  16: 'Documento no tiene eventos registrados',
  17: 'Accion solo la puede realizar el emisor del documento',
  18: 'Documento no ha sido recibido por el SII',
  19: 'Reclamo por falta de mercaderias ya fue realizado',
  20: 'Tipo de documento no es cedible',
  21: 'Documento no cedible: existe nota de credito que lo anula',
  22: 'Documento sin eventos de aceptacion ni reclamo, plazo vigente',
  23: 'Documento cedible: aceptado sin reclamos',
  24: 'Documento no cedible: tiene reclamos',
  25: 'Documento cedible: plazo de 8 dias cumplido sin reclamos',
  [-1]: 'Error interno, reintente',
} as const satisfies Record<number, string>;
export type RcvCode = keyof typeof RCV_CODES;

export const RCV_ACCIONES = {
  ACD: 'Acepta Contenido del Documento',
  RCD: 'Reclamo al Contenido del Documento',
  ERM: 'Otorga Recibo de Mercaderias o Servicios',
  RFP: 'Reclamo por Falta Parcial de Mercaderias',
  RFT: 'Reclamo por Falta Total de Mercaderias',
} as const;
export type RcvAccion = keyof typeof RCV_ACCIONES;

/** Events the RCV records without the web service (sii-spec §14.2). */
export const RCV_EVENTOS_SISTEMA = {
  NCA: 'Recepcion de NC de anulacion que referencia al documento',
  ENC: 'Recepcion de NC, distinta de anulacion, que referencia al documento',
} as const;
