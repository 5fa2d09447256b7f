import { createCache, hashKey, type Cache } from '@timbre/cache';
import { TokenCache, type TokenStore } from '@timbre/sii';
import type { SecretBox } from '@timbre/store';
import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Redis (`config.redisUrl`) or the in-memory LRU. A miss never changes an answer, only its speed. */
    cache: Cache;
    /** SII tokens for every SII client of this service; shared through Redis when there is one. */
    siiTokens: TokenCache;
  }
}

/**
 * SII tokens in the shared cache: under a hash of the TokenCache key (environment, SII URL,
 * certificate fingerprint, kind), sealed with the SecretBox — a token is a credential for the
 * company at the SII, and Redis is not where credentials are kept in clear. A value that does not
 * open (another master key, tampering) is a miss.
 */
export function sealedTokenStore(cache: Cache, box: SecretBox): TokenStore {
  const k = (key: string) => `sii-token:${hashKey(key)}`;
  return {
    async get(key) {
      const v = await cache.get<{ sealed?: unknown; expiresAt?: unknown }>(k(key));
      if (!v || typeof v.sealed !== 'string' || typeof v.expiresAt !== 'number') return undefined;
      try {
        return { token: box.open(v.sealed).toString('utf8'), expiresAt: v.expiresAt };
      } catch {
        return undefined;
      }
    },
    set: (key, value, ttlMs) => cache.set(k(key), { sealed: box.seal(value.token), expiresAt: value.expiresAt }, ttlMs),
    del: (key) => cache.del(k(key)),
  };
}

/**
 * The cache (`app.cache`, closed with the app), the service's TokenCache (`app.siiTokens`: backed by
 * Redis when configured, so every instance shares one SII login per certificate) and the `cache`
 * readiness check — optional: Redis down makes `/ready` say `degraded`, still 200.
 */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    const cache = createCache({
      ...(config.redisUrl ? { url: config.redisUrl } : {}),
      ...(config.cachePrefix ? { prefix: config.cachePrefix } : {}),
      logger: app.log,
    });
    app.decorate('cache', cache);
    app.addHook('onClose', async () => cache.close());
    // In memory the TokenCache is its own store: a second copy of every token would buy nothing.
    app.decorate('siiTokens', config.sii.tokenCache ?? new TokenCache(cache.kind === 'redis' ? { store: sealedTokenStore(cache, app.secretBox) } : {}));
    app.readinessChecks.set('cache', { required: false, check: async () => ({ ...(await cache.health()), kind: cache.kind }) });
  },
  { fastify: '5.x', name: 'timbre-cache', dependencies: ['timbre-db', 'timbre-readiness'] },
);
