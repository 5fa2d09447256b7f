/**
 * The one place where the client talks HTTP (Node 20's global fetch, injectable).
 *
 * - Per-attempt timeout (AbortController; the response body is read under the same timeout, and is
 *   capped at `maxResponseBytes`: SII answers are untrusted input).
 * - Retries with exponential backoff and jitter ONLY for transient failures: connection errors,
 *   timeouts, HTTP 5xx and 429, and HTML (or non-XML/non-JSON text) where XML/JSON was expected —
 *   the SII's maintenance pages. A definite answer (anything the caller's parser can read, a parsed
 *   STATUS/ESTADO, a 4xx, a SOAP fault) is never retried here.
 * - A circuit breaker per host (cockatiel, consecutive-failure breaker): after `breakerThreshold`
 *   consecutive transient failures the host's circuit opens and calls fail fast with
 *   ERR_SII_CIRCUIT_OPEN (nothing is sent) until `breakerHalfOpenAfterMs` has passed; then one trial
 *   request closes it again on success. Definite answers count as successes (the host is up). A
 *   call whose own failure opened the circuit stops retrying at once (ERR_SII_CIRCUIT_OPEN, with the
 *   attempts made) unless that was its last attempt anyway.
 * - A retry budget (`maxAttempts`, `retryBudgetMs`) after which ERR_SII_TIMEOUT (last failure a
 *   timeout) or ERR_SII_UNAVAILABLE is thrown with the number of attempts made.
 *
 * UPLOADS (`idempotent: false`). A request with side effects at the SII is never blindly re-sent when
 * its answer was lost: a timeout, a connection dropped or reset after the request went out, a body cut
 * short, or a gateway 502/504 (the backend may have processed it) all end the call at once with an
 * `outcomeUnknown` SiiError (ERR_SII_TIMEOUT / ERR_SII_UNAVAILABLE), which `sendEnvelope` reports as
 * `{ kind: 'unknown' }`: the caller must check the status (or the SII's STATUS 99 duplicate answer,
 * which names the earlier track id) before uploading again. Failures that prove the request was not
 * processed are retried: connection refused / DNS failure (nothing sent), HTTP 500/503/429 and HTML
 * maintenance pages (the SII answered and did not take the file; if it did, the retry is answered
 * STATUS 99 with the earlier track id).
 *
 * Time: backoff sleeps, the breaker's open period and the retry budget use the injectable `clock`;
 * per-attempt timeouts use real timers. `random` drives the jitter.
 */
import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, isBrokenCircuitError, type CircuitBreakerPolicy, type IBackoff, type IBackoffFactory } from 'cockatiel';
import { SiiError, type SiiOperation } from './errors.js';
import { excerpt, looksLikeHtml, looksLikeNonXml } from './wire.js';

export interface SiiClock {
  /** Milliseconds since an arbitrary origin (Date.now() by default). */
  now(): number;
  /** Wait; resolves after `ms` milliseconds (a fake clock may resolve at once and advance `now`). */
  sleep(ms: number): Promise<void>;
}

export const systemClock: SiiClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  /** HTTP implementation (default: the global fetch). */
  fetch?: FetchLike;
  clock?: SiiClock;
  /** Uniform [0, 1) source for the backoff jitter (default Math.random). */
  random?: () => number;
  /** Per-attempt timeout of queries and authentication, ms (default 30 000). */
  timeoutMs?: number;
  /** Per-attempt timeout of uploads, ms (default 120 000: large envelopes, slow SII). */
  uploadTimeoutMs?: number;
  /** Attempts per call including the first (default 4). */
  maxAttempts?: number;
  /** First backoff delay, ms (default 1 000); doubles per retry. */
  baseDelayMs?: number;
  /** Backoff ceiling, ms (default 30 000). */
  maxDelayMs?: number;
  /** No retry starts once this much time (by `clock`) has passed since the call began, ms (default 120 000). */
  retryBudgetMs?: number;
  /** Consecutive transient failures on one host that open its circuit (default 5). */
  breakerThreshold?: number;
  /** How long an open circuit fails fast before a trial request, ms (default 30 000). */
  breakerHalfOpenAfterMs?: number;
  /** Largest answer accepted, bytes (default 10 MiB). */
  maxResponseBytes?: number;
  /** Observability hook: attempts, retries, breaker transitions. */
  onEvent?: (event: TransportEvent) => void;
}

