/**
 * RCV registro de aceptación/reclamo (`registroreclamodteservice`, JAX-WS document/literal; the
 * certificación and producción paths): ingresarAceptacionReclamoDoc, listarEventosHistDoc,
 * consultarDocDteCedible, consultarFechaRecepcionSii. The DTEWS token travels as Cookie TOKEN;
 * without a valid one the service answers HTTP 401.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkToken, tokenFromCookie } from '../auth.js';
import { chileParts } from '../clock.js';
import { RCV_CODES, type RcvCode } from '../codes.js';
import type { SimContext } from '../context.js';
import { forceExpire, rutFrom, sendXml } from '../http.js';
import { cedible, descripcionEvento, eventosDoc, findRcvDocument, ingresarAccion } from '../rcv.js';
import { jaxwsFault, jaxwsResponse, parseSoapCall, SoapRequestError, xmlText, type SoapCall } from '../wire/soap.js';

export const RCV_PATHS = ['/WSREGISTRORECLAMODTECERT/registroreclamodteservice', '/WSREGISTRORECLAMODTE/registroreclamodteservice'] as const;

/** `DD-MM-YYYY HH:MM:SS`, the RCV's date format. */
function rcvDate(ms: number): string {
  const p = chileParts(ms);
  return `${p.d}-${p.mo}-${p.y} ${p.h}:${p.mi}:${p.s}`;
}

const codResp = (code: RcvCode, extra = ''): string =>
  `<return><codResp>${code}</codResp><descResp>${xmlText(RCV_CODES[code])}</descResp>${extra}</return>`;

export function rcvRoutes(app: FastifyInstance, ctx: SimContext): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const t = checkToken(ctx, 'dtews', tokenFromCookie(req.headers.cookie), forceExpire(req));
    if (!t.ok) return reply.code(401).header('content-type', 'text/html; charset=utf-8').send('<html><body><h1>401 Unauthorized</h1></body></html>');
    let call: SoapCall;
    try {
      call = parseSoapCall(Buffer.isBuffer(req.body) ? req.body : Buffer.from(typeof req.body === 'string' ? req.body : ''));
    } catch (e) {
      return sendXml(reply, jaxwsFault('S:Client', e instanceof SoapRequestError ? e.message : String(e)), 500);
    }
    const arg = (name: string): string => call.params.find((p) => p.name === name)?.value ?? '';
    const rutEmisor = rutFrom(arg('rutEmisor'), arg('dvEmisor').toUpperCase() === arg('dvEmisor') ? arg('dvEmisor') : '');
    const tipoDoc = Number(arg('tipoDoc'));
    const folio = /^\d{1,10}$/.test(arg('folio')) ? Number(arg('folio')) : NaN;
    const q = { rutEmisor, tipoDoc, folio };
    const ok = (xml: string) => sendXml(reply, jaxwsResponse(call.operation, xml));

    switch (call.operation) {
      case 'ingresarAceptacionReclamoDoc':
        return ok(codResp(ingresarAccion(ctx, { ...q, accion: arg('accionDoc').trim(), rutUsuario: t.token.rut })));
      case 'listarEventosHistDoc': {
        const found = findRcvDocument(ctx, q, 9);
        if ('code' in found) return ok(codResp(found.code));
        const eventos = eventosDoc(found.dte);
        if (eventos.length === 0) return ok(codResp(16));
        const list = eventos
          .map((e) => {
            const [rut, dv] = e.rutResponsable.split('-');
            return (
              '<listaEventosDoc>' +
              `<codEvento>${e.codigo}</codEvento><descEvento>${xmlText(descripcionEvento(e.codigo))}</descEvento>` +
              `<rutResponsable>${rut ?? ''}</rutResponsable><dvResponsable>${dv ?? ''}</dvResponsable>` +
              `<fechaEvento>${rcvDate(e.fecha)}</fechaEvento>` +
              '</listaEventosDoc>'
            );
          })
          .join('');
        return ok(codResp(15, list));
      }
      case 'consultarDocDteCedible': {
        const found = findRcvDocument(ctx, q, 9);
        if ('code' in found) return ok(codResp(found.code));
        return ok(codResp(cedible(ctx, found.dte)));
      }
      case 'consultarFechaRecepcionSii': {
        const found = findRcvDocument(ctx, q, 18);
        return ok(`<return>${'code' in found ? '' : rcvDate(found.dte.receivedAt)}</return>`);
      }
      default:
        return sendXml(reply, jaxwsFault('S:Client', `Cannot find dispatch method for {${call.namespace}}${call.operation}`), 500);
    }
  };
  for (const path of RCV_PATHS) app.post(path, handler);
}
