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
 * Bearer JWT or X-Api-Key (see @timbre/auth). Authentication happens lazily in
 * `requirePermission`, so public routes (health, metrics, docs) need nothing; AuthError carries
 * 401/403 and is mapped by the root error handler.
 */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    app.decorateRequest('principal', null);
    app.decorate('requirePermission', async (request: FastifyRequest, need: { permission: Permission; company?: string; dteType?: number }) => {
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
  { fastify: '5.x', name: 'timbre-auth' },
);
