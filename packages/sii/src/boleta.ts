/**
 * Boleta REST API (Res. Ex. 74/2020; sii-spec §12). A token of its own (semilla/token in auth.ts);
 * every call carries a browser-like User-Agent (the envío gateway answers 401 "NO ESTA AUTENTICADO"
 * to other agents even with a valid token) and `Cookie: TOKEN=…`.
 *
 * - envío: `POST {boletaEnvio}/recursos/v1/boleta.electronica.envio` (pangal/rahue), multipart like
 *   DTEUpload, `Accept: application/json` → `{rut_emisor, rut_envia, trackid, fecha_recepcion,
 *   estado: "REC", file}`.
 * - estado of an envío: `GET {boletaApi}/recursos/v1/boleta.electronica.envio/{rut}-{dv}-{trackid}` →
 *   `{…, estado, estadistica: [{tipo, informados, aceptados, rechazados, reparos}], detalle_rep_rech:
 *   [{tipo, folio, estado, descripcion, error: [{seccion, linea, nivel, codigo, descripcion, detalle}]}]}`.
 * - estado of a boleta: `GET {boletaApi}/recursos/v1/boleta.electronica/{rut}-{dv}-{tipo}-{folio}/estado
 *   ?rut_receptor=&dv_receptor=&monto=&fechaEmision=` → `{codigo, descripcion}` (DOK, DNK, FAU…).
 */
import { describeCode } from './codes.js';
import type { ResolvedEnvironment } from './environment.js';
import { SiiError, withAttempts, type SiiOperation } from './errors.js';
import { envioOutcome, type EnvioCount, type EnvioOutcome } from './estado.js';
import type { SiiHttpResponse, SiiTransport } from './transport.js';
import { buildUploadMultipart, unknownOutcome, type SendEnvelopeResult } from './upload.js';
import { assertTrackId, excerpt, looksLikeHtml, splitRut } from './wire.js';

/** Browser-like agent with the "PROG 1.0" marker the SII's gateways look for. */
export const BOLETA_USER_AGENT = 'Mozilla/4.0 (compatible; PROG 1.0; Windows NT 5.0; YComp 5.0.2.4)';

// ------------------------------------------------------------------------------------------------
// JSON reading (untrusted input)
// ------------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function parseJson(body: Uint8Array | string, op: SiiOperation, contentType = ''): { value: { [k: string]: Json }; raw: string } {
  if (looksLikeHtml(body, contentType)) {
    throw new SiiError('ERR_SII_UNAVAILABLE', op, `${op}: the SII answered an HTML page instead of JSON (maintenance or transient error): ${excerpt(body)}`);
  }
  const raw = typeof body === 'string' ? body : decodeJsonBytes(body);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (cause) {
    throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: unreadable JSON answer: ${excerpt(raw)}`, { cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: expected a JSON object: ${excerpt(raw)}`);
  }
  return { value: value as { [k: string]: Json }, raw };
}

/** UTF-8 when valid, else ISO-8859-1 (the SII's own encoding). */
function decodeJsonBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

const str = (v: Json | undefined): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

