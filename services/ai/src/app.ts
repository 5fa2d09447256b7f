/**
 * The AI service as a Fastify plugin (`aiService`) and `buildApp(config)`, which wraps it in a
 * Fastify instance. `server.ts` only reads the environment and listens. Built like the DTE service
 * (services/dte/src/app.ts): same auth, same problem+json, same /health and /ready, OpenAPI at /docs.
 */
import { authenticate, authorize, type ApiKeyRecord, type Permission, type Principal } from '@timbre/auth';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import { authChallenge, clientErrorHandler, frameworkErrorHandler, problem, problemSchema, toProblem } from './problems.js';
import forecastRoutes from './routes/forecast.js';

export interface AppConfig {
  /** HS256 key shared with the DTE service (TIMBRE_JWT_SECRET): the same token works on both. */
  jwtKey: Uint8Array;
  /** Service-to-service API keys (hashes only), as in the DTE service. */
  apiKeys?: readonly ApiKeyRecord[];
  /** Fastify logger options; absent/false: no logging (tests). */
  logger?: FastifyServerOptions['logger'];
}

export type Need = { permission: Permission; company?: string; dteType?: number };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Authenticate (once per request) and check one permission, optionally for a company and type. */
    requirePermission(request: FastifyRequest, need: Need): Promise<Principal>;
  }
}

/** Bearer JWT or X-Api-Key (see @timbre/auth); lazy, so public routes need nothing. */
const auth = fp<{ config: AppConfig }>(
  async (app, { config }) => {
    app.decorateRequest('principal', null);
    app.decorate('requirePermission', async (request: FastifyRequest, need: Need) => {
      if (request.principal === null) {
        const h = request.headers;
        const headers: { authorization?: string; 'x-api-key'?: string } = {};
        if (typeof h.authorization === 'string') headers.authorization = h.authorization;
        if (typeof h['x-api-key'] === 'string') headers['x-api-key'] = h['x-api-key'];
        request.principal = await authenticate(headers, { jwtKey: config.jwtKey, ...(config.apiKeys ? { apiKeys: config.apiKeys } : {}) });
      }
      authorize(request.principal, need);
      return request.principal;
    });
  },
  { fastify: '5.x', name: 'timbre-ai-auth' },
);

/** OpenAPI 3 from the route schemas; UI at /docs, JSON at /docs/json. */
const docs = fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        info: { title: 'Timbre AI Service', version: '0.1.0', description: 'Folio usage forecasting (more AI features to come).' },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
          },
        },
        security: [{ bearer: [] }, { apiKey: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { fastify: '5.x', name: 'timbre-ai-swagger' },
);

/**
 * Liveness and readiness. The service has no external dependency yet (the forecast is pure), so
 * `/ready` is ready as soon as it answers; same shape as the DTE service's (`checks` by name).
 */
const health: FastifyPluginAsync = async (app) => {
  app.get('/health', { schema: { tags: ['ops'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { tags: ['ops'], security: [] } }, async () => ({ status: 'ready', checks: {} }));
};

const service: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  await app.register(docs);
  await app.register(auth, { config });
  app.addSchema(problemSchema);

  // One error handler for the whole service: code → status, problem+json, no internals on 5xx.
  app.setErrorHandler((err, request, reply) => {
    const { problem: p, internal } = toProblem(err);
    if (internal || p.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: p.code, status: p.status }, 'request refused');
    if (p.status === 401) reply.header('www-authenticate', authChallenge(p.code));
    return reply.code(p.status).type('application/problem+json').send(p);
  });
  app.removeContentTypeParser('text/plain'); // JSON only
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send(problem(404, 'ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  await app.register(health);
  await app.register(forecastRoutes);
};

/** The service as a plugin (not encapsulated: its error handler and decorators are the root's). */
export const aiService = fp(service, { fastify: '5.x', name: 'timbre-ai-service' });

export async function buildApp(config: AppConfig, options: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: config.logger ?? false,
    bodyLimit: 2 * 1024 * 1024,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    ...options,
  });
  await app.register(aiService, { config });
  await app.ready();
  return app;
}
