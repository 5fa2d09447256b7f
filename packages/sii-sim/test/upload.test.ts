/**
 * DTEUpload end to end over real HTTP: the accepted path through the status timeline, and every
 * cause of rejection answered with the SII's STATUS, envelope state and per-document code.
 */
import type { Caf } from '@timbre/dte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, ManualClock, type Simulator } from '../src/index.js';
import {
  EMISOR,
  envelope,
  envioDetail,
  emit,
  estUp,
  example,
  getToken,
  json,
  signers,
  simCaf,
  STAMP,
  T0,
  tag,
  upload,
  type Loose,
} from './helpers.js';

let sim: Simulator;
let base: string;
let clock: ManualClock;
let token: string;
let cafs: Caf[];
let folio = 10;
const nextFolio = () => folio++;

beforeAll(async () => {
  clock = new ManualClock(T0);
  sim = createSimulator({ clock, statusDelayMs: 4000, seed: 'upload-tests' });
  base = await sim.start(0);
  cafs = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33, desde: 1, hasta: 1000 })];
  token = await getToken(base, signers().cert);
});
afterAll(() => sim.close());

/** Upload, let the timeline run to its end, and return the final poll and the e-mail detail. */
async function process(file: Buffer): Promise<{ trackId: string; poll: string; detail: Loose }> {
  const up = await upload(base, token, file);
  expect(up.status, up.res.text).toBe(0);
  const trackId = up.trackId as string;
  clock.advance(4000);
  return { trackId, poll: await estUp(base, token, EMISOR, trackId), detail: await envioDetail(base, trackId) };
}

const codesOf = (detail: Loose, i = 0): string[] => (detail.documentos[i]?.errores ?? []).map((e: Loose) => e.code);
const envelopeCodes = (detail: Loose): string[] => detail.errores.map((e: Loose) => e.code);

describe('accepted envelope', () => {
  it('answers STATUS 0 with a 10-digit track id and moves REC → SOK → FOK → CRT → EPR with the counts', async () => {
    const up = await upload(base, token, envelope([emit(example(33), 1, cafs), emit(example(33), 2, cafs)]));
    expect(up.res.status).toBe(200);
    expect(up.status).toBe(0);
    expect(up.trackId).toMatch(/^\d{10}$/);
    expect(tag(up.res.text, 'RUTSENDER')).toBe(signers().cert.rut);
    expect(tag(up.res.text, 'RUTCOMPANY')).toBe(EMISOR);
    expect(tag(up.res.text, 'TIMESTAMP')).toBe('2026-11-27 10:00:00');
    const trackId = up.trackId as string;

    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const poll = await estUp(base, token, EMISOR, trackId);
      seen.push(tag(poll, 'ESTADO') as string);
      if (i < 4) expect(tag(poll, 'INFORMADOS')).toBeUndefined();
      clock.advance(1000);
    }
    expect(seen).toEqual(['REC', 'SOK', 'FOK', 'CRT', 'EPR']);
    const epr = await estUp(base, token, EMISOR, trackId);
    expect(tag(epr, 'GLOSA')).toBe('Envio Procesado');
    expect(tag(epr, 'TRACKID')).toBe(trackId);
    expect(tag(epr, 'TIPO_DOCTO')).toBe('33');
    expect(tag(epr, 'INFORMADOS')).toBe('2');
    expect(tag(epr, 'ACEPTADOS')).toBe('2');
    expect(tag(epr, 'RECHAZADOS')).toBe('0');
    expect(tag(epr, 'REPAROS')).toBe('0');
    expect(tag(epr, 'NUM_ATENCION')).toMatch(/^\d+ \( \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\)$/);

    const detail = await envioDetail(base, trackId);
    expect(detail).toMatchObject({ trackId, estado: 'EPR', procesado: true, rutEmisor: EMISOR, estadistica: [{ tipoDte: 33, informados: 2, aceptados: 2, rechazados: 0, reparos: 0 }] });
    expect(detail.documentos.map((d: Loose) => [d.folio, d.estado])).toEqual([
      [1, 'ACEPTADO'],
      [2, 'ACEPTADO'],
    ]);
  });

  it('finds an envelope by track id even when the client dropped its leading zero', async () => {
    const s = createSimulator({ seed: 7, statusDelayMs: 0 });
    const b = await s.start(0);
    try {
      const c = [await simCaf(b, { rutEmisor: EMISOR, tipoDte: 33, fechaAutorizacion: '2026-11-01' })];
      const t = await getToken(b, signers().cert);
      let trackId = '';
      for (let f = 1; f <= 40 && !trackId.startsWith('0'); f++) {
        const up = await upload(b, t, envelope([emit(example(33), f, c)]));
        trackId = up.trackId as string;
      }
      expect(trackId.startsWith('0')).toBe(true);
      const poll = await estUp(b, t, EMISOR, String(Number(trackId)));
      expect(tag(poll, 'ESTADO')).not.toBe('-11');
      expect(tag(poll, 'TRACKID')).toBe(trackId);
    } finally {
      await s.close();
    }
  });
});

