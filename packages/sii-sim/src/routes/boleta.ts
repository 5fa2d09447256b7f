/**
 * Boleta REST API (Res. Ex. 74/2020; sii-spec §12), all under `/recursos/v1`: seed and token with
 * the same signed `<getToken>` as DTEWS (but their own tokens), the envío (multipart EnvioBOLETA,
 * Cookie TOKEN, a browser-like `Mozilla` User-Agent or 401 "NO ESTA AUTENTICADO"), the envío status
 * and the status of one boleta, as JSON.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkToken, issueSeed, issueToken, tokenFromCookie, type TokenCheck } from '../auth.js';
import { chileDateTime } from '../clock.js';
import { ESTADOS_DTE, ESTADOS_ENVIO, TOKEN_ESTADOS } from '../codes.js';
import type { SimContext } from '../context.js';
import { estadistica, estadoEnvio } from '../envio.js';
import { estadoDte, fromAnyDate } from '../estado-dte.js';
import { forceExpire, rutFrom, sendXml, userAgent } from '../http.js';
import { respuesta } from '../wire/sii-xml.js';
import { acceptEnvio, fileBytes, readUpload } from './upload-common.js';

const BASE = '/recursos/v1';

export function boletaRoutes(app: FastifyInstance, ctx: SimContext): void {
  const unauthorized = (reply: FastifyReply) => reply.code(401).header('content-type', 'text/plain; charset=utf-8').send('NO ESTA AUTENTICADO');
  const auth = (req: FastifyRequest): TokenCheck => checkToken(ctx, 'boleta', tokenFromCookie(req.headers.cookie), forceExpire(req));

  app.get(`${BASE}/boleta.electronica.semilla`, async (_req, reply) => {
    const seed = issueSeed(ctx, 'boleta');
    return sendXml(reply, respuesta({ body: [['SEMILLA', seed.value]], hdr: [['ESTADO', '00']] }), 200, 'application/xml;charset=utf-8');
  });

  app.post(`${BASE}/boleta.electronica.token`, async (req, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.from(typeof req.body === 'string' ? req.body : '');
    const r = issueToken(ctx, 'boleta', body);
    const xml = r.ok
      ? respuesta({ body: [['TOKEN', r.token.value]], hdr: [['ESTADO', TOKEN_ESTADOS.OK[0]], ['GLOSA', TOKEN_ESTADOS.OK[1]]] })
      : respuesta({ hdr: [['ESTADO', r.estado], ['GLOSA', r.glosa]] });
    return sendXml(reply, xml, 200, 'application/xml;charset=utf-8');
  });

  app.post(`${BASE}/boleta.electronica.envio`, async (req, reply) => {
    if (!userAgent(req).includes('Mozilla')) return unauthorized(reply);
    const t = auth(req);
    if (!t.ok) return unauthorized(reply);
    const form = await readUpload(req, ctx.config.maxUploadBytes);
    const f = form.fields;
    const bad = (detalle: string) => reply.code(400).send({ estado: 'ERR', glosa: 'Solicitud invalida', detalle });
    if (form.unreadable || !form.file) return bad(form.tooLarge ? `archivo excede ${ctx.config.maxUploadBytes} bytes` : form.unreadable ?? 'falta el campo archivo');
    if (form.tooLarge) return bad(`archivo excede ${ctx.config.maxUploadBytes} bytes`);
    const rutSender = rutFrom(f.rutSender, f.dvSender);
    const rutCompany = rutFrom(f.rutCompany, f.dvCompany);
    if (!rutSender || rutSender !== t.token.rut) return bad(`rutSender ${f.rutSender ?? ''}-${f.dvSender ?? ''} no corresponde al usuario autenticado`);
    if (!rutCompany) return bad(`rutCompany ${f.rutCompany ?? ''}-${f.dvCompany ?? ''} no es un RUT valido`);
    const company = ctx.state.companies.get(rutCompany);
    if (company?.authorizedSigners && !company.authorizedSigners.includes(rutSender)) return unauthorized(reply);
    const bytes = fileBytes(form.file);
    if (!bytes || bytes.length === 0) return bad('archivo vacio o cortado');
    const r = await acceptEnvio(ctx, { channel: 'boleta', bytes, fileName: form.file.name, rutSender, rutCompany, roots: ['EnvioBOLETA'] });
    if (!r.ok) return bad(r.reason === 'root' ? `${r.message}: este servicio recibe EnvioBOLETA` : r.message);
    const e = r.envio;
    return reply.send({
      rut_emisor: e.rutCompany,
      rut_envia: e.rutSender,
      trackid: Number(e.trackId),
      fecha_recepcion: chileDateTime(e.receivedAt),
      estado: 'REC',
      file: e.fileName,
    });
  });

  app.get<{ Params: { id: string } }>(`${BASE}/boleta.electronica.envio/:id`, async (req, reply) => {
    const t = auth(req);
    if (!t.ok) return unauthorized(reply);
    const m = /^(\d{1,8})-([\dkK])-(\d{1,12})$/.exec(req.params.id);
    const rut = m ? rutFrom(m[1], m[2]) : undefined;
    const e = m ? [...ctx.state.envios.values()].find((x) => x.channel === 'boleta' && Number(x.trackId) === Number(m[3])) : undefined;
    if (!rut || !e || e.rutCompany !== rut) return reply.code(404).send({ estado: 'ERR', glosa: 'Envio no encontrado para el contribuyente' });
    const estado = estadoEnvio(e, ctx.clock.now(), ctx.config.statusDelayMs);
    const final = estado === e.final;
    return reply.send({
      rut_emisor: e.rutCompany,
      rut_envia: e.rutSender,
      trackid: Number(e.trackId),
      fecha_recepcion: chileDateTime(e.receivedAt),
      estado,
      glosa: ESTADOS_ENVIO[estado],
      estadistica:
        estado === 'EPR'
          ? estadistica(e).map((s) => ({ tipo: s.tipoDte, informados: s.informados, aceptados: s.aceptados, rechazados: s.rechazados, reparos: s.reparos }))
          : [],
      detalle_rep_rech: final
        ? e.documentos
            .filter((d) => d.estado !== 'ACEPTADO')
            .map((d) => ({
              tipo: d.tipoDte ?? null,
              folio: d.folio ?? null,
              estado: d.estado === 'RECHAZADO' ? 'RCH' : 'RPR',
              error: d.errores.map((x) => ({ codigo: x.code, descripcion: x.glosa, detalle: x.detalle ?? null })),
            }))
        : [],
    });
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>(`${BASE}/boleta.electronica/:id/estado`, async (req, reply) => {
    const t = auth(req);
    if (!t.ok) return unauthorized(reply);
    const m = /^(\d{1,8})-([\dkK])-(\d{1,3})-(\d{1,10})$/.exec(req.params.id);
    const rutEmisor = m ? rutFrom(m[1], m[2]) : undefined;
    const q = req.query;
    const rutReceptor = rutFrom(q.rut_receptor, q.dv_receptor);
    const monto = Number(q.monto);
    if (!m || !rutEmisor || !rutReceptor || !Number.isFinite(monto) || q.monto === undefined || q.monto === '') {
      return reply.code(400).send({ estado: 'ERR', glosa: 'Parametros invalidos: {rut}-{dv}-{tipo}-{folio}, rut_receptor, dv_receptor, monto, fechaEmision' });
    }
    const r = estadoDte(ctx, { rutEmisor, tipoDte: Number(m[3]), folio: Number(m[4]), rutReceptor, fechaEmision: fromAnyDate(q.fechaEmision ?? ''), monto });
    return reply.send({
      rut_emisor: rutEmisor,
      tipo: Number(m[3]),
      folio: Number(m[4]),
      estado: r.estado,
      glosa: ESTADOS_DTE[r.estado][1],
      ...(r.dte ? { fecha_recepcion: chileDateTime(r.dte.receivedAt), trackid: Number(r.dte.trackId) } : {}),
      ...(r.diferencias.length > 0 ? { diferencias: r.diferencias } : {}),
    });
  });
}
