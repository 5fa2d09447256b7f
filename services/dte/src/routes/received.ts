/**
 * Received documents (issue 7): read the exchange mailbox (`check_inbox`), upload a received file
 * directly, list and read what was received, and answer it (`send_response`).
 */
import { Rut } from '@timbre/dte';
import { renderPdf, type PdfFormat } from '@timbre/pdf';
import { MailError } from '@timbre/mail';
import { SchemaSet, SCHEMAS_HELP } from '@timbre/xsd';
import { findReceivedDte, findReceivedEnvelope, listDteResponses, listReceivedDtes, type ReceivedDteRow, type ReceivedDteStatus } from '@timbre/store';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AppConfig } from '../config.js';
import { ServiceError, notFound } from '../problems.js';
import {
  errorResponses,
  idParams,
  pdfQuery,
  pdfResponse,
  ingestResponse,
  receivedDetail,
  receivedListQuery,
  receivedListResponse,
  rutReceptorBody,
  rutReceptorQuery,
  sendResponseBody,
  sendResponseResponse,
} from '../schemas.js';
import { sendResponse, type ResponseName } from '../services/commercial.js';
import { RECEIVED_MAX_BYTES, ResponseDueCheck, add, checkInbox, ingestXml, type IngestSummary, type InboxDeps } from '../services/inbox.js';
import { SignerCache } from '../services/signers.js';
import { checkCedible } from '../services/pdf.js';
import { siiTrust } from '../services/trust.js';

const summary = (r: Omit<ReceivedDteRow, 'xml' | 'verification_json'>) => ({
  id: Number(r.id),
  rut_receptor: r.rut_company,
  envelope_id: Number(r.envelope_id),
  rut_emisor: r.rut_emisor,
  dte_type: String(r.tipo_dte),
  folio: Number(r.folio),
  fch_emis: r.fch_emis,
  mnt_total: r.mnt_total === null ? null : Number(r.mnt_total),
  rut_recep: r.rut_recep,
  correo_emisor: r.correo_emisor,
  valid: r.valid === 1,
  estado_recep_dte: r.estado_recep_dte,
  recep_dte_glosa: r.recep_dte_glosa,
  status: r.status,
  deadline: r.deadline,
  received_at: r.received_at,
  updated_at: r.updated_at,
});

const mailProblem = (e: MailError): ServiceError => {
  const code = e.code === 'ERR_MAIL_AUTH' ? 'ERR_MAIL_AUTH' : e.code === 'ERR_MAIL_PROTOCOL' ? 'ERR_MAIL_PROTOCOL' : 'ERR_MAIL_UNAVAILABLE';
  return new ServiceError(code, code === 'ERR_MAIL_UNAVAILABLE' ? 503 : 502, `the exchange mailbox could not be read: ${e.message}`, {}, [{ field: 'imap', message: e.message, code }]);
};

/** The SII schemas for received documents; any failure names the setting and says where to get them. */
async function loadSchemas(dir: string): Promise<SchemaSet> {
  try {
    return await SchemaSet.load(dir);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`TIMBRE_SII_SCHEMAS (schemasDir) ${dir} cannot be used: ${message}${message.includes(SCHEMAS_HELP) ? '' : ` ${SCHEMAS_HELP}`}`, { cause: e });
  }
}

