/**
 * POST /api/ai/sii/chat over real HTTP: the AI service on a port, the REAL DTE service (its own
 * buildApp on a temp SQLite database, with the SII simulator) behind the data tools, tokens signed
 * with the key both share. The SSE stream is read with fetch and parsed by the small parser below.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import type { Permission } from '@timbre/auth';
import { authPlugin, problemJson, problemServerOptions } from '@timbre/http';
import { startFakeAnthropic, type FakeAnthropic } from '@timbre/llm/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { request } from './http.js';
import { NO_MODEL_NOTICE, plannedCalls, typeMentioned } from '../src/chat/engine.js';
import { buildTools, runTool } from '../src/chat/tools.js';
import { DteClient } from '../src/dte-client.js';
import { KnowledgeBase } from '@timbre/knowledge';
import { STATUS_BY_CODE } from '../src/problems.js';
import chatRoutes from '../src/routes/chat.js';
import { OTHER_RUT, RUT, call, doc33, provision, setup, token, type Ctx } from '../../dte/test/helper.js';

interface SseEvent {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface SseStream {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
  retry: number | undefined;
}

/** A minimal SSE parser (WHATWG event-stream): blocks split by a blank line; `event:`, `data:`, `retry:`, `:` comments. */
function parseBlock(block: string, out: Pick<SseStream, 'events' | 'comments'> & { retry?: number }): SseEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) out.comments.push(line.slice(1).trim());
    else if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    else if (line.startsWith('retry:')) out.retry = Number(line.slice(6).trim());
  }
  if (data.length === 0) return undefined;
  const e = { event, data: JSON.parse(data.join('\n')) };
  out.events.push(e);
  return e;
}

