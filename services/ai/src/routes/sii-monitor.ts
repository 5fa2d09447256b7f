/**
 * `POST /api/ai/sii/monitor` and `GET /api/ai/sii/status`: the SII regulatory monitor (issue 8).
 * The plugin owns the monitor's lifetime: it opens the AI service's database, migrates it, starts
 * the scheduler and the notifier (services/ai/src/monitor/), and stops them when the app closes.
 *
 * POST runs a pass now and answers when it is stored (the Odoo notification goes out after, on its
 * own). A pass already running → 409 ERR_SII_MONITOR_BUSY rather than waiting: a pass can take the
 * SII's timeouts × retries, longer than a caller should hold a request; the caller retries or reads
 * the status. Every page failed → the run is stored as failed and the answer is 503
 * ERR_SII_UNAVAILABLE (site down) or 502 with the pages' own code (ERR_SII_PAGE_LAYOUT, ERR_SII_HTTP_STATUS,
 * ERR_SII_PAGE_TOO_LARGE: pages answered but unreadable), with
 * `run_id` and `run_errors` (problem+json's own `errors` is for request fields). Some pages failed → 200 with `status: "partial"` and the errors.
 * Monitor not configured → 503 ERR_SII_MONITOR_DISABLED.
 */
import { HttpError } from '@timbre/http';
import { sql } from 'kysely';
import type { FastifyPluginAsync } from 'fastify';
import type { PublicationRow, RunRow } from '../monitor/repository.js';
import { MonitorBusyError, MonitorService, type SiiMonitorConfig } from '../monitor/service.js';
import { errorResponses } from '../problems.js';

export interface SiiMonitorRoutesOptions {
  monitor?: SiiMonitorConfig | false | undefined;
  /** `sqlite:PATH` or `postgres://…` (required when the monitor is on). */
  databaseUrl?: string | undefined;
  /** PostgreSQL schema (tests, shared databases). */
  databaseSearchPath?: string | undefined;
}

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const errorItem = { type: 'object', properties: { code: str, message: str, url: str } } as const;

const itemSchema = {
  type: 'object',
  properties: {
    id: int,
    tipo: { type: 'string', enum: ['circular', 'resolucion', 'noticia'] },
    numero: str,
    anio: int,
    fecha: { ...str, description: 'Publication date (YYYY-MM-DD)' },
    vigencia: { ...str, description: 'Date it takes effect (stated in the text, else the publication date)' },
    titulo: str,
    materia: nullableStr,
    resumen: str,
    impacto: str,
    prioridad: { type: 'integer', minimum: 1, maximum: 10 },
    relevante_dte: { type: 'boolean' },
    url: str,
    detectado_en: { ...str, description: 'When the monitor first saw it' },
    notificar: { type: 'boolean', description: 'Whether Odoo is told (relevante_dte or prioridad ≥ threshold)' },
    notified: { type: 'boolean' },
    notificado_en: nullableStr,
    intentos_notificacion: int,
    ultimo_error: nullableStr,
  },
} as const;

const runSchema = {
  type: ['object', 'null'],
  properties: { run_id: int, trigger: str, status: str, started_at: str, finished_at: nullableStr, new_count: int, errors: { type: 'array', items: errorItem } },
} as const;

function item(r: PublicationRow) {
  return {
    id: r.id,
    tipo: r.tipo,
    numero: r.numero,
    anio: r.anio,
    fecha: r.fecha,
    vigencia: r.vigencia,
    titulo: r.titulo,
    materia: r.materia,
    resumen: r.resumen,
    impacto: r.impacto,
    prioridad: r.prioridad,
    relevante_dte: r.relevante_dte === 1,
    url: r.url,
    detectado_en: r.first_seen_at,
    notificar: r.notify === 1,
    notified: r.notified_at !== null,
    notificado_en: r.notified_at,
    intentos_notificacion: r.notify_attempts,
    ultimo_error: r.last_error,
  };
}

const runErrors = (r: RunRow): unknown[] => (r.error ? (JSON.parse(r.error) as unknown[]) : []);
const run = (r: RunRow) => ({ run_id: r.id, trigger: r.trigger, status: r.status, started_at: r.started_at, finished_at: r.finished_at, new_count: r.new_count, errors: runErrors(r) });

const disabled = (): HttpError => new HttpError('ERR_SII_MONITOR_DISABLED', 503, 'the SII monitor is not configured on this service');

