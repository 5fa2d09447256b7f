/**
 * RFC 9457 problem details and the one mapping from error codes to HTTP statuses.
 * Every error the service raises carries a stable `code`; the root error handler (app.ts) calls
 * `toProblem` and nothing else decides a status.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { TimbreError, TimbreValidationError } from '@timbre/dte';
import { AuthError } from '@timbre/auth';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface ProblemField {
  field: string;
  message: string;
  code: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors: ProblemField[];
  [extension: string]: unknown;
}

/** Service-level error codes (the packages' codes are mapped in STATUS_BY_CODE). */
export type ServiceErrorCode =
  | 'ERR_COMPANY_NOT_REGISTERED'
  | 'ERR_COMPANY_EXISTS'
  | 'ERR_CERT_MISSING'
  | 'ERR_CAF_DUPLICATE'
  | 'ERR_NOT_FOUND'
  | 'ERR_IDEMPOTENCY_CONFLICT'
  | 'ERR_IDEMPOTENCY_IN_PROGRESS'
  | 'ERR_BAD_REQUEST'
  | 'ERR_FOLIO_NOT_SUPPORTED'
  | 'ERR_SII_OUTCOME_UNKNOWN'
  | 'ERR_SII_SEND_FAILED'
  | 'ERR_SII_SEND_REFUSED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_NOT_IMPLEMENTED'
  | 'ERR_DTE_NOT_SIGNED'
  | 'ERR_LOGO_INVALID'
  | 'ERR_BATCH_INVALID'
  | 'ERR_BATCH_TOO_LARGE'
  | 'ERR_WEBHOOK_ALREADY_DELIVERED'
  | 'ERR_MAIL_NOT_CONFIGURED'
  | 'ERR_MAIL_AUTH'
  | 'ERR_MAIL_UNAVAILABLE'
  | 'ERR_MAIL_PROTOCOL'
  | 'ERR_RECEIVED_NOT_DTE'
  | 'ERR_RESPONSE_NOT_ALLOWED'
  | 'ERR_RCV_REFUSED';

/** An error raised by the service itself, with its status and optional problem extensions. */
export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    readonly status: number,
    message: string,
    readonly extensions: Record<string, unknown> = {},
    readonly fields: ProblemField[] = [],
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  // input, rules, totals
  ERR_RUT_INVALID: 422,
  ERR_INPUT_INVALID: 422,
  ERR_RULE_VIOLATION: 422,
  ERR_TOTALS_MISMATCH: 422,
  ERR_FIELD_TOO_LONG: 422,
  ERR_CHAR_NOT_LATIN1: 422,
  // uploaded XML / CAF files
  ERR_XML_MALFORMED: 422,
  ERR_XML_FORBIDDEN_FEATURE: 422,
  ERR_XML_TOO_LARGE: 413,
  ERR_XML_TOO_DEEP: 422,
  ERR_XML_ENCODING: 422,
  ERR_XML_UNEXPECTED: 422,
  ERR_CAF_MALFORMED: 422,
  ERR_CAF_SIGNATURE_INVALID: 422,
  ERR_CAF_UNTRUSTED_KEY: 422,
  ERR_CAF_KEY_MISMATCH: 422,
  ERR_CAF_WRONG_EMISOR: 422,
  ERR_CAF_WRONG_TIPO: 409,
  // folio availability: the request is fine, the state of the CAFs is not
  ERR_CAF_FOLIO_OUT_OF_RANGE: 409,
  ERR_CAF_EXPIRED: 409,
  ERR_CAF_NOT_YET_VALID: 409,
  // certificates
  ERR_CERT_BAD_PASSWORD: 422,
  ERR_CERT_MALFORMED: 422,
  ERR_CERT_NO_RUT: 422,
  ERR_CERT_EXPIRED: 422,
  ERR_CERT_NOT_YET_VALID: 422,
  // SII
  ERR_SII_UNAVAILABLE: 503,
  ERR_SII_TIMEOUT: 503,
  ERR_SII_CIRCUIT_OPEN: 503,
  ERR_SII_AUTH_FAILED: 502,
  ERR_SII_TOKEN_EXPIRED: 502,
  ERR_SII_UPLOAD_REJECTED: 502,
  ERR_SII_DUPLICATE_UPLOAD: 502,
  ERR_SII_QUERY_FAILED: 502,
  ERR_SII_PROTOCOL: 502,
  ERR_ENVELOPE_INVALID: 500,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  501: 'Not Implemented',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

const typeUri = (code: string): string => `urn:timbre:problem:${code.toLowerCase().replace(/^err_/, '').replace(/_/g, '-')}`;

function problem(status: number, code: string, detail: string, errors: ProblemField[] = [], ext: Record<string, unknown> = {}): Problem {
  // Extensions never override the standard members.
  return { ...ext, type: typeUri(code), title: TITLES[status] ?? 'Error', status, detail, code, errors };
}

