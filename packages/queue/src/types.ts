/**
 * The queue contract shared by both implementations (RabbitMQ and the embedded database queue).
 *
 * Delivery is AT LEAST ONCE: a handler may see the same job more than once (a consumer that dies or
 * loses its connection before acknowledging, a publish retried after a lost confirm). Handlers must
 * be idempotent. Ordering is not guaranteed.
 */

export interface Job<T = unknown> {
  /** Stable across redeliveries and retries of the same job (DB: the row id; RabbitMQ: a UUID header). */
  id: string;
  queue: string;
  payload: T;
  /** 1-based delivery attempt. A retry after a failure, or a redelivery after a lost consumer, counts one more. */
  attempt: number;
  /** The job's maxAttempts: when `attempt === maxAttempts`, a failure dead-letters it. */
  maxAttempts: number;
}

export interface PublishOptions {
  /** Not before this many ms from now. */
  delayMs?: number;
  /**
   * DB: unique per queue, publishing the same key again is a no-op (while the first row exists, even
   * after it is done). RabbitMQ: sent as the AMQP messageId, best effort (the broker does not dedupe).
   */
  dedupeKey?: string;
  /** Attempts before the job is dead-lettered (default 8). */
  maxAttempts?: number;
}

export interface ConsumeOptions {
  /** Max handlers running at once for this consumer (RabbitMQ: the channel prefetch), default 4. */
  prefetch?: number;
  /** Backoff after the first failure, default 1000 ms; doubles per attempt, ±25 % jitter. */
  retryBaseMs?: number;
  /** Cap on the backoff, default 5 min. */
  retryMaxMs?: number;
}

export interface QueueStats {
  /** Waiting to be handled and due (RabbitMQ: the work queue's message count). */
  ready: number;
  /** DB: jobs leased by a consumer right now; RabbitMQ: handlers running in THIS process. */
  inFlight?: number;
  /** DB only: waiting for their run_at (published with delayMs, or retrying after a failure). */
  delayed?: number;
  dead: number;
}

export interface DeadLetter {
  id: string;
  payload: unknown;
  attempts: number;
  error: string | null;
}

export interface JobQueue {
  readonly kind: 'rabbitmq' | 'database';
  /** Resolves once the job is durable (publisher confirm / committed row), throws QueueError otherwise. */
  publish<T>(queue: string, payload: T, options?: PublishOptions): Promise<void>;
  /** Batch form: one transaction (DB), confirms awaited together (RabbitMQ). */
  publishMany<T>(queue: string, payloads: Array<{ payload: T; options?: PublishOptions }>): Promise<void>;
  /**
   * Handler resolves → ack. Throws → retry with exponential backoff + jitter until the job's
   * maxAttempts, then dead letter. Throws RetryLater → rescheduled without counting an attempt.
   */
  consume<T>(queue: string, handler: (job: Job<T>) => Promise<void>, options?: ConsumeOptions): Promise<Consumer>;
  deadLetters(queue: string, limit?: number): Promise<DeadLetter[]>;
  /** Dead → ready again with a fresh attempt count (all, or those with this job id); returns the count. */
  redrive(queue: string, id?: string): Promise<number>;
  stats(queue: string): Promise<QueueStats>;
  health(): Promise<{ ok: boolean; detail?: string }>;
  /** DB only: delete `done` jobs last touched before `olderThan`; returns the count. */
  purge?(olderThan: Date): Promise<number>;
  /**
   * Graceful: stop taking new jobs, wait for in-flight handlers (bounded by `closeTimeoutMs`), then
   * close. Jobs still running at the deadline are redelivered later (RabbitMQ: the broker requeues
   * unacked messages; DB: their lease lapses). The database handle given to createQueue stays open.
   */
  close(): Promise<void>;
}

export interface Consumer {
  /** Stop taking jobs and wait (bounded by `closeTimeoutMs`) for the running handlers. */
  cancel(): Promise<void>;
}

export interface QueueLogger {
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
}

/**
 * Thrown by a handler: reschedule the job after `delayMs` WITHOUT counting an attempt (e.g. the SII's
 * circuit is open: pause, don't fail).
 */
export class RetryLater extends Error {
  constructor(
    readonly delayMs: number,
    message?: string,
  ) {
    super(message ?? `retry in ${delayMs} ms`);
    this.name = 'RetryLater';
  }
}

