/**
 * The AI service as a Fastify plugin (`aiService`) and `buildApp(config)`, which wraps it in a
 * Fastify instance. `server.ts` only reads the environment and listens. Built like the DTE service
 * (services/dte/src/app.ts): same auth, same problem+json, same /health and /ready, OpenAPI at /docs.
 */
import type { ApiKeyRecord } from '@timbre/auth';
import { authPlugin, openApiDocs, problemJson, problemServerOptions } from '@timbre/http';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_BY_CODE } from './problems.js';
import forecastRoutes from './routes/forecast.js';

export interface AppConfig {
  /** HS256 key shared with the DTE service (TIMBRE_JWT_SECRET): the same token works on both. */
  jwtKey: Uint8Array;
  /** Service-to-service API keys (hashes only), as in the DTE service. */
  apiKeys?: readonly ApiKeyRecord[];
  /** Fastify logger options; absent/false: no logging (tests). */
  logger?: FastifyServerOptions['logger'];
}

export type { Need } from '@timbre/http';

/**
 * Liveness and readiness. The service has no external dependency yet (the forecast is pure), so
 * `/ready` is ready as soon as it answers; same shape as the DTE service's (`checks` by name).
 */
const health: FastifyPluginAsync = async (app) => {
  app.get('/health', { schema: { tags: ['ops'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { tags: ['ops'], security: [] } }, async () => ({ status: 'ready', checks: {} }));
};

const service: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  await app.register(openApiDocs, {
    title: 'Timbre AI Service',
    version: '0.1.0',
    description: 'Pre-validation, reconciliation, SII regulatory monitoring, chat and folio forecasting; Claude when configured, a deterministic engine otherwise.',
  });
  await app.register(authPlugin, { auth: config });
  // One error handler for the whole service: code → status, problem+json, no internals on 5xx;
  // JSON only; 404 as problem+json.
  await app.register(problemJson, { statusByCode: STATUS_BY_CODE });

  await app.register(health);
  await app.register(forecastRoutes);
};

/** The service as a plugin (not encapsulated: its error handler and decorators are the root's). */
export const aiService = fp(service, { fastify: '5.x', name: 'timbre-ai-service' });

export async function buildApp(config: AppConfig, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: config.logger ?? false,
    bodyLimit: 2 * 1024 * 1024,
    ...problemServerOptions,
    ...options,
  });
  await app.register(aiService, { config });
  await app.ready();
  return app;
}
