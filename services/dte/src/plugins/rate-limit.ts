import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';
import { ServiceError } from '../problems.js';
import { authenticateRequest } from './auth.js';

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
 * Store: in memory, per process (the plugin's LocalStore). Issue 5 (several replicas) passes a
 * shared one here — `redis: <ioredis client>` (the plugin's RedisStore, keys under `nameSpace`)
 * or any `store` implementing the plugin's `FastifyRateLimitStore` — and nothing else changes.
 */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    const settings = config.rateLimit ?? DEFAULT_RATE_LIMIT;
    if (settings === false) return;
    await app.register(rateLimit, {
      global: true,
      hook: 'onRequest',
      max: settings.max,
      timeWindow: settings.timeWindowMs,
      allowList: (request) => isExempt(request),
      keyGenerator: async (request) => {
        if (isExempt(request)) return 'exempt';
        try {
          const principal = await authenticateRequest(request, config);
          return `${principal.kind}:${principal.sub}`;
        } catch {
          return `ip:${request.ip}`;
        }
      },
      errorResponseBuilder: (_request, context) =>
        new ServiceError('ERR_RATE_LIMITED', 429, `rate limit exceeded: at most ${context.max} requests per ${settings.timeWindowMs / 1000} s; retry in ${context.after}`, {
          retry_after: Math.max(1, Math.ceil(context.ttl / 1000)),
        }),
    });
  },
  { fastify: '5.x', name: 'timbre-rate-limit', dependencies: ['timbre-auth'] },
);
