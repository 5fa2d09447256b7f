/**
 * deliverEnvelope against a fake fetch (no sockets) and a fake clock: what it reads from the envelope,
 * when it asks QueryEstDte, and that it uploads again only when the SII still does not know the first
 * document after the wait.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEnvelope, emitDte, generateFixtures, inputToDte, loadPkcs12, parseCaf, parseDteInput, toBytes, type Caf, type Certificado } from '@timbre/dte';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSiiClient, readEnvelopeSummary, type FetchLike, type SiiClient } from '../src/index.js';
import { fakeClock, recepcionDte, respuesta, seedAnswer, soapAnswer, tokenAnswer, type FakeClock } from './helpers.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const example = (tipo: number): unknown => JSON.parse(readFileSync(path.join(repoRoot, 'examples/dte', `${tipo}.json`), 'utf8'));
const FCH = '2026-11-27';
const STAMP = '2026-11-27T10:15:00';

let cert: Certificado;
let cafs: Caf[];
let envioDte: Buffer;
let envioBoleta: Buffer;
let mntTotal33: number;

beforeAll(() => {
  const now = new Date('2026-11-27T13:00:00Z');
  const fx = generateFixtures({ now, tipos: [33, 34, 39] });
  cert = loadPkcs12(fx.p12, fx.p12Password, { now });
  cafs = fx.cafs.map((c) => parseCaf(c.xml));
  const emit = (tipo: number, folio: number) => emitDte(inputToDte(parseDteInput(example(tipo)), { folio, fchEmis: FCH }), { cafs, signer: cert, now: STAMP });
  const e33 = emit(33, 17);
  mntTotal33 = e33.dte.encabezado.totales.mntTotal;
  const caratula = { rutEmisor: '76086428-5', rutEnvia: cert.rut, rutReceptor: '60803000-K', fchResol: '2026-11-01', nroResol: 0, tmstFirmaEnv: STAMP };
  const wrap = (list: ReturnType<typeof emit>[]) =>
    toBytes(buildEnvelope({ dtes: list.map((d) => ({ xml: d.xml, tipoDte: d.key.tipoDte, canonical: d.canonical })), caratula, key: cert.signingKey }).xml);
  envioDte = wrap([e33, emit(34, 3)]);
  envioBoleta = wrap([emit(39, 5)]);
});

interface Call {
  path: string;
  body: string;
}

type Answer = { status?: number; body: string; type?: string } | 'lost';

/** A fake SII behind `fetch`: seeds and tokens always work; uploads and QueryEstDte follow scripts. */
function fakeSii(script: { uploads: Answer[]; estDte?: Answer[] }) {
  const calls: Call[] = [];
  let u = 0;
  let q = 0;
  const fetch: FetchLike = async (url, init) => {
    const p = new URL(url).pathname;
    const body = init.body === undefined ? '' : Buffer.from(init.body as Uint8Array).toString('latin1');
    calls.push({ path: p, body });
    let a: Answer;
    if (p === '/DTEWS/CrSeed.jws') a = { body: seedAnswer('000000000042') };
    else if (p === '/DTEWS/GetTokenFromSeed.jws') a = { body: tokenAnswer('TKN1') };
    else if (p === '/cgi_dte/UPL/DTEUpload') a = script.uploads[Math.min(u++, script.uploads.length - 1)] as Answer;
    else if (p === '/DTEWS/QueryEstDte.jws') a = (script.estDte ?? [])[Math.min(q++, (script.estDte ?? []).length - 1)] ?? { status: 404, body: 'no' };
    else a = { status: 404, body: 'not found', type: 'text/plain' };
    if (a === 'lost') {
      // The request went out; the connection closed before any answer.
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    }
    return new Response(a.body, { status: a.status ?? 200, headers: { 'content-type': a.type ?? 'text/xml; charset=ISO-8859-1' } });
  };
  return {
    fetch,
    calls,
    uploads: () => calls.filter((c) => c.path === '/cgi_dte/UPL/DTEUpload'),
    estDtes: () => calls.filter((c) => c.path === '/DTEWS/QueryEstDte.jws'),
  };
}

const received = (trackId: string): Answer => ({ body: recepcionDte(0, `<TRACKID>${trackId}</TRACKID>`) });
const dup = (trackId: string): Answer => ({
  body: recepcionDte(99, `<DETAIL><ERROR>Archivo ya fue enviado 2 veces con Trackid ${trackId}. Debe esperar 900 segundos antes de reintentar</ERROR></DETAIL>`),
});
const estDte = (estado: string, glosa = '', errCode = '0'): Answer => ({
  body: soapAnswer(
    'getEstDte',
    respuesta(`<SII:RESP_HDR><ESTADO>${estado}</ESTADO><GLOSA_ESTADO>${glosa}</GLOSA_ESTADO><ERR_CODE>${errCode}</ERR_CODE><NUM_ATENCION>1 ( 2026/11/27 10:20:00)</NUM_ATENCION></SII:RESP_HDR>`),
    { service: 'https://maullin.sii.cl/DTEWS/QueryEstDte.jws' },
  ),
});

