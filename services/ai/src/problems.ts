/**
 * The AI service's errors: problem+json comes from @timbre/http (shared with the DTE service); this
 * module only names what is the service's own — the package codes it can meet and their statuses,
 * `FieldError`, and the error statuses its routes document.
 */
import { HttpError, problemResponses, type ProblemField } from '@timbre/http';

export { problem, type Problem, type ProblemField } from '@timbre/http';

/** Package codes this service can meet; anything else from a package is a bug (500). */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_INPUT_INVALID: 422,
  ERR_RUT_INVALID: 422,
  ERR_RULE_VIOLATION: 422,
};

/**
 * A package error whose `field` names the package's own input (e.g. forecastFolios'
 * `remaining[0].fechaAutorizacion`), rethrown with the field as the request spells it
 * (`remaining.0.fecha_autorizacion`).
 */
export class FieldError extends HttpError {
  constructor(code: string, status: number, message: string, fields: ProblemField[]) {
    super(code, status, message, {}, fields);
    this.name = 'FieldError';
  }
}

/** Every error status a route of this service may answer, as problem+json. */
export const errorResponses = problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 502, 503);
