/**
 * RFC 9457 problem details shared by the services: the one mapping from thrown errors to HTTP
 * statuses. Every error carries a stable `code`; a service passes the statuses of the package codes
 * it can meet (`statusByCode`) and nothing else decides a status. 5xx problems never carry the
 * internal message.
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

/** An error raised by a service itself, with its status and optional problem extensions. */
export class HttpError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extensions: Record<string, unknown> = {},
    readonly fields: ProblemField[] = [],
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const typeUri = (code: string): string => `urn:timbre:problem:${code.toLowerCase().replace(/^err_/, '').replace(/_/g, '-')}`;

export function problem(status: number, code: string, detail: string, errors: ProblemField[] = [], ext: Record<string, unknown> = {}): Problem {
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

/** Fastify's own client errors under stable codes (Fastify's name stays in `fastify_code`). */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_JSON_MALFORMED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_JSON_MALFORMED',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_MEDIA_TYPE_UNSUPPORTED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_BAD_REQUEST',
  FST_ERR_BAD_URL: 'ERR_URL_MALFORMED',
};

/** JSON-pointer AJV path (`/remaining/0/desde`) → the dotted field (`remaining.0.desde`). */
const dotted = (pointer: string): string =>
  pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');

export type ToProblem = (err: unknown) => { problem: Problem; internal: boolean };

/**
 * The mapping for a service. `statusByCode`: the package codes (TimbreError and subclasses) the
 * service can meet; an unlisted package code is a bug (500). 502/503 package errors (the SII, a
 * model) are shown with their code and, when they have one, the SII's code.
 */
export function createToProblem(statusByCode: Readonly<Record<string, number>> = {}): ToProblem {
  return (err) => {
    if (err instanceof HttpError) return { problem: problem(err.status, err.code, err.message, err.fields, err.extensions), internal: false };
    if (err instanceof AuthError) return { problem: problem(err.status, err.code, err.message), internal: false };
    if (err instanceof TimbreValidationError) {
      const status = statusByCode[err.code] ?? 422;
      return { problem: problem(status, err.code, err.message, err.issues.map(timbreField)), internal: false };
    }
    if (err instanceof TimbreError) {
      const status = statusByCode[err.code] ?? 500;
      if (status >= 500 && status !== 502 && status !== 503) return { problem: problem(500, 'ERR_INTERNAL', 'internal error'), internal: true };
      // The SII's code and glosa are useful to the caller and contain no secrets.
      return { problem: problem(status, err.code, err.message, err.field ? [timbreField(err)] : [], err.siiCode ? { sii_code: err.siiCode } : {}), internal: false };
    }
    const fe = err as FastifyLikeError;
    if (fe && typeof fe === 'object' && Array.isArray(fe.validation)) {
      const where = fe.validationContext ?? 'body';
      const errors = fe.validation.map((v) => {
        const missing = typeof v.params?.missingProperty === 'string' ? `/${v.params.missingProperty}` : '';
        const extra = typeof v.params?.additionalProperty === 'string' ? `/${v.params.additionalProperty}` : '';
        const path = dotted(`${v.instancePath ?? ''}${missing}${extra}`);
        return { field: path === '' ? where : path, message: v.message ?? 'invalid', code: 'ERR_INPUT_INVALID' };
      });
      return { problem: problem(400, 'ERR_BAD_REQUEST', `invalid ${where}`, errors), internal: false };
    }
    if (fe && typeof fe === 'object' && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const fstCode = fe.code ?? '';
      const code = FASTIFY_CODES[fstCode] ?? 'ERR_BAD_REQUEST';
      const field = code === 'ERR_JSON_MALFORMED' || code === 'ERR_BODY_TOO_LARGE' || code === 'ERR_MEDIA_TYPE_UNSUPPORTED' ? [{ field: 'body', message: fe.message, code }] : [];
      return { problem: problem(fe.statusCode, code, fe.message, field, fstCode ? { fastify_code: fstCode } : {}), internal: false };
    }
    if (err instanceof SyntaxError) {
      return { problem: problem(400, 'ERR_BAD_REQUEST', 'malformed JSON body', [{ field: 'body', message: err.message, code: 'ERR_BAD_REQUEST' }]), internal: false };
    }
    return { problem: problem(500, 'ERR_INTERNAL', 'internal error'), internal: true };
  };
}

/** `WWW-Authenticate` for a 401 (RFC 9110 §11.6.1 requires one; RFC 6750 error for bad tokens). */
export const authChallenge = (code: string): string =>
  code === 'ERR_AUTH_MISSING' ? 'Bearer realm="timbre"' : 'Bearer realm="timbre", error="invalid_token"';

const frameworkToProblem = createToProblem();

/**
 * Fastify's `frameworkErrors`: errors raised before routing (a URL that does not decode, a path
 * parameter over maxParamLength) would otherwise get Fastify's own JSON body.
 */
export function frameworkErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { problem: p, internal } = frameworkToProblem(err);
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

/** Fastify server options every service uses: errors outside the error handler in problem+json too. */
export const problemServerOptions = { frameworkErrors: frameworkErrorHandler, clientErrorHandler } as const;

export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'application/problem+json (RFC 9457)',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' }, code: { type: 'string' } } } },
  },
  additionalProperties: true,
} as const;

const problemRef = { $ref: 'Problem#' } as const;

/** OpenAPI responses `{status: Problem}` for a route's error statuses. */
export function problemResponses<S extends number>(...statuses: S[]): Record<S, typeof problemRef> {
  return Object.fromEntries(statuses.map((s) => [s, problemRef])) as Record<S, typeof problemRef>;
}
