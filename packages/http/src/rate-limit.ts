/**
 * Per-principal rate limiting shared by the services (@fastify/rate-limit): see `rateLimitPlugin`.
 */
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { authenticateRequest, type AuthOptions } from './plugins.js';
import { HttpError } from './problems.js';

/** Defaults: generous for an ERP issuing documents one request at a time, tight for a runaway loop. */
export const DEFAULT_RATE_LIMIT = { max: 600, timeWindowMs: 60_000 } as const;

/** Probes and scraping never count and are never refused (the orchestrator must always reach them). */
const EXEMPT = new Set(['/health', '/ready', '/metrics']);
const isExempt = (request: FastifyRequest): boolean => EXEMPT.has(request.routeOptions.url ?? '');

/**
 * Rate limiting (@fastify/rate-limit), applied in `onRequest`, before the body is read.
 *
 * The key is the authenticated principal (`jwt:<sub>` / `api-key:<id>`), so every instance of an
 * ERP shares one budget wherever it connects from. The credentials are verified here (the result is
 * kept on `request.principal`, so the route does not verify them again): keying by the raw header,
 * or by a hash of it, would give whoever sends a fresh invalid token on every request a fresh
 * bucket. Requests without valid credentials are keyed by client IP (`request.ip`: set Fastify's
 * `trustProxy` when the service runs behind a proxy) and go on to their 401 if not refused first.
 *
 * A refusal is the error thrown by `errorResponseBuilder`, mapped by the root error handler to 429
 * problem+json `ERR_RATE_LIMITED`; the plugin sets `retry-after` (seconds) and `x-ratelimit-*`.
 *
 * Store: with Redis (`redis`), one budget for every instance — `redisWindowStore`, over
 * the cache's connection, keys `<cachePrefix>rate-limit:<key>`; while Redis does not answer it
 * counts per process (never a 500, never unlimited) and logs it once. Without Redis: in memory, per
 * process (the plugin's LocalStore).
 */
/** Fixed window per key: INCR, and PEXPIRE on the window's first hit → [count, ms left]. */
const WINDOW_LUA = `local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

type IncrCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;
/** The one Redis command the store needs (an ioredis client has it). */
export interface RedisEval {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** Per-process fixed windows (at most 10 000 keys): what counts while Redis does not answer. */
class LocalWindows {
  private readonly windows = new Map<string, { current: number; resetAt: number }>();
  incr(key: string, timeWindow: number): { current: number; ttl: number } {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= 10_000) {
        for (const [k, v] of this.windows) if (v.resetAt <= now) this.windows.delete(k);
        if (this.windows.size >= 10_000) this.windows.delete(this.windows.keys().next().value as string);
      }
      w = { current: 0, resetAt: now + timeWindow };
      this.windows.set(key, w);
    }
    w.current++;
    return { current: w.current, ttl: w.resetAt - now };
  }
}

/** The plugin's store contract over Redis (one budget for every instance), per process while Redis fails. */
export function redisWindowStore(redis: RedisEval, namespace: string, log: FastifyBaseLogger): FastifyRateLimitStoreCtor {
  const local = new LocalWindows();
  let degraded = false;
  class RedisWindowStore implements FastifyRateLimitStore {
    // The plugin constructs the store with its options; only child() passes a namespace.
    constructor(
      _options?: unknown,
      private readonly ns: string = namespace,
    ) {}
    incr(key: string, callback: IncrCallback, timeWindow: number = DEFAULT_RATE_LIMIT.timeWindowMs): void {
      redis.eval(WINDOW_LUA, 1, this.ns + key, timeWindow).then(
        (r) => {
          if (degraded) {
            degraded = false;
            log.info('rate limit: Redis answers again, one budget for every instance');
          }
          const [current, ttl] = r as [number, number];
          callback(null, { current, ttl });
        },
        (err: unknown) => {
          if (!degraded) {
            degraded = true;
            log.warn({ err: { message: (err as Error)?.message } }, 'rate limit: Redis does not answer, counting per instance until it does');
          }
          callback(null, local.incr(this.ns + key, timeWindow));
        },
      );
    }
    child(routeOptions: RouteOptions & { path: string; prefix: string }): FastifyRateLimitStore {
      return new RedisWindowStore(undefined, `${this.ns}${String(routeOptions.method)}${routeOptions.url}-`);
    }
  }
  return RedisWindowStore;
}

export interface RateLimitOptions {
  /** Requests per window per principal (IP when unauthenticated); `false`: no limit. */
  limit: { max: number; timeWindowMs: number } | false;
  auth: AuthOptions;
  /** Shared budget across instances: a Redis connection and the key prefix (`<prefix>rate-limit:<key>`). */
  redis?: { client: RedisEval; prefix: string } | undefined;
}

export const rateLimitPlugin = fp<RateLimitOptions>(
  async (app, { limit, auth, redis }) => {
    if (limit === false) return;
    await app.register(rateLimit, {
      global: true,
      ...(redis ? { store: redisWindowStore(redis.client, `${redis.prefix}rate-limit:`, app.log) } : {}),
      hook: 'onRequest',
      max: limit.max,
      timeWindow: limit.timeWindowMs,
      allowList: (request) => isExempt(request),
      keyGenerator: async (request) => {
        if (isExempt(request)) return 'exempt';
        try {
          const principal = await authenticateRequest(request, auth);
          return `${principal.kind}:${principal.sub}`;
        } catch {
          return `ip:${request.ip}`;
        }
      },
      errorResponseBuilder: (_request, context) =>
        new HttpError('ERR_RATE_LIMITED', 429, `rate limit exceeded: at most ${context.max} requests per ${limit.timeWindowMs / 1000} s; retry in ${context.after}`, {
          retry_after: Math.max(1, Math.ceil(context.ttl / 1000)),
        }),
    });
  },
  { fastify: '5.x', name: 'timbre-rate-limit', dependencies: ['timbre-auth'] },
);

/** RATE_LIMIT_MAX (0 = off) and RATE_LIMIT_WINDOW_MS from the environment, checked. */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv): { max: number; timeWindowMs: number } | false {
  const max = Number(env.RATE_LIMIT_MAX || DEFAULT_RATE_LIMIT.max);
  const timeWindowMs = Number(env.RATE_LIMIT_WINDOW_MS || DEFAULT_RATE_LIMIT.timeWindowMs);
  if (!Number.isSafeInteger(max) || max < 0) throw new Error(`RATE_LIMIT_MAX must be an integer ≥ 0 (got ${env.RATE_LIMIT_MAX})`);
  if (!Number.isSafeInteger(timeWindowMs) || timeWindowMs < 1) throw new Error(`RATE_LIMIT_WINDOW_MS must be an integer ≥ 1 (got ${env.RATE_LIMIT_WINDOW_MS})`);
  return max === 0 ? false : { max, timeWindowMs };
}