function client(f: ReturnType<typeof fakeSii>, clock: FakeClock): SiiClient {
  return createSiiClient({ environment: 'sim', siiUrl: 'http://sii.test', certificate: cert, fetch: f.fetch, clock, random: () => 0, maxAttempts: 2, baseDelayMs: 10 });
}

/** A SOAP parameter's value in a recorded request. */
const param = (body: string, name: string) => new RegExp(`<${name}[^>]*>([^<]*)</${name}>`).exec(body)?.[1];

describe('readEnvelopeSummary', () => {
  it('reads the carátula RutEmisor and the first DTE key of an EnvioDTE and of an EnvioBOLETA', () => {
    expect(readEnvelopeSummary(envioDte)).toEqual({
      kind: 'EnvioDTE',
      rutEmisor: '76086428-5',
      documents: 2,
      first: { rutEmisor: '76086428-5', rutReceptor: '77894717-K', tipoDte: 33, folio: 17, fechaEmision: FCH, montoTotal: mntTotal33 },
    });
    expect(readEnvelopeSummary(envioBoleta)).toMatchObject({ kind: 'EnvioBOLETA', documents: 1, first: { tipoDte: 39, folio: 5, rutReceptor: '66666666-6' } });
  });

  it('refuses what is not an envelope with ERR_ENVELOPE_INVALID, before anything is sent', async () => {
    expect(() => readEnvelopeSummary(Buffer.from('<DTE/>'))).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_INVALID' }));
    expect(() => readEnvelopeSummary(Buffer.from('<EnvioDTE><SetDTE><Caratula><RutEmisor>1-9</RutEmisor></Caratula></SetDTE></EnvioDTE>'))).toThrow(/holds no DTE/);
    expect(() => readEnvelopeSummary(Buffer.from('not xml'))).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_INVALID' }));
    const f = fakeSii({ uploads: [received('1')] });
    await expect(client(f, fakeClock()).deliverEnvelope(Buffer.from('<EnvioDTE/>'))).rejects.toMatchObject({ code: 'ERR_ENVELOPE_INVALID' });
    expect(f.calls).toEqual([]);
  });
});

