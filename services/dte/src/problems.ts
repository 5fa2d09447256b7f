/**
 * The DTE service's error codes and the statuses of the package codes it can meet. The mapping to
 * problem+json itself is @timbre/http's (shared with the AI service); nothing else decides a status.
 */
import { HttpError, createToProblem, type ProblemField } from '@timbre/http';

export type { Problem, ProblemField } from '@timbre/http';

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
export class ServiceError extends HttpError {
  declare readonly code: ServiceErrorCode;
  constructor(code: ServiceErrorCode, status: number, message: string, extensions: Record<string, unknown> = {}, fields: ProblemField[] = []) {
    super(code, status, message, extensions, fields);
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

/** Any thrown value → a problem (`internal`: log it as a bug). */
export const toProblem = createToProblem(STATUS_BY_CODE);

/** The package codes' statuses, for the problem+json plugin. */
export { STATUS_BY_CODE };

export const notFound = (what: string): ServiceError => new ServiceError('ERR_NOT_FOUND', 404, `${what} not found`);