function int(v: Json | undefined, name: string, op: SiiOperation): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v === undefined || v === null ? 0 : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: ${name} ${JSON.stringify(v)} is not a count`);
  return n;
}

/**
 * The track id exactly as written in the JSON text: a JSON number would lose leading zeros (and
 * digits beyond 2^53), so the digits are taken from the raw text.
 */
function rawTrackId(raw: string, value: Json | undefined): string | undefined {
  const m = /"trackid"\s*:\s*"?(\d{1,30})"?/i.exec(raw);
  if (m?.[1]) return m[1];
  const s = str(value);
  return s && /^\d+$/.test(s) ? s : undefined;
}

// ------------------------------------------------------------------------------------------------
// Envío
// ------------------------------------------------------------------------------------------------

export interface BoletaEnvioRecepcion {
  trackId?: string;
  estado?: string;
  rutEmisor?: string;
  rutEnvia?: string;
  fechaRecepcion?: string;
  file?: string;
}

/** Read the envío answer `{rut_emisor, rut_envia, trackid, fecha_recepcion, estado, file}`. */
export function parseBoletaEnvioResponse(body: Uint8Array | string, contentType = ''): BoletaEnvioRecepcion {
  const { value, raw } = parseJson(body, 'boleta.envio', contentType);
  const out: BoletaEnvioRecepcion = {};
  const trackId = rawTrackId(raw, value.trackid ?? value.trackId ?? value.TRACKID);
  if (trackId) out.trackId = trackId;
  const set = (k: keyof BoletaEnvioRecepcion, v: Json | undefined) => {
    const s = str(v);
    if (s !== undefined) out[k] = s;
  };
  set('estado', value.estado);
  set('rutEmisor', value.rut_emisor);
  set('rutEnvia', value.rut_envia);
  set('fechaRecepcion', value.fecha_recepcion);
  set('file', value.file);
  return out;
}

export interface BoletaUploadInput {
  xml: Uint8Array;
  rutSender: string;
  rutCompany: string;
  fileName?: string;
  userAgent?: string;
}

/**
 * Upload an EnvioBOLETA to the boleta REST envío. Resolves `received` (trackId, estado REC) or
 * `unknown` (answer lost); throws ERR_SII_TOKEN_EXPIRED (HTTP 401: also what the SII answers to a
 * User-Agent it does not accept), ERR_SII_UPLOAD_REJECTED (HTTP 400, or an answer without track id),
 * ERR_SII_PROTOCOL (other statuses).
 */
export async function sendBoletaEnvelope(transport: SiiTransport, env: ResolvedEnvironment, token: string, input: BoletaUploadInput): Promise<SendEnvelopeResult> {
  if (!(input.xml instanceof Uint8Array)) throw new TypeError('sendBoletaEnvelope: xml must be the envelope bytes (Uint8Array), not a string');
  const { body, contentType } = buildUploadMultipart({
    rutSender: input.rutSender,
    rutCompany: input.rutCompany,
    file: input.xml,
    ...(input.fileName !== undefined ? { fileName: input.fileName } : {}),
  });
  let res: SiiHttpResponse;
  try {
    res = await transport.request({
      operation: 'boleta.envio',
      method: 'POST',
      url: env.endpoints.boletaEnvio,
      headers: {
        'Content-Type': contentType,
        // Explicit length, one Buffer body: never chunked (the gateway would read only ~4 KB).
        'Content-Length': String(body.length),
        Cookie: `TOKEN=${token}`,
        'User-Agent': input.userAgent ?? BOLETA_USER_AGENT,
        Accept: 'application/json',
      },
      body,
      expect: 'json',
      idempotent: false,
    });
  } catch (e) {
    return unknownOutcome(e);
  }
  restStatus(res, 'boleta.envio');
  let r: BoletaEnvioRecepcion;
  try {
    r = parseBoletaEnvioResponse(res.body, res.contentType);
  } catch (e) {
    if (e instanceof SiiError && e.code === 'ERR_SII_PROTOCOL') {
      const error = e.withAttempts(res.attempts);
      return { kind: 'unknown', reason: 'unreadable_answer', detail: error.message, attempts: res.attempts, error };
    }
    throw e;
  }
  if (!r.trackId) {
    throw new SiiError('ERR_SII_UPLOAD_REJECTED', 'boleta.envio', `boleta.electronica.envio: no track id in the answer (estado ${r.estado ?? '-'}): ${excerpt(res.body)}`, {
      ...(r.estado ? { siiCode: r.estado } : {}),
      attempts: res.attempts,
      httpStatus: res.status,
    });
  }
  return {
    kind: 'received',
    trackId: r.trackId,
    attempts: res.attempts,
    ...(r.fechaRecepcion ? { timestamp: r.fechaRecepcion } : {}),
    ...(r.estado ? { estado: r.estado } : {}),
  };
}

/** Status mapping shared by the REST calls: 401 → token refused, 400 → refused, other non-2xx → protocol. */
function restStatus(res: SiiHttpResponse, op: SiiOperation): void {
  if (res.status >= 200 && res.status < 300) return;
  const text = excerpt(res.body);
  const base = { httpStatus: res.status, attempts: res.attempts, glosa: text };
  if (res.status === 401 || res.status === 403) {
    throw new SiiError('ERR_SII_TOKEN_EXPIRED', op, `${op}: HTTP ${res.status} ${text} (token refused — or a User-Agent the SII does not accept)`, base);
  }
  if (res.status === 400 && op === 'boleta.envio') {
    throw new SiiError('ERR_SII_UPLOAD_REJECTED', op, `${op}: HTTP 400 ${text}`, base);
  }
  if (res.status === 400 || res.status === 404) {
    throw new SiiError('ERR_SII_QUERY_FAILED', op, `${op}: HTTP ${res.status} ${text}`, base);
  }
  throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: HTTP ${res.status} ${text}`, base);
}

// ------------------------------------------------------------------------------------------------
// Estado of an envío
// ------------------------------------------------------------------------------------------------

