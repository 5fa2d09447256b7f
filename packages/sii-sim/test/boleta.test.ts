/**
 * Boleta REST API: seed/token (its own tokens), the envío (Mozilla User-Agent or 401 "NO ESTA
 * AUTENTICADO"), the envío status and one boleta's status, with the same verification as DTEUpload.
 */
import type { Caf } from '@timbre/dte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, ManualClock, type Simulator } from '../src/index.js';
import { EMISOR, envelope, emit, estUp, example, getToken, multipart, PROG_UA, request, signers, signSeed, simCaf, T0, tag, upload, type Loose } from './helpers.js';

let sim: Simulator;
let base: string;
let clock: ManualClock;
let cafs: Caf[];
let token: string;
const API = '/recursos/v1';

async function boletaToken(): Promise<string> {
  const seedRes = await request(`${base}${API}/boleta.electronica.semilla`);
  const seed = tag(seedRes.text, 'SEMILLA') as string;
  const res = await request(`${base}${API}/boleta.electronica.token`, { body: signSeed(seed, signers().cert), headers: { 'content-type': 'application/xml' } });
  return tag(res.text, 'TOKEN') as string;
}

async function envio(file: Buffer, o: { ua?: string; token?: string | null } = {}) {
  const mp = multipart(
    [
      ['rutSender', '12345678'],
      ['dvSender', '5'],
      ['rutCompany', '76086428'],
      ['dvCompany', '5'],
    ],
    { name: 'boletas.xml', data: file },
  );
  const t = o.token === undefined ? token : o.token;
  return request(`${base}${API}/boleta.electronica.envio`, {
    body: mp.body,
    headers: { 'content-type': mp.contentType, 'user-agent': o.ua ?? 'Mozilla/4.0 (compatible; PROG 1.0; Windows NT 5.0; YComp 5.0.2.4)', accept: 'application/json', ...(t ? { cookie: `TOKEN=${t}` } : {}) },
  });
}

const get = (p: string, t: string | null = token) => request(`${base}${API}${p}`, { headers: t ? { cookie: `TOKEN=${t}` } : {} });

beforeAll(async () => {
  clock = new ManualClock(T0);
  sim = createSimulator({ clock, statusDelayMs: 1000 });
  base = await sim.start(0);
  cafs = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 39, desde: 1, hasta: 100 })];
  token = await boletaToken();
});
afterAll(() => sim.close());

describe('seed and token', () => {
  it('answers SII:RESPUESTA XML with the seed, then a token for the signed seed', async () => {
    const res = await request(`${base}${API}/boleta.electronica.semilla`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/xml/);
    expect(res.text).toMatch(/<SII:RESPUESTA xmlns:SII="http:\/\/www.sii.cl\/XMLSchema"><SII:RESP_BODY><SEMILLA>\d{12}<\/SEMILLA><\/SII:RESP_BODY><SII:RESP_HDR><ESTADO>00<\/ESTADO>/);
    expect(token).toMatch(/^[A-Z0-9]{13}$/);
  });

  it('refuses a tampered signed seed (05)', async () => {
    const seed = tag((await request(`${base}${API}/boleta.electronica.semilla`)).text, 'SEMILLA') as string;
    const other = tag((await request(`${base}${API}/boleta.electronica.semilla`)).text, 'SEMILLA') as string;
    const res = await request(`${base}${API}/boleta.electronica.token`, { body: signSeed(seed, signers().cert).replace(seed, other), headers: { 'content-type': 'application/xml' } });
    expect(tag(res.text, 'ESTADO')).toBe('05');
  });
});

