import { authenticate, authorize, type Permission, type Principal } from '@timbre/auth';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Authenticate (once per request) and check one permission, optionally for a company and type. */
    requirePermission(request: FastifyRequest, need: { permission: Permission; company?: string; dteType?: number }): Promise<Principal>;
  }
}

/**
 * Authenticate the request's credentials once: the principal is kept on `request.principal` (the
 * rate limiter calls this early to key by principal; `requirePermission` reuses the result).
 * Throws AuthError (401) when the credentials are missing or invalid.
 */
export async function authenticateRequest(request: FastifyRequest, config: Pick<AppConfig, 'jwtKey' | 'apiKeys'>): Promise<Principal> {
  if (request.principal !== null) return request.principal;
  const h = request.headers;
  const headers: { authorization?: string; 'x-api-key'?: string } = {};
  if (typeof h.authorization === 'string') headers.authorization = h.authorization;
  if (typeof h['x-api-key'] === 'string') headers['x-api-key'] = h['x-api-key'];
  request.principal = await authenticate(headers, { jwtKey: config.jwtKey, ...(config.apiKeys ? { apiKeys: config.apiKeys } : {}) });
  return request.principal;
}

/**
 * Bearer JWT or X-Api-Key (see @timbre/auth). Authentication happens lazily in
 * `requirePermission`, so public routes (health, metrics, docs) need nothing; AuthError carries
 * 401/403 and is mapped by the root error handler.
 */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    app.decorateRequest('principal', null);
    app.decorate('requirePermission', async (request: FastifyRequest, need: { permission: Permission; company?: string; dteType?: number }) => {
      const principal = await authenticateRequest(request, config);
      authorize(principal, need);
      return principal;
    });
  },
  { fastify: '5.x', name: 'timbre-auth' },
);
