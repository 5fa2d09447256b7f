/**
 * RCV registro de aceptación/reclamo: only 33/34/43, 8 days from the SII's reception (simulated
 * clock), the state rules of sii-spec §14.2, events, cedibility and the reception date.
 */
import type { Caf } from '@timbre/dte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, ManualClock, type Simulator } from '../src/index.js';
import { EMISOR, envelope, emit, example, getToken, json, RECEPTOR, request, signers, simCaf, T0, tag, tags, upload } from './helpers.js';

let sim: Simulator;
let base: string;
let clock: ManualClock;
let token: string;
let cafs: Caf[];
let nextFolio = 1;

const PATH = '/WSREGISTRORECLAMODTECERT/registroreclamodteservice';

async function rcv(op: string, params: Array<[string, string]>, o: { token?: string | null; path?: string } = {}) {
  const body =
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="http://ws.registroreclamodte.diii.sdi.sii.cl">' +
    `<soapenv:Header/><soapenv:Body><ws:${op}>${params.map(([k, v]) => `<${k}>${v}</${k}>`).join('')}</ws:${op}></soapenv:Body></soapenv:Envelope>`;
  const t = o.token === undefined ? token : o.token;
  return request(`${base}${o.path ?? PATH}`, { body, headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '', ...(t ? { cookie: `TOKEN=${t}` } : {}) } });
}

const doc = (folio: number, tipo = 33): Array<[string, string]> => [
  ['rutEmisor', '76086428'],
  ['dvEmisor', '5'],
  ['tipoDoc', String(tipo)],
  ['folio', String(folio)],
];
const act = async (folio: number, accion: string, tipo = 33) => Number(tag((await rcv('ingresarAceptacionReclamoDoc', [...doc(folio, tipo), ['accionDoc', accion]])).text, 'codResp'));
const cedible = async (folio: number) => Number(tag((await rcv('consultarDocDteCedible', doc(folio))).text, 'codResp'));

/** Upload n invoices received "now"; returns their folios. */
async function invoices(n: number): Promise<number[]> {
  const folios = Array.from({ length: n }, () => nextFolio++);
  const up = await upload(base, token, envelope(folios.map((f) => emit(example(33), f, cafs))));
  expect(up.status).toBe(0);
  return folios;
}

beforeAll(async () => {
  clock = new ManualClock(T0);
  // The clock jumps days ahead here: a token that outlives the tests (the default is one hour).
  sim = createSimulator({ clock, statusDelayMs: 0, tokenTtlMs: 90 * 24 * 3600_000 });
  base = await sim.start(0);
  cafs = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33, desde: 1, hasta: 100 })];
  token = await getToken(base, signers().cert);
});
afterAll(() => sim.close());

describe('ingresarAceptacionReclamoDoc', () => {
  it('answers the JAX-WS shape: ns2:…Response/return/codResp + descResp', async () => {
    const [f] = await invoices(1);
    const res = await rcv('ingresarAceptacionReclamoDoc', [...doc(f as number), ['accionDoc', 'ACD']]);
    expect(res.status).toBe(200);
    expect(res.text).toContain('<ns2:ingresarAceptacionReclamoDocResponse xmlns:ns2="http://ws.registroreclamodte.diii.sdi.sii.cl"><return><codResp>0</codResp><descResp>Accion Completada OK</descResp></return>');
  });

  it('after ACD: the same event again is 7, a claim is 11, ERM is still fine', async () => {
    const [f] = (await invoices(1)) as [number];
    expect(await act(f, 'ACD')).toBe(0);
    expect(await act(f, 'ACD')).toBe(7);
    expect(await act(f, 'RCD')).toBe(11);
    expect(await act(f, 'RFT')).toBe(11);
    expect(await act(f, 'ERM')).toBe(0);
  });

  it('after a claim: no ERM (6), no ACD (12), no second claim (5); RFP then RFT is 19', async () => {
    const [a, b] = (await invoices(2)) as [number, number];
    expect(await act(a, 'RCD')).toBe(0);
    expect(await act(a, 'ERM')).toBe(6);
    expect(await act(a, 'ACD')).toBe(12);
    expect(await act(a, 'RFP')).toBe(5);
    expect(await act(b, 'RFP')).toBe(0);
    expect(await act(b, 'RFT')).toBe(19);
  });

  it('after ERM: acceptance yes, claim no (13)', async () => {
    const [f] = (await invoices(1)) as [number];
    expect(await act(f, 'ERM')).toBe(0);
    expect(await act(f, 'RCD')).toBe(13);
    expect(await act(f, 'ACD')).toBe(0);
  });

  it('only within 8 days of the SII reception (8 after)', async () => {
    const [a, b] = (await invoices(2)) as [number, number];
    clock.advance(8 * 24 * 3600_000 - 1000);
    expect(await act(a, 'ACD')).toBe(0);
    clock.advance(2000);
    expect(await act(b, 'RCD')).toBe(8);
  });

  it('only types 33, 34, 43 (3); unknown action (4); bad RUT (1); bad folio (2); a document never received (18)', async () => {
    expect(await act(1, 'ACD', 52)).toBe(3);
    expect(await act(1, 'XYZ')).toBe(4);
    const badRut = await rcv('ingresarAceptacionReclamoDoc', [['rutEmisor', '76086428'], ['dvEmisor', '4'], ['tipoDoc', '33'], ['folio', '1'], ['accionDoc', 'ACD']]);
    expect(tag(badRut.text, 'codResp')).toBe('1');
    expect(await act(0, 'ACD')).toBe(2);
    expect(await act(99, 'ACD')).toBe(18);
  });

  it('only the receiver acts: with an authorized-signer list for the receiver, others get 14', async () => {
    const [f] = (await invoices(1)) as [number];
    await json(base, `/sim/companies/${RECEPTOR}`, { authorizedSigners: ['11111111-1'] }, 'PUT');
    try {
      expect(await act(f, 'ACD')).toBe(14);
    } finally {
      await json(base, `/sim/companies/${RECEPTOR}`, {}, 'PUT');
    }
    expect(await act(f, 'ACD')).toBe(0);
  });

  it('needs the token cookie (401 without it) and answers on the production path too', async () => {
    expect((await rcv('ingresarAceptacionReclamoDoc', [...doc(1), ['accionDoc', 'ACD']], { token: null })).status).toBe(401);
    expect((await rcv('ingresarAceptacionReclamoDoc', [...doc(1), ['accionDoc', 'ACD']], { token: 'NOSUCHTOKEN' })).status).toBe(401);
    const [f] = (await invoices(1)) as [number];
    const prod = await rcv('ingresarAceptacionReclamoDoc', [...doc(f), ['accionDoc', 'ERM']], { path: '/WSREGISTRORECLAMODTE/registroreclamodteservice' });
    expect(tag(prod.text, 'codResp')).toBe('0');
  });
});

