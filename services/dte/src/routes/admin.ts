import type { KeyObject } from 'node:crypto';
import { hashKey } from '@timbre/cache';
import { loadPkcs12, parseCaf, verifyCaf, Rut } from '@timbre/dte';
import { cafStatus, findCompany, findCompanyMail, insertCaf, insertCertificate, insertCompany, listCafs, putCompanyMail, setCompanyLogo } from '@timbre/store';
import type { FastifyPluginAsync } from 'fastify';
import type { AppConfig } from '../config.js';
import { ServiceError, notFound } from '../problems.js';
import { cafBody, cafUploadResponse, certificateBody, certificateResponse, companyBody, companyResponse, companyRutParams, errorResponses, logoResponse, mailBody, mailResponse, rutEmisorQuery } from '../schemas.js';
import { todayInChile } from '../services/issuer.js';
import { LOGO_MAX_BYTES, detectImageType } from '../services/pdf.js';
import { siiTrust } from '../services/trust.js';

/**
 * CAF verifications passed, by content: a hash of the trusted keys (IDK + SPKI) and the CAF bytes, so
 * a hit can only ever be the answer verifyCaf would give again. Only passes are kept (a refusal
 * throws and is recomputed every time); bump `v1` if verifyCaf's rules change.
 */
const CAF_VERIFIED_TTL_MS = 24 * 3_600_000;
const trustPrints = new WeakMap<Map<number, KeyObject>, string>();
const cafVerifiedKey = (keys: Map<number, KeyObject>, raw: Uint8Array): string => {
  let print = trustPrints.get(keys);
  if (print === undefined) {
    print = hashKey(...[...keys].sort(([a], [b]) => a - b).flatMap(([idk, key]) => [String(idk), key.export({ type: 'spki', format: 'der' })]));
    trustPrints.set(keys, print);
  }
  return `caf-verified:v1:${hashKey(print, raw)}`;
};

const isUniqueViolation = (e: unknown): boolean => {
  const err = e as { code?: string; message?: string };
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/.test(err?.message ?? '');
};

const RUT_PARAM = /^[0-9]{1,8}-[0-9Kk]$/;
/** `:rut` of a route with a hand-written validator: the same check (and 400) as companyRutParams. */
const checkRutParam = (data: unknown): { value: unknown } | { error: Error } => {
  const rut = (data as { rut?: unknown } | null)?.rut;
  if (typeof rut === 'string' && RUT_PARAM.test(rut)) return { value: data };
  return { error: Object.assign(new Error('invalid params'), { validation: [{ instancePath: '/rut', message: `must match pattern "${RUT_PARAM.source}"` }], validationContext: 'params' }) };
};

