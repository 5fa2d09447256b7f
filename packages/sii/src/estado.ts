/**
 * Status queries (sii-spec §11).
 *
 * QueryEstUp.jws `getEstUp(RutCompania, DvCompania, TrackId, Token)` — exactly these four parameters
 * (extra ones make Axis answer "No such operation") — answers an escaped `SII:RESPUESTA`:
 * RESP_HDR {TRACKID, ESTADO, GLOSA, NUM_ATENCION, ERR_CODE, SQL_CODE, SRV_CODE} and RESP_BODY with the
 * per-type counts {TIPO_DOCTO, INFORMADOS, ACEPTADOS, RECHAZADOS, REPAROS}…, in either order.
 * EPR means "envelope processed", not "accepted": the counts decide.
 *
 * QueryEstDte.jws `getEstDte(RutConsultante, DvConsultante, RutCompania, DvCompania, RutReceptor,
 * DvReceptor, TipoDte, FolioDte, FechaEmisionDte (DDMMAAAA), MontoDte, Token)` answers ESTADO
 * DOK/DNK/FAU/FNA/FAN/EMP/TMD/TMC/MMD/MMC/AND/ANC, GLOSA_ESTADO, ERR_CODE, GLOSA_ERR, NUM_ATENCION.
 *
 * Token errors (001–003) are ERR_SII_TOKEN_EXPIRED: the client gets a new token and asks once more.
 */
import { describeCode } from './codes.js';
import type { ResolvedEnvironment } from './environment.js';
import { SiiError } from './errors.js';
import type { SiiTransport } from './transport.js';
import { callDtews } from './dtews.js';
import { assertTrackId, field, parseRespuesta, soapReturnText, soapRpcEnvelope, splitRut } from './wire.js';

// ------------------------------------------------------------------------------------------------
// Envelope status (QueryEstUp)
// ------------------------------------------------------------------------------------------------

export type EnvioOutcome = 'pending' | 'accepted' | 'accepted_with_reparos' | 'rejected' | 'partially_rejected';

/** Per-type counts of a processed envelope (disjoint: informados = aceptados + rechazados + reparos). */
export interface EnvioCount {
  tipoDte: number;
  informados: number;
  aceptados: number;
  rechazados: number;
  reparos: number;
}

export interface EstadoEnvio {
  trackId: string;
  /** The SII's ESTADO (EPR, RSC, REC, -11…). */
  estado: string;
  /** The SII's GLOSA (or the catalogue's meaning when the SII sent none). */
  glosa: string;
  /** True when polling again cannot change the answer. */
  final: boolean;
  outcome: EnvioOutcome;
  counts: EnvioCount[];
  /** `532 ( 2004/06/14 16:44:20)` as sent. */
  numAtencion?: string;
  errCode?: string;
  sqlCode?: string;
  srvCode?: string;
}

export interface GetEstUpParams {
  /** The issuing company's RUT (`76086428-5`). */
  rutCompania: string;
  trackId: string;
  token: string;
}

/** The SOAP request of getEstUp: RutCompania, DvCompania, TrackId, Token — nothing else. */
export function buildGetEstUpRequest(queryEstUpUrl: string, p: GetEstUpParams): string {
  const { digits, dv } = splitRut(p.rutCompania, 'rutCompania');
  assertTrackId(p.trackId, 'QueryEstUp');
  return soapRpcEnvelope(queryEstUpUrl, 'getEstUp', [
    ['RutCompania', digits],
    ['DvCompania', dv],
    ['TrackId', p.trackId],
    ['Token', p.token],
  ]);
}

/**
 * Outcome of an envelope estado with its counts (shared with the boleta REST status): EPR/LSO/LOK
 * with the counts → accepted / accepted_with_reparos / rejected / partially_rejected; RPR/RLV →
 * accepted_with_reparos; RCH → rejected (partially when some were accepted); RSC/RCT/RFR/VOF/RPT/
 * book rejections → rejected; REC/SOK/CRT/FOK/PDR/PRD → pending. Undefined for any other code.
 */
