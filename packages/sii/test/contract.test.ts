/**
 * Contract tests: the real client (@timbre/sii) against the real simulator (@timbre/sii-sim) over
 * real HTTP on 127.0.0.1, for every service. Documents are built the production way (examples →
 * parseDteInput → inputToDte → emitDte → buildEnvelope → toBytes) with CAFs the simulator issues.
 *
 * The simulator runs on a ManualClock started at the real time: its review timeline (statusDelayMs)
 * only moves when a test moves it. The main client's clock is linked to it (its sleeps advance the
 * simulator), so deliverEnvelope's status polling is deterministic. Clients for the fault tests use
 * real time (per-attempt timeouts, retry budget) with small timeouts and backoff.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addCalendarMonths,
  buildEnvelope,
  emitDte,
  generateFixtures,
  inputToDte,
  loadPkcs12,
  parseCaf,
  parseDteInput,
  siiTimestamp,
  toBytes,
  type Caf,
  type Caratula,
  type Certificado,
  type EmittedDte,
} from '@timbre/dte';
import { createSimulator, ManualClock, type Simulator } from '@timbre/sii-sim';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSiiClient, describeCode, isSiiError, type SiiClient, type SiiClientOptions, type SiiClock, type SiiError, type TransportEvent } from '../src/index.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- example JSON edited in tests
type Loose = any;
const example = (tipo: number): Loose => JSON.parse(readFileSync(path.join(repoRoot, 'examples/dte', `${tipo}.json`), 'utf8'));

const EMISOR = '76086428-5';
const SII_RUT = '60803000-K';
const STATUS_DELAY_MS = 4_000;

let sim: Simulator;
let base: string;
let simClock: ManualClock;
let cert: Certificado;
let untrustedCafs: Caf[];
const cafs: Caf[] = [];
let sii: SiiClient;
const folios = new Map<number, number>();

/** Next unused folio of a type (all CAFs start at 1). */
const nextFolio = (tipo: number): number => {
  const f = folios.get(tipo) ?? 1;
  folios.set(tipo, f + 1);
  return f;
};
/** The simulator's "now" in Chilean local time, and its date. */
const simStamp = (): string => siiTimestamp(new Date(simClock.now()));
const today = (): string => simStamp().slice(0, 10);

/** The client's clock follows the simulator's: sleeping moves the simulated time. */
const linkedClock = (): SiiClock => ({
  now: () => simClock.now(),
  sleep: async (ms) => {
    simClock.advance(ms);
    await new Promise((r) => setImmediate(r));
  },
});

function client(extra: Partial<SiiClientOptions> = {}): SiiClient {
  return createSiiClient({
    environment: 'sim',
    siiUrl: base,
    certificate: cert,
    timeoutMs: 5_000,
    uploadTimeoutMs: 10_000,
    baseDelayMs: 10,
    maxDelayMs: 50,
    ...extra,
  });
}