const siiMonitorRoutes: FastifyPluginAsync<SiiMonitorRoutesOptions> = async (app, opts) => {
  let svc: MonitorService | undefined;
  if (opts.monitor) {
    if (!opts.databaseUrl) throw new Error('the SII monitor needs databaseUrl (TIMBRE_AI_DATABASE_URL)');
    svc = await MonitorService.start({
      databaseUrl: opts.databaseUrl,
      ...(opts.databaseSearchPath ? { searchPath: opts.databaseSearchPath } : {}),
      config: opts.monitor,
      onError: (e) => app.log.error({ err: e }, 'SII monitor background task failed'),
    });
    app.addHook('onClose', async () => svc?.close());
    const db = svc.db;
    app.readinessChecks.set('database', {
      required: true,
      check: async () => {
        await sql`select 1`.execute(db);
        return { ok: true };
      },
    });
    if (!svc.notifier) app.log.warn('SII monitor: ODOO_WEBHOOK_URL or TIMBRE_AI_WEBHOOK_SECRET missing; publications are stored, Odoo is not notified');
  }
  const auth = {
    preValidation: async (request: Parameters<typeof app.requirePermission>[0]) => {
      await app.requirePermission(request, { permission: 'ai:use' });
    },
  };

  app.post(
    '/api/ai/sii/monitor',
    {
      schema: {
        tags: ['sii-monitor'],
        summary: 'Run a pass over the SII publication pages now; store and notify what is new',
        response: {
          200: {
            type: 'object',
            properties: { run_id: int, status: str, started_at: str, finished_at: str, new_items: { type: 'array', items: itemSchema }, errors: { type: 'array', items: errorItem } },
          },
          ...errorResponses,
        },
      },
      ...auth,
    },
    async () => {
      if (!svc) throw disabled();
      let outcome;
      try {
        outcome = await svc.runOnce('manual');
      } catch (e) {
        if (e instanceof MonitorBusyError) throw new HttpError(e.code, 409, e.message, { next_run_at: svc.nextRunAt ?? null });
        throw e;
      }
      const { run: r, newItems, errors } = outcome;
      if (r.status === 'failed') {
        // Every page failed: the code says how (all down → 503; otherwise the first page error's own
        // code — a changed layout, a 4xx, an oversized page — as a bad gateway).
        const down = errors.every((e) => e.code === 'ERR_SII_UNAVAILABLE');
        const code = down ? 'ERR_SII_UNAVAILABLE' : (errors.find((e) => e.code !== 'ERR_SII_UNAVAILABLE')?.code ?? 'ERR_SII_PAGE_LAYOUT');
        throw new HttpError(
          code,
          down ? 503 : 502,
          down ? 'the SII site did not answer; the run is recorded as failed' : 'the SII pages could not be read; the run is recorded as failed',
          { run_id: r.id, run_errors: errors },
        );
      }
      return { run_id: r.id, status: r.status, started_at: r.started_at, finished_at: r.finished_at, new_items: newItems.map(item), errors };
    },
  );

  app.get<{ Querystring: { limit?: number; tipo?: 'circular' | 'resolucion' | 'noticia'; min_prioridad?: number } }>(
    '/api/ai/sii/status',
    {
      schema: {
        tags: ['sii-monitor'],
        summary: 'Last run, next scheduled run and the stored publications, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            tipo: { type: 'string', enum: ['circular', 'resolucion', 'noticia'] },
            min_prioridad: { type: 'integer', minimum: 1, maximum: 10 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              last_run: runSchema,
              running: { type: 'boolean' },
              next_run_at: nullableStr,
              items: { type: 'array', items: itemSchema },
              counts: {
                type: 'object',
                properties: { total: int, relevantes: int, notificadas: int, pendientes: int, por_tipo: { type: 'object', additionalProperties: int } },
              },
            },
          },
          ...errorResponses,
        },
      },
      ...auth,
    },
    async (request) => {
      if (!svc) throw disabled();
      const q = request.query;
      const [last, items, counts] = await Promise.all([
        svc.repo.lastRun(),
        svc.repo.recent({ limit: q.limit ?? 50, ...(q.tipo ? { tipo: q.tipo } : {}), ...(q.min_prioridad !== undefined ? { minPrioridad: q.min_prioridad } : {}) }),
        svc.repo.counts(),
      ]);
      return { last_run: last ? run(last) : null, running: svc.running, next_run_at: svc.nextRunAt ?? null, items: items.map(item), counts };
    },
  );
};

export default siiMonitorRoutes;