export function envioOutcome(estado: string, counts: readonly EnvioCount[]): { outcome: EnvioOutcome; final: boolean } | undefined {
  const info = describeCode(estado, 'estado.envio');
  if (!info) return undefined;
  const sum = (k: 'aceptados' | 'rechazados' | 'reparos') => counts.reduce((a, c) => a + c[k], 0);
  const rejectedSome = () => (sum('aceptados') + sum('reparos') > 0 ? 'partially_rejected' : 'rejected');
  switch (info.outcome) {
    case 'pending':
      return { outcome: 'pending', final: false };
    case 'accepted':
      if (sum('rechazados') > 0) return { outcome: rejectedSome(), final: true };
      return { outcome: sum('reparos') > 0 ? 'accepted_with_reparos' : 'accepted', final: true };
    case 'accepted_with_reparos':
      return { outcome: sum('rechazados') > 0 ? rejectedSome() : 'accepted_with_reparos', final: true };
    case 'rejected':
      return { outcome: estado === 'RCH' && sum('rechazados') > 0 ? rejectedSome() : 'rejected', final: true };
    default:
      return undefined;
  }
}

/**
 * Read a getEstUp answer. Returns the status for envelope estados (final or not) and for `-11` with
 * ERR_CODE/SRV_CODE 2 (the SII's own "try again": pending). Throws ERR_SII_TOKEN_EXPIRED (001–003),
 * ERR_SII_QUERY_FAILED (106, -1…-14; siiCode = ESTADO), ERR_SII_PROTOCOL for an unknown ESTADO.
 */
export function parseGetEstUpResponse(body: Uint8Array | string, trackIdRequested: string, contentType = ''): EstadoEnvio {
  const inner = soapReturnText(body, 'QueryEstUp', 'getEstUpReturn', contentType);
  const r = parseRespuesta(inner, 'QueryEstUp');
  // The SII puts ESTADO in RESP_HDR; some answers carry "0 consulta correcta" there and the
  // envelope's ESTADO in RESP_BODY.
  const hdrEstado = field(r.hdr, 'ESTADO');
  const bodyEstado = field(r.body, 'ESTADO');
  const useBody = bodyEstado !== undefined && (hdrEstado === undefined || hdrEstado === '0' || hdrEstado === '00');
  const estado = useBody ? bodyEstado : hdrEstado;
  if (!estado) throw new SiiError('ERR_SII_PROTOCOL', 'QueryEstUp', 'QueryEstUp: answer without ESTADO');
  const glosaRaw = (useBody ? field(r.body, 'GLOSA') : undefined) ?? field(r.hdr, 'GLOSA') ?? '';
  const info = describeCode(estado, 'estado.envio');
  const glosa = glosaRaw || info?.meaning || '';
  const trackId = field(r.hdr, 'TRACKID') || field(r.body, 'TRACKID') || trackIdRequested;
  const numAtencion = field(r.hdr, 'NUM_ATENCION');
  const errCode = field(r.hdr, 'ERR_CODE');
  const sqlCode = field(r.hdr, 'SQL_CODE');
  const srvCode = field(r.hdr, 'SRV_CODE');
  const counts = readCounts(r.body);
  const extras = {
    ...(numAtencion ? { numAtencion } : {}),
    ...(errCode ? { errCode } : {}),
    ...(sqlCode ? { sqlCode } : {}),
    ...(srvCode ? { srvCode } : {}),
  };
  const detail: string[] = [];
  if (errCode) detail.push(`ERR_CODE=${errCode}`);
  if (sqlCode) detail.push(`SQL_CODE=${sqlCode}`);
  if (srvCode) detail.push(`SRV_CODE=${srvCode}`);
  const errOptions = { siiCode: estado, glosa, trackId, detail };

  if (info?.outcome === 'token_expired') {
    throw new SiiError('ERR_SII_TOKEN_EXPIRED', 'QueryEstUp', `QueryEstUp: token refused (${estado} ${glosa})`, errOptions);
  }
  if (estado === '-11') {
    // ERR_CODE 1 / SRV_CODE 1: the envío is not this company's or parameters are missing (definite);
    // otherwise a processing/SQL error the SII asks to retry.
    if (errCode === '1' || srvCode === '1') {
      throw new SiiError('ERR_SII_QUERY_FAILED', 'QueryEstUp', `QueryEstUp: -11 ERR_CODE ${errCode ?? '-'} SRV_CODE ${srvCode ?? '-'} (envío not of this company or missing parameters)`, errOptions);
    }
    return { trackId, estado, glosa, final: false, outcome: 'pending', counts, ...extras };
  }
  if (info?.outcome === 'error' || info?.outcome === 'retry_later') {
    throw new SiiError('ERR_SII_QUERY_FAILED', 'QueryEstUp', `QueryEstUp: ${estado} (${glosa})${info.fix ? `. ${info.fix}` : ''}`, errOptions);
  }
  const o = envioOutcome(estado, counts);
  if (!o) throw new SiiError('ERR_SII_PROTOCOL', 'QueryEstUp', `QueryEstUp: unknown ESTADO "${estado}" (${glosa})`, errOptions);
  return { trackId, estado, glosa, ...o, counts, ...extras };
}

