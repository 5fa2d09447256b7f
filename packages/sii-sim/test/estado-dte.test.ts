/**
 * QueryEstDte answers consistent with what was uploaded: DOK when the data match, DNK when the
 * amount, date or receptor differ, FAU for an authorized folio never received (or rejected), FNA
 * for a folio no CAF covers, and the notes an accepted NC writes on the invoice it references.
 */
import type { Caf } from '@timbre/dte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, ManualClock, type Simulator } from '../src/index.js';
import { EMISOR, envelope, emit, estDte, example, getToken, RECEPTOR, signers, simCaf, T0, tag, upload } from './helpers.js';

let sim: Simulator;
let base: string;
let clock: ManualClock;
let token: string;
let cafs: Caf[];
let nc: Caf[];
const MONTO = 1129906; // examples/dte/33.json

beforeAll(async () => {
  clock = new ManualClock(T0);
  sim = createSimulator({ clock, statusDelayMs: 2000 });
  base = await sim.start(0);
  cafs = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33, desde: 1, hasta: 50 })];
  nc = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 61, desde: 1, hasta: 50 })];
  token = await getToken(base, signers().cert);
  const up = await upload(base, token, envelope([emit(example(33), 1, cafs), emit(example(33), 2, cafs), emit(example(33), 3, cafs)]));
  expect(up.status).toBe(0);
});
afterAll(() => sim.close());

const q = (folio: number, o: Partial<{ monto: number; fecha: string; rutReceptor: string; tipo: number; rutEmisor: string }> = {}) =>
  estDte(base, token, { rutEmisor: EMISOR, rutReceptor: RECEPTOR, tipo: 33, folio, fecha: '27112026', monto: MONTO, ...o });

describe('QueryEstDte', () => {
  it('does not know a document before its envío is processed (FAU), then DOK', async () => {
    expect(tag(await q(1), 'ESTADO')).toBe('FAU');
    clock.advance(2000);
    const r = await q(1);
    expect(tag(r, 'ESTADO')).toBe('DOK');
    expect(tag(r, 'ERR_CODE')).toBe('0');
    expect(tag(r, 'GLOSA_ESTADO')).toBe('Documento Recibido por el SII. Datos Coinciden con los Registrados');
  });

  it('DNK when the amount, the date or the receptor differ', async () => {
    expect(tag(await q(1, { monto: MONTO + 1 }), 'ESTADO')).toBe('DNK');
    expect(tag(await q(1, { fecha: '26112026' }), 'ESTADO')).toBe('DNK');
    expect(tag(await q(1, { rutReceptor: '96874030-K' }), 'ESTADO')).toBe('DNK');
    const wrongFormat = await q(1, { fecha: '2026-11-27' });
    expect(tag(wrongFormat, 'ESTADO')).toBe('DNK');
    expect(tag(wrongFormat, 'GLOSA_ERR')).toMatch(/DDMMAAAA/);
  });

  it('FAU for an authorized folio never received, FNA for a folio no CAF covers', async () => {
    const fau = await q(40);
    expect(tag(fau, 'ESTADO')).toBe('FAU');
    expect(tag(fau, 'ERR_CODE')).toBe('3');
    const fna = await q(900);
    expect(tag(fna, 'ESTADO')).toBe('FNA');
    expect(tag(fna, 'ERR_CODE')).toBe('4');
  });

  it('FAU for a document the SII rejected', async () => {
    const d = emit(example(33), 20, cafs);
    const altered = d.xml.replace('<RznSocRecep>COMERCIAL', '<RznSocRecep>KOMERCIAL');
    await upload(base, token, envelope([{ xml: altered, tipoDte: 33 }]));
    clock.advance(2000);
    expect(tag(await q(20), 'ESTADO')).toBe('FAU');
  });

  it('MMC once an accepted NC corrects its amounts, ANC once one annuls it', async () => {
    const corrige = example(61);
    corrige.referencias[0].folio = '2';
    corrige.referencias[0].codigo = 3;
    const anula = example(61);
    anula.referencias[0].folio = '3';
    anula.referencias[0].codigo = 1;
    const up = await upload(base, token, envelope([emit(corrige, 1, nc), emit(anula, 2, nc)]));
    expect(up.status).toBe(0);
    clock.advance(2000);
    const mmc = await q(2);
    expect(tag(mmc, 'ESTADO')).toBe('MMC');
    expect(tag(mmc, 'ERR_CODE')).toBe('13');
    expect(tag(await q(3), 'ESTADO')).toBe('ANC');
    expect(tag(await q(1), 'ESTADO')).toBe('DOK');
  });

  it('answers ESTADO -2 for unreadable parameters and 003 for an unknown token', async () => {
    expect(tag(await q(1, { rutEmisor: '76086428-0' }), 'ESTADO')).toBe('-2');
    expect(tag(await estDte(base, 'NOPE', { rutEmisor: EMISOR, rutReceptor: RECEPTOR, tipo: 33, folio: 1, fecha: '27112026', monto: MONTO }), 'ESTADO')).toBe('003');
  });
});
