/**
 * `POST /api/v1/dte/batch` and `GET /api/v1/dte/batch/{id}`, and the queue consumers that do the
 * work (services/batch.ts). Registered from routes/dte.ts, which owns the pipeline dependencies.
 */
import { Rut } from '@timbre/dte';
import type { Consumer } from '@timbre/queue';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config.js';
import { ServiceError, notFound } from '../problems.js';
import { errorResponses } from '../schemas.js';
import { MAX_BATCH, QUEUE_PREPARE, QUEUE_SEND, batchProgress, createBatch, prepareBatch, republishStalledBatches, sendBatchGroup, type BatchDeps, type PrepareJob, type SendJob } from '../services/batch.js';
import type { IssuerDeps } from '../services/issuer.js';

const batchBody = {
  type: 'object',
  required: ['documents'],
  properties: {
    documents: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: { type: 'object' } },
    callback_url: { type: 'string', format: 'uri', maxLength: 2000 },
  },
} as const;

const batchCreated = {
  type: 'object',
  properties: {
    batch_id: { type: 'string' },
    total: { type: 'integer' },
    accepted: { type: 'integer' },
    refused: {
      type: 'array',
      items: { type: 'object', properties: { index: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' }, field: { type: ['string', 'null'] } } },
    },
  },
} as const;

const batchProgressSchema = {
  type: 'object',
  properties: {
    batch_id: { type: 'string' },
    rut_emisor: { type: 'string' },
    total: { type: 'integer' },
    done: { type: 'integer' },
    status: { type: 'string', enum: ['open', 'done'] },
    counts: { type: 'object', additionalProperties: { type: 'integer' } },
    created_at: { type: 'string' },
    documents: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          index: { type: 'integer' },
          id: { type: ['integer', 'null'] },
          dte_type: { type: 'string' },
          folio: { type: ['integer', 'null'] },
          status: { type: 'string' },
          sii_track_id: { type: ['string', 'null'] },
          sii_status: { type: ['string', 'null'] },
          error_code: { type: ['string', 'null'] },
          error_message: { type: ['string', 'null'] },
        },
      },
    },
  },
} as const;

export async function registerBatch(app: FastifyInstance, base: IssuerDeps, config: AppConfig): Promise<void> {
  const b = config.batch ?? {};
  const deps: BatchDeps = { ...base, queue: app.queue, envelopeSize: b.envelopeSize ?? 200 };

  app.post<{ Body: { documents: unknown[]; callback_url?: string } }>(
    '/api/v1/dte/batch',
    {
      bodyLimit: 64 * 1024 * 1024, // 5,000 documents
      schema: {
        tags: ['dte'],
        description:
          'Queue up to 5,000 documents of one issuer. Answers 202 at once with the batch id; invalid documents are refused one by one (`refused`), the rest get folios in order and are sent in envelopes of `envelopeSize`. Progress: GET /api/v1/dte/batch/{id}.',
        body: batchBody,
        response: { 202: batchCreated, ...errorResponses },
      },
    },
    async (request, reply) => {
      await app.requirePermission(request, { permission: 'dte:generate' });
      const docs = request.body.documents;
      if (docs.length > MAX_BATCH) throw new ServiceError('ERR_BATCH_TOO_LARGE', 413, `at most ${MAX_BATCH} documents per batch`);
      const emisor = (docs[0] as { emisor?: { rut?: unknown } }).emisor?.rut;
      const rutEmisor = Rut.parse(typeof emisor === 'string' ? emisor : '', { field: 'documents[0].emisor.rut' }).canonical;
      const tipos = [...new Set(docs.map((d) => Number((d as { dte_type?: unknown }).dte_type)).filter((t) => Number.isInteger(t)))];
      for (const dteType of tipos) await app.requirePermission(request, { permission: 'dte:generate', company: rutEmisor, dteType });
      if (tipos.length === 0) await app.requirePermission(request, { permission: 'dte:generate', company: rutEmisor });
      const created = await createBatch(deps, { rutEmisor, documents: docs, ...(request.body.callback_url ? { callbackUrl: request.body.callback_url } : {}) });
      return reply.code(202).header('location', `/api/v1/dte/batch/${created.batch_id}`).send(created);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/dte/batch/:id',
    {
      schema: {
        tags: ['dte'],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } },
        response: { 200: batchProgressSchema, ...errorResponses },
      },
    },
    async (request) => {
      await app.requirePermission(request, { permission: 'dte:read' });
      const progress = await batchProgress(deps, request.params.id);
      if (progress === undefined) throw notFound(`batch ${request.params.id}`);
      try {
        await app.requirePermission(request, { permission: 'dte:read', company: progress.rut_emisor });
      } catch {
        throw notFound(`batch ${request.params.id}`); // another company's batch: do not reveal it exists
      }
      return progress;
    },
  );

  if (b.workers === false) return;
  const consumers: Consumer[] = [];
  app.addHook('onReady', async () => {
    consumers.push(await app.queue.consume<PrepareJob>(QUEUE_PREPARE, async (job) => prepareBatch(deps, job.payload.batchId), { prefetch: 1 }));
    consumers.push(await app.queue.consume<SendJob>(QUEUE_SEND, async (job) => sendBatchGroup(deps, job.payload, job.id), { prefetch: b.sendConcurrency ?? 2 }));
  });
  const janitorMs = b.janitorIntervalMs ?? 60_000;
  const janitor = setInterval(() => {
    republishStalledBatches(deps, Math.max(janitorMs, 60_000)).catch((err: unknown) => app.log.error({ err }, 'batch janitor failed'));
  }, janitorMs);
  janitor.unref();
  // Before the queue and the database close: stop taking jobs, let the running ones finish.
  app.addHook('preClose', async () => {
    clearInterval(janitor);
    await Promise.all(consumers.map((c) => c.cancel()));
  });
}