/** POST and read the whole stream (or stop once `until` says so, aborting the request). */
async function chatStream(base: string, body: unknown, opts: { token?: string | null; until?: (s: SseStream) => boolean; controller?: AbortController } = {}): Promise<SseStream> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? user}`;
  const controller = opts.controller ?? new AbortController();
  const res = await fetch(`${base}/api/ai/sii/chat`, { method: 'POST', headers, body: JSON.stringify(body), signal: controller.signal });
  const out: SseStream & { retry?: number } = { status: res.status, headers: res.headers, events: [], comments: [], retry: undefined };
  if (!res.body) return out;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      parseBlock(buf.slice(0, i), out);
      buf = buf.slice(i + 2);
      if (opts.until?.(out)) {
        controller.abort();
        return out;
      }
    }
  }
  return out;
}

const chatJson = (base: string, body: unknown, tok: string | null = user, headers: Record<string, string> = {}) =>
  request(base, 'POST', '/api/ai/sii/chat', { token: tok, body, headers });

let dte: Ctx;
let ai: FastifyInstance;
let url: string;
let user: string;
let issued: { id: number; folio: number; status: string };
const tok = (permissions: Permission[], companies = [RUT]) => token(dte.jwtKey, companies, permissions);
const ofType = (s: SseStream, t: string) => s.events.filter((e) => e.event === t);
const answerOf = (s: SseStream) => ofType(s, 'delta').map((e) => e.data.text as string).join('');

beforeAll(async () => {
  dte = await setup();
  await provision(dte); // company, certificate, CAF 33 folios 1..100
  const g = await call(dte, 'POST', '/api/v1/dte/generate', { body: doc33() });
  if (g.status !== 200) throw new Error(`generate: ${g.status} ${g.text}`);
  issued = { id: g.json.id, folio: g.json.folio, status: g.json.status ?? g.json.dte_status };
  // The AI app is loaded in the same process as the DTE service (both import paths share Node's
  // fetch: see packages/sii-monitor/test/global-fetch.test.ts).
  ai = await buildApp({ jwtKey: dte.jwtKey, dteServiceUrl: dte.url });
  url = await ai.listen({ port: 0, host: '127.0.0.1' });
  user = await tok(['ai:use', 'dte:read']);
});
afterAll(async () => {
  await ai?.close();
  await dte?.close();
});

describe('POST /api/ai/sii/chat: offline (no language model)', () => {
  it('streams SSE: retry, meta, citations from the knowledge base, the no-model sentence, done', async () => {
    const s = await chatStream(url, { message: '¿Cuántos días tengo para reclamar una factura de un proveedor?' });
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(s.headers.get('cache-control')).toMatch(/no-cache/);
    expect(s.retry).toBe(3000);
    expect(s.events[0]).toEqual({ event: 'meta', data: { engine: 'retrieval' } });
    const cites = ofType(s, 'citation').map((e) => e.data);
    expect(cites.length).toBeGreaterThan(0);
    expect(cites.map((c) => c.id)).toContain('plazo-reclamo-8-dias');
    const plazo = cites.find((c) => c.id === 'plazo-reclamo-8-dias');
    expect(plazo.cita).toMatch(/Ley 19\.983/);
    expect(cites.map((c) => c.n)).toEqual(cites.map((_, i) => i + 1));
    const answer = answerOf(s);
    expect(answer).toContain(NO_MODEL_NOTICE);
    expect(answer).toMatch(/8 días/);
    expect(answer).toContain(`[${plazo.n}]`);
    expect(ofType(s, 'tool_call')).toHaveLength(0); // nothing in the question asks for data
    expect(s.events.at(-1)?.event).toBe('done');
  });

  it('a CAF question runs estado_cafs on the REAL DTE service with the caller token: 99 folios left after one factura', async () => {
    const s = await chatStream(url, { message: '¿Cuántos folios de CAF me quedan para facturas?', company_rut: RUT });
    const call1 = ofType(s, 'tool_call')[0]!.data;
    expect(call1).toMatchObject({ name: 'estado_cafs', input: { rut_emisor: RUT, dte_type: 33 } });
    const result = ofType(s, 'tool_result')[0]!.data;
    expect(result).toMatchObject({ id: call1.id, name: 'estado_cafs', ok: true });
    // The same numbers the DTE service gives its own client.
    const direct = await call(dte, 'GET', `/api/v1/dte/caf/status?rut_emisor=${RUT}`);
    const t33 = direct.json.tipos.find((t: { tipoDte: number }) => t.tipoDte === 33);
    expect(t33.foliosLeft).toBe(99);
    expect(result.content.tipos).toEqual([t33]);
    expect(answerOf(s)).toContain('CAF tipo 33: 99 folios disponibles');
    expect(ofType(s, 'citation').map((e) => e.data.id)).toContain('caf-vencimiento');
  });

  it('"factura N" runs estado_documento: the issued document with its real status (the token\'s only company is the default)', async () => {
    const s = await chatStream(url, { message: `¿En qué estado está la factura ${issued.folio}?` });
    expect(ofType(s, 'tool_call')[0]!.data).toMatchObject({ name: 'estado_documento', input: { folio: issued.folio, dte_type: 33, rut_emisor: RUT } });
    const r = ofType(s, 'tool_result')[0]!.data;
    expect(r.ok).toBe(true);
    const now = (await call(dte, 'GET', `/api/v1/dte/${issued.id}`)).json;
    expect(r.content.documentos).toHaveLength(1);
    expect(r.content.documentos[0]).toMatchObject({ id: issued.id, folio: issued.folio, dte_type: 33, status: now.status, track_id: now.sii_track_id });
    expect(answerOf(s)).toContain(`Documento tipo 33 folio ${issued.folio} (id ${issued.id}): estado ${now.status}`);
  });

  it('an SII code in the question is explained from the @timbre/sii catalogue', async () => {
    const s = await chatStream(url, { message: 'me salió RFR en el envío, qué significa' });
    const r = ofType(s, 'tool_result').find((e) => e.data.name === 'codigo_sii')!.data;
    expect(r.ok).toBe(true);
    expect(r.content.encontrados[0].significado).toMatch(/firma/i);
    expect(answerOf(s)).toMatch(/Código RFR \(estado\.envio\)/);
  });

  it('a token without dte:read: the tool reports the DTE service\'s refusal (ok:false), the answer goes on', async () => {
    const s = await chatStream(url, { message: '¿Qué CAF tengo cargados?', company_rut: RUT }, { token: await tok(['ai:use']) });
    expect(s.status).toBe(200);
    const r = ofType(s, 'tool_result')[0]!.data;
    expect(r).toMatchObject({ name: 'estado_cafs', ok: false, content: { code: 'ERR_DTE_FORBIDDEN', status: 403 } });
    expect(r.content.message).toMatch(/permiso/);
    expect(answerOf(s)).toMatch(/no se pudo consultar: sus credenciales no tienen permiso/);
    expect(s.events.at(-1)?.event).toBe('done');
  });

  it('another company\'s document by id: not found through the caller\'s own token (the DTE service hides it)', async () => {
    const other = await tok(['ai:use', 'dte:read'], [OTHER_RUT]);
    const s = await chatStream(url, { message: `estado del documento ${issued.id}` }, { token: other });
    const r = ofType(s, 'tool_result')[0]!.data;
    expect(r).toMatchObject({ name: 'estado_documento', ok: false, content: { code: 'ERR_DTE_NOT_FOUND' } });
  });

  it('a folio that does not exist: ok:false, not found', async () => {
    const s = await chatStream(url, { message: 'estado de la factura 987654', company_rut: RUT });
    expect(ofType(s, 'tool_result')[0]!.data).toMatchObject({ ok: false, content: { code: 'ERR_DTE_NOT_FOUND' } });
  });

  it('a question nothing in the corpus matches says so', async () => {
    const s = await chatStream(url, { message: 'zxqv wvvkj' });
    expect(ofType(s, 'citation')).toHaveLength(0);
    expect(answerOf(s)).toMatch(/No encontré entradas/);
  });
});

describe('POST /api/ai/sii/chat: JSON mode', () => {
  it('stream:false → {answer, citations, engine, tools_used}', async () => {
    const r = await chatJson(url, { message: '¿Cuántos folios de CAF me quedan?', stream: false });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json.engine).toBe('retrieval');
    expect(r.json.answer).toContain(NO_MODEL_NOTICE);
    expect(r.json.tools_used).toEqual(['estado_cafs']);
    expect(r.json.citations.length).toBeGreaterThan(0);
    expect(r.json.citations[0]).toEqual(expect.objectContaining({ n: 1, id: expect.any(String), cita: expect.any(String) }));
  });

  it('Accept: application/json also gets JSON', async () => {
    const r = await chatJson(url, { message: 'tasa de iva' }, user, { accept: 'application/json' });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json.citations.map((c: { id: string }) => c.id)).toContain('iva-19');
  });
});

describe('POST /api/ai/sii/chat: errors', () => {
  it('401 without a token, before the body is validated', async () => {
    const r = await chatJson(url, { nonsense: 1 }, null);
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json.code).toBe('ERR_AUTH_MISSING');
  });

  it('403 without ai:use, or for a company_rut the token does not cover', async () => {
    expect((await chatJson(url, { message: 'hola' }, await tok(['dte:read']))).json).toMatchObject({ status: 403, code: 'ERR_AUTH_FORBIDDEN' });
    expect((await chatJson(url, { message: 'hola', company_rut: OTHER_RUT })).status).toBe(403);
  });

  it('400 naming the field: no message, too long, too much history, a bad role; 422 for a bad RUT', async () => {
    const field = async (body: unknown) => {
      const r = await chatJson(url, body);
      return { status: r.status, fields: (r.json?.errors ?? []).map((e: { field: string }) => e.field) };
    };
    expect(await field({})).toEqual({ status: 400, fields: ['message'] });
    expect(await field({ message: 'x'.repeat(4001) })).toEqual({ status: 400, fields: ['message'] });
    expect(await field({ message: 'ok', history: Array.from({ length: 21 }, () => ({ role: 'user', content: 'a' })) })).toEqual({ status: 400, fields: ['history'] });
    expect(await field({ message: 'ok', history: [{ role: 'system', content: 'a' }] })).toEqual({ status: 400, fields: ['history.0.role'] });
    // Unknown keys are dropped (Fastify's removeAdditional, as on every route of the service), not refused.
    expect((await field({ message: 'tasa de iva', temperature: 2, stream: false })).status).toBe(200);
    const bad = await chatJson(url, { message: 'ok', company_rut: '76086428-6' });
    expect(bad.status).toBe(422);
    expect(bad.json.errors[0].field).toBe('company_rut');
    // The stream is only opened for valid requests: errors stay problem+json even when SSE is asked for.
    const s = await chatStream(url, { message: '' });
    expect(s.status).toBe(400);
    expect(s.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('POST /api/ai/sii/chat: disconnects and heartbeats', () => {
  let hang: Server;
  let hangUrl: string;
  const seen: IncomingMessage[] = [];
  const closedAt: number[] = [];
  let app2: FastifyInstance;
  let url2: string;

  beforeAll(async () => {
    // A DTE service that never answers: the tool stays pending until someone aborts it.
    hang = createServer((req) => {
      seen.push(req);
      req.socket.on('close', () => closedAt.push(Date.now()));
    });
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    hangUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
    // The route with a 50 ms heartbeat, on the same auth and problem plugins the service uses.
    app2 = Fastify({ ...problemServerOptions });
    await app2.register(authPlugin, { auth: { jwtKey: dte.jwtKey } });
    await app2.register(problemJson, { statusByCode: STATUS_BY_CODE });
    await app2.register(chatRoutes, { dteServiceUrl: hangUrl, heartbeatMs: 50 });
    url2 = await app2.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app2.close();
    hang.closeAllConnections();
    await new Promise<void>((resolve) => hang.close(() => resolve()));
  });

  it('heartbeat comments keep a waiting stream alive; a client abort cancels the pending tool call at once', async () => {
    const controller = new AbortController();
    const pending = chatStream(url2, { message: 'estado de la factura 5', company_rut: RUT }, { controller });
    // Wait for the tool's request to reach the (hanging) DTE service, and a few heartbeats.
    const t0 = Date.now();
    while (seen.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${user}`); // the caller's own token, forwarded
    await new Promise((r) => setTimeout(r, 200));
    const abortedAt = Date.now();
    controller.abort();
    await pending.catch(() => undefined);
    const t1 = Date.now();
    while (closedAt.length === 0 && Date.now() - t1 < 3000) await new Promise((r) => setTimeout(r, 10));
    expect(closedAt).toHaveLength(1);
    // The client timeout of the DTE client is 5 s: closing well before it means the abort propagated.
    expect(closedAt[0]! - abortedAt).toBeLessThan(1000);
    // The service is fine afterwards.
    const again = await chatJson(url2, { message: 'tasa de iva', stream: false });
    expect(again.status).toBe(200);
  });

  it('heartbeat comments arrive while a tool is pending', async () => {
    const s = await chatStream(url2, { message: 'estado de la factura 6', company_rut: RUT }, { until: (x) => x.comments.filter((c) => c === 'heartbeat').length >= 3 });
    expect(s.comments.filter((c) => c === 'heartbeat').length).toBeGreaterThanOrEqual(3);
    expect(s.events.at(-1)?.event).toBe('tool_call'); // still waiting for the tool, the stream alive
  });
});