/** Companies, signing certificates and CAFs. */
const admin: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  const now = config.now ?? (() => new Date());

  app.post<{ Body: { rut: string; razon_social: string; nro_resol: number; fch_resol: string } }>(
    '/api/v1/companies',
    { schema: { tags: ['companies'], body: companyBody, response: { 201: companyResponse, ...errorResponses } } },
    async (request, reply) => {
      const b = request.body;
      const rut = Rut.parse(b.rut, { field: 'rut' }).canonical;
      await app.requirePermission(request, { permission: 'cert:manage', company: rut });
      try {
        const c = await insertCompany(app.db, { rut, razonSocial: b.razon_social, resolutionNro: b.nro_resol, resolutionFecha: b.fch_resol });
        return reply.code(201).send({ rut: c.rut, razon_social: c.razon_social, nro_resol: c.resolution_nro, fch_resol: c.resolution_fecha, created_at: c.created_at });
      } catch (e) {
        if (isUniqueViolation(e)) throw new ServiceError('ERR_COMPANY_EXISTS', 409, `company ${rut} is already registered`);
        throw e;
      }
    },
  );

  app.post<{ Body: { rut_company: string; p12_base64: string; password: string; razon_social?: string; nro_resol?: number; fch_resol?: string } }>(
    '/api/v1/dte/certificate/upload',
    { schema: { tags: ['certificates'], body: certificateBody, response: { 201: certificateResponse, ...errorResponses } } },
    async (request, reply) => {
      const b = request.body;
      const rutCompany = Rut.parse(b.rut_company, { field: 'rut_company' }).canonical;
      await app.requirePermission(request, { permission: 'cert:manage', company: rutCompany });
      const p12 = Buffer.from(b.p12_base64, 'base64');
      // Validates password, key/certificate pair, RUT and validity; errors name no secret.
      const cert = loadPkcs12(p12, b.password, { now: now() });
      if ((await findCompany(app.db, rutCompany)) === undefined) {
        if (b.razon_social === undefined || b.nro_resol === undefined || b.fch_resol === undefined) {
          throw new ServiceError('ERR_COMPANY_NOT_REGISTERED', 409, `company ${rutCompany} is not registered: POST /api/v1/companies or send razon_social, nro_resol and fch_resol`);
        }
        try {
          await insertCompany(app.db, { rut: rutCompany, razonSocial: b.razon_social, resolutionNro: b.nro_resol, resolutionFecha: b.fch_resol });
        } catch (e) {
          if (!isUniqueViolation(e)) throw e; // registered concurrently: fine
        }
      }
      const row = await insertCertificate(app.db, app.secretBox, { rutCompany, rutSigner: cert.rut, notBefore: cert.notBefore, notAfter: cert.notAfter, p12, password: b.password });
      request.log.info({ rutCompany, rutSigner: cert.rut, certificateId: row.id }, 'certificate stored');
      return reply.code(201).send({
        id: row.id,
        rut_company: row.rut_company,
        rut_signer: row.rut_signer,
        rut_source: cert.rutSource,
        subject: cert.subject,
        issuer: cert.issuer,
        not_before: row.not_before,
        not_after: row.not_after,
      });
    },
  );

  // Mail settings: the exchange mailbox (IMAP) received DTEs arrive at and the SMTP account
  // responses leave through. Passwords are sealed and write-only: never in any answer.
  interface MailBody {
    imap?: { host: string; port: number; secure: boolean; user: string; password?: string; mailbox?: string; tls_verify?: boolean } | null;
    smtp?: { host: string; port: number; secure: boolean; user?: string; password?: string; from: string; tls_verify?: boolean } | null;
  }
  app.put<{ Params: { rut: string }; Body: MailBody }>(
    '/api/v1/companies/:rut/mail',
    {
      schema: {
        tags: ['companies'],
        description:
          "The company's exchange mailbox (`imap`, read by check_inbox) and outgoing mail (`smtp`, commercial responses). Passwords are write-only (sealed with the master key, never returned); a password left out keeps the stored one; `null` removes that side; a side left out is kept.",
        params: companyRutParams,
        body: mailBody,
        response: { 200: mailResponse, ...errorResponses },
      },
    },
    async (request) => {
      const rut = Rut.parse(request.params.rut, { field: 'rut' }).canonical;
      await app.requirePermission(request, { permission: 'cert:manage', company: rut });
      if ((await findCompany(app.db, rut)) === undefined) throw notFound(`company ${rut}`);
      const b = request.body;
      const imap = b.imap === undefined || b.imap === null ? b.imap : {
        host: b.imap.host,
        port: b.imap.port,
        secure: b.imap.secure,
        user: b.imap.user,
        ...(b.imap.password !== undefined ? { password: b.imap.password } : {}),
        ...(b.imap.mailbox !== undefined ? { mailbox: b.imap.mailbox } : {}),
        ...(b.imap.tls_verify !== undefined ? { tlsVerify: b.imap.tls_verify } : {}),
      };
      const smtp = b.smtp === undefined || b.smtp === null ? b.smtp : {
        host: b.smtp.host,
        port: b.smtp.port,
        secure: b.smtp.secure,
        from: b.smtp.from,
        ...(b.smtp.user !== undefined ? { user: b.smtp.user } : {}),
        ...(b.smtp.password !== undefined ? { password: b.smtp.password } : {}),
        ...(b.smtp.tls_verify !== undefined ? { tlsVerify: b.smtp.tls_verify } : {}),
      };
      const saved = await putCompanyMail(app.db, app.secretBox, rut, { ...(imap !== undefined ? { imap } : {}), ...(smtp !== undefined ? { smtp } : {}), now: now() });
      request.log.info({ rut, imap: saved.imap !== null, smtp: saved.smtp !== null }, 'mail settings stored');
      return saved;
    },
  );

  app.get<{ Params: { rut: string } }>(
    '/api/v1/companies/:rut/mail',
    { schema: { tags: ['companies'], description: 'The mail settings without passwords (`password_set` says whether one is stored).', params: companyRutParams, response: { 200: mailResponse, ...errorResponses } } },
    async (request) => {
      const rut = Rut.parse(request.params.rut, { field: 'rut' }).canonical;
      await app.requirePermission(request, { permission: 'cert:manage', company: rut });
      const found = await findCompanyMail(app.db, rut);
      if (found === undefined) throw notFound(`mail settings of company ${rut}`);
      return found;
    },
  );

  // The company logo, raw image bytes. Its own scope: only these routes take image/png and
  // image/jpeg (and nothing else — JSON and XML bodies are 415 here), and no other route takes images.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['image/png', 'image/jpeg'], { parseAs: 'buffer', bodyLimit: LOGO_MAX_BYTES }, (_req, body, done) => done(null, body));
    const binary = { schema: { type: 'string', format: 'binary' } } as const;

    scope.put<{ Params: { rut: string }; Body: Buffer }>(
      '/api/v1/companies/:rut/logo',
      {
        schema: {
          tags: ['companies'],
          description: `Set the company's logo for its PDFs: the raw PNG or JPEG file (≤ ${LOGO_MAX_BYTES / 1024} KB; larger → 413, other media types → 415, bytes that are not what the Content-Type says → 422).`,
          params: companyRutParams,
          body: { content: { 'image/png': binary, 'image/jpeg': binary } },
          response: { 200: logoResponse, ...errorResponses },
        },
        // The parser gives a Buffer: the magic bytes are checked in the handler, not by Ajv (which
        // would hold a Buffer against `type: string`); the path parameter is checked here.
        validatorCompiler: ({ httpPart }) => (data: unknown) => (httpPart === 'params' ? checkRutParam(data) : { value: data }),
      },
      async (request) => {
        const rut = Rut.parse(request.params.rut, { field: 'rut' }).canonical;
        await app.requirePermission(request, { permission: 'cert:manage', company: rut });
        const body = request.body;
        const declared = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
        const actual = Buffer.isBuffer(body) ? detectImageType(body) : undefined;
        if (actual === undefined || actual !== declared) {
          const what = actual === undefined ? 'neither a PNG nor a JPEG image' : `a ${actual} image`;
          throw new ServiceError('ERR_LOGO_INVALID', 422, `the logo must be a PNG or JPEG file; the body is ${what} (Content-Type ${declared || 'none'})`, {}, [
            { field: 'body', message: `expected the bytes of ${declared || 'image/png or image/jpeg'}`, code: 'ERR_LOGO_INVALID' },
          ]);
        }
        if (!(await setCompanyLogo(app.db, rut, { data: body, type: actual }))) throw notFound(`company ${rut}`);
        request.log.info({ rut, logoType: actual, size: body.length }, 'company logo stored');
        return { rut, logo_type: actual, size: body.length };
      },
    );

    scope.delete<{ Params: { rut: string } }>(
      '/api/v1/companies/:rut/logo',
      { schema: { tags: ['companies'], description: "Remove the company's logo (204, also when it had none).", params: companyRutParams, response: { 204: { type: 'null' }, ...errorResponses } } },
      async (request, reply) => {
        const rut = Rut.parse(request.params.rut, { field: 'rut' }).canonical;
        await app.requirePermission(request, { permission: 'cert:manage', company: rut });
        if (!(await setCompanyLogo(app.db, rut, null))) throw notFound(`company ${rut}`);
        request.log.info({ rut }, 'company logo removed');
        return reply.code(204).send();
      },
    );
  });

  // Raw CAF files as sent by the SII (ISO-8859-1, no declaration): keep the bytes.
  app.addContentTypeParser(['application/xml', 'text/xml'], { parseAs: 'buffer', bodyLimit: 200_000 }, (_req, body, done) => done(null, body));

  const trustedKeys = siiTrust(config);

  app.post<{ Body: Buffer | { caf_xml: string } }>(
    '/api/v1/dte/caf/upload',
    {
      schema: {
        tags: ['caf'],
        body: { oneOf: [cafBody, { type: 'object', description: 'raw CAF file (application/xml)' }] },
        response: { 201: cafUploadResponse, ...errorResponses },
      },
      // JSON bodies are checked here; raw XML goes straight to parseCaf.
      validatorCompiler: () => (data: unknown) => {
        if (Buffer.isBuffer(data)) return { value: data };
        const d = data as Record<string, unknown> | null;
        if (d && typeof d === 'object' && typeof d.caf_xml === 'string' && d.caf_xml.length > 0) return { value: d };
        const error = Object.assign(new Error('body must be { "caf_xml": "<AUTORIZACION>…" } or the raw CAF file as application/xml'), {
          validation: [{ instancePath: '/caf_xml', message: 'required: the CAF file' }],
          validationContext: 'body',
        });
        return { error };
      },
    },
    async (request, reply) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body.caf_xml, 'latin1');
      const caf = parseCaf(raw);
      await app.requirePermission(request, { permission: 'caf:manage', company: caf.rutEmisor });
      const keys = await trustedKeys();
      if (keys) {
        await app.cache.wrap(cafVerifiedKey(keys, raw), CAF_VERIFIED_TTL_MS, async () => {
          verifyCaf(caf, { trustedKeys: keys });
          return true;
        });
      }
      if ((await findCompany(app.db, caf.rutEmisor)) === undefined) {
        throw new ServiceError('ERR_COMPANY_NOT_REGISTERED', 409, `company ${caf.rutEmisor} is not registered`);
      }
      try {
        const row = await insertCaf(app.db, app.secretBox, { xml: raw });
        request.log.info({ cafId: row.id, rutEmisor: row.rut_emisor, tipoDte: row.tipo_dte, desde: row.desde, hasta: row.hasta }, 'CAF stored');
        return reply.code(201).send({ ...row, signature_verified: keys !== undefined });
      } catch (e) {
        if (isUniqueViolation(e)) throw new ServiceError('ERR_CAF_DUPLICATE', 409, `CAF ${caf.tipoDte} ${caf.desde}-${caf.hasta} of ${caf.rutEmisor} is already loaded`);
        throw e;
      }
    },
  );

  app.get<{ Querystring: { rut_emisor: string } }>(
    '/api/v1/dte/caf/status',
    { schema: { tags: ['caf'], querystring: rutEmisorQuery, response: errorResponses } },
    async (request) => {
      const rut = Rut.parse(request.query.rut_emisor, { field: 'rut_emisor' }).canonical;
      await app.requirePermission(request, { permission: 'dte:read', company: rut });
      const [status, cafs] = await Promise.all([cafStatus(app.db, rut, { fecha: todayInChile(now()) }), listCafs(app.db, rut)]);
      return { rut_emisor: rut, fecha: todayInChile(now()), tipos: status, cafs };
    },
  );
};
export default admin;
