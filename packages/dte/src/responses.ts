/**
 * Commercial exchange answers (sii-spec §14, Ley 19.983) written by the RECEIVER of DTEs:
 *
 * - `RespuestaDTE` with `RecepcionEnvio` (acuse de recibo del envío) and with `ResultadoDTE`
 *   (aprobación / rechazo comercial), `RespuestaEnvioDTE_v10.xsd`: `Resultado@ID` is signed, the
 *   Signature is the last child of `RespuestaDTE`.
 * - `EnvioRecibos` (`EnvioRecibos_v10.xsd` + `Recibos_v10.xsd`): each `Recibo/DocumentoRecibo@ID`
 *   signed (Signature last child of `Recibo`), then `SetRecibos@ID` (Signature last child of
 *   `EnvioRecibos`).
 * - `assessReceived`: what to answer for a received EnvioDTE, from `verifyXml`'s report.
 *
 * Every signature is computed in the final document context (default namespace + `xmlns:xsi`), the
 * way the SII and strict verifiers (xmlsec1) check envelope-level signatures. The text we write is
 * already canonical (no self-closing tags, C14N escaping, one attribute per element), so the
 * canonical form of each signed element is known without parsing. Pure: no I/O.
 */
import { TimbreError } from './errors.js';
import { Rut } from './rut.js';
import { buildSignature } from './dsig.js';
import { NS_SII, NS_XSI } from './envelope.js';
import { escapeAttr, escapeText, toLatin1Text, XML_DECLARATION } from './xml/text.js';
import { attr, child, childText, findAll, type XmlElement } from './xml/parse.js';
import type { SigningKey } from './signing-key.js';
import type { DocumentVerification, XmlVerification } from './verify.js';

/** 0 conforme, 1 error de schema, 2 error de firma, 3 RUT receptor no corresponde, 90 archivo repetido, 91 ilegible, 99 otros. */
export type EstadoRecepEnv = 0 | 1 | 2 | 3 | 90 | 91 | 99;
/** 0 ok, 1 firma, 2 RUT emisor, 3 RUT receptor, 4 repetido, 99 otros. */
export type EstadoRecepDte = 0 | 1 | 2 | 3 | 4 | 99;
/** 0 aceptado, 1 aceptado con discrepancias, 2 rechazado. */
export type EstadoDte = 0 | 1 | 2;

export interface RespuestaCaratula {
  /** The company answering (receiver of the DTEs). */
  rutResponde: string;
  /** The issuer of the DTEs, to whom the answer goes. */
  rutRecibe: string;
  /** Unique number of this answer, 1..9999999999. */
  idRespuesta: number;
  nmbContacto?: string;
  fonoContacto?: string;
  mailContacto?: string;
  /** YYYY-MM-DDTHH:MM:SS */
  tmstFirmaResp: string;
}

export interface RecepcionDte {
  /** DTEType of RespuestaEnvioDTE_v10.xsd: 33, 34, 46, 52, 56, 61. */
  tipoDte: number;
  folio: number;
  fchEmis: string;
  rutEmisor: string;
  rutRecep: string;
  mntTotal: number;
  estadoRecepDte: EstadoRecepDte;
  /** Required by the XSD: defaults to the XSD's description of the state; cut to 256. */
  recepDteGlosa?: string;
}

export interface RecepcionEnvioInput {
  caratula: RespuestaCaratula;
  /** File name of the received envelope (cut to 80). */
  nmbEnvio: string;
  /** When it was received, YYYY-MM-DDTHH:MM:SS. */
  fchRecep: string;
  /** Receiver-assigned number of the envelope, 1..9999999999. */
  codEnvio: number;
  /** SetDTE@ID of the received envelope (cut to 80). */
  envioDteId: string;
  /** DigestValue of the envelope's SetDTE signature (base64). */
  digest?: string;
  /** Carátula RutEmisor / RutReceptor of the received envelope, echoed. */
  rutEmisor: string;
  rutReceptor: string;
  estadoRecepEnv: EstadoRecepEnv;
  /** Required by the XSD: defaults to the XSD's description of the state; cut to 256. */
  recepEnvGlosa?: string;
  documentos: RecepcionDte[];
  /** Resultado@ID (an XML NCName). Default `RecepcionEnvio`. */
  id?: string;
}

