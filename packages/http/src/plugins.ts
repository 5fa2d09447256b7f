/// <reference types="@fastify/swagger" preserve="true" />
// ↑ Route schemas of every service use its `tags`/`hide` (OpenAPI) augmentation of FastifySchema.
/**
 * Fastify plugins every Timbre service registers the same way: the problem+json error handling,
 * the JWT / API-key authentication, and the OpenAPI documentation.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { authenticate, authorize, type ApiKeyRecord, type Permission, type Principal } from '@timbre/auth';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { authChallenge, createToProblem, problem, problemSchema } from './problems.js';

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

/**
 * One error handler for the whole service: code → status, problem+json, no internals on 5xx; the
 * `Problem` schema for routes' responses; JSON only (routes that take XML or images add their own
 * parser; without this, text/plain reached the handlers as a string); 404 as problem+json.
 */
export const problemJson = fp<{ statusByCode?: Readonly<Record<string, number>> }>(
  async (app, { statusByCode = {} }) => {
    const toProblem = createToProblem(statusByCode);
    app.addSchema(problemSchema);
    app.setErrorHandler((err, request, reply) => {
      const { problem: p, internal } = toProblem(err);
      if (internal || p.status >= 500) request.log.error({ err }, 'request failed');
      else request.log.info({ code: p.code, status: p.status }, 'request refused');
      if (p.status === 503) reply.header('retry-after', '30');
      if (p.status === 401) reply.header('www-authenticate', authChallenge(p.code));
      return reply.code(p.status).type('application/problem+json').send(p);
    });
    app.removeContentTypeParser('text/plain');
    app.setNotFoundHandler((request, reply) =>
      reply
        .code(404)
        .type('application/problem+json')
        .send(problem(404, 'ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
    );
  },
  { fastify: '5.x', name: 'timbre-problem-json' },
);

export interface AuthOptions {
  /** HS256 key (TIMBRE_JWT_SECRET): the same token works on every service. */
  jwtKey: Uint8Array;
  /** Service-to-service API keys (hashes only). */
  apiKeys?: readonly ApiKeyRecord[] | undefined;
}

/**
 * Authenticate the request's credentials once: the principal is kept on `request.principal` (a rate
 * limiter may call this early to key by principal; `requirePermission` reuses the result). Throws
 * AuthError (401) when the credentials are missing or invalid.
 */
export async function authenticateRequest(request: FastifyRequest, options: AuthOptions): Promise<Principal> {
  if (request.principal !== null) return request.principal;
  const h = request.headers;
  const headers: { authorization?: string; 'x-api-key'?: string } = {};
  if (typeof h.authorization === 'string') headers.authorization = h.authorization;
  if (typeof h['x-api-key'] === 'string') headers['x-api-key'] = h['x-api-key'];
  request.principal = await authenticate(headers, { jwtKey: options.jwtKey, ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}) });
  return request.principal;
}

/**
 * Bearer JWT or X-Api-Key (see @timbre/auth). Authentication happens lazily in
 * `requirePermission`, so public routes (health, metrics, docs) need nothing; AuthError carries
 * 401/403 and is mapped by the problem+json handler.
 */
export const authPlugin = fp<{ auth: AuthOptions }>(
  async (app, { auth }) => {
    app.decorateRequest('principal', null);
    app.decorate('requirePermission', async (request: FastifyRequest, need: Need) => {
      const principal = await authenticateRequest(request, auth);
      authorize(principal, need);
      return principal;
    });
  },
  { fastify: '5.x', name: 'timbre-auth' },
);

/** OpenAPI 3 from the route schemas; UI at /docs, JSON at /docs/json. */
export const openApiDocs = fp<{ title: string; description: string; version: string }>(
  async (app, { title, description, version }) => {
    await app.register(swagger, {
      openapi: {
        info: { title, version, description },
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
  { fastify: '5.x', name: 'timbre-openapi' },
);