const timbreField = (e: TimbreError): ProblemField => ({ field: e.field ?? '', message: e.message, code: e.code });

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>;
  validationContext?: string;
}

/**
 * Map any thrown value to a problem. 5xx problems never carry the internal message (`internal`
 * says whether the caller should log the error as a bug).
 */
export function toProblem(err: unknown): { problem: Problem; internal: boolean } {
  if (err instanceof ServiceError) {
    return { problem: problem(err.status, err.code, err.message, err.fields, err.extensions), internal: false };
  }
  if (err instanceof AuthError) {
    return { problem: problem(err.status, err.code, err.message), internal: false };
  }
  if (err instanceof TimbreValidationError) {
    const status = STATUS_BY_CODE[err.code] ?? 422;
    return { problem: problem(status, err.code, err.message, err.issues.map(timbreField)), internal: false };
  }
  if (err instanceof TimbreError) {
    const status = STATUS_BY_CODE[err.code] ?? 500;
    if (status >= 500 && status !== 502 && status !== 503) {
      return { problem: problem(500, 'ERR_INTERNAL', 'internal error'), internal: true };
    }
    // SII errors: the SII's code and glosa are useful to the caller and contain no secrets.
    return { problem: problem(status, err.code, err.message, err.field ? [timbreField(err)] : [], err.siiCode ? { sii_code: err.siiCode } : {}), internal: false };
  }
  const fe = err as FastifyLikeError;
  if (fe && typeof fe === 'object' && Array.isArray(fe.validation)) {
    const where = fe.validationContext ?? 'body';
    const errors = fe.validation.map((v) => {
      const missing = typeof v.params?.missingProperty === 'string' ? `/${v.params.missingProperty}` : '';
      const path = `${v.instancePath ?? ''}${missing}`.replace(/^\//, '').replace(/\//g, '.');
      return { field: path === '' ? where : path, message: v.message ?? 'invalid', code: 'ERR_INPUT_INVALID' };
    });
    return { problem: problem(400, 'ERR_BAD_REQUEST', `invalid ${where}`, errors), internal: false };
  }
  if (fe && typeof fe === 'object' && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's own client errors: malformed JSON, unsupported media type, body too large … under
    // the service's stable codes (Fastify's name stays in `fastify_code`).
    const fstCode = fe.code ?? '';
    const code = FASTIFY_CODES[fstCode] ?? 'ERR_BAD_REQUEST';
    const field = code === 'ERR_JSON_MALFORMED' || code === 'ERR_BODY_TOO_LARGE' || code === 'ERR_MEDIA_TYPE_UNSUPPORTED' ? [{ field: 'body', message: fe.message, code }] : [];
    return { problem: problem(fe.statusCode, code, fe.message, field, fstCode ? { fastify_code: fstCode } : {}), internal: false };
  }
  if (err instanceof SyntaxError) {
    return { problem: problem(400, 'ERR_BAD_REQUEST', 'malformed JSON body', [{ field: 'body', message: err.message, code: 'ERR_BAD_REQUEST' }]), internal: false };
  }
  return { problem: problem(500, 'ERR_INTERNAL', 'internal error'), internal: true };
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_JSON_MALFORMED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_JSON_MALFORMED',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_MEDIA_TYPE_UNSUPPORTED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_BAD_REQUEST',
  FST_ERR_BAD_URL: 'ERR_URL_MALFORMED',
};

export const notFound = (what: string): ServiceError => new ServiceError('ERR_NOT_FOUND', 404, `${what} not found`);

/** `WWW-Authenticate` for a 401 (RFC 9110 §11.6.1 requires one; RFC 6750 error for bad tokens). */
export const authChallenge = (code: string): string =>
  code === 'ERR_AUTH_MISSING' ? 'Bearer realm="timbre"' : 'Bearer realm="timbre", error="invalid_token"';

/**
 * Fastify's `frameworkErrors`: errors raised before routing (a URL that does not decode, a path
 * parameter over maxParamLength) would otherwise get Fastify's own JSON body.
 */
export function frameworkErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { problem: p, internal } = toProblem(err);
  if (internal) request.log.error({ err }, 'request failed');
  void reply.code(p.status).type('application/problem+json').send(p);
}

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser refuses (malformed request line,
 * headers over the size limit, request timeout) are answered on the raw socket, in problem+json
 * instead of Fastify's default JSON. Nothing of the request is echoed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail]: [number, string, string] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'ERR_REQUEST_TIMEOUT', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'ERR_HEADERS_TOO_LARGE', 'the request headers are too large']
        : [400, 'ERR_BAD_REQUEST', 'malformed HTTP request'];
  const body = JSON.stringify(problem(status, code, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