describe('envío', () => {
  it('takes an EnvioBOLETA and answers the JSON of the OpenAPI (estado REC, numeric trackid)', async () => {
    const d = emit(example(39), 1, cafs);
    const res = await envio(envelope([d]));
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ rut_emisor: EMISOR, rut_envia: '12345678-5', estado: 'REC', file: 'boletas.xml', fecha_recepcion: '2026-11-27 10:00:00' });
    expect(typeof body.trackid).toBe('number');
    expect(String(body.trackid)).toMatch(/^[1-9]\d{9}$/);

    const early = JSON.parse((await get(`/boleta.electronica.envio/76086428-5-${body.trackid}`)).text);
    expect(early.estado).toBe('REC');
    expect(early.estadistica).toEqual([]);
    clock.advance(1000);
    const status = JSON.parse((await get(`/boleta.electronica.envio/76086428-5-${body.trackid}`)).text);
    expect(status).toMatchObject({ estado: 'EPR', trackid: body.trackid, estadistica: [{ tipo: 39, informados: 1, aceptados: 1, rechazados: 0, reparos: 0 }], detalle_rep_rech: [] });

    const monto = d.dte.encabezado.totales.mntTotal;
    const ok = JSON.parse((await get(`/boleta.electronica/76086428-5-39-1/estado?rut_receptor=66666666&dv_receptor=6&monto=${monto}&fechaEmision=27-11-2026`)).text);
    expect(ok.estado).toBe('DOK');
    const dnk = JSON.parse((await get(`/boleta.electronica/76086428-5-39-1/estado?rut_receptor=66666666&dv_receptor=6&monto=${monto + 1}&fechaEmision=27-11-2026`)).text);
    expect(dnk.estado).toBe('DNK');
    const fau = JSON.parse((await get(`/boleta.electronica/76086428-5-39-50/estado?rut_receptor=66666666&dv_receptor=6&monto=1&fechaEmision=27-11-2026`)).text);
    expect(fau.estado).toBe('FAU');
  });

  it('lists rejected boletas with their codes in detalle_rep_rech', async () => {
    const d = emit(example(39), 2, cafs);
    const altered = d.xml.replace('<NmbItem>Suscripci', '<NmbItem>Subscripci');
    expect(altered).not.toBe(d.xml);
    const res = await envio(envelope([emit(example(39), 3, cafs), { xml: altered, tipoDte: 39 }]));
    const trackid = JSON.parse(res.text).trackid;
    clock.advance(1000);
    const status: Loose = JSON.parse((await get(`/boleta.electronica.envio/76086428-5-${trackid}`)).text);
    expect(status.estadistica).toEqual([{ tipo: 39, informados: 2, aceptados: 1, rechazados: 1, reparos: 0 }]);
    expect(status.detalle_rep_rech).toHaveLength(1);
    expect(status.detalle_rep_rech[0]).toMatchObject({ tipo: 39, folio: 2, estado: 'RCH' });
    expect(status.detalle_rep_rech[0].error.map((e: Loose) => e.codigo)).toContain('DTE-3-505');
  });

  it('401 "NO ESTA AUTENTICADO" for a non-Mozilla User-Agent even with a valid token, and without token', async () => {
    const file = envelope([emit(example(39), 4, cafs)]);
    for (const res of [await envio(file, { ua: 'curl/8.5.0' }), await envio(file, { token: null }), await envio(file, { token: 'NOPE' })]) {
      expect(res.status).toBe(401);
      expect(res.text).toBe('NO ESTA AUTENTICADO');
    }
    expect(sim.state.envios.size).toBe(2);
  });

  it('a DTEWS token does not open the boleta API, nor a boleta token DTEWS', async () => {
    const dtews = await getToken(base, signers().cert);
    expect((await envio(envelope([emit(example(39), 5, cafs)]), { token: dtews })).status).toBe(401);
    expect(tag(await estUp(base, token, EMISOR, '1'), 'ESTADO')).toBe('003');
  });

  it('takes only EnvioBOLETA (400 for an EnvioDTE)', async () => {
    const c33 = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33 })];
    const res = await envio(envelope([emit(example(33), 1, c33)]));
    expect(res.status).toBe(400);
  });

  it('an EnvioBOLETA through DTEUpload (certification sets) is processed like an EnvioDTE', async () => {
    const t = await getToken(base, signers().cert);
    const up = await upload(base, t, envelope([emit(example(39), 6, cafs)]), { ua: PROG_UA });
    expect(up.status).toBe(0);
    clock.advance(1000);
    expect(tag(await estUp(base, t, EMISOR, up.trackId as string), 'ACEPTADOS')).toBe('1');
  });
});