export type TransportEvent =
  | { type: 'attempt'; operation: SiiOperation; url: string; attempt: number }
  | { type: 'retry'; operation: SiiOperation; url: string; attempt: number; delayMs: number; reason: string }
  | { type: 'breaker'; host: string; state: 'open' | 'half-open' | 'closed' };

export interface SiiHttpRequest {
  operation: SiiOperation;
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** What a definite answer looks like; HTML or plain text instead is a transient failure. */
  expect: 'xml' | 'json';
  /** false for requests with side effects at the SII (uploads): a lost answer is never retried. */
  idempotent: boolean;
  /** Overrides the per-attempt timeout. */
  timeoutMs?: number;
}

export interface SiiHttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  contentType: string;
  /** Attempts made, including the one that got this answer. */
  attempts: number;
  url: string;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

export const TRANSPORT_DEFAULTS = Object.freeze({
  timeoutMs: 30_000,
  uploadTimeoutMs: 120_000,
  maxAttempts: 4,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  retryBudgetMs: 120_000,
  breakerThreshold: 5,
  breakerHalfOpenAfterMs: 30_000,
  maxResponseBytes: 10 * 1024 * 1024,
});

type FailureKind = 'timeout' | 'connection' | 'http' | 'html' | 'rate_limited';

/** A failure worth retrying (internal; becomes a SiiError when the budget runs out). */
class TransientFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** The request may have reached the SII and been processed; its answer is lost. */
    readonly answerLost: boolean,
    readonly httpStatus?: number,
    readonly retryAfterMs?: number,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TransientFailure';
  }
}

/** Errors whose request certainly never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_INVALID_URL']);

const TIMEOUT = Symbol('timeout');

/** halfOpenAfter driven by the injectable clock (cockatiel itself reads Date.now()). */
class ClockHalfOpen implements IBackoffFactory<unknown> {
  constructor(
    private readonly clock: SiiClock,
    private readonly ms: number,
  ) {}
  next(): IBackoff<unknown> {
    const openedAt = this.clock.now();
    const clock = this.clock;
    const ms = this.ms;
    const next = () => this.next();
    return {
      // cockatiel fails fast while `Date.now() - openedAt < duration`: -1 lets the trial through.
      get duration() {
        return clock.now() - openedAt >= ms ? -1 : Number.POSITIVE_INFINITY;
      },
      next,
    };
  }
}

type Attempt = { ok: SiiHttpResponse } | { definite: SiiError };

export class SiiTransport {
  readonly options: Readonly<Required<Omit<TransportOptions, 'fetch' | 'onEvent'>>> & Pick<TransportOptions, 'onEvent'>;
  private readonly fetchImpl: FetchLike;
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();