export interface ResultadoDteInput {
  caratula: RespuestaCaratula;
  resultados: Array<{
    tipoDte: number;
    folio: number;
    fchEmis: string;
    rutEmisor: string;
    rutRecep: string;
    mntTotal: number;
    codEnvio: number;
    estadoDte: EstadoDte;
    /** Required by the XSD: defaults to the XSD's description of the state; cut to 256. */
    estadoDteGlosa?: string;
    /** Reason code of a rejection or discrepancy, -1..-999. */
    codRchDsc?: number;
  }>;
  /** Resultado@ID (an XML NCName). Default `ResultadoDTE`. */
  id?: string;
}

export interface EnvioRecibosInput {
  caratula: { rutResponde: string; rutRecibe: string; nmbContacto?: string; fonoContacto?: string; mailContacto?: string; tmstFirmaEnv: string };
  recibos: Array<{
    /** DocType: 33, 34, 46, 52, 56, 61. */
    tipoDoc: number;
    folio: number;
    fchEmis: string;
    /** Must be carátula rutRecibe (the XSD: RutRecibe is the issuer of the documents). */
    rutEmisor: string;
    /** Must be carátula rutResponde. */
    rutRecep: string;
    mntTotal: number;
    /** Where the goods/services were received (cut to 80). */
    recinto: string;
    /** RUT of the person signing the receipt (the certificate holder). */
    rutFirma: string;
    tmstFirmaRecibo: string;
  }>;
  /** SetRecibos@ID (an XML NCName). Default `SetDteRecibidos`. DocumentoRecibo@ID is `T{tipo}F{folio}`. */
  setId?: string;
}

/** The fixed `Declaracion` of Recibos_v10.xsd (Ley 19.983). */
export const DECLARACION_RECIBO =
  'El acuse de recibo que se declara en este acto, de acuerdo a lo dispuesto en la letra b) del Art. 4, y la letra c) del Art. 5 de la Ley 19.983, acredita que la entrega de mercaderias o servicio(s) prestado(s) ha(n) sido recibido(s).';

/** The XSD's description of each EstadoRecepEnv (default RecepEnvGlosa). */
export const GLOSA_RECEP_ENV: Readonly<Record<EstadoRecepEnv, string>> = {
  0: 'Envio Recibido Conforme',
  1: 'Envio Rechazado - Error de Schema',
  2: 'Envio Rechazado - Error de Firma',
  3: 'Envio Rechazado - RUT Receptor No Corresponde',
  90: 'Envio Rechazado - Archivo Repetido',
  91: 'Envio Rechazado - Archivo Ilegible',
  99: 'Envio Rechazado - Otros',
};

/** The XSD's description of each EstadoRecepDTE (default RecepDTEGlosa). */
export const GLOSA_RECEP_DTE: Readonly<Record<EstadoRecepDte, string>> = {
  0: 'DTE Recibido OK',
  1: 'DTE No Recibido - Error de Firma',
  2: 'DTE No Recibido - Error en RUT Emisor',
  3: 'DTE No Recibido - Error en RUT Receptor',
  4: 'DTE No Recibido - DTE Repetido',
  99: 'DTE No Recibido - Otros',
};

/** The XSD's description of each EstadoDTE (default EstadoDTEGlosa). */
export const GLOSA_ESTADO_DTE: Readonly<Record<EstadoDte, string>> = {
  0: 'DTE Aceptado OK',
  1: 'DTE Aceptado con Discrepancias',
  2: 'DTE Rechazado',
};

/** DTEType / DocType of SiiTypes_v10.xsd: the only types a RespuestaDTE or a Recibo may name. */
export const TIPOS_RESPUESTA: readonly number[] = [33, 34, 46, 52, 56, 61];

const ESTADOS_ENV: readonly number[] = [0, 1, 2, 3, 90, 91, 99];
const ESTADOS_DTE: readonly number[] = [0, 1, 2, 3, 4, 99];

// ------------------------------------------------------------------------------------------------
// Field checks (ERR_INPUT_INVALID with the field path)
// ------------------------------------------------------------------------------------------------

const invalid = (field: string, message: string, actual?: unknown): TimbreError =>
  new TimbreError('ERR_INPUT_INVALID', `${field}: ${message}`, actual === undefined ? { field } : { field, actual });

/**
 * Canonical RUT. `strict` also checks the check digit (our own RUTs); RUTs echoed from a received
 * document only need the RUTType shape (we must be able to answer a document with a wrong DV).
 */
function rut(value: unknown, field: string, strict: boolean): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a RUT string', value);
  try {
    return Rut.parse(value, { validateDv: strict, field }).canonical;
  } catch (e) {
    throw new TimbreError('ERR_INPUT_INVALID', `${field}: ${e instanceof Error ? e.message : String(e)}`, { field, actual: value, cause: e });
  }
}

