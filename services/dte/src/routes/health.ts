/**
 * The DTE service's readiness: its database is required (`/health` and `/ready` themselves are
 * @timbre/http's). Register after `timbre-db` and `timbre-readiness`.
 */
import fp from 'fastify-plugin';

export const databaseReadiness = fp(
  async (app) => {
    app.readinessChecks.set('database', {
      required: true,
      check: async () => {
        await app.db.selectFrom('company').select('rut').limit(1).execute();
        return { ok: true };
      },
    });
  },
  { fastify: '5.x', name: 'timbre-db-readiness', dependencies: ['timbre-db', 'timbre-readiness'] },
);
