/**
 * The DTE service as a Fastify plugin (`dteService`) and `buildApp(config)`, which wraps it in a
 * Fastify instance. `server.ts` only reads the environment and listens.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import { authPlugin, healthRoutes, openApiDocs, problemJson, problemServerOptions, readiness } from '@timbre/http';
import type { AppConfig } from './config.js';
import cachePlugin from './plugins/cache.js';
import dbPlugin from './plugins/db.js';
import metricsPlugin from './plugins/metrics.js';
import queuePlugin from './plugins/queue.js';
import rateLimitPlugin from './plugins/rate-limit.js';
import { STATUS_BY_CODE } from './problems.js';
import adminRoutes from './routes/admin.js';
import dteRoutes from './routes/dte.js';
import { databaseReadiness } from './routes/health.js';
import receivedRoutes from './routes/received.js';
import webhookRoutes from './routes/webhooks.js';
import { registerWebhookWorkers } from './services/webhooks.js';

const service: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  // Tier 1: infrastructure.
  await app.register(metricsPlugin);
  await app.register(openApiDocs, { title: 'Timbre DTE Service', version: '0.1.0', description: 'Issues, signs, sends and tracks Chilean DTEs (SII).' });
  await app.register(dbPlugin, { config });
  await app.register(readiness); // app.readinessChecks: what /ready reports (plugins add theirs)
  await app.register(databaseReadiness);
  await app.register(cachePlugin, { config }); // app.cache (Redis or memory), app.siiTokens
  // From here on every SII client of the service (SignerCache) uses the shared TokenCache.
  config = { ...config, sii: { ...config.sii, tokenCache: app.siiTokens } };
  await app.register(queuePlugin, { config });
  await app.register(authPlugin, { auth: config });
  await app.register(rateLimitPlugin, { config }); // before any limited route; health/ready/metrics exempt
  // One error handler for the whole service: code → status, problem+json, no internals on 5xx;
  // JSON only (the CAF route adds XML, the logo route PNG/JPEG); 404 as problem+json.
  await app.register(problemJson, { statusByCode: STATUS_BY_CODE });

  // Tier 3: routes.
  await app.register(healthRoutes);
  await app.register(adminRoutes, { config });
  await app.register(dteRoutes, { config });
  await app.register(receivedRoutes, { config }); // inbox, received documents, commercial responses
  registerWebhookWorkers(app, config); // outbox dispatcher + CAF/certificate alerts (config.webhooks)
  await app.register(webhookRoutes, { config });
};

/** The service as a plugin (not encapsulated: its error handler and decorators are the root's). */
export const dteService = fp(service, { fastify: '5.x', name: 'timbre-dte-service' });

export async function buildApp(config: AppConfig, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: config.logger ?? false,
    bodyLimit: 5 * 1024 * 1024,
    // Errors Fastify and Node answer outside the error handler get problem+json too.
    ...problemServerOptions,
    // Never log request bodies or auth headers: certificates, passwords and tokens travel in them.
    ...options,
  });
  await app.register(dteService, { config });
  await app.ready();
  return app;
}

export type { AppConfig } from './config.js';