function int(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer between ${min} and ${max}`, value);
  }
  return value;
}

function oneOf<T extends number>(value: unknown, field: string, allowed: readonly number[]): T {
  if (typeof value !== 'number' || !allowed.includes(value)) throw invalid(field, `must be one of ${allowed.join(', ')}`, value);
  return value as T;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/;

function validYmd(y: number, m: number, d: number): boolean {
  if (y < 1900 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

function date(value: unknown, field: string): string {
  const m = typeof value === 'string' ? DATE_RE.exec(value) : null;
  if (!m || !validYmd(Number(m[1]), Number(m[2]), Number(m[3]))) throw invalid(field, 'must be a date YYYY-MM-DD', value);
  return value as string;
}

function timestamp(value: unknown, field: string): string {
  const m = typeof value === 'string' ? TIMESTAMP_RE.exec(value) : null;
  if (!m || !validYmd(Number(m[1]), Number(m[2]), Number(m[3])) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) {
    throw invalid(field, 'must be a timestamp YYYY-MM-DDTHH:MM:SS', value);
  }
  return value as string;
}

/** Latin-1 text (toLatin1Text policy), cut to maxLength characters. */
function cut(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string', value);
  return toLatin1Text(value, field).slice(0, maxLength);
}

/** Latin-1 text that must fit (identifiers: a cut would make them wrong). */
function fit(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a string', value);
  const s = toLatin1Text(value.trim(), field);
  if (s.length > maxLength) throw invalid(field, `at most ${maxLength} characters (got ${s.length})`, value);
  return s;
}

const NCNAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
function xmlId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NCNAME.test(value) || value.length > 80) throw invalid(field, 'must be an XML ID (letter or _, then letters, digits, _ . -)', value);
  return value;
}

function list<T>(value: unknown, field: string, min: number, max: number): T[] {
  if (!Array.isArray(value)) throw invalid(field, 'must be an array', value);
  if (value.length < min || value.length > max) throw invalid(field, `must hold between ${min} and ${max} entries (got ${value.length})`);
  return value as T[];
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'must be an object', value);
  return value as Record<string, unknown>;
}

const el = (name: string, text: string | number): string => `<${name}>${escapeText(String(text))}</${name}>\n`;
const optEl = (name: string, text: string | undefined): string => (text === undefined ? '' : el(name, text));

function contacts(c: Record<string, unknown>, path: string): string {
  let out = '';
  if (c.nmbContacto !== undefined) out += el('NmbContacto', cut(c.nmbContacto, `${path}.nmbContacto`, 40));
  if (c.fonoContacto !== undefined) out += el('FonoContacto', fit(c.fonoContacto, `${path}.fonoContacto`, 40));
  if (c.mailContacto !== undefined) out += el('MailContacto', fit(c.mailContacto, `${path}.mailContacto`, 80));
  return out;
}

function respuestaCaratula(value: unknown, nroDetalles: number): string {
  const c = object(value, 'caratula');
  return (
    `<Caratula version="1.0">\n` +
    el('RutResponde', rut(c.rutResponde, 'caratula.rutResponde', true)) +
    el('RutRecibe', rut(c.rutRecibe, 'caratula.rutRecibe', false)) +
    el('IdRespuesta', int(c.idRespuesta, 'caratula.idRespuesta', 1, 9_999_999_999)) +
    el('NroDetalles', nroDetalles) +
    contacts(c, 'caratula') +
    el('TmstFirmaResp', timestamp(c.tmstFirmaResp, 'caratula.tmstFirmaResp')) +
    `</Caratula>\n`
  );
}

// ------------------------------------------------------------------------------------------------
// Signed documents
// ------------------------------------------------------------------------------------------------

const ROOT_ATTRS = (schema: string) => `xmlns="${NS_SII}" xmlns:xsi="${NS_XSI}" xsi:schemaLocation="${NS_SII} ${schema}" version="1.0"`;
/** Namespace declarations C14N renders on a signed element of these documents (in context). */
const CANONICAL_NS = `xmlns="${NS_SII}" xmlns:xsi="${NS_XSI}"`;
const INHERITED = [{ prefix: 'xsi', uri: NS_XSI }];

/**
 * `<tag ID="id">body</tag>` as written, and signed in the final context: C14N of the element is the
 * same text with the in-scope declarations on the start tag (the body is written canonical).
 */
function signedElement(tag: string, id: string, body: string, key: SigningKey): { xml: string; signature: string } {
  const open = `<${tag} ID="${escapeAttr(id)}">`;
  const canonical = `<${tag} ${CANONICAL_NS} ID="${escapeAttr(id)}">${body}</${tag}>`;
  const signature = buildSignature({ referenceUri: `#${id}`, canonicalReferenced: canonical, inheritedNs: INHERITED, key });
  return { xml: `${open}${body}</${tag}>`, signature };
}

