/**
 * The DTE service's rate limit: @timbre/http's, sharing the cache's Redis connection when there is
 * one (every instance one budget; see `rateLimitPlugin`).
 */
import { RedisCache } from '@timbre/cache';
import { DEFAULT_RATE_LIMIT, rateLimitPlugin } from '@timbre/http';
import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';

export { DEFAULT_RATE_LIMIT };

export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    const shared = app.cache instanceof RedisCache ? app.cache : undefined;
    await app.register(rateLimitPlugin, {
      limit: config.rateLimit ?? DEFAULT_RATE_LIMIT,
      auth: config,
      ...(shared ? { redis: { client: shared.client, prefix: shared.prefix } } : {}),
    });
  },
  { fastify: '5.x', name: 'timbre-dte-rate-limit', dependencies: ['timbre-auth', 'timbre-cache'] },
);
