/**
 * The AI service as a Fastify plugin (`aiService`) and `buildApp(config)`, which wraps it in a
 * Fastify instance. `server.ts` only reads the environment and listens. Built like the DTE service
 * (services/dte/src/app.ts): same auth, same problem+json, same /health and /ready, OpenAPI at /docs.
 */
import type { ApiKeyRecord } from '@timbre/auth';
import { DEFAULT_RATE_LIMIT, authPlugin, healthRoutes, openApiDocs, problemJson, problemServerOptions, rateLimitPlugin, readiness } from '@timbre/http';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_BY_CODE } from './problems.js';
import chatRoutes from './routes/chat.js';
import forecastRoutes from './routes/forecast.js';
import prevalidateRoutes from './routes/prevalidate.js';
import type { LlmConfig } from '@timbre/llm';
import reconcileRoutes from './routes/reconcile.js';
import siiMonitorRoutes from './routes/sii-monitor.js';
import type { SiiMonitorConfig } from './monitor/service.js';

export interface AppConfig {
  /** HS256 key shared with the DTE service (TIMBRE_JWT_SECRET): the same token works on both. */
  jwtKey: Uint8Array;
  /** Service-to-service API keys (hashes only), as in the DTE service. */
  apiKeys?: readonly ApiKeyRecord[];
  /** Fastify logger options; absent/false: no logging (tests). */
  logger?: FastifyServerOptions['logger'];
  /** DTE service base URL (TIMBRE_DTE_URL; default http://127.0.0.1:8001): the chat's tools and pre-validation's context read it with the caller's credentials. */
  dteServiceUrl?: string;
  /** The AI service's own database (TIMBRE_AI_DATABASE_URL): `sqlite:PATH` or `postgres://…`; the SII monitor's state. */
  databaseUrl?: string;
  /** PostgreSQL schema for it (tests). */
  databaseSearchPath?: string;
  /** SII regulatory monitor (scheduler + Odoo notifications); absent/false: off, its routes answer 503. */
  siiMonitor?: SiiMonitorConfig | false;
  /** Requests per window per principal (RATE_LIMIT_MAX / RATE_LIMIT_WINDOW_MS; default 600/min); false: off. */
  rateLimit?: { max: number; timeWindowMs: number } | false;
  /** Claude (ANTHROPIC_API_KEY …, see @timbre/llm); absent: the deterministic engines alone. */
  llm?: LlmConfig | undefined;
}

export type { Need } from '@timbre/http';

const service: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  await app.register(openApiDocs, {
    title: 'Timbre AI Service',
    version: '0.1.0',
    description: 'Pre-validation, reconciliation, SII regulatory monitoring, chat and folio forecasting; Claude when configured, a deterministic engine otherwise.',
  });
  await app.register(authPlugin, { auth: config });
  // Per principal, before the body is read: bounds what one caller can spend (Claude calls included).
  await app.register(rateLimitPlugin, { limit: config.rateLimit ?? DEFAULT_RATE_LIMIT, auth: config });
  // One error handler for the whole service: code → status, problem+json, no internals on 5xx;
  // JSON only; 404 as problem+json.
  await app.register(problemJson, { statusByCode: STATUS_BY_CODE });

  // /health, and /ready over what plugins register (the SII monitor's database when it is on).
  await app.register(readiness);
  await app.register(healthRoutes);
  await app.register(forecastRoutes);
  await app.register(prevalidateRoutes, { llm: config.llm, dteServiceUrl: config.dteServiceUrl });
  await app.register(reconcileRoutes);
  await app.register(siiMonitorRoutes, { monitor: config.siiMonitor, databaseUrl: config.databaseUrl, databaseSearchPath: config.databaseSearchPath });
  await app.register(chatRoutes, { ...(config.dteServiceUrl !== undefined ? { dteServiceUrl: config.dteServiceUrl } : {}), ...(config.llm ? { llm: config.llm } : {}) });
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