function respuestaDte(id: string, caratula: string, content: string, key: SigningKey): string {
  const { xml, signature } = signedElement('Resultado', id, `\n${caratula}${content}`, key);
  return `${XML_DECLARATION}\n<RespuestaDTE ${ROOT_ATTRS('RespuestaEnvioDTE_v10.xsd')}>\n${xml}\n${signature}\n</RespuestaDTE>\n`;
}

/**
 * Signed RespuestaDTE with RecepcionEnvio (acuse de recibo del envío). Returns the XML text with its
 * ISO-8859-1 declaration (encode with toBytes).
 *
 * Throws ERR_INPUT_INVALID (with `field`) for a bad RUT, number, date, state or type, and
 * ERR_CHAR_NOT_LATIN1 for text that cannot be written in ISO-8859-1. Glosas, NmbEnvio, EnvioDTEID
 * and NmbContacto are cut to their XSD maxLength; FonoContacto and MailContacto must fit.
 */
export function buildRecepcionEnvio(input: RecepcionEnvioInput, key: SigningKey): string {
  const i = object(input, 'input');
  const id = xmlId(i.id ?? 'RecepcionEnvio', 'id');
  const estado = oneOf<EstadoRecepEnv>(i.estadoRecepEnv, 'estadoRecepEnv', ESTADOS_ENV);
  const docs = list<RecepcionDte>(i.documentos, 'documentos', 0, 9999);
  let digest: string | undefined;
  if (i.digest !== undefined && i.digest !== '') {
    digest = typeof i.digest === 'string' ? i.digest.replace(/\s+/g, '') : '';
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(digest) || digest.length % 4 !== 0) throw invalid('digest', 'must be base64', i.digest);
  }
  let body =
    `<RecepcionEnvio>\n` +
    el('NmbEnvio', cut(i.nmbEnvio, 'nmbEnvio', 80)) +
    el('FchRecep', timestamp(i.fchRecep, 'fchRecep')) +
    el('CodEnvio', int(i.codEnvio, 'codEnvio', 1, 9_999_999_999)) +
    el('EnvioDTEID', cut(i.envioDteId, 'envioDteId', 80)) +
    optEl('Digest', digest) +
    el('RutEmisor', rut(i.rutEmisor, 'rutEmisor', false)) +
    el('RutReceptor', rut(i.rutReceptor, 'rutReceptor', false)) +
    el('EstadoRecepEnv', estado) +
    el('RecepEnvGlosa', i.recepEnvGlosa === undefined ? GLOSA_RECEP_ENV[estado] : cut(i.recepEnvGlosa, 'recepEnvGlosa', 256));
  if (docs.length > 0) body += el('NroDTE', docs.length);
  docs.forEach((raw, n) => {
    const p = `documentos[${n}]`;
    const d = object(raw, p);
    const e = oneOf<EstadoRecepDte>(d.estadoRecepDte, `${p}.estadoRecepDte`, ESTADOS_DTE);
    body +=
      `<RecepcionDTE>\n` +
      documentIdentity(d, p) +
      el('EstadoRecepDTE', e) +
      el('RecepDTEGlosa', d.recepDteGlosa === undefined ? GLOSA_RECEP_DTE[e] : cut(d.recepDteGlosa, `${p}.recepDteGlosa`, 256)) +
      `</RecepcionDTE>\n`;
  });
  body += `</RecepcionEnvio>\n`;
  return respuestaDte(id, respuestaCaratula(i.caratula, 1), body, key);
}

/** TipoDTE … MntTotal: how RecepcionDTE and ResultadoDTE (same XSD sequence) name the document answered. */
function documentIdentity(d: Record<string, unknown>, p: string): string {
  return (
    el('TipoDTE', oneOf(d.tipoDte, `${p}.tipoDte`, TIPOS_RESPUESTA)) +
    el('Folio', int(d.folio, `${p}.folio`, 1, 9_999_999_999)) +
    el('FchEmis', date(d.fchEmis, `${p}.fchEmis`)) +
    el('RUTEmisor', rut(d.rutEmisor, `${p}.rutEmisor`, false)) +
    el('RUTRecep', rut(d.rutRecep, `${p}.rutRecep`, false)) +
    el('MntTotal', int(d.mntTotal, `${p}.mntTotal`, 0, Number.MAX_SAFE_INTEGER))
  );
}