describe('POST /api/ai/sii/chat: with Claude (fake Anthropic server, real @timbre/llm)', () => {
  let fake: FakeAnthropic;
  let app3: FastifyInstance;
  let url3: string;
  /** The Messages API bodies the fake received. */
  const bodies = () => fake.requests.map((r) => r.body as { system: string; messages: Array<{ role: string; content: unknown }>; tools?: Array<{ name: string }>; stream?: boolean });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    app3 = Fastify({ ...problemServerOptions });
    await app3.register(authPlugin, { auth: { jwtKey: dte.jwtKey } });
    await app3.register(problemJson, { statusByCode: STATUS_BY_CODE });
    await app3.register(chatRoutes, { dteServiceUrl: dte.url, llm: { apiKey: 'sk-ant-test-key', baseURL: fake.url, model: 'claude-test', maxRetries: 0, timeoutMs: 5000 } });
    url3 = await app3.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app3.close();
    await fake.close();
  });

  it('relays the streamed text deltas; the request carries the Spanish system prompt, the retrieved sources and the tools', async () => {
    const text = 'Los CAF de factura vencen a los seis meses de su autorización [1].';
    fake.enqueue({ kind: 'text', text, chunkSize: 6, usage: { input_tokens: 900, output_tokens: 20 } });
    const n0 = fake.requests.length;
    const s = await chatStream(url3, { message: '¿Cuánto dura un CAF de facturas?', history: [{ role: 'user', content: 'hola' }, { role: 'assistant', content: '¿En qué le ayudo?' }] });
    expect(s.events[0]).toEqual({ event: 'meta', data: { engine: 'claude', model: 'claude-test' } });
    const deltas = ofType(s, 'delta');
    expect(deltas.length).toBeGreaterThan(5); // streamed, not one block
    expect(answerOf(s)).toBe(text);
    expect(s.events.at(-1)).toEqual({ event: 'done', data: { usage: { input_tokens: 900, output_tokens: 20 }, stop_reason: 'end_turn' } });
    const cites = ofType(s, 'citation').map((e) => e.data);
    expect(cites[0]).toMatchObject({ n: 1, id: 'caf-vencimiento' });
    const req = bodies()[n0]!;
    expect(req.stream).toBe(true);
    expect(req.system).toMatch(/Nunca inventes números de resoluciones/);
    expect(req.system).toContain('[1] Vencimiento del CAF: 6 meses');
    expect(req.system).toContain('Res. Ex. SII N° 58 de 2017');
    expect(req.tools!.map((t) => t.name).sort()).toEqual(['buscar_normativa', 'codigo_sii', 'estado_cafs', 'estado_documento']);
    expect(req.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(req.messages.at(-1)!.content).toBe('¿Cuánto dura un CAF de facturas?');
    // Anthropic gets the service's key, never the caller's token.
    const h = fake.requests[n0]!.headers;
    expect(h['x-api-key'] ?? h.authorization).toMatch(/sk-ant-test-key/); // this SDK version sends it as a Bearer token
    expect(fake.requests[n0]!.raw).not.toContain(user);
  });

  it('a tool round: the model asks for estado_cafs, the tool reads the real DTE service, the next request carries the tool_result', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'estado_cafs', input: { dte_type: 33 }, id: 'toolu_caf1' }, { kind: 'text', text: 'Le quedan 99 folios de factura.' });
    const n0 = fake.requests.length;
    const s = await chatStream(url3, { message: '¿Cuántos folios me quedan?', company_rut: RUT });
    expect(ofType(s, 'tool_call')[0]!.data).toEqual({ id: 'toolu_caf1', name: 'estado_cafs', input: { dte_type: 33 } });
    const r = ofType(s, 'tool_result')[0]!.data;
    expect(r).toMatchObject({ id: 'toolu_caf1', name: 'estado_cafs', ok: true });
    expect(r.content.tipos[0]).toMatchObject({ tipoDte: 33, foliosLeft: 99 });
    expect(answerOf(s)).toBe('Le quedan 99 folios de factura.');
    expect(s.events.at(-1)?.event).toBe('done');
    expect(fake.requests.length - n0).toBe(2);
    const second = JSON.stringify(bodies()[n0 + 1]!.messages);
    expect(second).toContain('"tool_use_id":"toolu_caf1"');
    expect(second).toContain('foliosLeft');
    expect(bodies()[n0]!.system).toContain(`empresa RUT ${RUT}`);
  });

  it('a model error after a tool round → an `error` event and the stream ends (no hang)', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'codigo_sii', input: { codigo: 'EPR' } }, { kind: 'error', status: 500, message: 'boom' });
    const t0 = Date.now();
    const s = await chatStream(url3, { message: 'qué es EPR' });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(ofType(s, 'tool_result')[0]!.data.ok).toBe(true);
    const last = s.events.at(-1)!;
    expect(last.event).toBe('error');
    expect(typeof last.data.code).toBe('string');
    expect(last.data.code).toMatch(/^ERR_/);
    expect(ofType(s, 'done')).toHaveLength(0);
  });

  it('malformed tool JSON mid-stream (after text) → deltas, then an `error` event', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'estado_cafs', text: 'Reviso sus folios. ', rawJson: '{"dte_type": 3' });
    const s = await chatStream(url3, { message: 'folios disponibles', company_rut: RUT });
    expect(answerOf(s)).toBe('Reviso sus folios. ');
    expect(s.events.at(-1)!.event).toBe('error');
  });

  it('a client that disconnects aborts the model call (its connection to Anthropic is closed at once)', async () => {
    // A TCP proxy in front of the fake records when each connection of this route instance closes.
    const closed: number[] = [];
    const proxy = createTcpServer((c) => {
      const u = connect(Number(new URL(fake.url).port), '127.0.0.1');
      c.pipe(u);
      u.pipe(c);
      c.on('close', () => {
        closed.push(Date.now());
        u.destroy();
      });
      u.on('close', () => c.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyPort = (proxy.address() as AddressInfo).port;
    const app4 = Fastify({ ...problemServerOptions });
    await app4.register(authPlugin, { auth: { jwtKey: dte.jwtKey } });
    await app4.register(problemJson, { statusByCode: STATUS_BY_CODE });
    await app4.register(chatRoutes, { dteServiceUrl: dte.url, llm: { apiKey: 'k', baseURL: `http://127.0.0.1:${proxyPort}`, model: 'claude-test', maxRetries: 0 } });
    const base = await app4.listen({ port: 0, host: '127.0.0.1' });
    try {
      fake.enqueue({ kind: 'text', text: 'demasiado tarde', delayMs: 3000 });
      const n0 = fake.requests.length;
      const controller = new AbortController();
      const pending = chatStream(base, { message: 'tasa de iva' }, { controller });
      const t0 = Date.now();
      while (fake.requests.length === n0 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
      expect(fake.requests.length).toBe(n0 + 1); // the model call is in flight
      const abortedAt = Date.now();
      controller.abort();
      await pending.catch(() => undefined);
      while (closed.length === 0 && Date.now() - abortedAt < 2500) await new Promise((r) => setTimeout(r, 10));
      expect(closed.length).toBeGreaterThan(0);
      expect(closed[0]! - abortedAt).toBeLessThan(1000); // well before the model's 3 s answer
    } finally {
      await app4.close();
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        setTimeout(resolve, 100); // an idle pooled connection may linger
      });
    }
  });

  it('JSON mode with Claude: {answer, engine, model, usage, tools_used}; a model error is a 502 problem', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'buscar_normativa', input: { consulta: 'plazo reclamo' } }, { kind: 'text', text: 'Tiene 8 días [1].', usage: { input_tokens: 10, output_tokens: 5 } });
    const r = await chatJson(url3, { message: 'plazo para reclamar', stream: false });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ answer: 'Tiene 8 días [1].', engine: 'claude', model: 'claude-test', tools_used: ['buscar_normativa'] });
    expect(r.json.usage.output_tokens).toBeGreaterThanOrEqual(5);
    fake.enqueue({ kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' });
    const bad = await chatJson(url3, { message: 'hola', stream: false });
    expect(bad.status).toBe(502);
    expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(bad.json.code).toMatch(/^ERR_/);
  });
});

