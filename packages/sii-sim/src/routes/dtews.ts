/**
 * DTEWS (Apache Axis `.jws`, SOAP 1.1 RPC): CrSeed, GetTokenFromSeed, QueryEstUp, QueryEstDte.
 * Every answer is the SII's `SII:RESPUESTA` document, escaped inside `ns1:<op>Return`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { checkToken, issueSeed, issueToken, tokenFromCookie, type TokenCheck } from '../auth.js';
import { ESTADOS_DTE, ESTADOS_ENVIO, TOKEN_ESTADOS, TOKEN_QUERY_ERRORS } from '../codes.js';
import type { SimContext } from '../context.js';
import { estadistica, estadoEnvio } from '../envio.js';
import { estadoDte, fromDdMmAaaa } from '../estado-dte.js';
import { forceExpire, rutFrom, sendXml } from '../http.js';
import { axisFault, axisResponse, parseSoapCall, SoapRequestError, type SoapCall } from '../wire/soap.js';
import { numAtencion, respuesta, type Fields } from '../wire/sii-xml.js';

interface Service {
  service: string;
  operation: string;
  params: readonly string[];
}

const SEED: Service = { service: 'CrSeed.jws', operation: 'getSeed', params: [] };
const TOKEN: Service = { service: 'GetTokenFromSeed.jws', operation: 'getToken', params: ['pszXml'] };
const EST_UP: Service = { service: 'QueryEstUp.jws', operation: 'getEstUp', params: ['RutCompania', 'DvCompania', 'TrackId', 'Token'] };
const EST_DTE: Service = {
  service: 'QueryEstDte.jws',
  operation: 'getEstDte',
  params: ['RutConsultante', 'DvConsultante', 'RutCompania', 'DvCompania', 'RutReceptor', 'DvReceptor', 'TipoDte', 'FolioDte', 'FechaEmisionDte', 'MontoDte', 'Token'],
};

/**
 * Parse the call and bind parameters like Axis: the operation name must match and the number of
 * parameters must be exactly the operation's (extra parameters give "No such operation", as the
 * real QueryEstUp does); values are taken by name, else by position.
 */
function bind(svc: Service, body: unknown): { call: SoapCall; args: Record<string, string> } | { fault: string; code: string } {
  let call: SoapCall;
  try {
    call = parseSoapCall(Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : ''));
  } catch (e) {
    return { fault: e instanceof SoapRequestError ? e.message : String(e), code: 'soapenv:Server.userException' };
  }
  if (call.operation !== svc.operation || call.params.length !== svc.params.length) {
    return { fault: `No such operation '${call.operation}'`, code: 'soapenv:Client' };
  }
  const args: Record<string, string> = {};
  svc.params.forEach((name, i) => {
    const byName = call.params.find((p) => p.name.toLowerCase() === name.toLowerCase());
    args[name] = (byName ?? call.params[i])?.value ?? '';
  });
  return { call, args };
}