/**
 * Signed RespuestaDTE with ResultadoDTE (aprobación / rechazo comercial), one ResultadoDTE per
 * entry (1..9999). Same errors and cuts as buildRecepcionEnvio; CodRchDsc must be -1..-999.
 */
export function buildResultadoDte(input: ResultadoDteInput, key: SigningKey): string {
  const i = object(input, 'input');
  const id = xmlId(i.id ?? 'ResultadoDTE', 'id');
  const resultados = list<ResultadoDteInput['resultados'][number]>(i.resultados, 'resultados', 1, 9999);
  let body = '';
  resultados.forEach((raw, n) => {
    const p = `resultados[${n}]`;
    const r = object(raw, p);
    const e = oneOf<EstadoDte>(r.estadoDte, `${p}.estadoDte`, [0, 1, 2]);
    body +=
      `<ResultadoDTE>\n` +
      documentIdentity(r, p) +
      el('CodEnvio', int(r.codEnvio, `${p}.codEnvio`, 1, 9_999_999_999)) +
      el('EstadoDTE', e) +
      el('EstadoDTEGlosa', r.estadoDteGlosa === undefined ? GLOSA_ESTADO_DTE[e] : cut(r.estadoDteGlosa, `${p}.estadoDteGlosa`, 256)) +
      (r.codRchDsc === undefined ? '' : el('CodRchDsc', int(r.codRchDsc, `${p}.codRchDsc`, -999, -1))) +
      `</ResultadoDTE>\n`;
  });
  return respuestaDte(id, respuestaCaratula(i.caratula, resultados.length), body, key);
}

/**
 * Signed EnvioRecibos: each Recibo/DocumentoRecibo signed, then SetRecibos signed (Ley 19.983
 * receipt of goods/services, with the XSD's fixed Declaracion). Every recibo must be a document of
 * carátula rutRecibe addressed to carátula rutResponde; (tipoDoc, folio) may not repeat.
 */
export function buildEnvioRecibos(input: EnvioRecibosInput, key: SigningKey): string {
  const i = object(input, 'input');
  const setId = xmlId(i.setId ?? 'SetDteRecibidos', 'setId');
  const c = object(i.caratula, 'caratula');
  const rutResponde = rut(c.rutResponde, 'caratula.rutResponde', true);
  const rutRecibe = rut(c.rutRecibe, 'caratula.rutRecibe', false);
  const caratula =
    `<Caratula version="1.0">\n` +
    el('RutResponde', rutResponde) +
    el('RutRecibe', rutRecibe) +
    contacts(c, 'caratula') +
    el('TmstFirmaEnv', timestamp(c.tmstFirmaEnv, 'caratula.tmstFirmaEnv')) +
    `</Caratula>\n`;
  const recibos = list<EnvioRecibosInput['recibos'][number]>(i.recibos, 'recibos', 1, Number.MAX_SAFE_INTEGER);
  const ids = new Set<string>([setId]);
  let body = `\n${caratula}`;
  recibos.forEach((raw, n) => {
    const p = `recibos[${n}]`;
    const r = object(raw, p);
    const tipo = oneOf(r.tipoDoc, `${p}.tipoDoc`, TIPOS_RESPUESTA);
    const folio = int(r.folio, `${p}.folio`, 1, 9_999_999_999);
    const rutEmisor = rut(r.rutEmisor, `${p}.rutEmisor`, false);
    const rutRecep = rut(r.rutRecep, `${p}.rutRecep`, false);
    if (rutEmisor !== rutRecibe) throw invalid(`${p}.rutEmisor`, `must be carátula rutRecibe ${rutRecibe} (EnvioRecibos goes to the issuer of its documents)`, rutEmisor);
    if (rutRecep !== rutResponde) throw invalid(`${p}.rutRecep`, `must be carátula rutResponde ${rutResponde}`, rutRecep);
    const id = `T${tipo}F${folio}`;
    if (ids.has(id)) throw invalid(p, `document ${tipo}/${folio} appears twice`);
    ids.add(id);
    const doc =
      `\n` +
      el('TipoDoc', tipo) +
      el('Folio', folio) +
      el('FchEmis', date(r.fchEmis, `${p}.fchEmis`)) +
      el('RUTEmisor', rutEmisor) +
      el('RUTRecep', rutRecep) +
      el('MntTotal', int(r.mntTotal, `${p}.mntTotal`, 0, Number.MAX_SAFE_INTEGER)) +
      el('Recinto', cut(r.recinto, `${p}.recinto`, 80)) +
      el('RutFirma', rut(r.rutFirma, `${p}.rutFirma`, true)) +
      el('Declaracion', DECLARACION_RECIBO) +
      el('TmstFirmaRecibo', timestamp(r.tmstFirmaRecibo, `${p}.tmstFirmaRecibo`));
    const signed = signedElement('DocumentoRecibo', id, doc, key);
    body += `<Recibo version="1.0">\n${signed.xml}\n${signed.signature}\n</Recibo>\n`;
  });
  const set = signedElement('SetRecibos', setId, body, key);
  return `${XML_DECLARATION}\n<EnvioRecibos ${ROOT_ATTRS('EnvioRecibos_v10.xsd')}>\n${set.xml}\n${set.signature}\n</EnvioRecibos>\n`;
}