describe('per-document rejections inside an EPR envelope', () => {
  it('counts one accepted and one rejected document (folio outside its CAF → CAF-3-902)', async () => {
    const small = await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33, desde: 2001, hasta: 2010 });
    // The model says the CAF reaches 2020, the CAF embedded in the TED (signed by the SII) says 2010.
    const outside = emit(example(33), 2015, [{ ...small, hasta: 2020 }]);
    const { poll, detail } = await process(envelope([emit(example(33), nextFolio(), cafs), outside]));
    expect(tag(poll, 'ESTADO')).toBe('EPR');
    expect([tag(poll, 'INFORMADOS'), tag(poll, 'ACEPTADOS'), tag(poll, 'RECHAZADOS'), tag(poll, 'REPAROS')]).toEqual(['2', '1', '1', '0']);
    expect(detail.documentos[0].estado).toBe('ACEPTADO');
    expect(detail.documentos[1]).toMatchObject({ folio: 2015, estado: 'RECHAZADO' });
    expect(codesOf(detail, 1)).toContain('CAF-3-902');
  });

  it('rejects a document whose CAF is not signed by a trusted SII key (CAF-3-901)', async () => {
    const { poll, detail } = await process(envelope([emit(example(33), 3001, signers().fixtureCafs)]));
    expect(tag(poll, 'RECHAZADOS')).toBe('1');
    expect(codesOf(detail)).toContain('CAF-3-901');
  });

  it('accepts the same CAF once its key is configured as trusted', async () => {
    const s = createSimulator({ clock, statusDelayMs: 0, trustedKeys: [signers().fixtureSii] });
    const b = await s.start(0);
    try {
      const t = await getToken(b, signers().cert);
      const up = await upload(b, t, envelope([emit(example(33), 3002, signers().fixtureCafs)]));
      expect(tag(await estUp(b, t, EMISOR, up.trackId as string), 'ACEPTADOS')).toBe('1');
    } finally {
      await s.close();
    }
  });

  it('rejects a folio reused with other content (DTE-3-101) and a repeated document (DTE-3-100)', async () => {
    const f = nextFolio();
    const first = emit(example(33), f, cafs);
    expect(tag((await process(envelope([first]))).poll, 'ACEPTADOS')).toBe('1');

    const changed = example(33);
    changed.items[1].cantidad = 4;
    delete changed.totales;
    const reused = await process(envelope([emit(changed, f, cafs)]));
    expect(tag(reused.poll, 'RECHAZADOS')).toBe('1');
    expect(codesOf(reused.detail)).toContain('DTE-3-101');

    // The very same document again, in another envelope (other bytes, so not STATUS 99).
    const again = await process(envelope([first], { caratula: { tmstFirmaEnv: '2026-11-27T10:20:00' } }));
    expect(tag(again.poll, 'RECHAZADOS')).toBe('1');
    expect(codesOf(again.detail)).toEqual(['DTE-3-100']);
  });

  it('rejects a document issued after its CAF expired (CAF-3-517)', async () => {
    const old = await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33, desde: 4001, hasta: 4010, fechaAutorizacion: '2026-04-01' });
    // Our emitter refuses expired CAFs; pretend the CAF is recent so the document gets built.
    const d = emit(example(33), 4001, [{ ...old, fechaAutorizacion: '2026-11-01' }]);
    const { detail } = await process(envelope([d]));
    expect(detail.documentos[0].estado).toBe('RECHAZADO');
    expect(codesOf(detail)).toContain('CAF-3-517');
  });

  it('gives a reparo when the timbre (TSTED) predates the CAF authorization (TED-1-646)', async () => {
    const future = await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33, desde: 5001, hasta: 5010, fechaAutorizacion: '2026-11-28' });
    // Dated the day of the CAF, stamped the day before (our stamper refuses that: pretend an older FA).
    const d = emit(example(33), 5001, [{ ...future, fechaAutorizacion: '2026-11-01' }], { fchEmis: '2026-11-28', now: STAMP });
    const { poll, detail } = await process(envelope([d]));
    expect([tag(poll, 'ACEPTADOS'), tag(poll, 'REPAROS'), tag(poll, 'RECHAZADOS')]).toEqual(['0', '1', '0']);
    expect(detail.documentos[0].estado).toBe('REPARO');
    expect(codesOf(detail)).toEqual(['TED-1-646']);
  });

  it('rejects a document dated before its CAF authorization (HED-3-305)', async () => {
    const future = await simCaf(base, { rutEmisor: EMISOR, tipoDte: 33, desde: 5011, hasta: 5020, fechaAutorizacion: '2026-11-28' });
    const d = emit(example(33), 5011, [{ ...future, fechaAutorizacion: '2026-11-01' }]);
    const { detail } = await process(envelope([d]));
    expect(detail.documentos[0].estado).toBe('RECHAZADO');
    expect(codesOf(detail)).toContain('HED-3-305');
  });

  it('rejects a DTE altered after signing, inside a correctly signed envelope (DTE-3-505)', async () => {
    const d = emit(example(33), nextFolio(), cafs);
    const altered = d.xml.replace('<RznSocRecep>COMERCIAL', '<RznSocRecep>KOMERCIAL');
    expect(altered).not.toBe(d.xml);
    const { poll, detail } = await process(envelope([{ xml: altered, tipoDte: 33 }]));
    expect(tag(poll, 'ESTADO')).toBe('EPR');
    expect(tag(poll, 'RECHAZADOS')).toBe('1');
    expect(codesOf(detail)).toContain('DTE-3-505');
  });

  it('rejects an NC that references an invoice the SII never received (REF-3-750)', async () => {
    const ncCafs = [await simCaf(base, { rutEmisor: EMISOR, tipoDte: 61 })];
    const { detail } = await process(envelope([emit(example(61), 1, ncCafs)]));
    expect(codesOf(detail)).toContain('REF-3-750');
  });

  it('refuses documents signed by someone the company has not authorized (ENV-3-6)', async () => {
    const s = createSimulator({ clock, statusDelayMs: 0, companies: { [EMISOR]: { authorizedSigners: ['11111111-1'] } } });
    const b = await s.start(0);
    try {
      const c = [await simCaf(b, { rutEmisor: EMISOR, tipoDte: 33 })];
      const other = signers().other;
      const t = await getToken(b, other);
      // Sent (and the envelope signed) by the authorized person, the DTE signed by another.
      const up = await upload(b, t, envelope([emit(example(33), 1, c)], { cert: other }), { rutSender: other.rut });
      expect(up.status).toBe(0);
      const detail = await envioDetail(b, up.trackId as string);
      expect(codesOf(detail)).toContain('ENV-3-6');
    } finally {
      await s.close();
    }
  });
});