/** RetryLater, also when thrown by another copy of this module (e.g. a second install). */
export function asRetryLater(e: unknown): { delayMs: number } | undefined {
  if (e instanceof RetryLater) return e;
  if (e instanceof Error && e.name === 'RetryLater' && typeof (e as { delayMs?: unknown }).delayMs === 'number') return e as unknown as { delayMs: number };
  return undefined;
}

/**
 * ERR_QUEUE_UNAVAILABLE: the broker (or database) could not be reached, or no publisher confirm
 * arrived, before the timeout; the message may or may not have been stored — publish again if in
 * doubt (consumers are idempotent). ERR_QUEUE_NACKED: the broker refused the message. ERR_QUEUE_CLOSED:
 * the queue was closed. ERR_QUEUE_CONFIG: bad options. ERR_QUEUE_INVALID: bad arguments.
 */
export type QueueErrorCode = 'ERR_QUEUE_UNAVAILABLE' | 'ERR_QUEUE_NACKED' | 'ERR_QUEUE_CLOSED' | 'ERR_QUEUE_CONFIG' | 'ERR_QUEUE_INVALID';

export class QueueError extends Error {
  constructor(
    readonly code: QueueErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QueueError';
  }
}

export const DEFAULT_MAX_ATTEMPTS = 8;
export const DEFAULT_PREFETCH = 4;
export const DEFAULT_RETRY_BASE_MS = 1000;
export const DEFAULT_RETRY_MAX_MS = 5 * 60_000;

/**
 * The delay after failed attempt `attempt` (1-based): base · 2^(attempt-1), ±25 % jitter, capped.
 * With a factor of 2 and ±25 %, consecutive delays never shrink (until the cap).
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exp = baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 40);
  return Math.max(0, Math.min(maxMs, Math.round(exp * (0.75 + Math.random() * 0.5))));
}

export interface ResolvedConsumeOptions {
  prefetch: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export function resolveConsumeOptions(o: ConsumeOptions = {}): ResolvedConsumeOptions {
  const prefetch = o.prefetch ?? DEFAULT_PREFETCH;
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new QueueError('ERR_QUEUE_INVALID', `prefetch must be an integer ≥ 1, got ${prefetch}`);
  const retryBaseMs = o.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
  const retryMaxMs = o.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
  if (!(retryBaseMs >= 0) || !(retryMaxMs >= 0)) throw new QueueError('ERR_QUEUE_INVALID', 'retryBaseMs and retryMaxMs must be ≥ 0');
  return { prefetch, retryBaseMs, retryMaxMs };
}

export function resolveMaxAttempts(o: PublishOptions | undefined): number {
  const n = o?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(n) || n < 1) throw new QueueError('ERR_QUEUE_INVALID', `maxAttempts must be an integer ≥ 1, got ${n}`);
  return n;
}

export function resolveDelay(ms: number | undefined): number {
  if (ms === undefined) return 0;
  if (!Number.isFinite(ms)) throw new QueueError('ERR_QUEUE_INVALID', `delayMs must be a finite number, got ${ms}`);
  return Math.max(0, Math.ceil(ms));
}

/** Queue names become RabbitMQ queue names (`prefix.name`): letters, digits, `.`, `_`, `-`, `:`. */
export function checkQueueName(queue: string): void {
  if (typeof queue !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/.test(queue)) {
    throw new QueueError('ERR_QUEUE_INVALID', `invalid queue name "${String(queue)}" (letters, digits, ".", "_", "-", ":"; up to 200)`);
  }
  if (queue.endsWith('.dead') || queue.includes('.delay.')) throw new QueueError('ERR_QUEUE_INVALID', `queue name "${queue}" collides with the dead-letter/delay queue names`);
}

/** The message to store for a failure: `Name: message`, bounded. */
export function errorText(e: unknown, max = 2000): string {
  const s = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function encodePayload(payload: unknown): string {
  const s = JSON.stringify(payload ?? null) as string | undefined;
  if (s === undefined) throw new QueueError('ERR_QUEUE_INVALID', 'the payload is not JSON-serializable');
  return s;
}

export const consoleLogger: QueueLogger = {
  warn: (o, m) => console.warn(`[queue] ${m ?? ''}`, JSON.stringify(o)),
  error: (o, m) => console.error(`[queue] ${m ?? ''}`, JSON.stringify(o)),
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when `p` settles or after `ms`, whichever first; true when `p` settled. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), Math.max(0, ms)))),
  ]);
  clearTimeout(timer);
  return done;
}
