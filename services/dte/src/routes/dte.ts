import { Rut, dteInputJsonSchema, toBytes } from '@timbre/dte';
import { listDtes, type DteRow, type DteStatus } from '@timbre/store';
import type { FastifyPluginAsync } from 'fastify';
import type { AppConfig } from '../config.js';
import { ServiceError, notFound } from '../problems.js';
import {
  dteSummary,
  errorResponses,
  generateQuery,
  generateResponse,
  idParams,
  listQuery,
  listResponse,
  pdfQuery,
  pdfResponse,
  resendBody,
  resendResponse,
  statusQuery,
  statusResponse,
} from '../schemas.js';
import { StatusPoller } from '../services/poller.js';
import { registerBatch } from './batch.js';
import { RecoverySweeper, resendDue } from '../services/recovery.js';
import { generate, querySiiStatus, todayInChile, validateInput, type GenerateResponse, type IssuerDeps } from '../services/issuer.js';
import { SignerCache } from '../services/signers.js';
import { PDF_FORMATS, checkCedible, renderStoredPdf, type PdfFormat } from '../services/pdf.js';

const summary = (r: DteRow) => ({
  id: r.id,
  rut_emisor: r.rut_emisor,
  dte_type: String(r.tipo_dte),
  folio: r.folio,
  status: r.status,
  sii_status: r.sii_status,
  sii_track_id: r.sii_track_id,
  error_message: r.error_message,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

interface GenerateQuery {
  pdf?: PdfFormat;
  cedible: boolean;
}

const queryError = (field: string, message: string) =>
  Object.assign(new Error(`invalid querystring: ${field}`), { validation: [{ instancePath: `/${field}`, message }], validationContext: 'querystring' });

/**
 * The query of `generate` (the route validates by hand: its body is parseDteInput's): `pdf` one of
 * PDF_FORMATS, `cedible` true/false and only with `pdf`. Other parameters are ignored, as before.
 */
function parseGenerateQuery(data: unknown): { value: GenerateQuery } | { error: Error } {
  const q = (data ?? {}) as Record<string, unknown>;
  const out: GenerateQuery = { cedible: false };
  if (q.pdf !== undefined) {
    if (typeof q.pdf !== 'string' || !(PDF_FORMATS as readonly string[]).includes(q.pdf)) return { error: queryError('pdf', `must be one of ${PDF_FORMATS.join(', ')}`) };
    out.pdf = q.pdf as PdfFormat;
  }
  if (q.cedible !== undefined) {
    if (q.cedible !== 'true' && q.cedible !== 'false' && typeof q.cedible !== 'boolean') return { error: queryError('cedible', 'must be true or false') };
    out.cedible = q.cedible === true || q.cedible === 'true';
    if (out.cedible && out.pdf === undefined) return { error: queryError('cedible', 'only with pdf=letter|a4|thermal') };
  }
  return { value: out };
}

/** Issue, query and read documents. */
const dte: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  const now = config.now ?? (() => new Date());
  const p = config.pipeline ?? {};
  const deps: IssuerDeps = {
    db: app.db,
    signers: new SignerCache(app.db, app.secretBox, config),
    metrics: app.metrics,
    now,
    log: app.log,
    leaseMs: p.leaseMs ?? 300_000,
    retryBaseMs: p.retryBaseMs ?? 5_000,
    deliver: { statusWaitMs: p.deliverStatusWaitMs ?? 20_000 },
    ...(config.faultPoint ? { faultPoint: config.faultPoint } : {}),
  };
  if (p.recoveryIntervalMs !== false) {
    const sweeper = new RecoverySweeper(deps, { intervalMs: p.recoveryIntervalMs ?? 30_000, batch: p.recoveryBatch ?? 50, batchGraceMs: 10 * 60_000 });
    app.addHook('onReady', async () => sweeper.start());
    app.addHook('onClose', async () => sweeper.stop());
  }
  await registerBatch(app, deps, config);
  if (p.poll !== false) {
    const o = p.poll ?? {};
    const poller = new StatusPoller(deps, {
      intervalMs: o.intervalMs ?? 5_000,
      baseMs: o.baseMs ?? 15_000,
      maxMs: o.maxMs ?? 3_600_000,
      batch: o.batch ?? 200,
      perCompany: o.perCompany ?? 20,
    });
    app.addHook('onReady', async () => poller.start());
    app.addHook('onClose', async () => poller.stop());
  }

  /**
   * `pdf_content` for a 200 answer of generate. The document is issued whatever happens here: a PDF
   * that cannot be rendered is reported in `errors` (ERR_PDF_FAILED) instead of failing the answer;
   * GET /api/v1/dte/{id}/pdf renders it again.
   */
  const withPdf = async (body: GenerateResponse, args: { rutEmisor: string; tipoDte: number; format: PdfFormat; cedible: boolean }, log: typeof app.log): Promise<GenerateResponse> => {
    if (!body.xml_signed) return body;
    try {
      const pdf = await renderStoredPdf(app.db, log, { xml: body.xml_signed, ...args });
      return { ...body, pdf_content: pdf.toString('base64') };
    } catch (err) {
      log.error({ err, id: body.id }, 'PDF of a generated document failed');
      return { ...body, errors: [...(body.errors ?? []), { code: 'ERR_PDF_FAILED', message: 'the document was issued but its PDF could not be rendered; GET /api/v1/dte/{id}/pdf' }] };
    }
  };

  app.post(
    '/api/v1/dte/generate',
    {
      schema: {
        tags: ['dte'],
        description: 'Allocate a folio, stamp, sign, store and send one document (see shared/docs/api-contract.md). Header Idempotency-Key makes retries safe.',
        headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', maxLength: 200 } } },
        querystring: generateQuery,
        body: dteInputJsonSchema(),
        response: { 200: generateResponse, ...errorResponses },
      },
      // The body schema documents the input; @timbre/dte's parseDteInput validates it (422 with
      // input paths), not Ajv.
      validatorCompiler: ({ httpPart }) => (data: unknown) => {
        if (httpPart === 'querystring') return parseGenerateQuery(data);
        if (httpPart !== 'headers') return { value: data };
        const key = (data as Record<string, unknown>)['idempotency-key'];
        if (key === undefined || (typeof key === 'string' && IDEMPOTENCY_KEY.test(key))) return { value: data };
        return { error: Object.assign(new Error('invalid Idempotency-Key'), { validation: [{ instancePath: '/idempotency-key', message: '1-200 visible ASCII characters' }], validationContext: 'headers' }) };
      },
    },
    async (request, reply) => {
      await app.requirePermission(request, { permission: 'dte:generate' }); // 401/403 before any validation detail
      const fchEmis = todayInChile(now());
      const { input, rutEmisor, tipoDte } = validateInput(request.body, fchEmis);
      await app.requirePermission(request, { permission: 'dte:generate', company: rutEmisor, dteType: tipoDte });
      const query = request.query as GenerateQuery;
      if (query.pdf !== undefined) checkCedible(tipoDte, query.cedible); // 422 before a folio is spent
      const key = request.headers['idempotency-key'];
      const result = await generate(deps, {
        body: request.body,
        input,
        rutEmisor,
        tipoDte,
        fchEmis: input.fecha_emision ?? fchEmis,
        ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
      });
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      // A replayed failure is the stored problem document.
      if (result.statusCode >= 400) reply.type('application/problem+json');
      // The PDF is added to this answer only (the stored answer, replayed for the key, stays without
      // it, so the query never changes what a key means): a replay asking for it gets it too.
      if (query.pdf !== undefined && result.statusCode === 200) {
        return reply.code(200).send(await withPdf(result.body as GenerateResponse, { rutEmisor, tipoDte, format: query.pdf, cedible: query.cedible }, request.log));
      }
      return reply.code(result.statusCode as 200).send(result.body);
    },
  );

  app.post<{ Body: { rut_emisor: string; dte_type?: string; folio?: number; ids?: number[]; limit?: number } }>(
    '/api/v1/dte/recovery/resend',
    {
      schema: {
        tags: ['dte'],
        description:
          'Finish documents left `draft` or `signed` (a crash, the SII unreachable): each continues from its last stored step, with its folio and, once built, the same envelope bytes; one already received by the SII is not uploaded again. Ignores the retry schedule; skips documents another worker holds.',
        body: resendBody,
        response: { 200: resendResponse, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      const rutEmisor = Rut.parse(b.rut_emisor, { field: 'rut_emisor' }).canonical;
      const tipoDte = b.dte_type !== undefined ? Number(b.dte_type) : undefined;
      await app.requirePermission(request, { permission: 'dte:generate', company: rutEmisor, ...(tipoDte !== undefined ? { dteType: tipoDte } : {}) });
      const results = await resendDue(deps, {
        rutEmisor,
        now: true,
        limit: b.limit ?? 100,
        ...(tipoDte !== undefined ? { tipoDte } : {}),
        ...(b.folio !== undefined ? { folio: b.folio } : {}),
        ...(b.ids !== undefined ? { ids: b.ids } : {}),
      });
      return { processed: results.filter((r) => r.outcome !== 'none' && r.outcome !== 'skipped').length, results };
    },
  );

  app.get<{ Querystring: { track_id?: string; rut_emisor: string; dte_type: string; folio: number } }>(
    '/api/v1/dte/status',
    { schema: { tags: ['dte'], description: 'Ask the SII (QueryEstUp, or QueryEstDte without a track id) and update the stored status.', querystring: statusQuery, response: { 200: statusResponse, ...errorResponses } } },
    async (request) => {
      const q = request.query;
      const rutEmisor = Rut.parse(q.rut_emisor, { field: 'rut_emisor' }).canonical;
      const tipoDte = Number(q.dte_type);
      await app.requirePermission(request, { permission: 'dte:read', company: rutEmisor, dteType: tipoDte });
      return querySiiStatus(deps, { rutEmisor, tipoDte, folio: q.folio, ...(q.track_id ? { trackId: q.track_id } : {}) });
    },
  );

  app.get<{ Querystring: { rut_emisor: string; dte_type?: string; status?: DteStatus; limit: number; before?: number } }>(
    '/api/v1/dte',
    { schema: { tags: ['dte'], querystring: listQuery, response: { 200: listResponse, ...errorResponses } } },
    async (request) => {
      const q = request.query;
      const rutEmisor = Rut.parse(q.rut_emisor, { field: 'rut_emisor' }).canonical;
      await app.requirePermission(request, { permission: 'dte:read', company: rutEmisor, ...(q.dte_type ? { dteType: Number(q.dte_type) } : {}) });
      const page = await listDtes(app.db, {
        rutEmisor,
        limit: q.limit,
        ...(q.dte_type ? { tipoDte: Number(q.dte_type) } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.before ? { before: q.before } : {}),
      });
      return { items: page.items.map(summary), next_before: page.nextBefore ?? null };
    },
  );

  const byId = async (id: number, request: Parameters<typeof app.requirePermission>[0]): Promise<DteRow> => {
    // Authenticate first, so that an anonymous caller cannot probe which ids exist.
    await app.requirePermission(request, { permission: 'dte:read' });
    const row = await app.db.selectFrom('dte').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw notFound(`document ${id}`);
    try {
      await app.requirePermission(request, { permission: 'dte:read', company: row.rut_emisor, dteType: row.tipo_dte });
    } catch {
      throw notFound(`document ${id}`); // another company's document: do not reveal that it exists
    }
    return row;
  };

  app.get<{ Params: { id: number } }>(
    '/api/v1/dte/:id',
    { schema: { tags: ['dte'], params: idParams, response: { 200: dteSummary, ...errorResponses } } },
    async (request) => summary(await byId(request.params.id, request)),
  );

  app.get<{ Params: { id: number } }>(
    '/api/v1/dte/:id/xml',
    { schema: { tags: ['dte'], params: idParams, description: 'The signed DTE, ISO-8859-1 bytes.', response: errorResponses } },
    async (request, reply) => {
      const row = await byId(request.params.id, request);
      if (row.xml_signed === null) throw new ServiceError('ERR_NOT_FOUND', 404, `document ${row.id} has no signed XML (status ${row.status})`);
      return reply
        .header('content-type', 'application/xml; charset=ISO-8859-1')
        .header('content-disposition', `attachment; filename="T${row.tipo_dte}F${row.folio}.xml"`)
        .send(toBytes(row.xml_signed));
    },
  );

  app.get<{ Params: { id: number }; Querystring: { format: PdfFormat; cedible: boolean } }>(
    '/api/v1/dte/:id/pdf',
    {
      schema: {
        tags: ['dte'],
        params: idParams,
        querystring: pdfQuery,
        description:
          'The printed representation of the signed DTE (application/pdf): letter (default), A4 or an 80 mm thermal roll, with the TED as PDF417, the company\'s resolution and logo; `cedible=true` adds the cedible copy (33, 34, 46, 52). A document not signed yet → 409 ERR_DTE_NOT_SIGNED.',
        response: { 200: pdfResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const row = await byId(request.params.id, request);
      const { format, cedible } = request.query;
      checkCedible(row.tipo_dte, cedible);
      if (row.xml_signed === null) {
        throw new ServiceError('ERR_DTE_NOT_SIGNED', 409, `document ${row.id} is not signed yet (status ${row.status}): no PDF until it is`, { id: row.id, folio: row.folio, dte_type: String(row.tipo_dte), dte_status: row.status });
      }
      const pdf = await renderStoredPdf(app.db, request.log, { xml: row.xml_signed, rutEmisor: row.rut_emisor, tipoDte: row.tipo_dte, format, cedible });
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `inline; filename="T${row.tipo_dte}F${row.folio}.pdf"`)
        .send(pdf);
    },
  );
};
export default dte;