export interface BoletaError {
  seccion?: string;
  linea?: number;
  nivel?: number;
  codigo?: string;
  descripcion?: string;
  detalle?: string;
}

export interface BoletaDetalle {
  tipoDte?: number;
  folio?: number;
  /** Per-boleta estado (RCH, RPR…). */
  estado?: string;
  descripcion?: string;
  errores: BoletaError[];
}

export interface EstadoEnvioBoleta {
  trackId: string;
  estado: string;
  glosa: string;
  final: boolean;
  outcome: EnvioOutcome;
  counts: EnvioCount[];
  /** Rejected and repaired boletas with the SII's reasons (codes per boleta, unlike QueryEstUp). */
  detalle: BoletaDetalle[];
  rutEmisor?: string;
  rutEnvia?: string;
  fechaRecepcion?: string;
}

/** Read the estado of an envío. Throws ERR_SII_PROTOCOL for an unknown estado. */
export function parseBoletaEnvioEstadoResponse(body: Uint8Array | string, trackIdRequested: string, contentType = ''): EstadoEnvioBoleta {
  const op: SiiOperation = 'boleta.envio.estado';
  const { value, raw } = parseJson(body, op, contentType);
  const estado = str(value.estado);
  if (!estado) throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: answer without estado: ${excerpt(raw)}`);
  const counts: EnvioCount[] = [];
  const est = value.estadistica;
  if (Array.isArray(est)) {
    for (const s of est) {
      if (s === null || typeof s !== 'object' || Array.isArray(s)) continue;
      counts.push({
        tipoDte: int(s.tipo, 'estadistica.tipo', op),
        informados: int(s.informados, 'estadistica.informados', op),
        aceptados: int(s.aceptados, 'estadistica.aceptados', op),
        rechazados: int(s.rechazados, 'estadistica.rechazados', op),
        reparos: int(s.reparos, 'estadistica.reparos', op),
      });
    }
  }
  const detalle: BoletaDetalle[] = [];
  const det = value.detalle_rep_rech;
  if (Array.isArray(det)) {
    for (const d of det) {
      if (d === null || typeof d !== 'object' || Array.isArray(d)) continue;
      const item: BoletaDetalle = { errores: [] };
      if (d.tipo !== undefined && d.tipo !== null) item.tipoDte = int(d.tipo, 'detalle_rep_rech.tipo', op);
      if (d.folio !== undefined && d.folio !== null) item.folio = int(d.folio, 'detalle_rep_rech.folio', op);
      const e2 = str(d.estado);
      if (e2 !== undefined) item.estado = e2;
      const desc = str(d.descripcion);
      if (desc !== undefined) item.descripcion = desc;
      if (Array.isArray(d.error)) {
        for (const x of d.error) {
          if (x === null || typeof x !== 'object' || Array.isArray(x)) continue;
          const err: BoletaError = {};
          const s = (k: 'seccion' | 'codigo' | 'descripcion' | 'detalle', v: Json | undefined) => {
            const t = str(v);
            if (t !== undefined) err[k] = t;
          };
          s('seccion', x.seccion);
          s('codigo', x.codigo);
          s('descripcion', x.descripcion);
          s('detalle', x.detalle);
          if (typeof x.linea === 'number') err.linea = x.linea;
          if (typeof x.nivel === 'number') err.nivel = x.nivel;
          item.errores.push(err);
        }
      }
      detalle.push(item);
    }
  }
  const o = envioOutcome(estado, counts);
  const info = describeCode(estado, 'estado.envio');
  if (info?.outcome === 'token_expired') throw new SiiError('ERR_SII_TOKEN_EXPIRED', op, `${op}: token refused (${estado})`, { siiCode: estado });
  if (!o) throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: unknown estado "${estado}"`, { siiCode: estado });
  const trackId = rawTrackId(raw, value.trackid) ?? trackIdRequested;
  const out: EstadoEnvioBoleta = { trackId, estado, glosa: str(value.glosa) ?? info?.meaning ?? '', ...o, counts, detalle };
  const rutEmisor = str(value.rut_emisor);
  if (rutEmisor) out.rutEmisor = rutEmisor;
  const rutEnvia = str(value.rut_envia);
  if (rutEnvia) out.rutEnvia = rutEnvia;
  const fecha = str(value.fecha_recepcion);
  if (fecha) out.fechaRecepcion = fecha;
  return out;
}