// ------------------------------------------------------------------------------------------------
// Assessing a received envelope
// ------------------------------------------------------------------------------------------------

export interface AssessOptions {
  /** The receiving company (must be the carátula RutReceptor and each document's RUTRecep). */
  rutReceptor: string;
  /** Schema errors found by the caller (xmllint / XSD validator); non-empty → EstadoRecepEnv 1. */
  schemaErrors?: string[];
  /** True when this document was already received (another envelope, or earlier in this one) → 4. */
  seenBefore?: (k: { rutEmisor: string; tipoDte: number; folio: number }) => boolean;
  /** True when this very file was received before → 90. */
  envelopeSeenBefore?: boolean;
}

export interface ReceivedAssessment {
  estadoRecepEnv: EstadoRecepEnv;
  recepEnvGlosa: string;
  /** SetDTE@ID (EnvioDTEID). */
  envioDteId?: string;
  /** DigestValue of the SetDTE signature. */
  digest?: string;
  /** Carátula RutEmisor (canonical). */
  rutEmisor?: string;
  /** Carátula RutReceptor as the envelope states it (canonical), for RecepcionEnvio/RutReceptor. */
  rutReceptor?: string;
  /** One per document that can be named in a RecepcionDTE (types 33, 34, 46, 52, 56, 61), in envelope order. */
  documentos: RecepcionDte[];
}

const glosa = (base: string, detail?: string): string => (detail ? `${base}: ${detail}` : base).slice(0, 256);

/** Canonical RUT, or undefined when it is not a RUT at all (the check digit is not judged here). */
function rutOrUndefined(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return Rut.parse(s, { validateDv: false }).canonical;
  } catch {
    return undefined;
  }
}

/** Only what toLatin1Text can write (received text is echoed into our answer). */
function safeText(s: string): string {
  try {
    return toLatin1Text(s, 'glosa');
  } catch {
    return s.replace(/[^\n\x20-\x7E\xA0-\xFF]/g, '?');
  }
}

/**
 * What the receiver answers for a received envelope, from verifyXml's report.
 *
 * EstadoRecepEnv, first that applies: 91 not readable XML; 90 `envelopeSeenBefore`; 1
 * `schemaErrors` non-empty, or the root is not EnvioDTE (an EnvioBOLETA, a lone DTE…); 2 the SetDTE
 * signature is missing or invalid (any envelope-level signature invalid); 3 carátula RutReceptor ≠
 * `rutReceptor`; else 0. This is LibreDTE's order (EnvioDte::getEstadoValidacion: schema → firma →
 * receptor).
 *
 * EstadoRecepDTE per document, first that applies: 99 the document could not be read (its
 * identifying fields were readable, the rest was not); 1 its signature is missing/invalid or its
 * TED is invalid; 2 its RUTEmisor ≠ the carátula RutEmisor; 3 its RUTRecep ≠ `rutReceptor`; 4
 * `seenBefore` or already earlier in this envelope; else 0 (LibreDTE's Dte::getEstadoValidacion:
 * firma → RUT emisor → RUT receptor). Documents are assessed even when the envelope is rejected (a
 * DTE tampered after the envelope was signed gives envelope 2 and that document 1). A totals
 * mismatch does not refuse reception (a commercial matter: answer it with ResultadoDTE).
 * Documents that cannot be named in a RecepcionDTE (unreadable TipoDTE/Folio/FchEmis/RUTs, or a
 * type outside 33/34/46/52/56/61) are left out and counted in the glosa.
 */
export function assessReceived(v: XmlVerification, opts: AssessOptions): ReceivedAssessment {
  const company = rut(opts.rutReceptor, 'rutReceptor', false);
  const root = v.doc?.root;
  if (!v.doc || !root || v.root === '') {
    const why = v.errors[0]?.message;
    return { estadoRecepEnv: 91, recepEnvGlosa: glosa(GLOSA_RECEP_ENV[91], why ? safeText(why) : undefined), documentos: [] };
  }
  return assessParsed(v, root, company, opts);
}