  constructor(options: TransportOptions = {}) {
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!fetchImpl) throw new TypeError('SiiTransport: no fetch implementation (Node 20+ has a global fetch)');
    this.fetchImpl = fetchImpl;
    const positive = (name: keyof typeof TRANSPORT_DEFAULTS, v: number | undefined, min = 0) => {
      const value = v ?? TRANSPORT_DEFAULTS[name];
      if (!Number.isFinite(value) || value < min) throw new RangeError(`SiiTransport: ${name} must be a number ≥ ${min}, got ${v}`);
      return value;
    };
    this.options = {
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      timeoutMs: positive('timeoutMs', options.timeoutMs, 1),
      uploadTimeoutMs: positive('uploadTimeoutMs', options.uploadTimeoutMs, 1),
      maxAttempts: Math.floor(positive('maxAttempts', options.maxAttempts, 1)),
      baseDelayMs: positive('baseDelayMs', options.baseDelayMs),
      maxDelayMs: positive('maxDelayMs', options.maxDelayMs),
      retryBudgetMs: positive('retryBudgetMs', options.retryBudgetMs),
      breakerThreshold: Math.floor(positive('breakerThreshold', options.breakerThreshold, 1)),
      breakerHalfOpenAfterMs: positive('breakerHalfOpenAfterMs', options.breakerHalfOpenAfterMs),
      maxResponseBytes: positive('maxResponseBytes', options.maxResponseBytes, 1),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    };
  }

  /** State of a host's circuit breaker (`closed` for hosts never called). */
  breakerState(hostOrUrl: string): BreakerState {
    const policy = this.breakers.get(hostOf(hostOrUrl));
    if (!policy) return 'closed';
    switch (policy.state) {
      case CircuitState.Open:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Isolated:
        return 'isolated';
      default:
        return 'closed';
    }
  }

  /**
   * Send a request, retrying transient failures within the budget. Resolves with any definite answer
   * (whatever its HTTP status: interpreting it is the caller's job). Throws SiiError:
   * ERR_SII_CIRCUIT_OPEN, ERR_SII_TIMEOUT / ERR_SII_UNAVAILABLE (budget exhausted, or an upload's
   * answer lost: then `outcomeUnknown` is true), ERR_SII_PROTOCOL (answer larger than allowed).
   */
  async request(req: SiiHttpRequest): Promise<SiiHttpResponse> {
    const { clock, maxAttempts, retryBudgetMs } = this.options;
    const started = clock.now();
    const host = hostOf(req.url);
    const breaker = this.breakerFor(host);
    let last: TransientFailure | undefined;
    let attempt = 0;
    while (attempt < maxAttempts) {
      attempt++;
      let result: Attempt;
      try {
        result = await breaker.execute(() => this.attemptOnce(req, attempt));
      } catch (e) {
        if (isBrokenCircuitError(e)) {
          throw new SiiError('ERR_SII_CIRCUIT_OPEN', req.operation, `${req.operation}: circuit breaker open for ${host} (too many consecutive transient failures); nothing was sent`, {
            attempts: attempt - 1,
            url: req.url,
            ...(last ? { cause: last } : {}),
          });
        }
        if (!(e instanceof TransientFailure)) throw e;
        last = e;
        if (!req.idempotent && e.answerLost) {
          throw this.exhausted(req, e, attempt, true);
        }
        if (attempt >= maxAttempts) break;
        if (breaker.state === CircuitState.Open) {
          // This failure opened the circuit: waiting for a retry that would be refused is pointless.
          throw new SiiError('ERR_SII_CIRCUIT_OPEN', req.operation, `${req.operation}: circuit breaker opened for ${host} after this failure (${e.message})`, {
            attempts: attempt,
            url: req.url,
            cause: e,
            ...(e.httpStatus !== undefined ? { httpStatus: e.httpStatus } : {}),
          });
        }
        const delay = this.backoff(attempt, e.retryAfterMs);
        if (clock.now() - started + delay > retryBudgetMs) break;
        this.emit({ type: 'retry', operation: req.operation, url: req.url, attempt, delayMs: delay, reason: e.message });
        await clock.sleep(delay);
        continue;
      }
      if ('definite' in result) throw result.definite.withAttempts(attempt);
      return { ...result.ok, attempts: attempt };
    }
    throw this.exhausted(req, last as TransientFailure, attempt, false);
  }

  private exhausted(req: SiiHttpRequest, last: TransientFailure, attempts: number, outcomeUnknown: boolean): SiiError {
    const code = last.kind === 'timeout' ? 'ERR_SII_TIMEOUT' : 'ERR_SII_UNAVAILABLE';
    const what = outcomeUnknown
      ? `${req.operation}: the answer was lost (${last.message}); the SII may or may not have processed the request — check its status before sending again`
      : `${req.operation}: SII unavailable after ${attempts} attempt${attempts === 1 ? '' : 's'} (${last.message})`;
    return new SiiError(code, req.operation, what, {
      attempts,
      url: req.url,
      outcomeUnknown,
      cause: last,
      ...(last.httpStatus !== undefined ? { httpStatus: last.httpStatus } : {}),
    });
  }

  /** Exponential backoff with jitter: base·2^(n−1) capped, scaled by a factor in [0.5, 1). */
  private backoff(attempt: number, retryAfterMs?: number): number {
    const { baseDelayMs, maxDelayMs, random } = this.options;
    const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    const r = Math.min(Math.max(random(), 0), 1);
    let delay = Math.floor(exp * (0.5 + r / 2));
    if (retryAfterMs !== undefined) delay = Math.max(delay, Math.min(retryAfterMs, maxDelayMs));
    return delay;
  }

  private breakerFor(host: string): CircuitBreakerPolicy {
    let policy = this.breakers.get(host);
    if (!policy) {
      policy = circuitBreaker(
        handleWhen((e) => e instanceof TransientFailure),
        { halfOpenAfter: new ClockHalfOpen(this.options.clock, this.options.breakerHalfOpenAfterMs), breaker: new ConsecutiveBreaker(this.options.breakerThreshold) },
      );
      policy.onBreak(() => this.emit({ type: 'breaker', host, state: 'open' }));
      policy.onHalfOpen(() => this.emit({ type: 'breaker', host, state: 'half-open' }));
      policy.onReset(() => this.emit({ type: 'breaker', host, state: 'closed' }));
      this.breakers.set(host, policy);
    }
    return policy;
  }

  private emit(event: TransportEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // an observer must not break a request
    }
  }

  /** One HTTP exchange. Throws TransientFailure for what may be retried; returns anything definite. */
  private async attemptOnce(req: SiiHttpRequest, attempt: number): Promise<Attempt> {
    this.emit({ type: 'attempt', operation: req.operation, url: req.url, attempt });
    const timeoutMs = req.timeoutMs ?? (req.idempotent ? this.options.timeoutMs : this.options.uploadTimeoutMs);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(TIMEOUT), timeoutMs);
    try {
      let res: Response;
      try {
        res = await this.fetchImpl(req.url, {
          method: req.method,
          headers: req.headers ?? {},
          ...(req.body !== undefined ? { body: req.body } : {}),
          signal: controller.signal,
          // Never follow redirects: a POSTed upload must not be replayed to another URL.
          redirect: 'manual',
        });
      } catch (e) {
        if (controller.signal.aborted && controller.signal.reason === TIMEOUT) {
          throw new TransientFailure('timeout', `no answer within ${timeoutMs} ms`, true, undefined, undefined, e);
        }
        const code = errorCode(e);
        throw new TransientFailure('connection', `connection failed (${code ?? describe(e)})`, !(code !== undefined && NOT_SENT_CODES.has(code)), undefined, undefined, e);
      }

      let body: Buffer;
      try {
        body = await readBody(res, this.options.maxResponseBytes);
      } catch (e) {
        if (e instanceof BodyTooLarge) {
          return { definite: new SiiError('ERR_SII_PROTOCOL', req.operation, `${req.operation}: answer larger than ${this.options.maxResponseBytes} bytes`, { httpStatus: res.status, url: req.url }) };
        }
        if (controller.signal.aborted && controller.signal.reason === TIMEOUT) {
          throw new TransientFailure('timeout', `answer not complete within ${timeoutMs} ms`, true, res.status, undefined, e);
        }
        throw new TransientFailure('connection', `answer cut short (${errorCode(e) ?? describe(e)})`, true, res.status, undefined, e);
      }

      const contentType = res.headers.get('content-type') ?? '';
      const status = res.status;
      const answer: SiiHttpResponse = { status, headers: res.headers, body, contentType, attempts: attempt, url: req.url };

      if (status >= 500) {
        // A SOAP fault travels as HTTP 500 with a readable envelope: that is a definite answer.
        if (req.expect === 'xml' && !looksLikeHtml(body, contentType) && /<(?:[A-Za-z0-9_.-]+:)?Fault[\s>]/.test(body.subarray(0, 4096).toString('latin1'))) {
          return { ok: answer };
        }
        const gatewayLost = !req.idempotent && (status === 502 || status === 504);
        throw new TransientFailure('http', `HTTP ${status}${body.length ? `: ${excerpt(body, 120)}` : ''}`, gatewayLost, status, retryAfter(res, this.options.clock));
      }
      if (status === 429) {
        throw new TransientFailure('rate_limited', 'HTTP 429 (rate limited)', false, status, retryAfter(res, this.options.clock));
      }
      if (status >= 200 && status < 300 && unexpectedBody(body, contentType, req.expect)) {
        throw new TransientFailure('html', `HTTP ${status} with ${looksLikeHtml(body, contentType) ? 'an HTML page' : 'unexpected text'} instead of ${req.expect.toUpperCase()}: ${excerpt(body, 120)}`, false, status);
      }
      return { ok: answer };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** HTML where XML/JSON was expected, or plain text (`Error 500`) where XML/JSON was expected. */
function unexpectedBody(body: Buffer, contentType: string, expect: 'xml' | 'json'): boolean {
  if (looksLikeHtml(body, contentType)) return true;
  if (expect === 'xml') return looksLikeNonXml(body);
  const head = body.subarray(0, 64).toString('latin1').replace(/^\uFEFF/, '').trimStart();
  return !(head.startsWith('{') || head.startsWith('['));
}

class BodyTooLarge extends Error {}

async function readBody(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new BodyTooLarge();
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge();
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, total);
}

function retryAfter(res: Response, clock: SiiClock): number | undefined {
  const h = res.headers.get('retry-after');
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim()) * 1000;
  const at = Date.parse(h);
  return Number.isFinite(at) ? Math.max(0, at - clock.now()) : undefined;
}

/** The most specific error code in a fetch failure (`TypeError: fetch failed` → cause.code). */
function errorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function hostOf(hostOrUrl: string): string {
  try {
    return new URL(hostOrUrl).host;
  } catch {
    return hostOrUrl;
  }
}