describe('listarEventosHistDoc, consultarDocDteCedible, consultarFechaRecepcionSii', () => {
  it('lists the events with who and when (15), says 16 when there are none and 9 for an unknown document', async () => {
    const [f, g] = (await invoices(2)) as [number, number];
    expect(Number(tag((await rcv('listarEventosHistDoc', doc(g))).text, 'codResp'))).toBe(16);
    await act(f, 'ERM');
    clock.advance(60_000);
    await act(f, 'ACD');
    const res = (await rcv('listarEventosHistDoc', doc(f))).text;
    expect(tag(res, 'codResp')).toBe('15');
    expect(tags(res, 'codEvento')).toEqual(['ERM', 'ACD']);
    expect(tags(res, 'rutResponsable')).toEqual(['12345678', '12345678']);
    expect(tags(res, 'dvResponsable')).toEqual(['5', '5']);
    expect(tags(res, 'fechaEvento')[0]).toMatch(/^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}$/);
    expect(Number(tag((await rcv('listarEventosHistDoc', doc(98))).text, 'codResp'))).toBe(9);
  });

  it('cedible: 22 without events inside the window, 23 accepted, 24 claimed, 25 after 8 days without claims', async () => {
    const [a, b, c] = (await invoices(3)) as [number, number, number];
    expect(await cedible(a)).toBe(22);
    await act(a, 'ACD');
    await act(b, 'RCD');
    expect(await cedible(a)).toBe(23);
    expect(await cedible(b)).toBe(24);
    clock.advance(9 * 24 * 3600_000);
    expect(await cedible(c)).toBe(25);
    expect(await cedible(b)).toBe(24);
  });

  it('cedible: 21 when an NC annulling it arrived within 8 days, and the NC shows as an NCA event', async () => {
    const [f] = (await invoices(1)) as [number];
    const ncCafs = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 61, fechaAutorizacion: '2026-11-01' })];
    const anula = example(61);
    anula.referencias[0].folio = String(f);
    anula.referencias[0].codigo = 1;
    clock.advance(3 * 24 * 3600_000);
    const up = await upload(base, token, envelope([emit(anula, 1, ncCafs)]));
    expect(up.status).toBe(0);
    expect(await cedible(f)).toBe(21);
    expect(tags((await rcv('listarEventosHistDoc', doc(f))).text, 'codEvento')).toContain('NCA');
  });

  it('gives the reception date as DD-MM-YYYY HH:MM:SS, empty for an unknown document', async () => {
    const s = createSimulator({ clock: new ManualClock(T0), statusDelayMs: 0 });
    const b = await s.start(0);
    try {
      const c = [await simCaf(b, { rutEmisor: EMISOR, tipoDte: 33 })];
      const t = await getToken(b, signers().cert);
      await upload(b, t, envelope([emit(example(33), 1, c)]));
      const body = (folio: number) =>
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ws="http://ws.registroreclamodte.diii.sdi.sii.cl"><soapenv:Body>' +
        `<ws:consultarFechaRecepcionSii><rutEmisor>76086428</rutEmisor><dvEmisor>5</dvEmisor><tipoDoc>33</tipoDoc><folio>${folio}</folio></ws:consultarFechaRecepcionSii></soapenv:Body></soapenv:Envelope>`;
      const ok = await request(`${b}${PATH}`, { body: body(1), headers: { 'content-type': 'text/xml', cookie: `TOKEN=${t}` } });
      expect(tag(ok.text, 'return')).toBe('27-11-2026 10:00:00');
      const none = await request(`${b}${PATH}`, { body: body(2), headers: { 'content-type': 'text/xml', cookie: `TOKEN=${t}` } });
      expect(none.text).toContain('<return></return>');
    } finally {
      await s.close();
    }
  });
});