function assessParsed(v: XmlVerification, root: XmlElement, company: string, opts: AssessOptions): ReceivedAssessment {
  const set = root.local === 'EnvioDTE' ? child(root, 'SetDTE') : undefined;
  const car = set ? child(set, 'Caratula') : undefined;
  const out: ReceivedAssessment = { estadoRecepEnv: 0, recepEnvGlosa: '', documentos: [] };
  const setId = set ? attr(set, 'ID') : undefined;
  if (setId !== undefined) out.envioDteId = setId;
  const envRutEmisor = rutOrUndefined(car ? childText(car, 'RutEmisor') : undefined);
  const envRutReceptor = rutOrUndefined(car ? childText(car, 'RutReceptor') : undefined);
  if (envRutEmisor) out.rutEmisor = envRutEmisor;
  if (envRutReceptor) out.rutReceptor = envRutReceptor;

  // The SetDTE signature: the root's Signature whose Reference points at SetDTE@ID.
  const setSig = setId === undefined ? undefined : v.envelopeSignatures.find((s) => s.referenceUri === `#${setId}`);
  if (setId !== undefined) {
    const sigEl = findAll(root, 'Signature').find((s) => s.parent === root && referenceUri(s) === `#${setId}`);
    const dv = sigEl ? digestValue(sigEl) : undefined;
    if (dv) out.digest = dv;
  }

  let estado: EstadoRecepEnv = 0;
  let detail: string | undefined;
  if (opts.envelopeSeenBefore) {
    estado = 90;
  } else if (opts.schemaErrors && opts.schemaErrors.length > 0) {
    estado = 1;
    detail = opts.schemaErrors.slice(0, 3).join('; ');
  } else if (root.local !== 'EnvioDTE' || !set || !car) {
    estado = 1;
    detail = root.local !== 'EnvioDTE' ? `el archivo es ${root.local}, no EnvioDTE` : 'falta SetDTE/Caratula';
  } else if (!setSig || !setSig.valid || v.envelopeSignatures.some((s) => !s.valid)) {
    estado = 2;
    const bad = setSig && !setSig.valid ? setSig : v.envelopeSignatures.find((s) => !s.valid);
    detail = !setSig ? 'SetDTE no esta firmado' : bad?.error?.message;
  } else if (envRutReceptor !== company) {
    estado = 3;
    detail = `RutReceptor ${childText(car, 'RutReceptor') ?? ''} no es ${company}`;
  }

  const skipped: string[] = [];
  if (estado !== 90) {
    const dteEls = root.local === 'DTE' ? [root] : findAll(root, 'DTE');
    const seen = new Set<string>();
    v.documents.forEach((d, n) => {
      const r = assessDocument(d, dteEls[n], { company, envRutEmisor, seen, seenBefore: opts.seenBefore });
      if (typeof r === 'string') skipped.push(r);
      else out.documentos.push(r);
    });
  }
  if (estado === 0 && root.local === 'EnvioDTE' && v.documents.length === 0) {
    estado = 99;
    detail = 'el envio no contiene DTE';
  }
  const notes = [detail, skipped.length > 0 ? `${skipped.length} documento(s) no informable(s): ${skipped.join(', ')}` : undefined].filter(Boolean).join('; ');
  out.estadoRecepEnv = estado;
  out.recepEnvGlosa = glosa(GLOSA_RECEP_ENV[estado], notes ? safeText(notes) : undefined);
  return out;
}

function referenceUri(sig: XmlElement): string | undefined {
  const si = child(sig, 'SignedInfo');
  const ref = si ? child(si, 'Reference') : undefined;
  return ref ? attr(ref, 'URI') : undefined;
}

function digestValue(sig: XmlElement): string | undefined {
  const si = child(sig, 'SignedInfo');
  const ref = si ? child(si, 'Reference') : undefined;
  const dv = ref ? childText(ref, 'DigestValue') : undefined;
  const s = dv?.replace(/\s+/g, '');
  return s && /^[A-Za-z0-9+/]+={0,2}$/.test(s) && s.length % 4 === 0 ? s : undefined;
}

interface DocContext {
  company: string;
  envRutEmisor: string | undefined;
  seen: Set<string>;
  seenBefore: AssessOptions['seenBefore'];
}

