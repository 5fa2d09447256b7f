/**
 * DTEUpload (sii-spec §10): an emulated browser upload of an EnvioDTE (or libro, RCOF, certification
 * EnvioBOLETA) to `/cgi_dte/UPL/DTEUpload`.
 *
 * The request is multipart/form-data built by hand, fields in this order: rutSender, dvSender (the
 * certificate holder), rutCompany, dvCompany (the issuer), archivo (filename, `Content-Type:
 * text/xml`, the envelope's ISO-8859-1 bytes untouched). DVs are upper-case. The body is one Buffer,
 * so it goes out with a Content-Length and never chunked (the gateway reads ~4 KB of a chunked body
 * and reports `LPX-00007 unexpected end-of-file`). Headers: `Cookie: TOKEN=…` and the User-Agent
 * `Mozilla/4.0 (compatible; PROG 1.0; Windows NT 5.0; YComp 5.0.2.4)` (without "PROG 1.0" the SII
 * answers an HTML page instead of XML).
 *
 * The answer is `<RECEPCIONDTE>` with STATUS: 0 received (TRACKID, leading zeros kept), 1–9 refused
 * (5 = token), 99 duplicate ("Archivo ya fue enviado N veces con Trackid X…"), with DETAIL/ERROR items
 * or loose text after STATUS. STATUS 0 is "received", not "accepted": poll QueryEstUp.
 */
import { randomBytes } from 'node:crypto';
import { findAll, textOf, type XmlElement } from '@timbre/dte';
import { describeCode } from './codes.js';
import type { ResolvedEnvironment } from './environment.js';
import { SiiError, withAttempts } from './errors.js';
import type { SiiTransport } from './transport.js';
import { excerpt, findFirst, parseAnswerXml, splitRut, textAt } from './wire.js';

/** The User-Agent of the SII's upload manual (UPL §2 fig. 2.3): makes DTEUpload answer XML. */
export const DTEUPLOAD_USER_AGENT = 'Mozilla/4.0 (compatible; PROG 1.0; Windows NT 5.0; YComp 5.0.2.4)';

// ------------------------------------------------------------------------------------------------
// Outcome of an upload (DTEUpload and the boleta REST envío)
// ------------------------------------------------------------------------------------------------

export type SendEnvelopeResult =
  /** Received (STATUS 0 / boleta `REC`): NOT yet accepted; poll the track id. */
  | { kind: 'received'; trackId: string; timestamp?: string; attempts: number; estado?: string }
  /** STATUS 99: the SII already had this file; `trackId` is the earlier upload's when the text names it. */
  | { kind: 'duplicate'; trackId?: string; detail: string; timesSent?: number; waitSeconds?: number; attempts: number }
  /**
   * The request went out and its answer was lost (timeout, connection dropped, gateway error, or an
   * unreadable answer): the SII may or may not have the file. Check the status (or upload the SAME
   * bytes again: the SII answers STATUS 99 with the earlier track id) — never build a new envelope.
   */
  | { kind: 'unknown'; reason: 'timeout' | 'connection_lost' | 'gateway' | 'unreadable_answer'; detail: string; attempts: number; error: SiiError };

// ------------------------------------------------------------------------------------------------
// Multipart
// ------------------------------------------------------------------------------------------------

export interface UploadMultipartInput {
  /** Certificate holder, `12345678-5`. */
  rutSender: string;
  /** Issuing company, `76086428-5`. */
  rutCompany: string;
  /** The envelope bytes exactly as signed (ISO-8859-1). */
  file: Uint8Array;
  /** Default `envio.xml`; only `[A-Za-z0-9._-]` are kept. */
  fileName?: string;
  /** Default `text/xml` (UPL Anexo 3). */
  fileContentType?: string;
  /** Default: random. */
  boundary?: string;
}

/**
 * The multipart/form-data body of an upload, as one Buffer.
 *
 * @example
 * ```ts
 * const { body, contentType } = buildUploadMultipart({ rutSender: '12345678-5', rutCompany: '76086428-5', file: envioBytes });
 * ```
 */
export function buildUploadMultipart(input: UploadMultipartInput): { body: Buffer; contentType: string; boundary: string } {
  const sender = splitRut(input.rutSender, 'rutSender');
  const company = splitRut(input.rutCompany, 'rutCompany');
  const fileName = sanitizeFileName(input.fileName ?? 'envio.xml');
  const fileType = input.fileContentType ?? 'text/xml';
  const file = Buffer.from(input.file.buffer, input.file.byteOffset, input.file.byteLength);
  let boundary = input.boundary ?? newBoundary();
  while (file.includes(boundary)) boundary = newBoundary();
  if (!/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/.test(boundary)) throw new TypeError(`invalid multipart boundary "${boundary}"`);

  const fieldPart = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head =
    fieldPart('rutSender', sender.digits) +
    fieldPart('dvSender', sender.dv) +
    fieldPart('rutCompany', company.digits) +
    fieldPart('dvCompany', company.dv) +
    `--${boundary}\r\nContent-Disposition: form-data; name="archivo"; filename="${fileName}"\r\nContent-Type: ${fileType}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const body = Buffer.concat([Buffer.from(head, 'latin1'), file, Buffer.from(tail, 'latin1')]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}`, boundary };
}

