/**
 * Fault injection, by configuration and at run time: 5xx, maintenance HTML, latency, held requests,
 * expired tokens, and "accepted but the answer was lost".
 */
import type { Caf } from '@timbre/dte';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, ManualClock, type Simulator } from '../src/index.js';
import { axis, EMISOR, envelope, emit, estUp, example, getSeed, getToken, json, request, signers, simCaf, T0, tag, upload } from './helpers.js';

let sim: Simulator;
let base: string;
let cafs: Caf[];
let token: string;
let folio = 1;

beforeAll(async () => {
  sim = createSimulator({ clock: new ManualClock(T0), statusDelayMs: 0, seed: 'faults' });
  base = await sim.start(0);
  cafs = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33 })];
  token = await getToken(base, signers().cert);
});
afterEach(() => json(base, '/sim/faults', undefined, 'DELETE'));
afterAll(() => sim.close());

const addFault = async (rule: Record<string, unknown>) => {
  const r = await json(base, '/sim/faults', rule);
  expect(r.status).toBe(201);
  return r.data[0];
};

describe('faults', () => {
  it('http-error for the next N requests: the SII front "Error 500" page, then normal answers; the rule is gone', async () => {
    await addFault({ kind: 'http-error', path: '/DTEWS/CrSeed.jws', count: 2 });
    for (let i = 0; i < 2; i++) {
      const { res } = await axis(base, 'CrSeed.jws', 'getSeed', []);
      expect(res.status).toBe(500);
      expect(res.text).toContain('Error 500');
    }
    expect(await getSeed(base)).toMatch(/^\d{12}$/);
    expect((await json(base, '/sim/faults')).data).toEqual([]);
  });

  it('maintenance: an HTML page with HTTP 200 where the SOAP answer should be', async () => {
    await addFault({ kind: 'maintenance', path: 'QueryEstUp' });
    const { res, inner } = await axis(base, 'QueryEstUp.jws', 'getEstUp', [['RutCompania', '76086428'], ['DvCompania', '5'], ['TrackId', '1'], ['Token', token]]);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/mantenci/);
    expect(inner).toBe('');
    // Other services are untouched.
    expect(await getSeed(base)).toMatch(/^\d{12}$/);
  });

  it('latency delays the answer', async () => {
    await addFault({ kind: 'latency', path: 'CrSeed', latencyMs: 300 });
    const t0 = Date.now();
    await getSeed(base);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
  });

  it('timeout holds the request until the client gives up; the simulator keeps serving others', async () => {
    await addFault({ kind: 'timeout', path: 'CrSeed', count: 1 });
    await expect(request(`${base}/DTEWS/CrSeed.jws`, { body: '<x/>', headers: { 'content-type': 'text/xml' }, timeoutMs: 300 })).rejects.toThrow(/client timeout/);
    expect(await getSeed(base)).toMatch(/^\d{12}$/);
  });

  it('a held request does not keep close() waiting', async () => {
    const s = createSimulator({ faults: [{ kind: 'timeout', path: 'CrSeed' }] });
    const b = await s.start(0);
    const pending = request(`${b}/DTEWS/CrSeed.jws`, { body: '<x/>', headers: { 'content-type': 'text/xml' } });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    await expect(pending).rejects.toThrow();
  });

  it('drop-response: the upload is recorded but the socket closes unanswered; re-sending the file gets STATUS 99 with that track id', async () => {
    await addFault({ kind: 'drop-response', path: 'DTEUpload', count: 1 });
    const bytes = envelope([emit(example(33), folio++, cafs)]);
    const before = sim.state.envios.size;
    await expect(upload(base, token, bytes)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(sim.state.envios.size).toBe(before + 1);
    const recorded = [...sim.state.envios.values()].at(-1);
    const retry = await upload(base, token, bytes);
    expect(retry.status).toBe(99);
    expect(retry.errors[0]).toContain(`Trackid ${Number(recorded?.trackId)}`);
    expect(tag(await estUp(base, token, EMISOR, recorded?.trackId as string), 'ACEPTADOS')).toBe('1');
  });

  it('expire-token: the token in the request expires for good (002), a new one works', async () => {
    const t = await getToken(base, signers().cert);
    await addFault({ kind: 'expire-token', path: 'QueryEstUp', count: 1 });
    expect(tag(await estUp(base, t, EMISOR, '1'), 'ESTADO')).toBe('002');
    expect(tag(await estUp(base, t, EMISOR, '1'), 'ESTADO')).toBe('002');
    expect((await upload(base, t, envelope([emit(example(33), folio++, cafs)]))).status).toBe(5);
    const fresh = await getToken(base, signers().cert);
    expect(tag(await estUp(base, fresh, EMISOR, '1'), 'ESTADO')).toBe('-11');
  });

  it('probability draws from the seeded source: same seed, same pattern; some hit, some not', async () => {
    const pattern = async () => {
      const s = createSimulator({ seed: 'p', faults: [{ kind: 'http-error', path: 'CrSeed', probability: 0.5 }] });
      const b = await s.start(0);
      const out: number[] = [];
      try {
        for (let i = 0; i < 30; i++) out.push((await axis(b, 'CrSeed.jws', 'getSeed', [])).res.status);
      } finally {
        await s.close();
      }
      return out;
    };
    const a = await pattern();
    expect(await pattern()).toEqual(a);
    expect(a.filter((s) => s === 500).length).toBeGreaterThan(5);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(5);
  });

  it('path filters take /regex/; /sim/* is never touched by default', async () => {
    await addFault({ kind: 'http-error', path: '/Query(EstUp|EstDte)/', status: 503 });
    await addFault({ kind: 'http-error' });
    expect((await axis(base, 'QueryEstUp.jws', 'getEstUp', [])).res.status).toBe(503);
    expect((await axis(base, 'CrSeed.jws', 'getSeed', [])).res.status).toBe(500);
    expect((await json(base, '/sim/health')).status).toBe(200);
  });

  it('faults from the options apply from the start; bad rules are refused with 400', async () => {
    const s = createSimulator({ faults: [{ kind: 'http-error', path: 'CrSeed', count: 1, status: 502 }] });
    const b = await s.start(0);
    try {
      expect((await axis(b, 'CrSeed.jws', 'getSeed', [])).res.status).toBe(502);
      expect((await axis(b, 'CrSeed.jws', 'getSeed', [])).res.status).toBe(200);
      expect((await json(b, '/sim/faults', { kind: 'explode' })).status).toBe(400);
      expect((await json(b, '/sim/faults', { kind: 'latency', probability: 2 })).status).toBe(400);
    } finally {
      await s.close();
    }
  });
});
