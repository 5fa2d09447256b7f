import { createQueue, type JobQueue } from '@timbre/queue';
import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    queue: JobQueue;
  }
}

/**
 * The job queue: RabbitMQ when `config.queueUrl` (QUEUE_URL) is an amqp(s):// URL, else the
 * embedded durable queue on the service's own database. Registered after the database plugin.
 */
export default fp<{ config: AppConfig }>(
  async (app, { config }) => {
    const queue = createQueue({
      ...(config.queueUrl ? { url: config.queueUrl } : {}),
      ...(config.queueName ? { name: config.queueName } : {}),
      ...(config.queueLeaseMs !== undefined ? { leaseMs: config.queueLeaseMs } : {}),
      ...(config.queuePollMs !== undefined ? { pollMs: config.queuePollMs } : {}),
      db: app.db,
      logger: app.log,
    });
    app.decorate('queue', queue);
    app.readinessChecks.set('queue', {
      required: true,
      check: async () => {
        const h = await queue.health();
        // The broker's own message may carry its address: log it, show a fixed word.
        if (!h.ok) app.log.warn({ detail: h.detail }, 'queue not ready');
        return h.ok ? { ok: true, kind: queue.kind } : { ok: false, kind: queue.kind, detail: 'unreachable' };
      },
    });
    app.addHook('onClose', async () => queue.close());
  },
  { fastify: '5.x', name: 'timbre-queue', dependencies: ['timbre-db', 'timbre-readiness'] },
);