function newBoundary(): string {
  return `----TimbreBoundary${randomBytes(12).toString('hex')}`;
}

function sanitizeFileName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  return clean === '' ? 'envio.xml' : clean;
}

// ------------------------------------------------------------------------------------------------
// RECEPCIONDTE
// ------------------------------------------------------------------------------------------------

export interface RecepcionDte {
  status: number;
  /** As sent by the SII (leading zeros kept). */
  trackId?: string;
  /** `2002-11-25 18:51:44` as sent. */
  timestamp?: string;
  rutSender?: string;
  rutCompany?: string;
  file?: string;
  /** DETAIL/ERROR items, then loose text found after STATUS, in order. */
  detail: string[];
}

/**
 * Read a DTEUpload answer. Throws ERR_SII_UNAVAILABLE for an HTML page (transient), ERR_SII_PROTOCOL
 * when it is not a RECEPCIONDTE with a numeric STATUS.
 */
export function parseRecepcionDte(body: Uint8Array | string, contentType = ''): RecepcionDte {
  const root = parseAnswerXml(body, 'DTEUpload', contentType);
  const rec = findFirst(root, 'RECEPCIONDTE');
  if (!rec) throw new SiiError('ERR_SII_PROTOCOL', 'DTEUpload', `DTEUpload: expected <RECEPCIONDTE>, got <${root.name}>: ${excerpt(body)}`);
  const statusText = textAt(rec, 'STATUS');
  if (statusText === undefined || !/^-?\d+$/.test(statusText)) {
    throw new SiiError('ERR_SII_PROTOCOL', 'DTEUpload', `DTEUpload: RECEPCIONDTE without a numeric STATUS (${statusText ?? 'absent'})`);
  }
  const detail: string[] = [];
  for (const err of findAll(rec, 'ERROR')) {
    const t = collapse(textOf(err));
    if (t) detail.push(t);
  }
  collectLooseText(rec, detail);
  const out: RecepcionDte = { status: Number(statusText), detail };
  const opt = (local: string, key: 'trackId' | 'timestamp' | 'rutSender' | 'rutCompany' | 'file') => {
    const v = textAt(rec, local);
    if (v) out[key] = v;
  };
  opt('TRACKID', 'trackId');
  opt('TIMESTAMP', 'timestamp');
  opt('RUTSENDER', 'rutSender');
  opt('RUTCOMPANY', 'rutCompany');
  opt('FILE', 'file');
  return out;
}

/** Loose text directly inside RECEPCIONDTE or DETAIL (the SII sometimes writes the reason bare). */
function collectLooseText(el: XmlElement, out: string[]): void {
  for (const c of el.children) {
    if (c.type === 'text') {
      const t = collapse(c.value);
      if (t && !out.includes(t)) out.push(t);
    } else if (c.type === 'element' && c.local === 'DETAIL') {
      collectLooseText(c, out);
    }
  }
}

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

