/**
 * Typed errors with stable codes. One base class; each area (Rut*, Caf*, Xml*, Signature*, Ted*,
 * Totals*, Cert*) has its codes. Callers narrow on `code`, never on the message wording.
 */
export type TimbreErrorCode =
  // RUT
  | 'ERR_RUT_INVALID'
  // input / model / rules
  | 'ERR_INPUT_INVALID'
  | 'ERR_RULE_VIOLATION'
  | 'ERR_TOTALS_MISMATCH'
  | 'ERR_FIELD_TOO_LONG'
  | 'ERR_CHAR_NOT_LATIN1'
  // XML
  | 'ERR_XML_MALFORMED'
  | 'ERR_XML_FORBIDDEN_FEATURE'
  | 'ERR_XML_TOO_LARGE'
  | 'ERR_XML_TOO_DEEP'
  | 'ERR_XML_ENCODING'
  | 'ERR_XML_UNEXPECTED'
  // CAF
  | 'ERR_CAF_MALFORMED'
  | 'ERR_CAF_SIGNATURE_INVALID'
  | 'ERR_CAF_UNTRUSTED_KEY'
  | 'ERR_CAF_KEY_MISMATCH'
  | 'ERR_CAF_FOLIO_OUT_OF_RANGE'
  | 'ERR_CAF_EXPIRED'
  | 'ERR_CAF_WRONG_EMISOR'
  | 'ERR_CAF_WRONG_TIPO'
  | 'ERR_CAF_NOT_YET_VALID'
  // TED
  | 'ERR_TED_INVALID'
  // signatures
  | 'ERR_SIGNATURE_MISSING'
  | 'ERR_SIGNATURE_DIGEST_MISMATCH'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_SIGNATURE_UNSUPPORTED'
  // certificates
  | 'ERR_CERT_BAD_PASSWORD'
  | 'ERR_CERT_MALFORMED'
  | 'ERR_CERT_NO_RUT'
  | 'ERR_CERT_EXPIRED'
  | 'ERR_CERT_NOT_YET_VALID'
  // envelopes
  | 'ERR_ENVELOPE_INVALID'
  // SII web services (packages/sii); the SII's own code/estado goes in `siiCode`
  | 'ERR_SII_AUTH_FAILED'
  | 'ERR_SII_TOKEN_EXPIRED'
  | 'ERR_SII_UPLOAD_REJECTED'
  | 'ERR_SII_DUPLICATE_UPLOAD'
  | 'ERR_SII_QUERY_FAILED'
  | 'ERR_SII_PROTOCOL'
  | 'ERR_SII_UNAVAILABLE'
  | 'ERR_SII_TIMEOUT'
  | 'ERR_SII_CIRCUIT_OPEN'
  // storage (packages/store)
  | 'ERR_SECRET_MALFORMED'
  | 'ERR_SECRET_TAMPERED'
  | 'ERR_MASTER_KEY_INVALID'
  | 'ERR_DB_URL_INVALID'
  | 'ERR_MIGRATION_FAILED';

export interface TimbreErrorOptions {
  /** JSON-pointer-like path of the offending field, e.g. `detalle[2].montoItem`. */
  field?: string;
  /** The value the field should have had, when it can be computed (totals). */
  expected?: unknown;
  /** The value found. */
  actual?: unknown;
  /** The SII's own code, when one applies (e.g. `CAF-3-517`, `TED-1-646`, `REF-3-758`). */
  siiCode?: string;
  cause?: unknown;
}

export class TimbreError extends Error {
  readonly code: TimbreErrorCode;
  readonly field?: string;
  readonly expected?: unknown;
  readonly actual?: unknown;
  readonly siiCode?: string;

  constructor(code: TimbreErrorCode, message: string, options: TimbreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TimbreError';
    this.code = code;
    if (options.field !== undefined) this.field = options.field;
    if (options.expected !== undefined) this.expected = options.expected;
    if (options.actual !== undefined) this.actual = options.actual;
    if (options.siiCode !== undefined) this.siiCode = options.siiCode;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.field !== undefined) out.field = this.field;
    if (this.expected !== undefined) out.expected = this.expected;
    if (this.actual !== undefined) out.actual = this.actual;
    if (this.siiCode !== undefined) out.siiCode = this.siiCode;
    return out;
  }
}

/** Several problems found at once (input validation, rules, totals): each is a TimbreError. */
export class TimbreValidationError extends TimbreError {
  readonly issues: TimbreError[];
  constructor(issues: TimbreError[]) {
    const first = issues[0];
    super(
      first?.code ?? 'ERR_INPUT_INVALID',
      issues.length === 1 && first ? first.message : `${issues.length} problems: ${issues.map((i) => i.message).join('; ')}`,
      first?.field !== undefined ? { field: first.field } : {},
    );
    this.name = 'TimbreValidationError';
    this.issues = issues;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), issues: this.issues.map((i) => i.toJSON()) };
  }
}

export const isTimbreError = (e: unknown): e is TimbreError => e instanceof TimbreError;