describe('POST /api/ai/sii/chat: buildApp wiring', () => {
  it('AppConfig.llm reaches the chat route (engine claude through the service app)', async () => {
    const fake = await startFakeAnthropic();
    const app = await buildApp({ jwtKey: dte.jwtKey, dteServiceUrl: dte.url, llm: { apiKey: 'k', baseURL: fake.url, model: 'claude-wired', maxRetries: 0 } });
    try {
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      fake.enqueue({ kind: 'text', text: 'ok' });
      const r = await chatJson(base, { message: 'tasa de iva', stream: false });
      expect(r.json).toMatchObject({ engine: 'claude', model: 'claude-wired', answer: 'ok' });
    } finally {
      await app.close();
      await fake.close();
    }
  });
});

describe('chat tools (against the real DTE service)', () => {
  const tools = () => {
    const list = buildTools({ dte: new DteClient({ baseUrl: dte.url }), credentials: { authorization: `Bearer ${user}` }, kb: new KnowledgeBase() });
    return Object.fromEntries(list.map((t) => [t.name, t]));
  };

  it('bad input from a model is ok:false naming the field, never a throw', async () => {
    const t = tools();
    expect(await runTool(t.estado_documento!, 'nope')).toMatchObject({ ok: false, content: { code: 'ERR_TOOL_INPUT', field: 'input' } });
    expect(await runTool(t.estado_documento!, { folio: -3, rut_emisor: RUT })).toMatchObject({ ok: false, content: { field: 'folio' } });
    expect(await runTool(t.estado_documento!, { folio: 1 })).toMatchObject({ ok: false, content: { field: 'rut_emisor' } }); // no default company here
    expect(await runTool(t.estado_cafs!, { rut_emisor: '76086428-6' })).toMatchObject({ ok: false, content: { field: 'rut_emisor' } });
    expect(await runTool(t.codigo_sii!, { codigo: '' })).toMatchObject({ ok: false, content: { field: 'codigo' } });
    expect(await runTool(t.buscar_normativa!, { consulta: 'iva', limite: 99 })).toMatchObject({ ok: false, content: { field: 'limite' } });
  });

  it('estado_documento by id and by folio (dte_type optional) find the same document; "33" as a string is accepted', async () => {
    const t = tools();
    const byId = await runTool(t.estado_documento!, { id: issued.id });
    const byFolio = await runTool(t.estado_documento!, { folio: String(issued.folio), rut_emisor: RUT });
    expect(byId.ok).toBe(true);
    expect(byFolio).toEqual(byId);
  });

  it('codigo_sii: a catalogued code, and an unknown one of the XXX-n-nnn shape (severity from its level digit)', async () => {
    const t = tools();
    const known = await runTool(t.codigo_sii!, { codigo: 'ref l[5]-3-758' });
    expect(known.content).toMatchObject({ codigo: 'REF-3-758' });
    expect((known.content as { encontrados: Array<{ servicio: string; significado: string }> }).encontrados[0]).toMatchObject({ servicio: 'documento', significado: expect.stringMatching(/CodRef|referencia/i) });
    const unknown = await runTool(t.codigo_sii!, { codigo: 'ZZZ-3-999' });
    expect(unknown).toMatchObject({ ok: true, content: { encontrados: [], severidad: 'rechazo' } });
  });

  it('the DTE service down: ok:false ERR_DTE_UNREACHABLE', async () => {
    const down = buildTools({ dte: new DteClient({ baseUrl: 'http://127.0.0.1:9' }), credentials: {}, kb: new KnowledgeBase() });
    expect(await runTool(down[1]!, { rut_emisor: RUT })).toMatchObject({ ok: false, content: { code: 'ERR_DTE_UNREACHABLE' } });
  });
});

describe('offline intent detection', () => {
  it('reads folios, ids, types, CAF and codes only when the question names them', () => {
    expect(plannedCalls('¿estado de la factura 123?', RUT)).toEqual([{ name: 'estado_documento', input: { folio: 123, dte_type: 33, rut_emisor: RUT } }]);
    expect(plannedCalls('nota de crédito N° 45')).toEqual([{ name: 'estado_documento', input: { folio: 45, dte_type: 61 } }]);
    expect(plannedCalls('folio 9 de la boleta')).toEqual([{ name: 'estado_documento', input: { folio: 9, dte_type: 39 } }]);
    expect(plannedCalls('documento 77')).toEqual([{ name: 'estado_documento', input: { id: 77 } }]);
    expect(plannedCalls('se me vencen los CAF de guías')).toEqual([{ name: 'estado_cafs', input: { dte_type: 52 } }]);
    expect(plannedCalls('que es REF-3-750')).toEqual([{ name: 'codigo_sii', input: { codigo: 'REF-3-750' } }]);
    expect(plannedCalls('cuanto es el iva de 33 mil pesos')).toEqual([]);
    expect(typeMentioned('tipo 46')).toBe(46);
    expect(typeMentioned('factura exenta')).toBe(34);
  });
});