const received: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  // Its own signer cache (certificates are read per use; SII tokens are shared through config.sii.tokenCache).
  const signers = new SignerCache(app.db, app.secretBox, config);
  const now = config.now ?? (() => new Date());
  // The SII schemas, loaded once (a missing/incomplete directory fails the start, with SCHEMAS_HELP).
  const schemas = config.schemasDir ? await loadSchemas(config.schemasDir) : undefined;
  const deps: InboxDeps = {
    db: app.db,
    box: app.secretBox,
    log: app.log,
    now,
    trustedKeys: siiTrust(config),
    ...(config.faultPoint ? { faultPoint: config.faultPoint } : {}),
    ...(schemas ? { schemas } : {}),
  };
  const commercial = { db: app.db, box: app.secretBox, signers, log: app.log, now };

  const inbox = config.inbox ?? {};
  if (inbox.responseDueIntervalMs !== false) {
    const due = new ResponseDueCheck(deps, { intervalMs: inbox.responseDueIntervalMs ?? 3_600_000, dueWithinMs: inbox.dueWithinMs ?? 2 * 86_400_000 });
    app.decorate('responseDue', due);
    app.addHook('onReady', async () => due.start());
    app.addHook('onClose', async () => due.stop());
  } else {
    app.decorate('responseDue', undefined);
  }

  app.post<{ Body: { rut_receptor: string } }>(
    '/api/v1/dte/check_inbox',
    {
      schema: {
        tags: ['received'],
        description:
          "Read the company's exchange mailbox (IMAP, PUT /api/v1/companies/{rut}/mail): every message not yet processed; each XML attachment verified (signatures, TEDs, CAFs against the SII keys), assessed (RecepcionEnvio states) and stored with its DTEs and `dte.received` events in one transaction; the message is marked processed only after that. A document already received is counted in `duplicates`, never stored twice.",
        body: rutReceptorBody,
        response: { 200: ingestResponse, ...errorResponses },
      },
      // 401/403 before any validation detail.
      preValidation: async (request) => {
        await app.requirePermission(request, { permission: 'dte:read' });
      },
    },
    async (request) => {
      const rut = Rut.parse(request.body.rut_receptor, { field: 'rut_receptor' }).canonical;
      await app.requirePermission(request, { permission: 'dte:read', company: rut });
      try {
        return await checkInbox(deps, rut);
      } catch (e) {
        if (e instanceof MailError) throw mailProblem(e);
        throw e;
      }
    },
  );

  // A received file uploaded directly: raw bytes (kept as they are), ≤ 10 MB. Its own scope: XML only.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['application/xml', 'text/xml'], { parseAs: 'buffer', bodyLimit: RECEIVED_MAX_BYTES }, (_req, body, done) => done(null, body));
    scope.post<{ Querystring: { rut_receptor: string }; Body: Buffer }>(
      '/api/v1/dte/received',
      {
        bodyLimit: RECEIVED_MAX_BYTES,
        schema: {
          tags: ['received'],
          description: 'Upload a received EnvioDTE (or DTE) file as it came (`application/xml`, ≤ 10 MB): the same pipeline as check_inbox (source `upload`).',
          querystring: rutReceptorQuery,
          body: { content: { 'application/xml': { schema: { type: 'string', format: 'binary' } } } },
          response: { 200: ingestResponse, ...errorResponses },
        },
        validatorCompiler: ({ httpPart }) => {
          if (httpPart === 'body') return (data: unknown) => ({ value: data });
          return (data: unknown) => {
            const r = (data as { rut_receptor?: unknown } | null)?.rut_receptor;
            if (typeof r === 'string' && /^[0-9]{1,8}-[0-9Kk]$/.test(r)) return { value: data };
            return { error: Object.assign(new Error('invalid querystring'), { validation: [{ instancePath: '/rut_receptor', message: 'required: the receiving company RUT' }], validationContext: 'querystring' }) };
          };
        },
      },
      async (request) => {
        const rut = Rut.parse(request.query.rut_receptor, { field: 'rut_receptor' }).canonical;
        await app.requirePermission(request, { permission: 'dte:read', company: rut });
        const body = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) throw new ServiceError('ERR_RECEIVED_NOT_DTE', 422, 'empty body: send the received XML file', {}, [{ field: 'body', message: 'empty', code: 'ERR_RECEIVED_NOT_DTE' }]);
        const out: IngestSummary = { messages: 0, documents_stored: 0, duplicates: 0, skipped: [], results: [] };
        const r = await ingestXml(deps, { rutCompany: rut, source: 'upload', bytes: body, filename: null });
        if (r.skipped !== undefined) throw new ServiceError('ERR_RECEIVED_NOT_DTE', 422, r.skipped, {}, [{ field: 'body', message: r.skipped, code: 'ERR_RECEIVED_NOT_DTE' }]);
        add(out, r, { filename: null });
        return out;
      },
    );
  });

  const byId = async (id: number, request: FastifyRequest) => {
    await app.requirePermission(request, { permission: 'dte:read' });
    const row = await findReceivedDte(app.db, id);
    if (row === undefined) throw notFound(`received document ${id}`);
    try {
      await app.requirePermission(request, { permission: 'dte:read', company: row.rut_company });
    } catch {
      throw notFound(`received document ${id}`);
    }
    return row;
  };

  app.get<{ Querystring: { rut_receptor: string; rut_emisor?: string; dte_type?: string; status?: ReceivedDteStatus; limit: number; before?: number } }>(
    '/api/v1/dte/received',
    { schema: { tags: ['received'], description: 'Received documents, newest first (keyset: pass `next_before` as `before`).', querystring: receivedListQuery, response: { 200: receivedListResponse, ...errorResponses } } },
    async (request) => {
      const q = request.query;
      const rut = Rut.parse(q.rut_receptor, { field: 'rut_receptor' }).canonical;
      await app.requirePermission(request, { permission: 'dte:read', company: rut });
      const page = await listReceivedDtes(app.db, {
        rutCompany: rut,
        limit: q.limit,
        ...(q.rut_emisor ? { rutEmisor: q.rut_emisor } : {}),
        ...(q.dte_type ? { tipoDte: Number(q.dte_type) } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.before ? { before: q.before } : {}),
      });
      return { items: page.items.map(summary), next_before: page.nextBefore ?? null };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/v1/dte/received/:id',
    { schema: { tags: ['received'], description: 'A received document with its verification report, its envelope and the responses sent.', params: idParams, response: { 200: receivedDetail, ...errorResponses } } },
    async (request) => {
      const row = await byId(request.params.id, request);
      const env = await findReceivedEnvelope(app.db, Number(row.envelope_id));
      const responses = await listDteResponses(app.db, { receivedDteId: Number(row.id) });
      return {
        ...summary(row),
        verification: JSON.parse(row.verification_json) as Record<string, unknown>,
        envelope: env && {
          id: Number(env.id),
          source: env.source,
          message_id: env.message_id,
          sender: env.sender,
          filename: env.filename,
          sha256: env.sha256,
          envio_dte_id: env.envio_dte_id,
          rut_emisor: env.rut_emisor,
          estado_recep_env: env.estado_recep_env,
          glosa: env.glosa,
          received_at: env.received_at,
        },
        responses: responses.map((r) => ({
          id: Number(r.id),
          kind: r.kind,
          response: r.response,
          sent_to: r.sent_to,
          smtp_message_id: r.smtp_message_id,
          send_error: r.send_error,
          rcv_action: r.rcv_action,
          rcv_cod_resp: r.rcv_cod_resp,
          rcv_desc: r.rcv_desc,
          created_at: r.created_at,
        })),
      };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/v1/dte/received/:id/xml',
    { schema: { tags: ['received'], description: 'The received `<DTE>` element (ISO-8859-1); `?envelope=true` is not offered: the whole file is kept as received.', params: idParams, response: errorResponses } },
    async (request, reply) => {
      const row = await byId(request.params.id, request);
      return reply
        .header('content-type', 'application/xml; charset=ISO-8859-1')
        .header('content-disposition', `attachment; filename="R${row.rut_emisor}T${row.tipo_dte}F${row.folio}.xml"`)
        .send(Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${row.xml}`, 'latin1'));
    },
  );

  app.get<{ Params: { id: number }; Querystring: { format: PdfFormat; cedible: boolean } }>(
    '/api/v1/dte/received/:id/pdf',
    {
      schema: {
        tags: ['received'],
        description: "The printed representation of a received DTE, rendered from the issuer's XML (the resolution is not in a DTE: the line prints without it). Same query as /api/v1/dte/{id}/pdf.",
        params: idParams,
        querystring: pdfQuery,
        response: { 200: pdfResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const row = await byId(request.params.id, request);
      const { format, cedible } = request.query;
      checkCedible(row.tipo_dte, cedible);
      const pdf = await renderPdf(row.xml, { format, cedible }); // the stored text: no re-encoding
      return reply.header('content-type', 'application/pdf').header('content-disposition', `inline; filename="R${row.rut_emisor}T${row.tipo_dte}F${row.folio}.pdf"`).send(pdf);
    },
  );

  app.post<{ Body: { received_id: number; response: ResponseName; glosa?: string; recinto?: string; cod_rch_dsc?: number; register_rcv?: boolean; rcv_action?: 'ACD' | 'RCD' | 'ERM' | 'RFP' | 'RFT' } }>(
    '/api/v1/dte/send_response',
    {
      schema: {
        tags: ['received'],
        description:
          'Answer a received DTE: acuse_recibo → RecepcionEnvio (the envelope), aceptar / aceptar_con_discrepancias / rechazar → ResultadoDTE, recibo_mercaderias → EnvioRecibos; signed with the company certificate and e-mailed to the issuer (the envelope sender, else CorreoEmisor). With `register_rcv` (default) the act is registered in the SII RCV first (aceptar → ACD, rechazar → RCD or `rcv_action` RFP/RFT, recibo_mercaderias → ERM; types 33, 34, 43): a refusal is 409 ERR_RCV_REFUSED with the SII codResp (`sii_cod_resp`) and nothing is sent.',
        body: sendResponseBody,
        response: { 200: sendResponseResponse, ...errorResponses },
      },
      preValidation: async (request) => {
        await app.requirePermission(request, { permission: 'dte:respond' });
      },
    },
    async (request) => {
      const b = request.body;
      await app.requirePermission(request, { permission: 'dte:respond' });
      return sendResponse(commercial, {
        receivedId: b.received_id,
        response: b.response,
        registerRcv: b.register_rcv ?? true,
        ...(b.glosa !== undefined ? { glosa: b.glosa } : {}),
        ...(b.recinto !== undefined ? { recinto: b.recinto } : {}),
        ...(b.cod_rch_dsc !== undefined ? { codRchDsc: b.cod_rch_dsc } : {}),
        ...(b.rcv_action !== undefined ? { rcvAction: b.rcv_action } : {}),
        authorize: (company) => app.requirePermission(request, { permission: 'dte:respond', company }),
      });
    },
  );
};

declare module 'fastify' {
  interface FastifyInstance {
    /** The `dte.response_due` check (undefined when `config.inbox.responseDueIntervalMs === false`). */
    responseDue: ResponseDueCheck | undefined;
  }
}

/** Not encapsulated: `app.responseDue` is the root's (the upload route keeps its own content-type scope). */
export default fp(received, { fastify: '5.x', name: 'timbre-received' });
