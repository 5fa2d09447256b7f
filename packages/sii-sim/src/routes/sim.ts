/**
 * The simulator's own endpoints (not part of the SII): health, trust material, CAF issuance, the
 * per-document result of an envío (what the real SII e-mails to the company), faults, companies,
 * clock and reset. JSON in, JSON out (except the CAF, which is the SII's ISO-8859-1 XML file).
 */
import { buildCaf, Rut, TIPOS_DTE } from '@timbre/dte';
import type { FastifyInstance } from 'fastify';
import { chileDate, chileDateTime, type ShiftedClock } from '../clock.js';
import { ESTADOS_ENVIO } from '../codes.js';
import type { SimContext } from '../context.js';
import { estadistica, estadoEnvio } from '../envio.js';
import { FaultRuleError, parseFaultRule } from '../faults.js';
import type { EnvioRecord } from '../state.js';

export function simRoutes(app: FastifyInstance, ctx: SimContext & { clock: ShiftedClock; publicKeyPem: string; started: number }): void {
  let faultSeq = 0;
  const nextFaultId = () => `f${++faultSeq}`;

  app.get('/sim/health', async () => ({
    status: 'ok',
    now: new Date(ctx.clock.now()).toISOString(),
    idk: ctx.state.sii.idk,
    xsd: ctx.xsd.status,
    statusDelayMs: ctx.config.statusDelayMs,
    envios: ctx.state.envios.size,
    documentos: ctx.state.dtes.size,
    faults: ctx.state.faults.length,
  }));

  app.get<{ Querystring: { format?: string } }>('/sim/trust', async (req, reply) => {
    if (req.query.format === 'pem') return reply.header('content-type', 'application/x-pem-file').send(ctx.publicKeyPem);
    return { idk: ctx.state.sii.idk, publicKeyPem: ctx.publicKeyPem, trustedIdks: [...ctx.state.allTrustedKeys().keys()] };
  });

  app.post('/sim/caf', async (req, reply) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const bad = (message: string) => reply.code(400).send({ error: 'invalid_request', message });
    let rutEmisor: string;
    try {
      rutEmisor = Rut.parse(String(b.rutEmisor ?? '')).canonical;
    } catch {
      return bad('rutEmisor must be a valid RUT (12345678-9)');
    }
    const tipoDte = Number(b.tipoDte);
    if (!(TIPOS_DTE as readonly number[]).includes(tipoDte)) return bad(`tipoDte must be one of ${TIPOS_DTE.join(', ')}`);
    const int = (k: string): number | undefined | null => {
      if (b[k] === undefined || b[k] === null) return undefined;
      const n = Number(b[k]);
      return Number.isSafeInteger(n) && n > 0 ? n : null;
    };
    const desdeIn = int('desde');
    const hastaIn = int('hasta');
    const cantidad = int('cantidad');
    if (desdeIn === null || hastaIn === null || cantidad === null) return bad('desde, hasta and cantidad are positive integers');
    const same = ctx.state.cafs.filter((c) => c.rutEmisor === rutEmisor && c.tipoDte === tipoDte);
    const desde = desdeIn ?? Math.max(0, ...same.map((c) => c.hasta)) + 1;
    const hasta = hastaIn ?? desde + (cantidad ?? 100) - 1;
    if (hasta < desde) return bad(`folio range ${desde}..${hasta} is empty`);
    const overlap = same.find((c) => c.desde <= hasta && desde <= c.hasta);
    if (overlap) return reply.code(409).send({ error: 'folios_already_authorized', message: `folios ${overlap.desde}..${overlap.hasta} of type ${tipoDte} for ${rutEmisor} were already authorized` });
    const fa = b.fechaAutorizacion === undefined ? chileDate(ctx.clock.now()) : String(b.fechaAutorizacion);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(fa) || Number.isNaN(Date.parse(`${fa}T00:00:00Z`))) return bad('fechaAutorizacion must be YYYY-MM-DD');
    let xml: Buffer;
    try {
      xml = buildCaf({
        siiKey: ctx.state.sii.privateKey,
        idk: ctx.state.sii.idk,
        rutEmisor,
        ...(typeof b.razonSocial === 'string' && b.razonSocial.trim() ? { razonSocial: b.razonSocial } : {}),
        tipoDte,
        desde,
        hasta,
        fa,
      });
    } catch (e) {
      return bad(e instanceof Error ? e.message : String(e));
    }
    ctx.state.cafs.push({ rutEmisor, tipoDte, desde, hasta, fechaAutorizacion: fa, idk: ctx.state.sii.idk, issuedAt: ctx.clock.now(), source: 'sim' });
    return reply
      .code(201)
      .header('content-type', 'application/xml; charset=ISO-8859-1')
      .header('content-disposition', `attachment; filename="FoliosSII${rutEmisor.replace('-', '')}${tipoDte}${desde}.xml"`)
      .header('x-sim-folios', `${desde}-${hasta}`)
      .send(xml);
  });

  app.get('/sim/envios', async () => [...ctx.state.envios.values()].map((e) => envioSummary(ctx, e)));

  app.get<{ Params: { trackId: string } }>('/sim/envios/:trackId', async (req, reply) => {
    const e = [...ctx.state.envios.values()].find((x) => x.trackId === req.params.trackId || Number(x.trackId) === Number(req.params.trackId));
    if (!e) return reply.code(404).send({ error: 'not_found', message: `no envío with track id ${req.params.trackId}` });
    const summary = envioSummary(ctx, e);
    if (!summary.procesado) return summary;
    return {
      ...summary,
      estadistica: e.final === 'EPR' ? estadistica(e) : [],
      errores: e.errores,
      documentos: e.documentos,
      notas: e.notas,
    };
  });

  app.get('/sim/faults', async () => ctx.state.faults);

  app.post('/sim/faults', async (req, reply) => {
    const body = req.body;
    const inputs = Array.isArray(body) ? body : [body];
    try {
      const rules = inputs.map((i) => parseFaultRule(i, nextFaultId()));
      ctx.state.faults.push(...rules);
      return reply.code(201).send(rules);
    } catch (e) {
      if (e instanceof FaultRuleError) return reply.code(400).send({ error: 'invalid_fault', message: e.message });
      throw e;
    }
  });

  app.delete('/sim/faults', async (_req, reply) => {
    ctx.state.faults.length = 0;
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string } }>('/sim/faults/:id', async (req, reply) => {
    const i = ctx.state.faults.findIndex((f) => f.id === req.params.id);
    if (i < 0) return reply.code(404).send({ error: 'not_found', message: `no fault ${req.params.id}` });
    ctx.state.faults.splice(i, 1);
    return reply.code(204).send();
  });

  app.put<{ Params: { rut: string } }>('/sim/companies/:rut', async (req, reply) => {
    let rut: string;
    try {
      rut = Rut.parse(req.params.rut).canonical;
    } catch {
      return reply.code(400).send({ error: 'invalid_request', message: 'the path needs a valid RUT' });
    }
    const b = (req.body ?? {}) as { authorizedSigners?: unknown };
    if (b.authorizedSigners === undefined || b.authorizedSigners === null) {
      ctx.state.companies.delete(rut);
      return { rut, authorizedSigners: null };
    }
    if (!Array.isArray(b.authorizedSigners) || !b.authorizedSigners.every((s) => typeof s === 'string' && Rut.isValid(s))) {
      return reply.code(400).send({ error: 'invalid_request', message: 'authorizedSigners is an array of RUTs' });
    }
    const authorizedSigners = (b.authorizedSigners as string[]).map((s) => Rut.parse(s).canonical);
    ctx.state.companies.set(rut, { authorizedSigners });
    return { rut, authorizedSigners };
  });

  app.get('/sim/clock', async () => ({ now: new Date(ctx.clock.now()).toISOString(), offsetMs: ctx.clock.offsetMs }));

  app.post('/sim/clock', async (req, reply) => {
    const b = (req.body ?? {}) as { advanceMs?: unknown };
    const ms = Number(b.advanceMs);
    if (!Number.isFinite(ms)) return reply.code(400).send({ error: 'invalid_request', message: 'advanceMs is a number of milliseconds' });
    ctx.clock.offsetMs += ms;
    return { now: new Date(ctx.clock.now()).toISOString(), offsetMs: ctx.clock.offsetMs };
  });

  app.post('/sim/reset', async (_req, reply) => {
    ctx.state.reset();
    ctx.clock.offsetMs = 0;
    return reply.code(204).send();
  });
}

function envioSummary(ctx: SimContext, e: EnvioRecord) {
  const estado = estadoEnvio(e, ctx.clock.now(), ctx.config.statusDelayMs);
  return {
    trackId: e.trackId,
    canal: e.channel,
    archivo: e.fileName,
    rutEmisor: e.rutCompany,
    rutEnvia: e.rutSender,
    recibido: chileDateTime(e.receivedAt),
    bytes: e.size,
    sha256: e.sha256,
    intentos: e.intentos,
    estado,
    glosa: ESTADOS_ENVIO[estado],
    procesado: estado === e.final,
  };
}