function readCounts(body: ReadonlyArray<[string, string]>): EnvioCount[] {
  const out: EnvioCount[] = [];
  let cur: EnvioCount | undefined;
  const num = (name: string, v: string) => {
    if (!/^\d+$/.test(v)) throw new SiiError('ERR_SII_PROTOCOL', 'QueryEstUp', `QueryEstUp: ${name} "${v}" is not a count`);
    return Number(v);
  };
  for (const [k, v] of body) {
    if (k === 'TIPO_DOCTO') {
      cur = { tipoDte: num(k, v), informados: 0, aceptados: 0, rechazados: 0, reparos: 0 };
      out.push(cur);
    } else if (cur && (k === 'INFORMADOS' || k === 'ACEPTADOS' || k === 'RECHAZADOS' || k === 'REPAROS')) {
      cur[k.toLowerCase() as 'informados' | 'aceptados' | 'rechazados' | 'reparos'] = num(k, v);
    }
  }
  return out;
}

/** getEstUp → the envelope's status. */
export async function queryEstUp(transport: SiiTransport, env: ResolvedEnvironment, p: GetEstUpParams): Promise<EstadoEnvio> {
  const url = env.endpoints.queryEstUp;
  return callDtews(transport, 'QueryEstUp', url, buildGetEstUpRequest(url, p), (body, contentType) => parseGetEstUpResponse(body, p.trackId, contentType));
}

// ------------------------------------------------------------------------------------------------
// DTE status (QueryEstDte)
// ------------------------------------------------------------------------------------------------

export type EstadoDteCode = 'DOK' | 'DNK' | 'FAU' | 'FNA' | 'FAN' | 'EMP' | 'TMD' | 'TMC' | 'MMD' | 'MMC' | 'AND' | 'ANC';
const ESTADOS_DTE: ReadonlySet<string> = new Set(['DOK', 'DNK', 'FAU', 'FNA', 'FAN', 'EMP', 'TMD', 'TMC', 'MMD', 'MMC', 'AND', 'ANC']);

export interface EstadoDte {
  estado: EstadoDteCode;
  /** GLOSA_ESTADO as sent (or the catalogue's meaning). */
  glosa: string;
  /** The SII has the document (DOK, DNK and the note codes); false for FAU, FNA, FAN, EMP. */
  recibido: boolean;
  errCode?: string;
  glosaErr?: string;
  numAtencion?: string;
}

export interface EstDteQuery {
  /** Who asks (the certificate holder). */
  rutConsultante: string;
  /** The issuer. */
  rutCompania: string;
  rutReceptor: string;
  tipoDte: number;
  folio: number;
  /** `AAAA-MM-DD` (sent as DDMMAAAA). */
  fechaEmision: string;
  montoTotal: number;
}

/** `2026-11-28` → `28112026` (QueryEstDte's FechaEmisionDte). */
export function toDdmmaaaa(fecha: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(fecha);
  if (!m) throw new SiiError('ERR_SII_PROTOCOL', 'QueryEstDte', `fechaEmision "${fecha}" is not AAAA-MM-DD`);
  return `${m[3]}${m[2]}${m[1]}`;
}

