/**
 * Errors of the SII client. One class, `SiiError`, a `TimbreError` whose `code` is one of the
 * `ERR_SII_*` codes and whose `siiCode` is the SII's own STATUS/ESTADO/codResp when the SII gave one.
 * Callers narrow on `code` (and `siiCode`), never on the message.
 *
 * | code                      | meaning                                                           | retried by the client |
 * |---------------------------|-------------------------------------------------------------------|-----------------------|
 * | ERR_SII_AUTH_FAILED       | seed/token refused (ESTADO of CrSeed/GetTokenFromSeed, HTTP 401/403 on boleta token) | no |
 * | ERR_SII_TOKEN_EXPIRED     | token refused by a service (STATUS 5, ESTADO 001–003, HTTP 401)   | once, with a new token |
 * | ERR_SII_UPLOAD_REJECTED   | DTEUpload STATUS 1–9 (other than 5), boleta envío refused          | no |
 * | ERR_SII_QUERY_FAILED      | a status query answered with an error estado (-x, 106…)           | no |
 * | ERR_SII_PROTOCOL          | an answer that is not what the SII documents (SOAP fault, 404…)   | no |
 * | ERR_SII_UNAVAILABLE       | transient failures (connection, 5xx, HTML) until the retry budget ran out | already retried |
 * | ERR_SII_TIMEOUT           | same, the last failure being a timeout                            | already retried |
 * | ERR_SII_CIRCUIT_OPEN      | the host's circuit breaker is open: nothing was sent              | no |
 */
import { TimbreError, type TimbreErrorCode } from '@timbre/dte';

export type SiiErrorCode = Extract<TimbreErrorCode, `ERR_SII_${string}`>;

/** The SII operation a request belongs to (in errors, events and the code catalogue). */
export type SiiOperation =
  | 'CrSeed'
  | 'GetTokenFromSeed'
  | 'DTEUpload'
  | 'QueryEstUp'
  | 'QueryEstDte'
  | 'boleta.semilla'
  | 'boleta.token'
  | 'boleta.envio'
  | 'boleta.envio.estado'
  | 'boleta.estado'
  | 'rcv';

export interface SiiErrorOptions {
  /** The SII's own STATUS / ESTADO / codResp. */
  siiCode?: string;
  /** The SII's text for it (GLOSA, descResp…), as received. */
  glosa?: string;
  /** Detail lines (DETAIL/ERROR items, loose text) as received. */
  detail?: readonly string[];
  httpStatus?: number;
  /** HTTP attempts made (0 when nothing was sent). */
  attempts?: number;
  trackId?: string;
  url?: string;
  /** A request with side effects (upload) may or may not have been processed by the SII. */
  outcomeUnknown?: boolean;
  cause?: unknown;
}

export class SiiError extends TimbreError {
  declare readonly code: SiiErrorCode;
  readonly operation: SiiOperation;
  readonly attempts: number;
  readonly httpStatus?: number;
  readonly glosa?: string;
  readonly detail: readonly string[];
  readonly trackId?: string;
  readonly url?: string;
  readonly outcomeUnknown: boolean;

  constructor(code: SiiErrorCode, operation: SiiOperation, message: string, options: SiiErrorOptions = {}) {
    super(code, message, {
      ...(options.siiCode !== undefined ? { siiCode: options.siiCode } : {}),
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
    });
    this.name = 'SiiError';
    this.operation = operation;
    this.attempts = options.attempts ?? 0;
    this.detail = options.detail ?? [];
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.glosa !== undefined) this.glosa = options.glosa;
    if (options.trackId !== undefined) this.trackId = options.trackId;
    if (options.url !== undefined) this.url = options.url;
  }

  override toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...super.toJSON(), operation: this.operation, attempts: this.attempts };
    if (this.httpStatus !== undefined) out.httpStatus = this.httpStatus;
    if (this.glosa !== undefined) out.glosa = this.glosa;
    if (this.detail.length > 0) out.detail = [...this.detail];
    if (this.trackId !== undefined) out.trackId = this.trackId;
    if (this.outcomeUnknown) out.outcomeUnknown = true;
    return out;
  }

  /** Same error with the attempt count of the request that produced it. */
  withAttempts(attempts: number): SiiError {
    if (attempts === this.attempts) return this;
    const copy = new SiiError(this.code, this.operation, this.message, {
      ...(this.siiCode !== undefined ? { siiCode: this.siiCode } : {}),
      ...(this.glosa !== undefined ? { glosa: this.glosa } : {}),
      ...(this.httpStatus !== undefined ? { httpStatus: this.httpStatus } : {}),
      ...(this.trackId !== undefined ? { trackId: this.trackId } : {}),
      ...(this.url !== undefined ? { url: this.url } : {}),
      ...(this.cause !== undefined ? { cause: this.cause } : {}),
      detail: this.detail,
      attempts,
      outcomeUnknown: this.outcomeUnknown,
    });
    copy.stack = this.stack;
    return copy;
  }
}

export const isSiiError = (e: unknown): e is SiiError => e instanceof SiiError;

/** Run a parser and stamp the attempt count on the SiiError it throws. */
export function withAttempts<T>(attempts: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SiiError) throw e.withAttempts(attempts);
    throw e;
  }
}