describe('whole-envelope rejections', () => {
  it('one byte changed after signing → RFR (the envelope signature no longer verifies)', async () => {
    const bytes = envelope([emit(example(33), nextFolio(), cafs)]);
    const at = bytes.indexOf(Buffer.from('<MntTotal>')) + '<MntTotal>'.length;
    const tampered = Buffer.from(bytes);
    tampered[at] = tampered[at] === 0x39 ? 0x38 : 0x39;
    const { trackId, poll, detail } = await process(tampered);
    expect(tag(poll, 'ESTADO')).toBe('RFR');
    expect(tag(poll, 'GLOSA')).toBe('Rechazado por Error en Firma');
    expect(tag(poll, 'INFORMADOS')).toBeUndefined();
    expect(envelopeCodes(detail)).toContain('ENV-3-901');
    expect(detail.documentos).toEqual([]);
    // The documents of a rejected envelope are not registered: the folio is still free.
    expect(sim.state.envios.get(trackId)?.final).toBe('RFR');
  });

  it('RFR appears at the signature step of the timeline, after SOK', async () => {
    const bytes = Buffer.from(envelope([emit(example(33), nextFolio(), cafs)]).toString('latin1').replace('<NroResol>0</NroResol>', '<NroResol>1</NroResol>'), 'latin1');
    const up = await upload(base, token, bytes);
    const states: string[] = [];
    for (let i = 0; i < 4; i++) {
      states.push(tag(await estUp(base, token, EMISOR, up.trackId as string), 'ESTADO') as string);
      clock.advance(1000);
    }
    expect(states).toEqual(['REC', 'SOK', 'RFR', 'RFR']);
  });

  it('RutReceptor other than 60803000-K → RCT with CRT-3-18', async () => {
    const { poll, detail } = await process(envelope([emit(example(33), nextFolio(), cafs)], { caratula: { rutReceptor: '77894717-K' } }));
    expect(tag(poll, 'ESTADO')).toBe('RCT');
    expect(tag(poll, 'GLOSA')).toBe('Rechazado por Error en Caratula');
    expect(envelopeCodes(detail)).toEqual(['CRT-3-18']);
  });

  it('RutEmisor of the carátula different from the upload company → RCT', async () => {
    const { poll, detail } = await process(envelope([emit(example(33), nextFolio(), cafs)], { caratula: { rutEmisor: '96874030-K' } }));
    expect(tag(poll, 'ESTADO')).toBe('RCT');
    expect(envelopeCodes(detail)).toEqual(expect.arrayContaining(['CRT-3-901', 'CRT-3-905']));
  });

  it('RutEnvia different from the sender and the envelope signer → RCT', async () => {
    const { poll, detail } = await process(envelope([emit(example(33), nextFolio(), cafs)], { caratula: { rutEnvia: '11111111-1' } }));
    expect(tag(poll, 'ESTADO')).toBe('RCT');
    expect(envelopeCodes(detail)).toEqual(expect.arrayContaining(['CRT-3-902', 'CRT-3-903']));
  });

  it('an EnvioDTE without carátula fields → RSC (schema), whatever the signature', async () => {
    const bytes = Buffer.from(envelope([emit(example(33), nextFolio(), cafs)]).toString('latin1').replace(/<FchResol>[^<]*<\/FchResol>\n/, ''), 'latin1');
    const { poll, detail } = await process(bytes);
    expect(tag(poll, 'ESTADO')).toBe('RSC');
    expect(envelopeCodes(detail)).toContain('ENV-3-0');
    expect(detail.notas.join(' ')).toMatch(/XSD validation skipped/);
  });
});

