/**
 * The simulator as a Fastify plugin (the app is a plugin; `simulator.ts` and `server.ts` only
 * build and start it): body parsers for SOAP/XML, multipart uploads, the fault hooks, then the SII
 * routes and the /sim routes.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ShiftedClock } from './clock.js';
import type { SimContext } from './context.js';
import { selectFaults, type FaultRule } from './faults.js';
import { sendLatin1 } from './http.js';
import { boletaRoutes } from './routes/boleta.js';
import { dtewsRoutes } from './routes/dtews.js';
import { rcvRoutes } from './routes/rcv.js';
import { simRoutes } from './routes/sim.js';
import { uploadRoutes } from './routes/upload.js';
import { ERROR_500_BODY, maintenanceHtml } from './wire/sii-xml.js';

export interface AppContext extends SimContext {
  clock: ShiftedClock;
  publicKeyPem: string;
  started: number;
  /** Requests held by `timeout` faults: resolving one ends the hold. */
  held: Set<() => void>;
}

export interface SiiSimulatorPluginOptions {
  ctx: AppContext;
}

const TERMINAL = new Set(['timeout', 'http-error', 'maintenance']);

async function siiSimulatorPlugin(app: FastifyInstance, opts: SiiSimulatorPluginOptions): Promise<void> {
  const { ctx } = opts;
  app.decorateRequest('simFault', null);
  app.decorateRequest('simBodyBytes', 0);

  await app.register(multipart, { limits: { fileSize: ctx.config.maxUploadBytes } });
  // SOAP and XML bodies are kept as bytes: their encoding is the XML declaration's business.
  app.addContentTypeParser(['text/xml', 'application/xml', 'application/soap+xml', 'text/plain'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (ctx.state.faults.length === 0) return;
    const fired = selectFaults(ctx.state.faults, req.method, req.url.split('?')[0] ?? req.url, () => ctx.ids.random());
    if (fired.length === 0) return;
    req.log.info({ faults: fired.map((f) => `${f.id}:${f.kind}`) }, 'fault injected');
    const latency = fired.filter((f) => f.kind === 'latency').reduce((ms, f) => ms + (f.latencyMs ?? 1000), 0);
    if (latency > 0) await sleep(latency);
    req.simFault = { expireToken: fired.some((f) => f.kind === 'expire-token'), drop: fired.some((f) => f.kind === 'drop-response') };
    const terminal = fired.find((f) => TERMINAL.has(f.kind));
    if (terminal) return applyTerminal(ctx, terminal, req, reply);
  });

  // "Accepted but the answer was lost": the handler ran (state recorded); the answer never leaves.
  app.addHook('onSend', async (req, _reply, payload) => {
    if (req.simFault?.drop) req.raw.socket?.destroy();
    return payload;
  });

  app.addHook('preClose', async () => {
    for (const release of [...ctx.held]) release();
  });

  // One root error handler: /sim/* answers JSON (the message only below 500); the SII endpoints
  // answer like the SII's web front, an HTML error page.
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    if (req.url.startsWith('/sim/')) {
      return reply.code(status).send({ error: err.code ?? 'error', message: status < 500 ? err.message : 'internal error' });
    }
    return sendLatin1(reply, status >= 500 ? ERROR_500_BODY : `<html><head><title>Error ${status}</title></head><body><h1>Error ${status}</h1></body></html>\n`, 'text/html', status);
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/sim/')) return reply.code(404).send({ error: 'not_found', message: `${req.method} ${req.url} is not a simulator endpoint` });
    return sendLatin1(reply, '<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n', 'text/html', 404);
  });

  dtewsRoutes(app, ctx);
  uploadRoutes(app, ctx);
  boletaRoutes(app, ctx);
  rcvRoutes(app, ctx);
  simRoutes(app, ctx);
}

async function applyTerminal(ctx: AppContext, rule: FaultRule, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (rule.kind === 'timeout') {
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const release = () => {
        if (timer) clearTimeout(timer);
        ctx.held.delete(release);
        resolve();
      };
      ctx.held.add(release);
      if (rule.holdMs !== undefined) timer = setTimeout(release, rule.holdMs);
      req.raw.once('close', release);
    });
    reply.hijack();
    req.raw.socket?.destroy();
    return reply;
  }
  if (rule.kind === 'maintenance') return sendLatin1(reply, rule.body ?? maintenanceHtml(), 'text/html', rule.status ?? 200);
  return sendLatin1(reply, rule.body ?? ERROR_500_BODY, 'text/html', rule.status ?? 500);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The simulator plugin (`fastify-plugin`, so its hooks and parsers apply to the app that registers it). */
export const siiSimulator = fp(siiSimulatorPlugin, { fastify: '5.x', name: 'sii-simulator' });