export function dtewsRoutes(app: FastifyInstance, ctx: SimContext): void {
  const answer = (reply: FastifyReply, svc: Service, inner: string) =>
    sendXml(reply, axisResponse({ soapHost: ctx.config.soapHost, service: svc.service, operation: svc.operation, returnValue: inner }));
  const fault = (reply: FastifyReply, code: string, message: string) => sendXml(reply, axisFault(code, message), 500);
  const atencion = (): string => numAtencion(++ctx.state.atencion, ctx.clock.now());
  const tokenError = (t: Exclude<TokenCheck, { ok: true }>): Fields => {
    const e = t.reason === 'missing' ? TOKEN_QUERY_ERRORS.COOKIE : t.reason === 'expired' ? TOKEN_QUERY_ERRORS.INACTIVO : TOKEN_QUERY_ERRORS.NO_EXISTE;
    return [
      ['ESTADO', e[0]],
      ['GLOSA', e[1]],
      ['NUM_ATENCION', atencion()],
    ];
  };

  app.post('/DTEWS/CrSeed.jws', async (req, reply) => {
    const b = bind(SEED, req.body);
    if ('fault' in b) return fault(reply, b.code, b.fault);
    const seed = issueSeed(ctx, 'dtews');
    return answer(reply, SEED, respuesta({ body: [['SEMILLA', seed.value]], hdr: [['ESTADO', '00']] }));
  });

  app.post('/DTEWS/GetTokenFromSeed.jws', async (req, reply) => {
    const b = bind(TOKEN, req.body);
    if ('fault' in b) return fault(reply, b.code, b.fault);
    const r = issueToken(ctx, 'dtews', b.args.pszXml ?? '');
    if (r.ok) {
      return answer(reply, TOKEN, respuesta({ body: [['TOKEN', r.token.value]], hdr: [['ESTADO', TOKEN_ESTADOS.OK[0]], ['GLOSA', TOKEN_ESTADOS.OK[1]]] }));
    }
    req.log.info({ estado: r.estado, detalle: r.detalle }, 'getToken refused');
    return answer(reply, TOKEN, respuesta({ hdr: [['ESTADO', r.estado], ['GLOSA', r.glosa]] }));
  });

  app.post('/DTEWS/QueryEstUp.jws', async (req, reply) => {
    const b = bind(EST_UP, req.body);
    if ('fault' in b) return fault(reply, b.code, b.fault);
    const { RutCompania, DvCompania, TrackId, Token } = b.args as Record<string, string>;
    const decl = '<?xml version="1.0"?>';
    const t = checkToken(ctx, 'dtews', Token || tokenFromCookie(req.headers.cookie), forceExpire(req));
    if (!t.ok) return answer(reply, EST_UP, respuesta({ declaration: decl, hdr: [['TRACKID', TrackId ?? ''], ...tokenError(t)] }));
    const rut = rutFrom(RutCompania, DvCompania);
    const trackId = (TrackId ?? '').trim();
    const rec = /^\d{1,12}$/.test(trackId) ? [...ctx.state.envios.values()].find((e) => e.channel === 'dtews' && Number(e.trackId) === Number(trackId)) : undefined;
    if (!rec || !rut || rec.rutCompany !== rut) {
      return answer(
        reply,
        EST_UP,
        respuesta({
          declaration: decl,
          hdr: [
            ['TRACKID', trackId],
            ['ESTADO', '-11'],
            ['GLOSA', 'ERR_CODE, SQL_CODE, SRV_CODE'],
            ['ERR_CODE', '1'],
            ['SQL_CODE', '0'],
            ['SRV_CODE', '0'],
            ['NUM_ATENCION', atencion()],
          ],
        }),
      );
    }
    const company = ctx.state.companies.get(rut);
    if (company?.authorizedSigners && !company.authorizedSigners.includes(t.token.rut)) {
      return answer(reply, EST_UP, respuesta({ declaration: decl, hdr: [['TRACKID', trackId], ['ESTADO', '-6'], ['GLOSA', 'ERROR: USUARIO NO AUTORIZADO'], ['NUM_ATENCION', atencion()]] }));
    }
    const estado = estadoEnvio(rec, ctx.clock.now(), ctx.config.statusDelayMs);
    const hdr: Fields = [
      ['TRACKID', rec.trackId],
      ['ESTADO', estado],
      ['GLOSA', ESTADOS_ENVIO[estado]],
      ['NUM_ATENCION', atencion()],
    ];
    const body: Array<[string, string | number]> = [];
    if (estado === 'EPR') {
      for (const s of estadistica(rec)) {
        body.push(['TIPO_DOCTO', s.tipoDte], ['INFORMADOS', s.informados], ['ACEPTADOS', s.aceptados], ['RECHAZADOS', s.rechazados], ['REPAROS', s.reparos]);
      }
    }
    return answer(reply, EST_UP, respuesta({ declaration: decl, hdr, ...(body.length > 0 ? { body } : {}) }));
  });

  app.post('/DTEWS/QueryEstDte.jws', async (req, reply) => {
    const b = bind(EST_DTE, req.body);
    if ('fault' in b) return fault(reply, b.code, b.fault);
    const a = b.args as Record<string, string>;
    const decl = '<?xml version="1.0"?>';
    const t = checkToken(ctx, 'dtews', a.Token || tokenFromCookie(req.headers.cookie), forceExpire(req));
    if (!t.ok) return answer(reply, EST_DTE, respuesta({ declaration: decl, hdr: tokenError(t) }));
    const rutEmisor = rutFrom(a.RutCompania, a.DvCompania);
    const rutReceptor = rutFrom(a.RutReceptor, a.DvReceptor);
    const tipo = Number(a.TipoDte);
    const folio = Number(a.FolioDte);
    const monto = Number(a.MontoDte);
    if (!rutEmisor || !rutReceptor || !rutFrom(a.RutConsultante, a.DvConsultante) || !Number.isInteger(tipo) || !Number.isSafeInteger(folio) || !Number.isFinite(monto)) {
      return answer(reply, EST_DTE, respuesta({ declaration: decl, hdr: [['ESTADO', '-2'], ['GLOSA', 'ERROR RETORNO'], ['NUM_ATENCION', atencion()]] }));
    }
    const r = estadoDte(ctx, { rutEmisor, tipoDte: tipo, folio, rutReceptor, fechaEmision: fromDdMmAaaa(a.FechaEmisionDte ?? ''), monto });
    const [errCode, glosa] = ESTADOS_DTE[r.estado];
    return answer(
      reply,
      EST_DTE,
      respuesta({
        declaration: decl,
        hdr: [
          ['ESTADO', r.estado],
          ['GLOSA_ESTADO', glosa],
          ['ERR_CODE', errCode],
          ['GLOSA_ERR', r.diferencias.length > 0 ? r.diferencias.join('; ') : glosa],
          ['NUM_ATENCION', atencion()],
        ],
      }),
    );
  });
}
