/**
 * Liveness and readiness, the same on every service: `/health` (the process answers) and `/ready`
 * (every dependency a plugin registered in `app.readinessChecks`).
 */
import fp from 'fastify-plugin';

/** What one dependency says about itself; extra fields (e.g. the cache's `kind`) are reported as they are. */
export interface ReadinessResult {
  ok: boolean;
  /** Short and safe to show unauthenticated: no URL, address, password or stack. */
  detail?: string;
  [extra: string]: unknown;
}

export interface ReadinessCheck {
  /**
   * `true` (default): the service cannot do its work without it — a failure makes `/ready` 503.
   * `false`: an accelerator (the cache) — a failure is reported and `status` is `degraded`, still 200.
   */
  required?: boolean;
  check(): Promise<ReadinessResult>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The dependencies `/ready` reports, by name. A plugin that brings a dependency registers its
     * check once, at registration, after `timbre-readiness` (declare it in `dependencies`):
     *
     * ```ts
     * app.readinessChecks.set('queue', { required: true, check: async () => ({ ok: await queue.ping() }) });
     * ```
     *
     * Each check runs on every `/ready` (in parallel with the others, at most READINESS_TIMEOUT_MS,
     * a throw or a timeout counting as `ok: false`), so keep it to one round trip.
     */
    readinessChecks: Map<string, ReadinessCheck>;
  }
}

/** A check not answered within this counts as failed (compose's healthcheck gives /ready 5 s). */
export const READINESS_TIMEOUT_MS = 2_000;

/** The registry of readiness checks (`app.readinessChecks`); dependencies add theirs. */
export const readiness = fp(
  async (app) => {
    app.decorate('readinessChecks', new Map<string, ReadinessCheck>());
  },
  { fastify: '5.x', name: 'timbre-readiness' },
);

async function run(name: string, c: ReadinessCheck, log: { error(obj: object, msg: string): void }): Promise<ReadinessResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<ReadinessResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${READINESS_TIMEOUT_MS} ms` }), READINESS_TIMEOUT_MS);
    });
    const result = await Promise.race([c.check(), timeout]);
    return { ...result, ok: result.ok === true };
  } catch (err) {
    log.error({ err, check: name }, 'readiness check failed');
    return { ok: false, detail: 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Liveness (`/health`: the process answers) and readiness (`/ready`: every registered dependency).
 *
 * `/ready` answers 200 `{ status: 'ready' | 'degraded', checks: { database: { ok, required }, cache:
 * { ok, required, kind }, … } }` when every required check passes (`degraded`: an optional one
 * failed), else 503 problem+json `ERR_NOT_READY` with the same `checks`. The cache is optional on
 * purpose: it only makes things faster, and with Redis down every answer is still right (misses),
 * so an orchestrator must not take instances out of service for it.
 */
export const healthRoutes = fp(
  async (app) => {
    app.get('/health', { schema: { tags: ['ops'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
    app.get('/ready', { schema: { tags: ['ops'], security: [] } }, async (request, reply) => {
      const entries = [...app.readinessChecks];
      const results = await Promise.all(entries.map(([name, c]) => run(name, c, request.log)));
      const checks: Record<string, ReadinessResult & { required: boolean }> = {};
      const failedRequired: string[] = [];
      let degraded = false;
      entries.forEach(([name, c], i) => {
        const required = c.required !== false;
        const result = results[i]!;
        checks[name] = { ...result, required };
        if (!result.ok) {
          if (required) failedRequired.push(name);
          else degraded = true;
          request.log.warn({ check: name, detail: result.detail, required }, 'readiness: dependency not ok');
        }
      });
      if (failedRequired.length === 0) return { status: degraded ? 'degraded' : 'ready', checks };
      return reply.code(503).type('application/problem+json').send({
        type: 'urn:timbre:problem:not-ready',
        title: 'Service Unavailable',
        status: 503,
        detail: `not ready: ${failedRequired.join(', ')} unreachable`,
        code: 'ERR_NOT_READY',
        errors: [],
        checks,
      });
    });
  },
  { fastify: '5.x', name: 'timbre-health', dependencies: ['timbre-readiness'] },
);