/** What a STATUS 99 text says: times sent, earlier track id, seconds to wait. */
export function parseDuplicateText(text: string): { trackId?: string; timesSent?: number; waitSeconds?: number } {
  const out: { trackId?: string; timesSent?: number; waitSeconds?: number } = {};
  const sent = /enviado\s+(\d+)\s+ve(?:z|ces)/i.exec(text);
  if (sent?.[1]) out.timesSent = Number(sent[1]);
  const track = /track\s*-?\s*id\s*(?:n[°ºo.]*\s*)?[:=#]?\s*(\d+)/i.exec(text);
  if (track?.[1]) out.trackId = track[1];
  const wait = /esperar\s+(\d+)\s+segundos/i.exec(text);
  if (wait?.[1]) out.waitSeconds = Number(wait[1]);
  return out;
}

/**
 * The typed outcome of a RECEPCIONDTE: `received` (STATUS 0), `duplicate` (STATUS 99). Throws
 * ERR_SII_TOKEN_EXPIRED for STATUS 5, ERR_SII_UPLOAD_REJECTED (siiCode = STATUS) for the others.
 */
export function interpretRecepcionDte(r: RecepcionDte, attempts = 1): Extract<SendEnvelopeResult, { kind: 'received' | 'duplicate' }> {
  if (r.status === 0) {
    if (!r.trackId || !/^\d+$/.test(r.trackId)) {
      throw new SiiError('ERR_SII_PROTOCOL', 'DTEUpload', `DTEUpload: STATUS 0 without a numeric TRACKID (${r.trackId ?? 'absent'})`, { siiCode: '0', attempts });
    }
    return { kind: 'received', trackId: r.trackId, ...(r.timestamp ? { timestamp: r.timestamp } : {}), attempts };
  }
  const text = r.detail.join(' ');
  if (r.status === 99) {
    const d = parseDuplicateText(text);
    const trackId = d.trackId ?? (r.trackId && /^\d+$/.test(r.trackId) ? r.trackId : undefined);
    return {
      kind: 'duplicate',
      detail: text || (describeCode('99', 'upload')?.meaning ?? ''),
      attempts,
      ...(trackId ? { trackId } : {}),
      ...(d.timesSent !== undefined ? { timesSent: d.timesSent } : {}),
      ...(d.waitSeconds !== undefined ? { waitSeconds: d.waitSeconds } : {}),
    };
  }
  const info = describeCode(String(r.status), 'upload');
  const meaning = info?.meaning ?? 'Error Interno';
  const options = { siiCode: String(r.status), glosa: text || meaning, detail: r.detail, attempts };
  if (r.status === 5) {
    throw new SiiError('ERR_SII_TOKEN_EXPIRED', 'DTEUpload', `DTEUpload STATUS 5 (${meaning}): the token was refused; nothing was stored`, options);
  }
  throw new SiiError(
    'ERR_SII_UPLOAD_REJECTED',
    'DTEUpload',
    `DTEUpload refused the file: STATUS ${r.status} (${meaning})${text ? `: ${text}` : ''}${info?.fix ? `. ${info.fix}` : ''}`,
    options,
  );
}

// ------------------------------------------------------------------------------------------------
// Call
// ------------------------------------------------------------------------------------------------

export interface UploadInput {
  /** The signed envelope bytes (ISO-8859-1), sent untouched. */
  xml: Uint8Array;
  rutSender: string;
  rutCompany: string;
  fileName?: string;
  userAgent?: string;
}

/** Turn an `outcomeUnknown` transport error into the `unknown` outcome; rethrow anything else. */
export function unknownOutcome(e: unknown): Extract<SendEnvelopeResult, { kind: 'unknown' }> {
  if (!(e instanceof SiiError) || !e.outcomeUnknown) throw e;
  const reason = e.code === 'ERR_SII_TIMEOUT' ? 'timeout' : e.httpStatus === 502 || e.httpStatus === 504 ? 'gateway' : 'connection_lost';
  return { kind: 'unknown', reason, detail: e.message, attempts: e.attempts, error: e };
}

/**
 * Upload an envelope to DTEUpload. Resolves `received`, `duplicate` or `unknown` (answer lost: see
 * SendEnvelopeResult); throws ERR_SII_TOKEN_EXPIRED (STATUS 5), ERR_SII_UPLOAD_REJECTED (STATUS 1–9),
 * ERR_SII_PROTOCOL (non-2xx definite answers), ERR_SII_UNAVAILABLE / ERR_SII_CIRCUIT_OPEN (nothing
 * was processed).
 */
export async function uploadEnvelope(transport: SiiTransport, env: ResolvedEnvironment, token: string, input: UploadInput): Promise<SendEnvelopeResult> {
  if (!(input.xml instanceof Uint8Array)) throw new TypeError('uploadEnvelope: xml must be the envelope bytes (Uint8Array), not a string');
  const { body, contentType } = buildUploadMultipart({
    rutSender: input.rutSender,
    rutCompany: input.rutCompany,
    file: input.xml,
    ...(input.fileName !== undefined ? { fileName: input.fileName } : {}),
  });
  let res;
  try {
    res = await transport.request({
      operation: 'DTEUpload',
      method: 'POST',
      url: env.endpoints.dteUpload,
      headers: {
        'Content-Type': contentType,
        // Explicit length, one Buffer body: never chunked (the gateway would read only ~4 KB).
        'Content-Length': String(body.length),
        Cookie: `TOKEN=${token}`,
        'User-Agent': input.userAgent ?? DTEUPLOAD_USER_AGENT,
        Accept: 'text/xml, application/xml, */*',
      },
      body,
      expect: 'xml',
      idempotent: false,
    });
  } catch (e) {
    return unknownOutcome(e);
  }
  if (res.status < 200 || res.status >= 300) {
    throw new SiiError('ERR_SII_PROTOCOL', 'DTEUpload', `DTEUpload: HTTP ${res.status}: ${excerpt(res.body)}`, { httpStatus: res.status, attempts: res.attempts });
  }
  let parsed: RecepcionDte;
  try {
    parsed = parseRecepcionDte(res.body, res.contentType);
  } catch (e) {
    if (e instanceof SiiError && e.code === 'ERR_SII_PROTOCOL') {
      // The SII took the request and answered something unreadable: it may hold the file.
      const error = e.withAttempts(res.attempts);
      return { kind: 'unknown', reason: 'unreadable_answer', detail: error.message, attempts: res.attempts, error };
    }
    throw e;
  }
  return withAttempts(res.attempts, () => interpretRecepcionDte(parsed, res.attempts));
}