/** The SOAP request of getEstDte, parameters in the WSDL's order. */
export function buildGetEstDteRequest(queryEstDteUrl: string, q: EstDteQuery, token: string): string {
  const consultante = splitRut(q.rutConsultante, 'rutConsultante');
  const compania = splitRut(q.rutCompania, 'rutCompania');
  const receptor = splitRut(q.rutReceptor, 'rutReceptor');
  for (const [name, v] of [['tipoDte', q.tipoDte], ['folio', q.folio], ['montoTotal', q.montoTotal]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new SiiError('ERR_SII_PROTOCOL', 'QueryEstDte', `${name} ${v} is not a non-negative integer`);
  }
  return soapRpcEnvelope(queryEstDteUrl, 'getEstDte', [
    ['RutConsultante', consultante.digits],
    ['DvConsultante', consultante.dv],
    ['RutCompania', compania.digits],
    ['DvCompania', compania.dv],
    ['RutReceptor', receptor.digits],
    ['DvReceptor', receptor.dv],
    ['TipoDte', String(q.tipoDte)],
    ['FolioDte', String(q.folio)],
    ['FechaEmisionDte', toDdmmaaaa(q.fechaEmision)],
    ['MontoDte', String(q.montoTotal)],
    ['Token', token],
  ]);
}

/**
 * Read a getEstDte answer. Throws ERR_SII_TOKEN_EXPIRED (001–003), ERR_SII_QUERY_FAILED (-1…-4),
 * ERR_SII_PROTOCOL for an unknown ESTADO.
 */
export function parseGetEstDteResponse(body: Uint8Array | string, contentType = ''): EstadoDte {
  const inner = soapReturnText(body, 'QueryEstDte', 'getEstDteReturn', contentType);
  const r = parseRespuesta(inner, 'QueryEstDte');
  const all = [...r.hdr, ...r.body];
  const estado = field(r.hdr, 'ESTADO') ?? field(r.body, 'ESTADO');
  if (!estado) throw new SiiError('ERR_SII_PROTOCOL', 'QueryEstDte', 'QueryEstDte: answer without ESTADO');
  const info = describeCode(estado, 'estado.dte');
  const glosa = field(all, 'GLOSA_ESTADO') || field(all, 'GLOSA') || info?.meaning || '';
  const errCode = field(all, 'ERR_CODE');
  const glosaErr = field(all, 'GLOSA_ERR');
  const numAtencion = field(all, 'NUM_ATENCION');
  const options = { siiCode: estado, glosa, detail: [glosaErr].filter((x): x is string => !!x) };
  if (info?.outcome === 'token_expired') throw new SiiError('ERR_SII_TOKEN_EXPIRED', 'QueryEstDte', `QueryEstDte: token refused (${estado} ${glosa})`, options);
  if (!ESTADOS_DTE.has(estado)) {
    if (info) throw new SiiError('ERR_SII_QUERY_FAILED', 'QueryEstDte', `QueryEstDte: ${estado} (${glosa})`, options);
    throw new SiiError('ERR_SII_PROTOCOL', 'QueryEstDte', `QueryEstDte: unknown ESTADO "${estado}" (${glosa})`, options);
  }
  return {
    estado: estado as EstadoDteCode,
    glosa,
    recibido: !['FAU', 'FNA', 'FAN', 'EMP'].includes(estado),
    ...(errCode ? { errCode } : {}),
    ...(glosaErr ? { glosaErr } : {}),
    ...(numAtencion ? { numAtencion } : {}),
  };
}

/** getEstDte → the DTE's status at the SII. */
export async function queryEstDte(transport: SiiTransport, env: ResolvedEnvironment, token: string, q: EstDteQuery): Promise<EstadoDte> {
  const url = env.endpoints.queryEstDte;
  return callDtews(transport, 'QueryEstDte', url, buildGetEstDteRequest(url, q, token), (body, contentType) => parseGetEstDteResponse(body, contentType));
}