/** The RecepcionDTE for one document, or a short reason why it cannot be named. */
function assessDocument(d: DocumentVerification, element: XmlElement | undefined, ctx: DocContext): RecepcionDte | string {
  // Identifying fields: from the typed model, else straight from the element (a document our
  // reader refused can still be answered).
  const enc = d.dte?.encabezado;
  const raw = element ? rawFields(element) : {};
  const tipoDte = enc?.idDoc.tipoDte ?? raw.tipoDte;
  const folio = enc?.idDoc.folio ?? raw.folio;
  const fchEmis = enc?.idDoc.fchEmis ?? raw.fchEmis;
  const rutEmisor = rutOrUndefined(enc?.emisor.rutEmisor ?? raw.rutEmisor);
  const rutRecep = rutOrUndefined(enc?.receptor.rutRecep ?? raw.rutRecep);
  const mnt = enc?.totales.mntTotal ?? raw.mntTotal ?? 0;
  const label = `${tipoDte ?? '?'}/${folio ?? '?'}`;
  if (tipoDte === undefined || !TIPOS_RESPUESTA.includes(tipoDte)) return `tipo ${tipoDte ?? '?'} (${label})`;
  if (folio === undefined || !Number.isSafeInteger(folio) || folio < 1 || folio > 9_999_999_999) return label;
  if (fchEmis === undefined || !DATE_RE.test(fchEmis)) return label;
  if (!rutEmisor || !rutRecep) return label;
  const mntTotal = Number.isFinite(mnt) ? Math.max(0, Math.round(mnt)) : 0;

  let estado: EstadoRecepDte = 0;
  let detail: string | undefined;
  const key = `${rutEmisor}|${tipoDte}|${folio}`;
  const firma = !d.signature ? 'sin firma' : !d.signature.valid ? `firma: ${d.signature.error?.message ?? 'invalida'}` : undefined;
  const ted = !d.ted ? 'sin TED' : !d.ted.valid ? `TED: ${d.ted.error?.message ?? d.ted.fieldMismatches.map((m) => m.field).join(', ')}` : undefined;
  if (!d.dte) {
    estado = 99;
    detail = d.errors[0]?.message ?? 'documento ilegible';
  } else if (firma || ted) {
    estado = 1;
    detail = [firma, ted].filter(Boolean).join('; ');
  } else if (ctx.envRutEmisor !== undefined && rutEmisor !== ctx.envRutEmisor) {
    estado = 2;
    detail = `RUTEmisor ${rutEmisor} no es el de la caratula ${ctx.envRutEmisor}`;
  } else if (rutRecep !== ctx.company) {
    estado = 3;
    detail = `RUTRecep ${rutRecep} no es ${ctx.company}`;
  } else if (ctx.seen.has(key) || ctx.seenBefore?.({ rutEmisor, tipoDte, folio })) {
    estado = 4;
  }
  ctx.seen.add(key);
  return {
    tipoDte,
    folio,
    fchEmis,
    rutEmisor,
    rutRecep,
    mntTotal,
    estadoRecepDte: estado,
    recepDteGlosa: glosa(GLOSA_RECEP_DTE[estado], detail ? safeText(detail) : undefined),
  };
}

function rawFields(dte: XmlElement): { tipoDte?: number; folio?: number; fchEmis?: string; rutEmisor?: string; rutRecep?: string; mntTotal?: number } {
  const doc = ['Documento', 'Exportaciones', 'Liquidacion'].map((n) => child(dte, n)).find(Boolean);
  const enc = doc ? child(doc, 'Encabezado') : undefined;
  if (!enc) return {};
  const idDoc = child(enc, 'IdDoc');
  const emisor = child(enc, 'Emisor');
  const receptor = child(enc, 'Receptor');
  const totales = child(enc, 'Totales');
  const num = (s: string | undefined) => (s !== undefined && /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : undefined);
  const out: ReturnType<typeof rawFields> = {};
  const tipo = num(idDoc ? childText(idDoc, 'TipoDTE') : undefined);
  const folio = num(idDoc ? childText(idDoc, 'Folio') : undefined);
  const fch = idDoc ? childText(idDoc, 'FchEmis') : undefined;
  const re = emisor ? childText(emisor, 'RUTEmisor') : undefined;
  const rr = receptor ? childText(receptor, 'RUTRecep') : undefined;
  const mnt = num(totales ? childText(totales, 'MntTotal') : undefined);
  if (tipo !== undefined) out.tipoDte = tipo;
  if (folio !== undefined) out.folio = folio;
  if (fch !== undefined) out.fchEmis = fch;
  if (re !== undefined) out.rutEmisor = re;
  if (rr !== undefined) out.rutRecep = rr;
  if (mnt !== undefined) out.mntTotal = mnt;
  return out;
}