async function simJson(p: string, body?: unknown, method?: string): Promise<{ status: number; data: Loose }> {
  const res = await fetch(`${base}${p}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : undefined };
}

async function simCaf(body: Record<string, unknown>): Promise<Caf> {
  const res = await fetch(`${base}/sim/caf`, { method: 'POST', body: JSON.stringify({ rutEmisor: EMISOR, ...body }), headers: { 'content-type': 'application/json' } });
  if (res.status !== 201) throw new Error(`/sim/caf ${res.status}: ${await res.text()}`);
  return parseCaf(Buffer.from(await res.arrayBuffer()));
}

const addFaults = async (rules: Loose[]): Promise<Loose[]> => {
  const r = await simJson('/sim/faults', rules);
  expect(r.status).toBe(201);
  return r.data;
};
const faultHits = async (id: string): Promise<number | undefined> => (await simJson('/sim/faults')).data.find((f: Loose) => f.id === id)?.hits;

function emit(tipo: number, folio: number, o: { json?: Loose; cafs?: readonly Caf[]; fchEmis?: string } = {}): EmittedDte {
  return emitDte(inputToDte(parseDteInput(o.json ?? example(tipo)), { folio, fchEmis: o.fchEmis ?? today() }), { cafs: o.cafs ?? cafs, signer: cert, now: simStamp() });
}

/** A signed envelope's bytes: EnvioDTE for facturas (carátula to the SII unless told), EnvioBOLETA for 39/41. */
function envelope(dtes: EmittedDte[], caratula: Partial<Caratula> = {}): Buffer {
  const built = buildEnvelope({
    dtes: dtes.map((d) => ({ xml: d.xml, tipoDte: d.key.tipoDte, canonical: d.canonical })),
    caratula: { rutEmisor: EMISOR, rutEnvia: cert.rut, rutReceptor: SII_RUT, fchResol: '2026-01-01', nroResol: 0, tmstFirmaEnv: simStamp(), ...caratula },
    key: cert.signingKey,
  });
  return toBytes(built.xml);
}

const keyOf = (d: EmittedDte) => ({
  rutEmisor: EMISOR,
  rutReceptor: d.dte.encabezado.receptor.rutRecep,
  tipoDte: d.key.tipoDte,
  folio: d.key.folio,
  fechaEmision: d.dte.encabezado.idDoc.fchEmis,
  montoTotal: d.dte.encabezado.totales.mntTotal,
});

/** Upload through the client; must be received. */
async function uploadReceived(bytes: Buffer, c: SiiClient = sii): Promise<string> {
  const r = await c.sendEnvelope(bytes, { rutEmisor: EMISOR });
  if (r.kind !== 'received') throw new Error(`expected received, got ${JSON.stringify({ ...r, error: undefined })}`);
  expect(r.trackId).toMatch(/^\d{10}$/);
  return r.trackId;
}

/** Poll getEstUp until final, moving the simulated clock a quarter of the review delay each time. */
async function pollUntilFinal(trackId: string) {
  const seen: string[] = [];
  for (let i = 0; i < 10; i++) {
    const s = await sii.getEstUp(trackId, EMISOR);
    seen.push(s.estado);
    if (s.final) return { status: s, seen };
    expect(s.outcome).toBe('pending');
    simClock.advance(STATUS_DELAY_MS / 4);
  }
  throw new Error(`envío ${trackId} never became final: ${seen.join(' → ')}`);
}

/** The per-document result the real SII e-mails (GET /sim/envios/{trackId}). */
const envioDetail = async (trackId: string): Promise<Loose> => {
  const r = await simJson(`/sim/envios/${trackId}`);
  expect(r.status).toBe(200);
  return r.data;
};
const docCodes = (detail: Loose, i = 0): string[] => (detail.documentos[i]?.errores ?? []).map((e: Loose) => e.code);
const envioCount = async (): Promise<number> => (await simJson('/sim/envios')).data.length;

// Documents of the accepted EnvioDTE (uploaded in beforeAll): two 33 and one 34.
let accepted: { trackId: string; f33a: EmittedDte; f33b: EmittedDte; f34: EmittedDte; final: Awaited<ReturnType<typeof pollUntilFinal>> };

beforeAll(async () => {
  simClock = new ManualClock(Date.now());
  sim = createSimulator({ clock: simClock, statusDelayMs: STATUS_DELAY_MS });
  base = await sim.start(0);

  const now = new Date(simClock.now());
  const fx = generateFixtures({ now, tipos: [33], desde: 90_001, hasta: 90_010 });
  cert = loadPkcs12(fx.p12, fx.p12Password, { now });
  untrustedCafs = fx.cafs.map((c) => parseCaf(c.xml));
  for (const tipoDte of [33, 34, 39, 41, 61]) cafs.push(await simCaf({ tipoDte, desde: 1, hasta: 500 }));
  sii = client({ clock: linkedClock() });

  const f33a = emit(33, nextFolio(33));
  const f33b = emit(33, nextFolio(33));
  const f34 = emit(34, nextFolio(34));
  const trackId = await uploadReceived(envelope([f33a, f33b, f34]));
  accepted = { trackId, f33a, f33b, f34, final: await pollUntilFinal(trackId) };
});

afterAll(async () => {
  await sim?.close();
});

afterEach(async () => {
  await simJson('/sim/faults', undefined, 'DELETE');
});

describe('authentication', () => {
  it('seed → signed getToken → token the simulator accepts; cached; forceRefresh gets a new one', async () => {
    const c = client();
    const seedsBefore = sim.state.seeds.size;
    const t1 = await c.getToken();
    expect(sim.state.tokens.get(t1)).toMatchObject({ channel: 'dtews', rut: cert.rut });
    expect(sim.state.seeds.size).toBe(seedsBefore + 1);
    expect(await c.getToken()).toBe(t1);
    expect(sim.state.seeds.size).toBe(seedsBefore + 1); // cached: no new seed asked for
    const t2 = await c.getToken({ forceRefresh: true });
    expect(t2).not.toBe(t1);
    expect(sim.state.tokens.get(t2)?.channel).toBe('dtews');
    expect(sim.state.seeds.size).toBe(seedsBefore + 2);
  });

  it('the boleta REST token is a different token, issued on the boleta channel', async () => {
    const c = client();
    const bt = await c.boleta.getToken();
    expect(sim.state.tokens.get(bt)).toMatchObject({ channel: 'boleta', rut: cert.rut });
    expect(bt).not.toBe(await c.getToken());
    expect(await c.boleta.getToken()).toBe(bt);
  });
});

describe('DTEUpload → QueryEstUp → QueryEstDte', () => {
  it('received, then REC → SOK → FOK → CRT → EPR, accepted with the per-type counts', () => {
    const { status, seen } = accepted.final;
    expect(seen).toEqual(['REC', 'SOK', 'FOK', 'CRT', 'EPR']);
    expect(status).toMatchObject({ estado: 'EPR', final: true, outcome: 'accepted', trackId: accepted.trackId });
    expect([...status.counts].sort((a, b) => a.tipoDte - b.tipoDte)).toEqual([
      { tipoDte: 33, informados: 2, aceptados: 2, rechazados: 0, reparos: 0 },
      { tipoDte: 34, informados: 1, aceptados: 1, rechazados: 0, reparos: 0 },
    ]);
  });

  it('getEstDte: DOK for an uploaded document, DNK with a wrong amount, FAU for a folio never sent, FNA outside every CAF', async () => {
    const d = accepted.f33a;
    expect(await sii.getEstDte(keyOf(d))).toMatchObject({ estado: 'DOK', recibido: true, errCode: '0' });
    expect(await sii.getEstDte(keyOf(accepted.f34))).toMatchObject({ estado: 'DOK', recibido: true });

    const dnk = await sii.getEstDte({ ...keyOf(d), montoTotal: keyOf(d).montoTotal + 1 });
    expect(dnk).toMatchObject({ estado: 'DNK', recibido: true, errCode: '1' });
    expect(dnk.glosaErr).toMatch(/Monto/);

    expect(await sii.getEstDte({ ...keyOf(d), folio: 499 })).toMatchObject({ estado: 'FAU', recibido: false });
    expect(await sii.getEstDte({ ...keyOf(d), folio: 100_000 })).toMatchObject({ estado: 'FNA', recibido: false });
  });

  it('an accepted credit note (CodRef 3) turns the invoice it corrects into MMC', async () => {
    const json = example(61);
    json.referencias[0] = { ...json.referencias[0], tipo_documento: 33, folio: String(accepted.f33b.key.folio), fecha: today(), codigo: 3 };
    const trackId = await uploadReceived(envelope([emit(61, nextFolio(61), { json })]));
    const { status } = await pollUntilFinal(trackId);
    expect(status).toMatchObject({ outcome: 'accepted', counts: [{ tipoDte: 61, informados: 1, aceptados: 1 }] });
    expect(await sii.getEstDte(keyOf(accepted.f33b))).toMatchObject({ estado: 'MMC', recibido: true });
  });

  it('getEstUp of a track id that is not this company\'s → ERR_SII_QUERY_FAILED with the SII\'s -11', async () => {
    await expect(sii.getEstUp(accepted.trackId, '77894717-K')).rejects.toMatchObject({ code: 'ERR_SII_QUERY_FAILED', siiCode: '-11' });
  });
});

describe('rejections, through the whole path, with the SII\'s codes', () => {
  it('one byte changed in the signed envelope → RFR (ENV-3-901), nothing registered', async () => {
    const d = emit(33, nextFolio(33));
    const bytes = envelope([d]);
    const at = bytes.indexOf(Buffer.from('<MntTotal>')) + '<MntTotal>'.length;
    const tampered = Buffer.from(bytes);
    tampered[at] = tampered[at] === 0x39 ? 0x38 : 0x39;
    const trackId = await uploadReceived(tampered);
    const { status } = await pollUntilFinal(trackId);
    expect(status).toMatchObject({ estado: 'RFR', final: true, outcome: 'rejected', counts: [] });
    const detail = await envioDetail(trackId);
    expect(detail.errores.map((e: Loose) => e.code)).toContain('ENV-3-901');
    expect(await sii.getEstDte(keyOf(d))).toMatchObject({ estado: 'FAU' });
  });

  it('a receiver envelope (carátula RutReceptor = the buyer) sent to the SII → RCT (CRT-3-18)', async () => {
    const d = emit(33, nextFolio(33));
    const trackId = await uploadReceived(envelope([d], { rutReceptor: d.dte.encabezado.receptor.rutRecep }));
    const { status } = await pollUntilFinal(trackId);
    expect(status).toMatchObject({ estado: 'RCT', outcome: 'rejected' });
    expect(describeCode('RCT', 'estado.envio')?.outcome).toBe('rejected');
    expect((await envioDetail(trackId)).errores.map((e: Loose) => e.code)).toContain('CRT-3-18');
  });

  it('a folio reused with other content → EPR with the document rejected (DTE-3-101); the original stays DOK', async () => {
    const json = example(33);
    json.items[1].cantidad = 4;
    delete json.totales;
    const reused = emit(33, accepted.f33a.key.folio, { json });
    expect(reused.dte.encabezado.totales.mntTotal).not.toBe(accepted.f33a.dte.encabezado.totales.mntTotal);
    const trackId = await uploadReceived(envelope([reused]));
    const { status } = await pollUntilFinal(trackId);
    expect(status).toMatchObject({ estado: 'EPR', outcome: 'rejected', counts: [{ tipoDte: 33, informados: 1, aceptados: 0, rechazados: 1, reparos: 0 }] });
    expect(docCodes(await envioDetail(trackId))).toContain('DTE-3-101');
    expect(await sii.getEstDte(keyOf(accepted.f33a))).toMatchObject({ estado: 'DOK' });
    expect(await sii.getEstDte(keyOf(reused))).toMatchObject({ estado: 'DNK' });
  });

  it('a CAF authorized 7 months before the emission → CAF-3-517 (CAF Vencido)', async () => {
    const fa = addCalendarMonths(today(), -7);
    const old = await simCaf({ tipoDte: 33, desde: 600, hasta: 610, fechaAutorizacion: fa });
    expect(old.fechaAutorizacion).toBe(fa);
    // Our emitter refuses expired CAFs: pretend a recent FA to get the document built; the TED keeps
    // the CAF the simulator signed, with its real FA.
    const d = emit(33, 600, { cafs: [{ ...old, fechaAutorizacion: addCalendarMonths(today(), -1) }] });
    const trackId = await uploadReceived(envelope([d]));
    const { status } = await pollUntilFinal(trackId);
    expect(status).toMatchObject({ estado: 'EPR', outcome: 'rejected', counts: [{ tipoDte: 33, rechazados: 1 }] });
    expect(docCodes(await envioDetail(trackId))).toContain('CAF-3-517');
    expect(describeCode('CAF-3-517')?.outcome).toBe('rejected');
  });

  it('a CAF signed by a key the SII does not trust (the fixtures\' own CAF) → CAF-3-901', async () => {
    const d = emit(33, 90_001, { cafs: untrustedCafs });
    const trackId = await uploadReceived(envelope([d]));
    const { status } = await pollUntilFinal(trackId);
    expect(status).toMatchObject({ outcome: 'rejected', counts: [{ tipoDte: 33, rechazados: 1 }] });
    expect(docCodes(await envioDetail(trackId))).toContain('CAF-3-901');
    expect(await sii.getEstDte(keyOf(d))).toMatchObject({ estado: 'FNA', recibido: false });
  });

  it('the same bytes again within 900 s → duplicate naming the first track id; no new envío', async () => {
    const bytes = envelope([emit(33, nextFolio(33))]);
    const first = await uploadReceived(bytes);
    const before = await envioCount();
    simClock.advance(60_000);
    const again = await sii.sendEnvelope(bytes, { rutEmisor: EMISOR });
    expect(again).toMatchObject({ kind: 'duplicate', timesSent: 2, waitSeconds: 900 });
    if (again.kind !== 'duplicate') throw new Error('unreachable');
    // The SII writes the first track id as a number: a leading zero does not survive.
    expect(Number(again.trackId)).toBe(Number(first));
    expect(await envioCount()).toBe(before);
    expect(sim.state.envios.get(first)?.intentos).toBe(2);
  });
});

describe('boleta REST', () => {
  it('envío → received; estado of the envío until final with per-type counts; estado of a boleta', async () => {
    const b39a = emit(39, nextFolio(39));
    const b39b = emit(39, nextFolio(39));
    const b41 = emit(41, nextFolio(41));
    const bytes = envelope([b39a, b39b, b41]);
    expect(bytes.toString('latin1')).toContain('<EnvioBOLETA');
    const sent = await sii.boleta.sendEnvelope(bytes, { rutEmisor: EMISOR });
    expect(sent).toMatchObject({ kind: 'received' });
    if (sent.kind !== 'received') throw new Error('unreachable');
    expect(sim.state.envios.get(sent.trackId)?.channel).toBe('boleta');

    const seen: string[] = [];
    let estado = await sii.boleta.getEstadoEnvio(sent.trackId, EMISOR);
    while (!estado.final && seen.length < 10) {
      seen.push(estado.estado);
      simClock.advance(STATUS_DELAY_MS / 4);
      estado = await sii.boleta.getEstadoEnvio(sent.trackId, EMISOR);
    }
    expect(seen).toEqual(['REC', 'SOK', 'FOK', 'CRT']);
    expect(estado).toMatchObject({ estado: 'EPR', final: true, outcome: 'accepted', detalle: [], rutEmisor: EMISOR });
    expect([...estado.counts].sort((a, b) => a.tipoDte - b.tipoDte)).toEqual([
      { tipoDte: 39, informados: 2, aceptados: 2, rechazados: 0, reparos: 0 },
      { tipoDte: 41, informados: 1, aceptados: 1, rechazados: 0, reparos: 0 },
    ]);

    const q = { ...keyOf(b39a) };
    expect(await sii.boleta.getEstadoBoleta(q)).toMatchObject({ estado: 'DOK', recibido: true });
    expect(await sii.boleta.getEstadoBoleta({ ...q, montoTotal: q.montoTotal + 10 })).toMatchObject({ estado: 'DNK', recibido: true });
    expect(await sii.boleta.getEstadoBoleta({ ...q, folio: 450 })).toMatchObject({ estado: 'FAU', recibido: false });
    // Boletas are visible to QueryEstDte too.
    expect(await sii.getEstDte(keyOf(b41))).toMatchObject({ estado: 'DOK' });
  });
});

describe('RCV registro de aceptación/reclamo', () => {
  it('ACD on an accepted 33 → 0; then RCD → 11 (cannot claim an accepted DTE); the history lists ACD; reception date; cedible 23', async () => {
    const doc = { rutEmisor: EMISOR, tipoDoc: 33, folio: accepted.f33a.key.folio };
    expect(await sii.rcv.consultarDocDteCedible(doc)).toMatchObject({ codResp: 22 }); // no events yet, window open
    expect(await sii.rcv.listarEventosHistDoc(doc)).toMatchObject({ codResp: 16 });

    const acd = await sii.rcv.ingresarAceptacionReclamoDoc({ ...doc, accionDoc: 'ACD' });
    expect(acd.codResp).toBe(0);
    expect(describeCode(String(acd.codResp), 'rcv')?.outcome).toBe('ok');

    const rcd = await sii.rcv.ingresarAceptacionReclamoDoc({ ...doc, accionDoc: 'RCD' });
    expect(rcd.codResp).toBe(11);
    expect(describeCode('11', 'rcv')?.meaningEn).toMatch(/cannot claim an accepted/i);
    // The same event again: "Evento registrado previamente" (what makes a retried registration safe).
    expect((await sii.rcv.ingresarAceptacionReclamoDoc({ ...doc, accionDoc: 'ACD' })).codResp).toBe(7);

    const hist = await sii.rcv.listarEventosHistDoc(doc);
    expect(hist.codResp).toBe(15);
    expect(hist.listaEventosDoc).toHaveLength(1);
    expect(hist.listaEventosDoc?.[0]).toMatchObject({ codEvento: 'ACD', rutResponsable: cert.rut.split('-')[0], dvResponsable: cert.rut.split('-')[1] });
    expect(hist.listaEventosDoc?.[0]?.fechaEvento).toMatch(/^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}$/);

    const fecha = await sii.rcv.consultarFechaRecepcionSii(doc);
    expect(fecha.fechaRecepcion).toMatch(/^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}$/);
    const [dd, mm, yyyy] = (fecha.fechaRecepcion as string).slice(0, 10).split('-');
    expect(`${yyyy}-${mm}-${dd}`).toBe(accepted.f33a.dte.encabezado.idDoc.fchEmis);

    expect(await sii.rcv.consultarDocDteCedible(doc)).toMatchObject({ codResp: 23 });
  });

  it('documents the SII does not have, and types the RCV does not take, get the SII\'s codes', async () => {
    expect(await sii.rcv.ingresarAceptacionReclamoDoc({ rutEmisor: EMISOR, tipoDoc: 33, folio: 498, accionDoc: 'ACD' })).toMatchObject({ codResp: 18 });
    expect(await sii.rcv.consultarFechaRecepcionSii({ rutEmisor: EMISOR, tipoDoc: 33, folio: 498 })).toEqual({});
    expect(await sii.rcv.ingresarAceptacionReclamoDoc({ rutEmisor: EMISOR, tipoDoc: 39, folio: 1, accionDoc: 'ACD' })).toMatchObject({ codResp: 3 });
  });
});

describe('faults (POST /sim/faults)', () => {
  /** A client on real time that records transport events. */
  function faultClient(extra: Partial<SiiClientOptions> = {}): { c: SiiClient; events: TransportEvent[] } {
    const events: TransportEvent[] = [];
    return { c: client({ timeoutMs: 300, onEvent: (e) => events.push(e), ...extra }), events };
  }
  const retries = (events: TransportEvent[], op: string) => events.filter((e) => e.type === 'retry' && e.operation === op);

  it('a 5xx once on a query → retried, succeeds', async () => {
    const { c, events } = faultClient();
    await c.getToken();
    const [rule] = await addFaults([{ kind: 'http-error', path: '/DTEWS/QueryEstDte.jws', status: 503, count: 1 }]);
    expect(await c.getEstDte(keyOf(accepted.f34))).toMatchObject({ estado: 'DOK' });
    expect(retries(events, 'QueryEstDte')).toHaveLength(1);
    expect(retries(events, 'QueryEstDte')[0]).toMatchObject({ reason: expect.stringMatching(/HTTP 503/) });
    expect((await simJson('/sim/faults')).data.find((f: Loose) => f.id === rule.id)).toBeUndefined(); // used up
  });

  it('an HTML maintenance page once on upload → retried (nothing was processed): exactly one envío recorded', async () => {
    const { c, events } = faultClient();
    await c.getToken();
    await addFaults([{ kind: 'maintenance', path: 'DTEUpload', count: 1 }]);
    const before = await envioCount();
    const r = await c.sendEnvelope(envelope([emit(33, nextFolio(33))]), { rutEmisor: EMISOR });
    expect(r).toMatchObject({ kind: 'received', attempts: 2 });
    expect(retries(events, 'DTEUpload')[0]).toMatchObject({ reason: expect.stringMatching(/HTML/) });
    expect(await envioCount()).toBe(before + 1);
    if (r.kind === 'received') expect(sim.state.envios.get(r.trackId)?.intentos).toBe(1);
  });

  it('latency beyond the client timeout once → retried, succeeds; persistent → ERR_SII_TIMEOUT when the retry budget is spent', async () => {
    const { c, events } = faultClient({ timeoutMs: 250, maxAttempts: 6, retryBudgetMs: 600, breakerThreshold: 100 });
    await c.getToken();
    await addFaults([{ kind: 'latency', path: '/DTEWS/QueryEstUp.jws', latencyMs: 800, count: 1 }]);
    expect(await c.getEstUp(accepted.trackId, EMISOR)).toMatchObject({ estado: 'EPR' });
    expect(retries(events, 'QueryEstUp')).toHaveLength(1);
    expect(retries(events, 'QueryEstUp')[0]).toMatchObject({ reason: expect.stringMatching(/no answer within 250 ms/) });

    await addFaults([{ kind: 'latency', path: '/DTEWS/QueryEstUp.jws', latencyMs: 800 }]);
    const started = Date.now();
    const err = (await c.getEstUp(accepted.trackId, EMISOR).catch((e: unknown) => e)) as SiiError;
    expect(isSiiError(err)).toBe(true);
    expect(err.code).toBe('ERR_SII_TIMEOUT');
    expect(err.outcomeUnknown).toBe(false);
    // Retried, and stopped by the 600 ms budget before the 6 attempts allowed.
    expect(err.attempts).toBeGreaterThanOrEqual(2);
    expect(err.attempts).toBeLessThan(6);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('persistent 5xx → ERR_SII_UNAVAILABLE with the attempts; the breaker opens and then fails fast without sending', async () => {
    const { c, events } = faultClient({ maxAttempts: 2, breakerThreshold: 3, breakerHalfOpenAfterMs: 60_000 });
    await c.getToken();
    const [rule] = await addFaults([{ kind: 'http-error', path: '/DTEWS/QueryEstUp.jws', status: 500 }]);

    await expect(c.getEstUp(accepted.trackId, EMISOR)).rejects.toMatchObject({ code: 'ERR_SII_UNAVAILABLE', attempts: 2, httpStatus: 500, operation: 'QueryEstUp' });
    expect(await faultHits(rule.id)).toBe(2);
    // The third consecutive failure opens the circuit: the call stops there.
    await expect(c.getEstUp(accepted.trackId, EMISOR)).rejects.toMatchObject({ code: 'ERR_SII_CIRCUIT_OPEN', attempts: 1 });
    expect(await faultHits(rule.id)).toBe(3);
    expect(events).toContainEqual(expect.objectContaining({ type: 'breaker', state: 'open' }));
    expect(c.transport.breakerState(base)).toBe('open');
    // Open: fails at once, nothing reaches the SII — on any service of that host.
    await expect(c.getEstUp(accepted.trackId, EMISOR)).rejects.toMatchObject({ code: 'ERR_SII_CIRCUIT_OPEN', attempts: 0 });
    await expect(c.getEstDte(keyOf(accepted.f34))).rejects.toMatchObject({ code: 'ERR_SII_CIRCUIT_OPEN', attempts: 0 });
    expect(await faultHits(rule.id)).toBe(3);
  });

  it('accepted but the answer was lost → sendEnvelope says unknown; the simulator did record the envío', async () => {
    const { c } = faultClient();
    await c.getToken();
    await addFaults([{ kind: 'drop-response', path: 'DTEUpload', count: 1 }]);
    const before = await envioCount();
    const bytes = envelope([emit(33, nextFolio(33))]);
    const r = await c.sendEnvelope(bytes, { rutEmisor: EMISOR });
    expect(r).toMatchObject({ kind: 'unknown', reason: 'connection_lost', attempts: 1 });
    if (r.kind === 'unknown') expect(r.error.outcomeUnknown).toBe(true);
    expect(await envioCount()).toBe(before + 1);
  });

  it('answer lost → deliverEnvelope finds the document with getEstDte and returns recorded; exactly ONE envío', async () => {
    await addFaults([{ kind: 'drop-response', path: 'DTEUpload', count: 1 }]);
    const d = emit(33, nextFolio(33));
    const bytes = envelope([d, emit(33, nextFolio(33))]);
    const before = (await simJson('/sim/envios')).data.map((e: Loose) => e.trackId);
    // Review takes 4 s (simulated): FAU at 0, 1 and 3 s after the upload, DOK at 7 s.
    const r = await sii.deliverEnvelope(bytes, { statusWaitMs: 60_000, pollMs: 1_000 });
    expect(r).toMatchObject({ kind: 'recorded', uploads: 1, statusChecks: 4, estadoDte: { estado: 'DOK', recibido: true }, lost: { kind: 'unknown' } });
    if (r.kind !== 'recorded') throw new Error('unreachable');
    expect(r.document).toEqual(keyOf(d));

    const after = (await simJson('/sim/envios')).data as Loose[];
    const added = after.filter((e) => !before.includes(e.trackId));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ intentos: 1, estado: 'EPR' });
    expect((await envioDetail(added[0].trackId)).estadistica).toEqual([{ tipoDte: 33, informados: 2, aceptados: 2, rechazados: 0, reparos: 0 }]);
  });

  it('the upload never arrived (held, then the connection closed) → FAU throughout the wait → uploaded once more → received; one envío', async () => {
    await addFaults([{ kind: 'timeout', path: 'DTEUpload', holdMs: 50, count: 1 }]);
    const d = emit(33, nextFolio(33));
    const before = await envioCount();
    const r = await sii.deliverEnvelope(envelope([d]), { statusWaitMs: 10_000, pollMs: 1_000 });
    expect(r).toMatchObject({ kind: 'received', uploads: 2, statusChecks: 5, lost: { kind: 'unknown' } });
    expect(await envioCount()).toBe(before + 1);
    if (r.kind === 'received') expect(sim.state.envios.get(r.trackId)?.intentos).toBe(1);
  });

  it('answer lost for an envelope the SII rejected (QueryEstDte can never see it) → the re-upload gets STATUS 99 with the first track id', async () => {
    await addFaults([{ kind: 'drop-response', path: 'DTEUpload', count: 1 }]);
    const d = emit(33, nextFolio(33));
    const bytes = envelope([d], { rutReceptor: d.dte.encabezado.receptor.rutRecep }); // → RCT
    const before = (await simJson('/sim/envios')).data.map((e: Loose) => e.trackId);
    const r = await sii.deliverEnvelope(bytes, { statusWaitMs: 10_000, pollMs: 1_000 });
    const added = ((await simJson('/sim/envios')).data as Loose[]).filter((e) => !before.includes(e.trackId));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ estado: 'RCT', intentos: 2 });
    expect(r).toMatchObject({ kind: 'duplicate', uploads: 2 });
    if (r.kind === 'duplicate') expect(Number(r.trackId)).toBe(Number(added[0].trackId));
  });

  it('a token that expires mid-session → the client gets a new one and the call succeeds', async () => {
    const { c } = faultClient();
    const old = await c.getToken();
    await addFaults([{ kind: 'expire-token', path: '/DTEWS/QueryEstDte.jws', count: 1 }]);
    expect(await c.getEstDte(keyOf(accepted.f34))).toMatchObject({ estado: 'DOK' });
    const fresh = await c.getToken();
    expect(fresh).not.toBe(old);
    expect(sim.state.tokens.get(old)?.expiresAt).toBeLessThanOrEqual(simClock.now());
    // The old token stays dead: the next call uses the new one without another renewal.
    const tokens = sim.state.tokens.size;
    expect(await c.getEstUp(accepted.trackId, EMISOR)).toMatchObject({ estado: 'EPR' });
    expect(sim.state.tokens.size).toBe(tokens);
  });

  it('a token that expires mid-session on DTEUpload (STATUS 5), the boleta REST (HTTP 401) and the RCV (HTTP 401) → renewed, succeeds', async () => {
    const { c } = faultClient();
    const dtews = await c.getToken();
    const boleta = await c.boleta.getToken();
    await addFaults([
      { kind: 'expire-token', path: 'DTEUpload', count: 1 },
      { kind: 'expire-token', path: 'boleta.electronica.envio', method: 'POST', count: 1 },
      { kind: 'expire-token', path: 'boleta.electronica.envio/', method: 'GET', count: 1 },
      { kind: 'expire-token', path: 'registroreclamodteservice', count: 1 },
    ]);
    const before = await envioCount();
    expect(await c.sendEnvelope(envelope([emit(33, nextFolio(33))]), { rutEmisor: EMISOR })).toMatchObject({ kind: 'received' });
    expect(await envioCount()).toBe(before + 1); // the refused upload was not processed
    const sent = await c.boleta.sendEnvelope(envelope([emit(39, nextFolio(39))]), { rutEmisor: EMISOR });
    expect(sent.kind).toBe('received');
    if (sent.kind !== 'received') throw new Error('unreachable');
    expect(await envioCount()).toBe(before + 2);
    expect(await c.boleta.getEstadoEnvio(sent.trackId, EMISOR)).toMatchObject({ trackId: sent.trackId });
    expect(await c.rcv.listarEventosHistDoc({ rutEmisor: EMISOR, tipoDoc: 34, folio: accepted.f34.key.folio })).toMatchObject({ codResp: 16 });
    expect((await simJson('/sim/faults')).data).toEqual([]); // every fault fired
    expect(await c.getToken()).not.toBe(dtews);
    expect(await c.boleta.getToken()).not.toBe(boleta);
  });
});
