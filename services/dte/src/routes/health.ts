import type { FastifyPluginAsync } from 'fastify';

/** Liveness (the process answers) and readiness (the database answers). */
const health: FastifyPluginAsync = async (app) => {
  app.get('/health', { schema: { tags: ['ops'], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { tags: ['ops'] } }, async (request, reply) => {
    try {
      await app.db.selectFrom('company').select('rut').limit(1).execute();
      return { status: 'ready', database: 'ok' };
    } catch (err) {
      request.log.error({ err }, 'readiness: database unreachable');
      return reply.code(503).type('application/problem+json').send({
        type: 'urn:timbre:problem:not-ready',
        title: 'Service Unavailable',
        status: 503,
        detail: 'database unreachable',
        code: 'ERR_NOT_READY',
        errors: [],
      });
    }
  });
};
export default health;
