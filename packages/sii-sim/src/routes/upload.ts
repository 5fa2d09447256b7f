/**
 * `POST /cgi_dte/UPL/DTEUpload` (sii-spec §10): an emulated browser upload. Answers RECEPCIONDTE
 * XML to programs (User-Agent containing `PROG 1.0`) and an HTML page to anything else, like the
 * SII; the upload itself is processed either way.
 *
 * Checked here, synchronously, in this order (STATUS): form readable and file present (2), file not
 * larger than `maxUploadBytes` (2), not sent chunked beyond 4 KB (3, `LPX-00007`), token cookie (5),
 * rutSender = the token's certificate holder and authorized for the company (1), rutCompany (6),
 * line length (7, `CHR-00002`), same file within the duplicate window (99), readable XML of a known
 * root (7). Everything else (schema, signatures, carátula, documents) is the asynchronous
 * processing whose outcome the status queries reveal.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkToken, tokenFromCookie } from '../auth.js';
import { chileDateTime } from '../clock.js';
import type { SimContext } from '../context.js';
import { forceExpire, rutFrom, sendLatin1, userAgent } from '../http.js';
import { recepcionDte, uploadHtml } from '../wire/sii-xml.js';
import { acceptEnvio, fileBytes, longestLine, readUpload, sha256 } from './upload-common.js';

const STATUS_TEXT: Record<number, string> = {
  0: 'Upload OK',
  1: 'El Sender no tiene permiso para enviar',
  2: 'Error en tamano del archivo (muy grande o muy chico)',
  3: 'Archivo cortado (tamano <> al parametro size)',
  5: 'No esta autenticado',
  6: 'Empresa no autorizada a enviar archivos',
  7: 'Esquema Invalido',
  8: 'Firma del Documento',
  9: 'Sistema Bloqueado',
  99: 'Archivo ya fue enviado',
};

export function uploadRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.post('/cgi_dte/UPL/DTEUpload', async (req, reply) => {
    const form = await readUpload(req, ctx.config.maxUploadBytes);
    const f = form.fields;
    const rutSenderRaw = f.rutSender && f.dvSender ? `${f.rutSender}-${f.dvSender}` : undefined;
    const rutCompanyRaw = f.rutCompany && f.dvCompany ? `${f.rutCompany}-${f.dvCompany}` : undefined;
    const base = { rutSender: rutSenderRaw, rutCompany: rutCompanyRaw, file: form.file?.name, timestamp: chileDateTime(ctx.clock.now()) };
    const respond = (status: number, extra: { trackId?: string; errors?: string[] } = {}) => answer(req, reply, { ...base, ...extra, status });

    if (form.unreadable || !form.file) {
      if (form.tooLarge) return respond(2, { errors: [`archivo excede ${ctx.config.maxUploadBytes} bytes`] });
      return respond(2, { errors: [form.unreadable ?? 'no se recibio el campo archivo'] });
    }
    if (form.tooLarge) return respond(2, { errors: [`archivo excede ${ctx.config.maxUploadBytes} bytes`] });
    const chunked = /chunked/i.test(String(req.headers['transfer-encoding'] ?? '')) && req.headers['content-length'] === undefined;
    if (chunked && form.file.data.length > 4096) return respond(3, { errors: ['LPX-00007: unexpected end-of-file encountered'] });

    const t = checkToken(ctx, 'dtews', tokenFromCookie(req.headers.cookie), forceExpire(req));
    if (!t.ok) return respond(5);
    const rutSender = rutFrom(f.rutSender, f.dvSender);
    if (!rutSender || rutSender !== t.token.rut) return respond(1, { errors: [`rutSender ${rutSenderRaw ?? '(none)'} is not the authenticated user ${t.token.rut}`] });
    const rutCompany = rutFrom(f.rutCompany, f.dvCompany);
    if (!rutCompany) return respond(6, { errors: [`rutCompany ${rutCompanyRaw ?? '(none)'} is not a valid RUT`] });
    const company = ctx.state.companies.get(rutCompany);
    if (company?.authorizedSigners && !company.authorizedSigners.includes(rutSender)) {
      return respond(1, { errors: [`${rutSender} is not authorized to send for ${rutCompany}`] });
    }

    const bytes = fileBytes(form.file);
    if (!bytes) return respond(3, { errors: ['el archivo gzip esta cortado'] });
    if (bytes.length === 0) return respond(2, { errors: ['archivo vacio'] });
    if (ctx.config.maxLineLength > 0 && longestLine(bytes) > ctx.config.maxLineLength) {
      return respond(7, { errors: ['CHR-00002: Line too long', 'SCH-00001: Invalid Schema Name'] });
    }

    // The same file within the window: refused, pointing at the first track id.
    const hash = sha256(bytes);
    const now = ctx.clock.now();
    const previousId = ctx.state.uploadsByHash.get(hash);
    const previous = previousId ? ctx.state.envios.get(previousId) : undefined;
    if (previous && now - previous.lastAttemptAt < ctx.config.duplicateWindowMs) {
      previous.intentos++;
      previous.lastAttemptAt = now;
      const wait = Math.round(ctx.config.duplicateWindowMs / 1000);
      return respond(99, { errors: [`Archivo ya fue enviado ${previous.intentos} veces con Trackid ${Number(previous.trackId)}. Debe esperar ${wait} segundos antes de reintentar`] });
    }

    const r = await acceptEnvio(ctx, { channel: 'dtews', bytes, fileName: form.file.name, rutSender, rutCompany, roots: ['EnvioDTE', 'EnvioBOLETA'] });
    if (!r.ok) return respond(7, { errors: r.reason === 'root' ? ['SCH-00001: Invalid Schema Name'] : [`LPX-00210: ${r.message}`] });
    return respond(0, { trackId: r.envio.trackId });
  });
}

function answer(
  req: FastifyRequest,
  reply: FastifyReply,
  r: { rutSender?: string | undefined; rutCompany?: string | undefined; file?: string | undefined; timestamp: string; status: number; trackId?: string; errors?: string[] },
): FastifyReply {
  if (!userAgent(req).includes('PROG 1.0')) {
    const message = r.status === 0 ? 'El archivo fue recibido correctamente.' : `El archivo no fue recibido: ${STATUS_TEXT[r.status] ?? 'error interno'}.`;
    return sendLatin1(reply, uploadHtml({ status: r.status, message, ...(r.trackId ? { trackId: r.trackId } : {}) }), 'text/html');
  }
  const clean = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as Parameters<typeof recepcionDte>[0];
  return sendLatin1(reply, recepcionDte(clean), 'text/xml');
}
