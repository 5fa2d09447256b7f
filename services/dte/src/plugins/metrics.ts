import fp from 'fastify-plugin';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  documents: Counter<'dte_type' | 'status'>;
  siiCalls: Counter<'operation' | 'outcome'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** One registry per app instance (tests build several), HTTP counters/histograms and `/metrics`. */
export default fp(
  async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const requests = new Counter({
      name: 'timbre_http_requests_total',
      help: 'HTTP requests by method, route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'timbre_http_request_duration_seconds',
      help: 'HTTP request duration by method and route',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const documents = new Counter({
      name: 'timbre_dte_documents_total',
      help: 'Documents issued (signed) and their status transitions, by type and status',
      labelNames: ['dte_type', 'status'] as const,
      registers: [registry],
    });
    const siiCalls = new Counter({
      name: 'timbre_sii_calls_total',
      help: 'Calls to the SII by operation and outcome',
      labelNames: ['operation', 'outcome'] as const,
      registers: [registry],
    });
    app.decorate('metrics', { registry, documents, siiCalls });

    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, not the URL: bounded label cardinality.
      const route = request.routeOptions.url ?? 'unmatched';
      requests.inc({ method: request.method, route, status_code: String(reply.statusCode) });
      duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  },
  { fastify: '5.x', name: 'timbre-metrics' },
);