describe('refused at upload (STATUS)', () => {
  it('no token → STATUS 5, no track id', async () => {
    const up = await upload(base, undefined, envelope([emit(example(33), nextFolio(), cafs)]));
    expect(up.status).toBe(5);
    expect(up.trackId).toBeUndefined();
  });

  it('an unknown token, and an expired one → STATUS 5', async () => {
    const bytes = envelope([emit(example(33), nextFolio(), cafs)]);
    expect((await upload(base, 'NOSUCHTOKEN00', bytes)).status).toBe(5);
    const s = createSimulator({ clock, tokenTtlMs: 60_000, statusDelayMs: 0 });
    const b = await s.start(0);
    try {
      const t = await getToken(b, signers().cert);
      clock.advance(61_000);
      expect((await upload(b, t, bytes)).status).toBe(5);
    } finally {
      await s.close();
    }
  });

  it('rutSender other than the authenticated person → STATUS 1', async () => {
    const up = await upload(base, token, envelope([emit(example(33), nextFolio(), cafs)]), { rutSender: '11111111-1' });
    expect(up.status).toBe(1);
  });

  it('a company with an authorized-signer list refuses others → STATUS 1', async () => {
    await json(base, `/sim/companies/${EMISOR}`, { authorizedSigners: ['11111111-1'] }, 'PUT');
    try {
      const up = await upload(base, token, envelope([emit(example(33), nextFolio(), cafs)]));
      expect(up.status).toBe(1);
    } finally {
      await json(base, `/sim/companies/${EMISOR}`, {}, 'PUT');
    }
    expect((await upload(base, token, envelope([emit(example(33), nextFolio(), cafs)]))).status).toBe(0);
  });

  it('a browser User-Agent gets an HTML page, not RECEPCIONDTE', async () => {
    const up = await upload(base, token, envelope([emit(example(33), nextFolio(), cafs)]), { ua: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0' });
    expect(up.res.status).toBe(200);
    expect(up.res.headers['content-type']).toMatch(/^text\/html/);
    expect(up.res.text).toMatch(/<html>/i);
    expect(up.res.text).not.toContain('RECEPCIONDTE');
  });

  it('the same file again within 900 s → STATUS 99 naming the first track id; accepted again after the window', async () => {
    const bytes = envelope([emit(example(33), nextFolio(), cafs)]);
    const first = await upload(base, token, bytes);
    expect(first.status).toBe(0);
    clock.advance(10_000);
    const dup = await upload(base, token, bytes);
    expect(dup.status).toBe(99);
    expect(dup.trackId).toBeUndefined();
    expect(dup.errors[0]).toBe(`Archivo ya fue enviado 2 veces con Trackid ${Number(first.trackId)}. Debe esperar 900 segundos antes de reintentar`);
    expect((await upload(base, token, bytes)).errors[0]).toMatch(/ya fue enviado 3 veces/);
    clock.advance(901_000);
    const later = await upload(base, token, bytes);
    expect(later.status).toBe(0);
    expect(later.trackId).not.toBe(first.trackId);
  });

  it('a chunked upload larger than 4 KB arrives truncated → STATUS 3 (LPX-00007)', async () => {
    const up = await upload(base, token, envelope([emit(example(33), nextFolio(), cafs)]), { chunked: true });
    expect(up.res.status).toBe(200);
    expect(up.status).toBe(3);
    expect(up.errors[0]).toMatch(/^LPX-00007/);
  });

  it('a line longer than 4096 characters → STATUS 7 (CHR-00002)', async () => {
    const oneLine = Buffer.from(envelope([emit(example(33), nextFolio(), cafs)]).toString('latin1').replace(/\n/g, ''), 'latin1');
    const up = await upload(base, token, oneLine);
    expect(up.status).toBe(7);
    expect(up.errors).toContain('CHR-00002: Line too long');
  });

  it('something that is not XML, or not an envelope → STATUS 7', async () => {
    expect((await upload(base, token, Buffer.from('hola, no soy XML'))).status).toBe(7);
    const other = await upload(base, token, Buffer.from('<?xml version="1.0"?>\n<Libro>\n</Libro>\n'));
    expect(other.status).toBe(7);
    expect(other.errors).toContain('SCH-00001: Invalid Schema Name');
  });

  it('an empty file → STATUS 2', async () => {
    expect((await upload(base, token, Buffer.alloc(0))).status).toBe(2);
  });
});

