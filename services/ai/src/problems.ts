/**
 * RFC 9457 problem details for the AI service: the DTE service's mapping (services/dte/src/problems.ts),
 * trimmed to what this service raises. Copied rather than imported: @timbre/dte-service would bring
 * its database, queue and SII dependencies along. Every error carries a stable `code`; the root error
 * handler (app.ts) calls `toProblem` and nothing else decides a status.
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

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Package codes this service can meet; anything else from a package is a bug (500). */
const STATUS_BY_CODE: Record<string, number> = {
  ERR_INPUT_INVALID: 422,
  ERR_RUT_INVALID: 422,
  ERR_RULE_VIOLATION: 422,
};

const typeUri = (code: string): string => `urn:timbre:problem:${code.toLowerCase().replace(/^err_/, '').replace(/_/g, '-')}`;

export function problem(status: number, code: string, detail: string, errors: ProblemField[] = [], ext: Record<string, unknown> = {}): Problem {
  // Extensions never override the standard members.
  return { ...ext, type: typeUri(code), title: TITLES[status] ?? 'Error', status, detail, code, errors };
}

/**
 * A package error whose `field` names the package's own input (e.g. forecastFolios'
 * `remaining[0].fechaAutorizacion`), rethrown with the field as the request spells it
 * (`remaining.0.fecha_autorizacion`).
 */
export class FieldError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly fields: ProblemField[],
  ) {
    super(message);
    this.name = 'FieldError';
  }
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>;
  validationContext?: string;
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_JSON_MALFORMED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_JSON_MALFORMED',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_MEDIA_TYPE_UNSUPPORTED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_BAD_REQUEST',
  FST_ERR_BAD_URL: 'ERR_URL_MALFORMED',
};

/** JSON-pointer-ish AJV path (`/remaining/0/desde`) → the dotted field (`remaining.0.desde`). */
const dotted = (pointer: string): string =>
  pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');

/**
 * Map any thrown value to a problem. 5xx problems never carry the internal message (`internal`
 * says whether the caller should log the error as a bug).
 */
export function toProblem(err: unknown): { problem: Problem; internal: boolean } {
  if (err instanceof FieldError) return { problem: problem(err.status, err.code, err.message, err.fields), internal: false };
  if (err instanceof AuthError) return { problem: problem(err.status, err.code, err.message), internal: false };
  if (err instanceof TimbreValidationError) {
    const status = STATUS_BY_CODE[err.code] ?? 422;
    return { problem: problem(status, err.code, err.message, err.issues.map((e) => ({ field: e.field ?? '', message: e.message, code: e.code }))), internal: false };
  }
  if (err instanceof TimbreError) {
    const status = STATUS_BY_CODE[err.code];
    if (status === undefined) return { problem: problem(500, 'ERR_INTERNAL', 'internal error'), internal: true };
    return { problem: problem(status, err.code, err.message, err.field ? [{ field: err.field, message: err.message, code: err.code }] : []), internal: false };
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
}

/** `WWW-Authenticate` for a 401 (RFC 9110 §11.6.1 requires one; RFC 6750 error for bad tokens). */
export const authChallenge = (code: string): string =>
  code === 'ERR_AUTH_MISSING' ? 'Bearer realm="timbre"' : 'Bearer realm="timbre", error="invalid_token"';

/** Fastify's `frameworkErrors`: errors raised before routing get problem+json too. */
export function frameworkErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { problem: p, internal } = toProblem(err);
  if (internal) request.log.error({ err }, 'request failed');
  void reply.code(p.status).type('application/problem+json').send(p);
}

/** Fastify's `clientErrorHandler`: requests Node's HTTP parser refuses, answered in problem+json. */
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
export const errorResponses = { 400: problemRef, 401: problemRef, 403: problemRef, 413: problemRef, 415: problemRef, 422: problemRef } as const;
