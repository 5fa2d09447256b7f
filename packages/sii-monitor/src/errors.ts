/**
 * The monitor's typed errors. `code` is stable (callers map it to HTTP statuses); `url` names the
 * page that failed and `field` the offending input, so a report says what and where.
 */
export type SiiMonitorErrorCode =
  /** The page answered but nothing recognisable as a publication list was in it (the SII changed its layout). */
  | 'ERR_SII_PAGE_LAYOUT'
  /** Network error, timeout or 5xx after the retries: the SII site is down or unreachable. */
  | 'ERR_SII_UNAVAILABLE'
  /** A 4xx other than the tolerated 404 of a year index not published yet. */
  | 'ERR_SII_HTTP_STATUS'
  /** The body exceeded the size limit. */
  | 'ERR_SII_PAGE_TOO_LARGE'
  /** Bad input to a function of this package (`field` names it). */
  | 'ERR_INPUT_INVALID';

export class SiiMonitorError extends Error {
  readonly code: SiiMonitorErrorCode;
  readonly url: string | undefined;
  readonly field: string | undefined;
  constructor(code: SiiMonitorErrorCode, message: string, details: { url?: string; field?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SiiMonitorError';
    this.code = code;
    this.url = details.url;
    this.field = details.field;
  }
}
