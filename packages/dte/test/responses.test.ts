/**
 * Commercial exchange answers (RespuestaDTE with RecepcionEnvio / ResultadoDTE, EnvioRecibos) and
 * the assessment of received envelopes. Oracles: xmllint against the SII schemas (on the
 * ISO-8859-1 bytes), xmlsec1 for every signature, and our own verifyXml.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../src/fixtures.js';
import { loadPkcs12, type Certificado } from '../src/cert.js';
import { parseCaf, type Caf } from '../src/caf.js';
import { parseDteInput, inputToDte } from '../src/input.js';
import { emitDte, toBytes, type EmittedDte } from '../src/emit.js';
import { buildEnvelope, type Caratula } from '../src/envelope.js';
import { verifyXml } from '../src/verify.js';
import { childText, findAll, parseXml } from '../src/xml/parse.js';
import { TimbreError } from '../src/errors.js';
import {
  assessReceived,
  buildEnvioRecibos,
  buildRecepcionEnvio,
  buildResultadoDte,
  DECLARACION_RECIBO,
  type EnvioRecibosInput,
  type RecepcionEnvioInput,
  type ResultadoDteInput,
} from '../src/responses.js';

const NOW = '2026-11-27T10:15:00';
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const SCHEMAS = process.env.TIMBRE_SII_SCHEMAS ?? path.join(root, '../shared/sii/schemas');
const example = (tipo: number) => JSON.parse(readFileSync(path.join(root, 'examples/dte', `${tipo}.json`), 'utf8'));
const tmp = mkdtempSync(path.join(tmpdir(), 'timbre-responses-'));

const EMISOR = '76086428-5';
const COMPANY = '77894717-K'; // receptor of examples 33, 52, 56, 61

let cert: Certificado;
let cafs: Caf[];
let certPem: string;

beforeAll(() => {
  const fx = generateFixtures({ now: new Date('2026-11-27T13:00:00Z') });
  cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T13:00:00Z') });
  cafs = fx.cafs.map((c) => parseCaf(c.xml));
  certPem = path.join(tmp, 'cert.pem');
  writeFileSync(certPem, fx.certificatePem);
});
afterAll(() => {
  if (!process.env.TIMBRE_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});

const emit = (json: unknown, folio: number): EmittedDte =>
  emitDte(inputToDte(parseDteInput(json), { folio, fchEmis: NOW.slice(0, 10) }), { cafs, signer: cert, now: NOW });

const envelope = (dtes: EmittedDte[], rutReceptor = COMPANY, fast = true): string => {
  const caratula: Caratula = { rutEmisor: EMISOR, rutEnvia: cert.rut, rutReceptor, fchResol: '2026-11-01', nroResol: 0, tmstFirmaEnv: NOW };
  return buildEnvelope({ dtes: dtes.map((d) => ({ xml: d.xml, tipoDte: d.key.tipoDte, ...(fast ? { canonical: d.canonical } : {}) })), caratula, key: cert.signingKey }).xml;
};

function file(xml: string): string {
  const f = path.join(tmp, `x-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(f, toBytes(xml));
  return f;
}

function xmllint(xml: string, xsd: string): { status: number | null; err: string } {
  const r = spawnSync('xmllint', ['--noout', '--schema', path.join(SCHEMAS, xsd), file(xml)], { encoding: 'buffer' });
  return { status: r.status, err: r.stderr.toString('latin1') };
}

function xmlsec(xml: string, ids: string[], xpath?: string): number {
  const args = ['--verify', '--trusted-pem', certPem, '--enabled-key-data', 'x509', ...ids.flatMap((i) => ['--id-attr:ID', i]), ...(xpath ? ['--node-xpath', xpath] : []), file(xml)];
  return spawnSync('xmlsec1', args, { encoding: 'utf8' }).status ?? -1;
}

function code(fn: () => unknown): { code: string; field?: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof TimbreError) return { code: e.code, ...(e.field !== undefined ? { field: e.field } : {}) };
    throw e;
  }
  return { code: 'none' };
}

const caratula = () => ({
  rutResponde: COMPANY,
  rutRecibe: EMISOR,
  idRespuesta: 42,
  nmbContacto: 'María José Peña',
  fonoContacto: '+56 2 2345 6789',
  mailContacto: 'dte@comercialnunoa.cl',
  tmstFirmaResp: NOW,
});

const recepcion = (): RecepcionEnvioInput => ({
  caratula: caratula(),
  nmbEnvio: 'EnvioDTE_76086428-5_Ñuñoa.xml',
  fchRecep: '2026-11-27T10:20:00',
  codEnvio: 7,
  envioDteId: 'SetDoc',
  digest: 'q0Fs4tCOZQ8m3j0x3Xk1nS8t6yI=',
  rutEmisor: EMISOR,
  rutReceptor: COMPANY,
  estadoRecepEnv: 0,
  documentos: [
    { tipoDte: 33, folio: 1, fchEmis: '2026-11-27', rutEmisor: EMISOR, rutRecep: COMPANY, mntTotal: 119000, estadoRecepDte: 0 },
    { tipoDte: 61, folio: 2, fchEmis: '2026-11-27', rutEmisor: EMISOR, rutRecep: COMPANY, mntTotal: 0, estadoRecepDte: 4, recepDteGlosa: 'Ya recibido en el envío 6 (ñandú)' },
  ],
});

const resultado = (): ResultadoDteInput => ({
  caratula: caratula(),
  resultados: [
    { tipoDte: 33, folio: 1, fchEmis: '2026-11-27', rutEmisor: EMISOR, rutRecep: COMPANY, mntTotal: 119000, codEnvio: 7, estadoDte: 0 },
    { tipoDte: 56, folio: 3, fchEmis: '2026-11-27', rutEmisor: EMISOR, rutRecep: COMPANY, mntTotal: 5950, codEnvio: 7, estadoDte: 2, estadoDteGlosa: 'Precio no corresponde a lo acordado', codRchDsc: -1 },
  ],
});

const recibos = (): EnvioRecibosInput => ({
  caratula: { rutResponde: COMPANY, rutRecibe: EMISOR, nmbContacto: 'María José Peña', tmstFirmaEnv: NOW },
  recibos: [33, 52].map((t, i) => ({
    tipoDoc: t,
    folio: 10 + i,
    fchEmis: '2026-11-27',
    rutEmisor: EMISOR,
    rutRecep: COMPANY,
    mntTotal: 119000 + i,
    recinto: 'Bodega Ñuñoa, Av. Irarrázaval 2950',
    rutFirma: cert.rut,
    tmstFirmaRecibo: NOW,
  })),
});

// ------------------------------------------------------------------------------------------------

describe('buildRecepcionEnvio', () => {
  it('validates against RespuestaEnvioDTE_v10.xsd, verifies with xmlsec1 and verifyXml, keeps ñ/á as Latin-1', () => {
    const xml = buildRecepcionEnvio(recepcion(), cert.signingKey);
    expect(xml.startsWith('<?xml version="1.0" encoding="ISO-8859-1"?>\n<RespuestaDTE ')).toBe(true);
    const lint = xmllint(xml, 'RespuestaEnvioDTE_v10.xsd');
    expect(lint.err).toContain('validates');
    expect(lint.status).toBe(0);
    expect(xmlsec(xml, ['Resultado'])).toBe(0);
    const v = verifyXml(toBytes(xml));
    expect(v.valid).toBe(true);
    expect(v.root).toBe('RespuestaDTE');
    expect(v.envelopeSignatures).toHaveLength(1);
    expect(v.envelopeSignatures[0]?.mode).toBe('in-context');
    // Latin-1 bytes on disk; text survives the round trip.
    const bytes = toBytes(xml);
    expect(bytes.includes(Buffer.from('Peña', 'latin1'))).toBe(true);
    expect(bytes.includes(Buffer.from('Peña', 'utf8'))).toBe(false);
    const doc = parseXml(bytes);
    expect(childText(findAll(doc.root, 'Caratula')[0]!, 'NmbContacto')).toBe('María José Peña');
    expect(findAll(doc.root, 'RecepDTEGlosa').map((e) => childText(e.parent!, 'RecepDTEGlosa'))).toEqual(['DTE Recibido OK', 'Ya recibido en el envío 6 (ñandú)']);
    expect(childText(findAll(doc.root, 'RecepcionEnvio')[0]!, 'RecepEnvGlosa')).toBe('Envio Recibido Conforme');
    expect(childText(findAll(doc.root, 'Caratula')[0]!, 'NroDetalles')).toBe('1');
    expect(childText(findAll(doc.root, 'RecepcionEnvio')[0]!, 'NroDTE')).toBe('2');
  });

  it('a one-byte change inside Resultado makes xmlsec1 and verifyXml fail', () => {
    const xml = buildRecepcionEnvio(recepcion(), cert.signingKey);
    const tampered = xml.replace('<CodEnvio>7</CodEnvio>', '<CodEnvio>8</CodEnvio>');
    expect(tampered).not.toBe(xml);
    expect(xmlsec(tampered, ['Resultado'])).not.toBe(0);
    expect(verifyXml(toBytes(tampered)).valid).toBe(false);
  });

  it('writes an envelope-level rejection without RecepcionDTE, canonical RUTs, glosas cut to 256', () => {
    const xml = buildRecepcionEnvio(
      { ...recepcion(), rutEmisor: '76.086.428-5', rutReceptor: '77894717-k', estadoRecepEnv: 91, recepEnvGlosa: `Ilegible ${'x'.repeat(400)}`, documentos: [], digest: undefined, id: 'Resp_42' },
      cert.signingKey,
    );
    expect(xmllint(xml, 'RespuestaEnvioDTE_v10.xsd').status).toBe(0);
    expect(xmlsec(xml, ['Resultado'])).toBe(0);
    const doc = parseXml(toBytes(xml));
    const re = findAll(doc.root, 'RecepcionEnvio')[0]!;
    expect(childText(re, 'RutEmisor')).toBe('76086428-5');
    expect(childText(re, 'RutReceptor')).toBe('77894717-K');
    expect(childText(re, 'RecepEnvGlosa')).toHaveLength(256);
    expect(childText(re, 'NroDTE')).toBeUndefined();
    expect(childText(re, 'Digest')).toBeUndefined();
    expect(xml).toContain('<Resultado ID="Resp_42">');
  });

  it('refuses bad input with ERR_INPUT_INVALID and the field path', () => {
    const k = cert.signingKey;
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), caratula: { ...caratula(), rutResponde: '77894717-1' } }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'caratula.rutResponde' });
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), caratula: { ...caratula(), idRespuesta: 0 } }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'caratula.idRespuesta' });
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), caratula: { ...caratula(), tmstFirmaResp: '2026-11-27 10:15' } }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'caratula.tmstFirmaResp' });
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), caratula: { ...caratula(), mailContacto: `${'a'.repeat(80)}@x.cl` } }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'caratula.mailContacto' });
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), estadoRecepEnv: 5 as never }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'estadoRecepEnv' });
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), codEnvio: 1.5 }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'codEnvio' });
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), digest: 'not base64!' }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'digest' });
    expect(code(() => buildRecepcionEnvio({ ...recepcion(), id: '1abc' }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'id' });
    const doc = (over: object) => ({ ...recepcion(), documentos: [{ ...recepcion().documentos[0]!, ...over }] });
    expect(code(() => buildRecepcionEnvio(doc({ tipoDte: 39 }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'documentos[0].tipoDte' });
    expect(code(() => buildRecepcionEnvio(doc({ fchEmis: '2026-02-30' }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'documentos[0].fchEmis' });
    expect(code(() => buildRecepcionEnvio(doc({ mntTotal: -1 }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'documentos[0].mntTotal' });
    expect(code(() => buildRecepcionEnvio(doc({ rutRecep: 'abc' }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'documentos[0].rutRecep' });
    expect(code(() => buildRecepcionEnvio(doc({ recepDteGlosa: 'ok 😀' }), k))).toEqual({ code: 'ERR_CHAR_NOT_LATIN1', field: 'documentos[0].recepDteGlosa' });
    // An echoed RUT with a wrong check digit is still answerable (RUTType only asks for the shape).
    expect(xmllint(buildRecepcionEnvio(doc({ rutEmisor: '76086428-1' }), k), 'RespuestaEnvioDTE_v10.xsd').status).toBe(0);
  });
});

describe('buildResultadoDte', () => {
  it('validates against RespuestaEnvioDTE_v10.xsd and verifies with xmlsec1 and verifyXml', () => {
    const xml = buildResultadoDte(resultado(), cert.signingKey);
    const lint = xmllint(xml, 'RespuestaEnvioDTE_v10.xsd');
    expect(lint.err).toContain('validates');
    expect(lint.status).toBe(0);
    expect(xmlsec(xml, ['Resultado'])).toBe(0);
    const v = verifyXml(toBytes(xml));
    expect(v.valid).toBe(true);
    expect(v.envelopeSignatures[0]?.mode).toBe('in-context');
    const doc = parseXml(toBytes(xml));
    expect(childText(findAll(doc.root, 'Caratula')[0]!, 'NroDetalles')).toBe('2');
    const r = findAll(doc.root, 'ResultadoDTE');
    expect(r.map((e) => childText(e, 'EstadoDTEGlosa'))).toEqual(['DTE Aceptado OK', 'Precio no corresponde a lo acordado']);
    expect(r.map((e) => childText(e, 'CodRchDsc'))).toEqual([undefined, '-1']);
  });

  it('a one-byte change makes xmlsec1 fail; bad states and codes are refused', () => {
    const xml = buildResultadoDte(resultado(), cert.signingKey);
    expect(xmlsec(xml.replace('<EstadoDTE>2</EstadoDTE>', '<EstadoDTE>0</EstadoDTE>'), ['Resultado'])).not.toBe(0);
    const one = (over: object): ResultadoDteInput => ({ ...resultado(), resultados: [{ ...resultado().resultados[0]!, ...over }] });
    expect(code(() => buildResultadoDte(one({ estadoDte: 3 }), cert.signingKey))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'resultados[0].estadoDte' });
    expect(code(() => buildResultadoDte(one({ codRchDsc: 5 }), cert.signingKey))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'resultados[0].codRchDsc' });
    expect(code(() => buildResultadoDte(one({ codRchDsc: -1000 }), cert.signingKey))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'resultados[0].codRchDsc' });
    expect(code(() => buildResultadoDte(one({ codEnvio: 0 }), cert.signingKey))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'resultados[0].codEnvio' });
    expect(code(() => buildResultadoDte({ ...resultado(), resultados: [] }, cert.signingKey))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'resultados' });
  });
});

describe('buildEnvioRecibos', () => {
  const RECIBO_SIG = (n: number) => `(//*[local-name()='Recibo']/*[local-name()='Signature'])[${n}]`;
  const SET_SIG = "/*/*[local-name()='Signature']";
  const IDS = ['DocumentoRecibo', 'SetRecibos'];

  it('validates against EnvioRecibos_v10.xsd; every DocumentoRecibo and the SetRecibos signature verify with xmlsec1 and verifyXml', () => {
    const xml = buildEnvioRecibos(recibos(), cert.signingKey);
    const lint = xmllint(xml, 'EnvioRecibos_v10.xsd');
    expect(lint.err).toContain('validates');
    expect(lint.status).toBe(0);
    expect(xmlsec(xml, IDS, RECIBO_SIG(1))).toBe(0);
    expect(xmlsec(xml, IDS, RECIBO_SIG(2))).toBe(0);
    expect(xmlsec(xml, IDS, SET_SIG)).toBe(0);
    const v = verifyXml(toBytes(xml));
    expect(v.valid).toBe(true);
    expect(v.envelopeSignatures.map((s) => [s.referenceUri, s.mode])).toEqual([
      ['#T33F10', 'in-context'],
      ['#T52F11', 'in-context'],
      ['#SetDteRecibidos', 'in-context'],
    ]);
    const doc = parseXml(toBytes(xml));
    const recibosEls = findAll(doc.root, 'DocumentoRecibo');
    expect(recibosEls.map((e) => childText(e, 'Declaracion'))).toEqual([DECLARACION_RECIBO, DECLARACION_RECIBO]);
    expect(childText(recibosEls[0]!, 'Recinto')).toBe('Bodega Ñuñoa, Av. Irarrázaval 2950');
    expect(toBytes(xml).includes(Buffer.from('Ñuñoa', 'latin1'))).toBe(true);
  });

  it('a one-byte change inside a DocumentoRecibo breaks its signature and the SetRecibos one', () => {
    const xml = buildEnvioRecibos(recibos(), cert.signingKey);
    const tampered = xml.replace('<MntTotal>119000</MntTotal>', '<MntTotal>119001</MntTotal>');
    expect(tampered).not.toBe(xml);
    expect(xmlsec(tampered, IDS, RECIBO_SIG(1))).not.toBe(0);
    expect(xmlsec(tampered, IDS, RECIBO_SIG(2))).toBe(0);
    expect(xmlsec(tampered, IDS, SET_SIG)).not.toBe(0);
    // A change in the carátula breaks only the set signature.
    const car = xml.replace('<TmstFirmaEnv>2026-11-27T10:15:00</TmstFirmaEnv>', '<TmstFirmaEnv>2026-11-27T10:15:01</TmstFirmaEnv>');
    expect(xmlsec(car, IDS, RECIBO_SIG(1))).toBe(0);
    expect(xmlsec(car, IDS, SET_SIG)).not.toBe(0);
  });

  it('refuses documents of another issuer or receiver, repeated documents and bad types', () => {
    const k = cert.signingKey;
    const one = (over: object): EnvioRecibosInput => ({ ...recibos(), recibos: [{ ...recibos().recibos[0]!, ...over }] });
    expect(code(() => buildEnvioRecibos(one({ rutEmisor: '96790240-3' }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'recibos[0].rutEmisor' });
    expect(code(() => buildEnvioRecibos(one({ rutRecep: '96790240-3' }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'recibos[0].rutRecep' });
    expect(code(() => buildEnvioRecibos(one({ tipoDoc: 39 }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'recibos[0].tipoDoc' });
    expect(code(() => buildEnvioRecibos(one({ rutFirma: '12345678-9' }), k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'recibos[0].rutFirma' });
    const r = recibos();
    expect(code(() => buildEnvioRecibos({ ...r, recibos: [r.recibos[0]!, r.recibos[0]!] }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'recibos[1]' });
    expect(code(() => buildEnvioRecibos({ ...r, recibos: [] }, k))).toEqual({ code: 'ERR_INPUT_INVALID', field: 'recibos' });
    // Recinto is cut to 80 and still validates.
    const long = buildEnvioRecibos(one({ recinto: 'Á'.repeat(100) }), k);
    expect(xmllint(long, 'EnvioRecibos_v10.xsd').status).toBe(0);
    expect(childText(findAll(parseXml(toBytes(long)).root, 'DocumentoRecibo')[0]!, 'Recinto')).toBe('Á'.repeat(80));
  });
});

describe('assessReceived', () => {
  let clean: string;
  let docs: EmittedDte[];
  beforeAll(() => {
    docs = [emit(example(33), 101), emit(example(56), 102), emit(example(61), 103)];
    clean = envelope(docs);
  });

  it('a clean envelope → 0 and every document 0; the assessment builds a schema-valid, verifiable acuse', () => {
    const v = verifyXml(toBytes(clean));
    expect(v.valid).toBe(true);
    const a = assessReceived(v, { rutReceptor: COMPANY });
    expect(a.estadoRecepEnv).toBe(0);
    expect(a.recepEnvGlosa).toBe('Envio Recibido Conforme');
    expect(a.envioDteId).toBe('SetDoc');
    expect(a.rutEmisor).toBe(EMISOR);
    // The SetDTE signature is the envelope's last one.
    expect(a.digest).toBe([...clean.matchAll(/<DigestValue>([^<]+)<\/DigestValue>/g)].at(-1)?.[1]);
    expect(a.documentos.map((d) => [d.tipoDte, d.folio, d.estadoRecepDte])).toEqual([
      [33, 101, 0],
      [56, 102, 0],
      [61, 103, 0],
    ]);
    const d0 = a.documentos[0]!;
    expect(d0).toMatchObject({ fchEmis: '2026-11-27', rutEmisor: EMISOR, rutRecep: COMPANY, mntTotal: docs[0]!.dte.encabezado.totales.mntTotal, recepDteGlosa: 'DTE Recibido OK' });

    const xml = buildRecepcionEnvio(
      {
        caratula: { rutResponde: COMPANY, rutRecibe: a.rutEmisor!, idRespuesta: 1, tmstFirmaResp: NOW },
        nmbEnvio: 'envio.xml',
        fchRecep: NOW,
        codEnvio: 1,
        envioDteId: a.envioDteId!,
        digest: a.digest!,
        rutEmisor: a.rutEmisor!,
        rutReceptor: a.rutReceptor!,
        estadoRecepEnv: a.estadoRecepEnv,
        recepEnvGlosa: a.recepEnvGlosa,
        documentos: a.documentos,
      },
      cert.signingKey,
    );
    expect(xmllint(xml, 'RespuestaEnvioDTE_v10.xsd').status).toBe(0);
    expect(xmlsec(xml, ['Resultado'])).toBe(0);
  });

  it('carátula RutReceptor ≠ the company → 3 (an envelope meant for the SII)', () => {
    const a = assessReceived(verifyXml(toBytes(envelope(docs, '60803000-K'))), { rutReceptor: COMPANY });
    expect(a.estadoRecepEnv).toBe(3);
    expect(a.rutReceptor).toBe('60803000-K');
    expect(a.recepEnvGlosa).toMatch(/^Envio Rechazado - RUT Receptor No Corresponde: /);
  });

  it('a DTE tampered after the envelope was signed → that document 1 and the envelope 2', () => {
    const m = /<MntTotal>(\d+)<\/MntTotal>/.exec(clean)!;
    const tampered = clean.replace(m[0], `<MntTotal>${Number(m[1]) + 1}</MntTotal>`);
    const a = assessReceived(verifyXml(toBytes(tampered)), { rutReceptor: COMPANY });
    expect(a.estadoRecepEnv).toBe(2);
    expect(a.documentos.map((d) => d.estadoRecepDte)).toEqual([1, 0, 0]);
    expect(a.documentos[0]!.recepDteGlosa).toMatch(/^DTE No Recibido - Error de Firma: /);
    expect(xmlsec(tampered, ['SetDTE', 'Documento'], "/*/*[local-name()='Signature']")).not.toBe(0);
  });

  it('a DTE tampered before the envelope was signed → envelope 0, that document 1', () => {
    const bad = { ...docs[1]!, xml: docs[1]!.xml.replace(/<MntTotal>(\d+)<\/MntTotal>/, (_s, n: string) => `<MntTotal>${Number(n) + 1}</MntTotal>`) };
    const a = assessReceived(verifyXml(toBytes(envelope([docs[0]!, bad], COMPANY, false))), { rutReceptor: COMPANY });
    expect(a.estadoRecepEnv).toBe(0);
    expect(a.documentos.map((d) => d.estadoRecepDte)).toEqual([0, 1]);
  });

  it('seenBefore → 4, and a document repeated inside the envelope → 4', () => {
    const a = assessReceived(verifyXml(toBytes(clean)), { rutReceptor: COMPANY, seenBefore: (k) => k.tipoDte === 56 && k.folio === 102 && k.rutEmisor === EMISOR });
    expect(a.estadoRecepEnv).toBe(0);
    expect(a.documentos.map((d) => d.estadoRecepDte)).toEqual([0, 4, 0]);
    expect(a.documentos[1]!.recepDteGlosa).toBe('DTE No Recibido - DTE Repetido');
    // The same DTE twice in one envelope: its ID is duplicated, so verifyXml (rightly) reports both
    // signatures invalid (→ 1). With valid signatures the second occurrence is 4 (synthetic report).
    const twice = assessReceived(verifyXml(toBytes(envelope([docs[0]!, docs[0]!]))), { rutReceptor: COMPANY });
    expect(twice.documentos.map((d) => d.estadoRecepDte)).toEqual([1, 1]);
    const v = verifyXml(toBytes(clean));
    const synthetic = assessReceived({ ...v, documents: [v.documents[0]!, v.documents[0]!] }, { rutReceptor: COMPANY });
    expect(synthetic.documentos.map((d) => d.estadoRecepDte)).toEqual([0, 4]);
  });

  it('a document addressed to another RUTRecep → 3 (the envelope stays 0)', () => {
    const other = emit(example(34), 104); // receptor 96790240-3
    const a = assessReceived(verifyXml(toBytes(envelope([docs[0]!, other]))), { rutReceptor: COMPANY });
    expect(a.estadoRecepEnv).toBe(0);
    expect(a.documentos.map((d) => [d.tipoDte, d.estadoRecepDte])).toEqual([
      [33, 0],
      [34, 3],
    ]);
    expect(a.documentos[1]!.rutRecep).toBe('96790240-3');
  });

  it('not XML → 91; schemaErrors → 1; a file seen before → 90; a lone DTE → 1', () => {
    const notXml = assessReceived(verifyXml(Buffer.from('%PDF-1.4 esto no es XML')), { rutReceptor: COMPANY });
    expect(notXml.estadoRecepEnv).toBe(91);
    expect(notXml.documentos).toEqual([]);
    expect(notXml.recepEnvGlosa).toMatch(/^Envio Rechazado - Archivo Ilegible/);

    const schema = assessReceived(verifyXml(toBytes(clean)), { rutReceptor: COMPANY, schemaErrors: ["Element 'Folio': 'x' is not a valid value"] });
    expect(schema.estadoRecepEnv).toBe(1);
    expect(schema.recepEnvGlosa).toContain("Element 'Folio'");
    expect(schema.documentos).toHaveLength(3);

    expect(assessReceived(verifyXml(toBytes(clean)), { rutReceptor: COMPANY, envelopeSeenBefore: true }).estadoRecepEnv).toBe(90);
    expect(assessReceived(verifyXml(toBytes(docs[0]!.xml)), { rutReceptor: COMPANY }).estadoRecepEnv).toBe(1);
  });

  it('names with ñ/á survive from the received envelope to the written answer', () => {
    const j = example(33);
    j.receptor.razon_social = 'PEÑALOLÉN ÁRIDOS Y CÍA';
    const d = emit(j, 105);
    const received = envelope([d]);
    const a = assessReceived(verifyXml(toBytes(received)), { rutReceptor: COMPANY });
    expect(a.documentos[0]!.estadoRecepDte).toBe(0);
    const xml = buildRecepcionEnvio(
      {
        caratula: { ...caratula(), nmbContacto: 'Peñalolén Árido' },
        nmbEnvio: 'Envío Peñalolén.xml',
        fchRecep: NOW,
        codEnvio: 9,
        envioDteId: a.envioDteId!,
        digest: a.digest!,
        rutEmisor: a.rutEmisor!,
        rutReceptor: a.rutReceptor!,
        estadoRecepEnv: a.estadoRecepEnv,
        documentos: a.documentos,
      },
      cert.signingKey,
    );
    expect(xmllint(xml, 'RespuestaEnvioDTE_v10.xsd').status).toBe(0);
    expect(xmlsec(xml, ['Resultado'])).toBe(0);
    const doc = parseXml(toBytes(xml));
    expect(childText(findAll(doc.root, 'RecepcionEnvio')[0]!, 'NmbEnvio')).toBe('Envío Peñalolén.xml');
    expect(childText(findAll(doc.root, 'Caratula')[0]!, 'NmbContacto')).toBe('Peñalolén Árido');
  });
});
