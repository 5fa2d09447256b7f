/**
 * The one error @timbre/llm throws (or, from `chat`, yields as an `error` event). Callers branch on
 * `code`, never on the SDK's classes: the AI service falls back to its deterministic engine on any
 * of them, and reports `{code, message}` so the operator can tell a timeout from a refusal.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';

export type LlmErrorCode =
  | 'ERR_LLM_TIMEOUT'
  | 'ERR_LLM_UNAVAILABLE'
  | 'ERR_LLM_RATE_LIMITED'
  | 'ERR_LLM_AUTH'
  | 'ERR_LLM_MALFORMED'
  | 'ERR_LLM_REFUSED'
  | 'ERR_LLM_BUDGET'
  | 'ERR_LLM_BAD_REQUEST';

export class LlmError extends Error {
  readonly code: LlmErrorCode;
  /** The HTTP status Anthropic answered, when there was one. */
  readonly status?: number;
  constructor(code: LlmErrorCode, message: string, options: { status?: number | undefined; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'LlmError';
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * An SDK (or abort) error → LlmError. `deadline` is our own whole-call timer: its abort is a
 * timeout, the caller's abort is not. The SDK has already retried what was retryable (429, 5xx,
 * connection errors) by the time this sees the error.
 */
export function toLlmError(err: unknown, deadline?: AbortSignal): LlmError {
  if (err instanceof LlmError) return err;
  if (deadline?.aborted) return new LlmError('ERR_LLM_TIMEOUT', 'the model did not answer in time', { cause: err });
  if (err instanceof APIConnectionTimeoutError) return new LlmError('ERR_LLM_TIMEOUT', 'the model did not answer in time', { cause: err });
  if (err instanceof APIUserAbortError || (err instanceof Error && err.name === 'AbortError')) {
    return new LlmError('ERR_LLM_UNAVAILABLE', 'the request was cancelled', { cause: err });
  }
  if (err instanceof APIConnectionError) return new LlmError('ERR_LLM_UNAVAILABLE', `cannot reach the model: ${err.message}`, { cause: err });
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) {
    return new LlmError('ERR_LLM_AUTH', `Anthropic rejected the API key (${err.status})`, { status: err.status, cause: err });
  }
  if (err instanceof RateLimitError) return new LlmError('ERR_LLM_RATE_LIMITED', 'Anthropic rate limit reached', { status: err.status, cause: err });
  if (err instanceof APIError) {
    const status = err.status;
    if (status !== undefined && status >= 400 && status < 500) {
      return new LlmError('ERR_LLM_BAD_REQUEST', `Anthropic rejected the request (${status}): ${apiMessage(err)}`, { status, cause: err });
    }
    return new LlmError('ERR_LLM_UNAVAILABLE', `Anthropic unavailable (${status ?? 'no status'}): ${apiMessage(err)}`, { status, cause: err });
  }
  return new LlmError('ERR_LLM_UNAVAILABLE', err instanceof Error ? err.message : String(err), { cause: err });
}

/** The `error.message` of Anthropic's error body, else the SDK's message. */
function apiMessage(err: APIError): string {
  const body = err.error as { error?: { message?: unknown } } | undefined;
  const m = body?.error?.message;
  return typeof m === 'string' ? m : err.message;
}
