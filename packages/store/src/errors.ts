/**
 * Errors raised by the store itself. CAF/folio problems use TimbreError from @timbre/dte
 * (ERR_CAF_FOLIO_OUT_OF_RANGE, ERR_CAF_EXPIRED); these codes cover what only the store knows.
 */
import { TimbreError, type TimbreErrorCode } from '@timbre/dte';

/**
 * ERR_SECRET_MALFORMED (not in the `tbx1.` format), ERR_SECRET_TAMPERED (altered, or another master
 * key), ERR_MASTER_KEY_INVALID (TIMBRE_MASTER_KEY missing or not 32 bytes), ERR_DB_URL_INVALID,
 * ERR_MIGRATION_FAILED.
 */
export type StoreErrorCode = Extract<TimbreErrorCode, 'ERR_SECRET_MALFORMED' | 'ERR_SECRET_TAMPERED' | 'ERR_MASTER_KEY_INVALID' | 'ERR_DB_URL_INVALID' | 'ERR_MIGRATION_FAILED'>;

/** A TimbreError raised by the store itself. */
export class StoreError extends TimbreError {
  declare readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'StoreError';
  }
}