export async function queryBoletaEnvioEstado(
  transport: SiiTransport,
  env: ResolvedEnvironment,
  token: string,
  p: { rutEmisor: string; trackId: string; userAgent?: string },
): Promise<EstadoEnvioBoleta> {
  assertTrackId(p.trackId, 'boleta.envio.estado');
  const { digits, dv } = splitRut(p.rutEmisor, 'rutEmisor');
  const res = await transport.request({
    operation: 'boleta.envio.estado',
    method: 'GET',
    url: env.endpoints.boletaEnvioEstado(digits, dv, p.trackId),
    headers: { Cookie: `TOKEN=${token}`, 'User-Agent': p.userAgent ?? BOLETA_USER_AGENT, Accept: 'application/json' },
    expect: 'json',
    idempotent: true,
  });
  return withAttempts(res.attempts, () => {
    restStatus(res, 'boleta.envio.estado');
    return parseBoletaEnvioEstadoResponse(res.body, p.trackId, res.contentType);
  });
}

// ------------------------------------------------------------------------------------------------
// Estado of one boleta
// ------------------------------------------------------------------------------------------------

export interface EstadoBoletaQuery {
  rutEmisor: string;
  /** 39 or 41. */
  tipoDte: number;
  folio: number;
  rutReceptor: string;
  montoTotal: number;
  /** `AAAA-MM-DD` (sent as DD-MM-AAAA). */
  fechaEmision: string;
  userAgent?: string;
}

export interface EstadoBoleta {
  /** DOK, DNK, FAU, FNA, FAN, EMP, TMD, TMC, MMD, MMC, AND, ANC. */
  estado: string;
  glosa: string;
  /** The SII has the boleta (false for FAU, FNA, FAN, EMP). */
  recibido: boolean;
}

/** Read `{codigo, descripcion}`. Throws ERR_SII_PROTOCOL for an unknown code. */
export function parseBoletaEstadoResponse(body: Uint8Array | string, contentType = ''): EstadoBoleta {
  const op: SiiOperation = 'boleta.estado';
  const { value, raw } = parseJson(body, op, contentType);
  const estado = str(value.codigo) ?? str(value.estado);
  if (!estado) throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: answer without codigo: ${excerpt(raw)}`);
  const info = describeCode(estado, 'estado.dte');
  if (!info || !/^[A-Z]{3}$/.test(estado)) throw new SiiError('ERR_SII_PROTOCOL', op, `${op}: unknown codigo "${estado}"`, { siiCode: estado });
  return { estado, glosa: str(value.descripcion) ?? str(value.glosa) ?? info.meaning, recibido: !['FAU', 'FNA', 'FAN', 'EMP'].includes(estado) };
}

/** `2026-11-28` → `28-11-2026`. */
function toDdMmAaaa(fecha: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(fecha);
  if (!m) throw new SiiError('ERR_SII_PROTOCOL', 'boleta.estado', `fechaEmision "${fecha}" is not AAAA-MM-DD`);
  return `${m[3]}-${m[2]}-${m[1]}`;
}

/** The URL of a boleta's estado, query string included. */
export function boletaEstadoUrl(env: ResolvedEnvironment, q: EstadoBoletaQuery): string {
  const emisor = splitRut(q.rutEmisor, 'rutEmisor');
  const receptor = splitRut(q.rutReceptor, 'rutReceptor');
  for (const [name, v] of [['tipoDte', q.tipoDte], ['folio', q.folio], ['montoTotal', q.montoTotal]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new SiiError('ERR_SII_PROTOCOL', 'boleta.estado', `${name} ${v} is not a non-negative integer`);
  }
  const qs = new URLSearchParams({ rut_receptor: receptor.digits, dv_receptor: receptor.dv, monto: String(q.montoTotal), fechaEmision: toDdMmAaaa(q.fechaEmision) });
  return `${env.endpoints.boletaEstado(emisor.digits, emisor.dv, q.tipoDte, q.folio)}?${qs.toString()}`;
}

export async function queryBoletaEstado(transport: SiiTransport, env: ResolvedEnvironment, token: string, q: EstadoBoletaQuery): Promise<EstadoBoleta> {
  const res = await transport.request({
    operation: 'boleta.estado',
    method: 'GET',
    url: boletaEstadoUrl(env, q),
    headers: { Cookie: `TOKEN=${token}`, 'User-Agent': q.userAgent ?? BOLETA_USER_AGENT, Accept: 'application/json' },
    expect: 'json',
    idempotent: true,
  });
  return withAttempts(res.attempts, () => {
    restStatus(res, 'boleta.estado');
    return parseBoletaEstadoResponse(res.body, res.contentType);
  });
}
