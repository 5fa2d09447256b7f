/**
 * The /sim endpoints, XSD validation when a schema directory is configured, and the simulator as a
 * plain Fastify app (inject).
 */
import { existsSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { parseCaf, verifyCaf } from '@timbre/dte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, ManualClock, type Simulator } from '../src/index.js';
import { EMISOR, envelope, envioDetail, emit, estUp, example, getToken, json, request, schemasDir, signers, simCaf, T0, tag, upload } from './helpers.js';

describe('/sim endpoints', () => {
  let sim: Simulator;
  let base: string;
  beforeAll(async () => {
    sim = createSimulator({ clock: new ManualClock(T0), statusDelayMs: 0 });
    base = await sim.start(0);
  });
  afterAll(() => sim.close());

  it('health and trust: the public key verifies the CAFs it issues', async () => {
    const health = await json(base, '/sim/health');
    expect(health.data).toMatchObject({ status: 'ok', idk: sim.trust.idk, xsd: 'disabled' });
    const trust = (await json(base, '/sim/trust')).data;
    expect(trust.idk).toBe(999_999_100);
    const pem = (await request(`${base}/sim/trust?format=pem`)).text;
    expect(pem).toBe(trust.publicKeyPem);

    const res = await request(`${base}/sim/caf`, { body: JSON.stringify({ rutEmisor: '76086428-5', tipoDte: 33, desde: 1, hasta: 10, razonSocial: 'DISEÑO LIMITADA' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/xml; charset=ISO-8859-1');
    expect(res.body.includes(Buffer.from('DISEÑO', 'latin1'))).toBe(true);
    expect(res.body.toString('latin1').startsWith('<?xml version="1.0"?>')).toBe(true);
    const caf = parseCaf(res.body);
    expect(caf).toMatchObject({ rutEmisor: '76086428-5', tipoDte: 33, desde: 1, hasta: 10, fechaAutorizacion: '2026-11-27', idk: trust.idk });
    expect(() => verifyCaf(caf, { trustedKeys: new Map([[trust.idk, createPublicKey(pem)]]) })).not.toThrow();
  });

  it('issues the next free folios when no range is given, and refuses overlapping ranges (409)', async () => {
    const a = await simCaf(base, { rutEmisor: '96874030-K', tipoDte: 34, cantidad: 5 });
    const b = await simCaf(base, { rutEmisor: '96874030-K', tipoDte: 34, cantidad: 5 });
    expect([a.desde, a.hasta, b.desde, b.hasta]).toEqual([1, 5, 6, 10]);
    expect((await json(base, '/sim/caf', { rutEmisor: '96874030-K', tipoDte: 34, desde: 3, hasta: 8 })).status).toBe(409);
    expect((await json(base, '/sim/caf', { rutEmisor: '96874030-1', tipoDte: 34 })).status).toBe(400);
    expect((await json(base, '/sim/caf', { rutEmisor: '96874030-K', tipoDte: 35 })).status).toBe(400);
  });

  it('/sim/envios/{trackId} tells an unprocessed envío from a processed one; 404 for unknown ids', async () => {
    const s = createSimulator({ clock: new ManualClock(T0), statusDelayMs: 1000 });
    const b = await s.start(0);
    try {
      const c = [await simCaf(b, { rutEmisor: EMISOR, tipoDte: 33 })];
      const up = await upload(b, await getToken(b, signers().cert), envelope([emit(example(33), 1, c)]));
      const early = await envioDetail(b, up.trackId as string);
      expect(early).toMatchObject({ estado: 'REC', procesado: false });
      expect(early.documentos).toBeUndefined();
      s.clock.offsetMs += 1000;
      expect((await envioDetail(b, up.trackId as string)).documentos).toHaveLength(1);
      expect((await json(b, '/sim/envios/0000000001')).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  it('POST /sim/clock moves time for out-of-process clients; POST /sim/reset forgets everything', async () => {
    const before = (await json(base, '/sim/clock')).data;
    const moved = (await json(base, '/sim/clock', { advanceMs: 3_600_000 })).data;
    expect(Date.parse(moved.now) - Date.parse(before.now)).toBe(3_600_000);
    await json(base, '/sim/faults', { kind: 'latency', latencyMs: 1 });
    expect(sim.state.cafs.length).toBeGreaterThan(0);
    expect((await request(`${base}/sim/reset`, { method: 'POST' })).status).toBe(204);
    expect(sim.state.cafs).toEqual([]);
    expect(sim.state.faults).toEqual([]);
    expect((await json(base, '/sim/clock')).data.offsetMs).toBe(0);
  });

  it('answers unknown SII paths with an HTML 404 (as a web server would) and unknown /sim paths with JSON', async () => {
    const wsdl = await request(`${base}/DTEWS/CrSeed.jws?wsdl`);
    expect(wsdl.status).toBe(404);
    expect(wsdl.headers['content-type']).toMatch(/^text\/html/);
    const sim404 = await json(base, '/sim/nothing');
    expect(sim404.status).toBe(404);
    expect(sim404.data.error).toBe('not_found');
  });

  it('works in-process through Fastify inject', async () => {
    const s = createSimulator();
    await s.app.ready();
    const res = await s.app.inject({ method: 'GET', url: '/sim/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('ok');
    await s.close();
  });
});

describe.skipIf(!existsSync(schemasDir))('XSD validation with the SII schemas', () => {
  let sim: Simulator;
  let base: string;
  beforeAll(async () => {
    sim = createSimulator({ clock: new ManualClock(T0), statusDelayMs: 0, schemasDir });
    base = await sim.start(0);
  });
  afterAll(() => sim.close());

  it('validates a correct envelope and accepts it', async () => {
    expect((await json(base, '/sim/health')).data.xsd).toBe('enabled');
    const c = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33 })];
    const t = await getToken(base, signers().cert);
    const up = await upload(base, t, envelope([emit(example(33), 1, c)]));
    expect(tag(await estUp(base, t, EMISOR, up.trackId as string), 'ACEPTADOS')).toBe('1');
    expect((await envioDetail(base, up.trackId as string)).notas).toEqual([]);
  });

  it('rejects with RSC what only the schema catches', async () => {
    const c = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33 })];
    const t = await getToken(base, signers().cert);
    const bytes = Buffer.from(envelope([emit(example(33), (c[0] as { desde: number }).desde, c)]).toString('latin1').replace('<NroResol>0</NroResol>', '<NroResol>0</NroResol>\n<Extra>1</Extra>'), 'latin1');
    const up = await upload(base, t, bytes);
    expect(tag(await estUp(base, t, EMISOR, up.trackId as string), 'ESTADO')).toBe('RSC');
    const detail = await envioDetail(base, up.trackId as string);
    expect(detail.errores[0].code).toBe('ENV-3-0');
    expect(detail.errores.map((e: { detalle: string }) => e.detalle).join(' ')).toMatch(/Extra/);
  });
});