describe('deliverEnvelope', () => {
  it('an answered upload is returned as is: no status check', async () => {
    const f = fakeSii({ uploads: [received('0251552460')] });
    const r = await client(f, fakeClock()).deliverEnvelope(envioDte);
    expect(r).toMatchObject({ kind: 'received', trackId: '0251552460', uploads: 1, statusChecks: 0 });
    expect(f.estDtes()).toHaveLength(0);
    // The company comes from the carátula.
    expect(f.uploads()[0]?.body).toContain('name="rutCompany"\r\n\r\n76086428\r\n');

    const g = fakeSii({ uploads: [dup('251552460')] });
    expect(await client(g, fakeClock()).deliverEnvelope(envioDte)).toMatchObject({ kind: 'duplicate', trackId: '251552460', uploads: 1, statusChecks: 0 });
  });

  it('answer lost, the SII has the first document (DOK) → recorded, not uploaded again', async () => {
    const f = fakeSii({ uploads: ['lost', received('9')], estDte: [estDte('DOK', 'Documento Recibido por el SII. Datos Coinciden con los Registrados')] });
    const r = await client(f, fakeClock()).deliverEnvelope(envioDte, { statusWaitMs: 60_000, pollMs: 1_000 });
    expect(r).toMatchObject({ kind: 'recorded', uploads: 1, statusChecks: 1, estadoDte: { estado: 'DOK', recibido: true }, lost: { kind: 'unknown', reason: 'connection_lost' } });
    if (r.kind !== 'recorded') throw new Error('unreachable');
    expect(r.document).toMatchObject({ tipoDte: 33, folio: 17 });
    expect(r.detail).toMatch(/T33F17 of 76086428-5.*not uploaded again/);
    expect(f.uploads()).toHaveLength(1);
    // The query carries the first DTE's key, the date as DDMMAAAA.
    const q = f.estDtes()[0]?.body ?? '';
    expect([param(q, 'RutCompania'), param(q, 'DvCompania'), param(q, 'RutReceptor'), param(q, 'DvReceptor')]).toEqual(['76086428', '5', '77894717', 'K']);
    expect([param(q, 'TipoDte'), param(q, 'FolioDte'), param(q, 'FechaEmisionDte'), param(q, 'MontoDte')]).toEqual(['33', '17', '27112026', String(mntTotal33)]);
    expect(param(q, 'RutConsultante')).toBe(cert.rut.split('-')[0]);
  });

  it('polls with backoff while the SII answers FAU (review pending), then recorded', async () => {
    const f = fakeSii({ uploads: ['lost'], estDte: [estDte('FAU', '', '3'), estDte('FAU', '', '3'), estDte('DOK')] });
    const clock = fakeClock();
    const r = await client(f, clock).deliverEnvelope(envioDte, { statusWaitMs: 60_000, pollMs: 1_000 });
    expect(r).toMatchObject({ kind: 'recorded', statusChecks: 3, uploads: 1 });
    expect(clock.sleeps).toEqual([1_000, 2_000]);
    expect(f.uploads()).toHaveLength(1);
  });

  it('DNK (a document with that folio and other data is at the SII) also counts as known: no second upload', async () => {
    const f = fakeSii({ uploads: ['lost'], estDte: [estDte('DNK', 'Documento Recibido por el SII pero Datos NO Coinciden', '1')] });
    const r = await client(f, fakeClock()).deliverEnvelope(envioDte, { statusWaitMs: 0, pollMs: 1 });
    expect(r).toMatchObject({ kind: 'recorded', estadoDte: { estado: 'DNK' } });
    expect(f.uploads()).toHaveLength(1);
  });

  it('still FAU when the wait is over → the SAME bytes uploaded once more; STATUS 99 names the first track id', async () => {
    const f = fakeSii({ uploads: ['lost', dup('251552460')], estDte: [estDte('FAU', '', '3')] });
    const clock = fakeClock();
    const r = await client(f, clock).deliverEnvelope(envioDte, { statusWaitMs: 10_000, pollMs: 1_000 });
    expect(r).toMatchObject({ kind: 'duplicate', trackId: '251552460', uploads: 2, lost: { kind: 'unknown' } });
    // 1 + 2 + 4 s, then the remaining 3 s: the last check is at the deadline.
    expect(clock.sleeps).toEqual([1_000, 2_000, 4_000, 3_000]);
    expect(r.statusChecks).toBe(5);
    // Both uploads carry the envelope's bytes untouched (never a rebuilt envelope).
    expect(f.uploads()).toHaveLength(2);
    for (const u of f.uploads()) expect(u.body).toContain(`\r\n\r\n${envioDte.toString('latin1')}\r\n--`);
  });

  it('the second upload may simply be received (the first never arrived)', async () => {
    const f = fakeSii({ uploads: ['lost', received('0000000123')], estDte: [estDte('FAU', '', '3')] });
    const r = await client(f, fakeClock()).deliverEnvelope(envioDte, { statusWaitMs: 0, pollMs: 1 });
    expect(r).toMatchObject({ kind: 'received', trackId: '0000000123', uploads: 2, statusChecks: 1 });
  });

  it('the status cannot be checked (QueryEstDte unavailable throughout) → unknown with statusError, no second upload', async () => {
    const f = fakeSii({ uploads: ['lost', received('1')], estDte: [{ status: 503, body: '<html><body>Error 500</body></html>', type: 'text/html' }] });
    const r = await client(f, fakeClock()).deliverEnvelope(envioDte, { statusWaitMs: 5_000, pollMs: 1_000 });
    expect(r.kind).toBe('unknown');
    if (r.kind !== 'unknown') throw new Error('unreachable');
    expect(r.uploads).toBe(1);
    expect(r.statusChecks).toBeGreaterThan(1);
    expect(['ERR_SII_UNAVAILABLE', 'ERR_SII_CIRCUIT_OPEN']).toContain(r.statusError?.code);
    expect(f.uploads()).toHaveLength(1);
  });

  it('a definite refusal of the query stops at once: unknown with statusError, no second upload', async () => {
    const f = fakeSii({ uploads: ['lost', received('1')], estDte: [estDte('-1', 'ERROR: RETORNO CAMPO ESTADO')] });
    const r = await client(f, fakeClock()).deliverEnvelope(envioDte, { statusWaitMs: 60_000, pollMs: 1_000 });
    expect(r).toMatchObject({ kind: 'unknown', uploads: 1, statusChecks: 1, statusError: { code: 'ERR_SII_QUERY_FAILED', siiCode: '-1' } });
    expect(f.uploads()).toHaveLength(1);
  });

  it('an ESTADO the SII documents as "try again" (-4) keeps polling', async () => {
    const f = fakeSii({ uploads: ['lost'], estDte: [estDte('-4', 'ERROR OBTENCION DE DATOS'), estDte('DOK')] });
    const r = await client(f, fakeClock()).deliverEnvelope(envioDte, { statusWaitMs: 60_000, pollMs: 1_000 });
    expect(r).toMatchObject({ kind: 'recorded', statusChecks: 2 });
  });

  it('refuses a wait that would push the second upload out of the 900 s duplicate window', async () => {
    const f = fakeSii({ uploads: [received('1')] });
    await expect(client(f, fakeClock()).deliverEnvelope(envioDte, { statusWaitMs: 900_000 })).rejects.toThrow(RangeError);
    await expect(client(f, fakeClock()).deliverEnvelope(envioDte, { pollMs: 0 })).rejects.toThrow(RangeError);
    expect(f.calls).toEqual([]);
  });
});
