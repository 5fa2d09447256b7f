/**
 * The emission pipeline and envelopes: the canonical text we sign without parsing must be exactly
 * what a C14N implementation computes from the bytes we write (checked against our C14N and
 * against xmlsec1), including the slow paths (TED with entities, foreign DTEs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateFixtures } from '../src/fixtures.js';
import { loadPkcs12, type Certificado } from '../src/cert.js';
import { parseCaf, type Caf } from '../src/caf.js';
import { parseDteInput, inputToDte } from '../src/input.js';
import { emitDte, createFolioAllocator, toBytes, type EmittedDte } from '../src/emit.js';
import { buildEnvelope, type Caratula } from '../src/envelope.js';
import { verifyXml } from '../src/verify.js';
import { parseXml } from '../src/xml/parse.js';
import { canonicalize } from '../src/xml/c14n.js';
import { signXml } from '../src/dsig.js';
import { TimbreError } from '../src/errors.js';

const NOW = '2026-11-27T10:15:00';
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const example = (tipo: number) => JSON.parse(readFileSync(path.join(root, 'examples/dte', `${tipo}.json`), 'utf8'));
const tmp = mkdtempSync(path.join(tmpdir(), 'timbre-emit-'));

let cert: Certificado;
let cafs: Caf[];
let certPem: string;
const caratula = (): Caratula => ({ rutEmisor: '76086428-5', rutEnvia: cert.rut, rutReceptor: '60803000-K', fchResol: '2026-11-01', nroResol: 0, tmstFirmaEnv: NOW });

beforeAll(() => {
  const fx = generateFixtures({ now: new Date('2026-11-27T13:00:00Z') });
  cert = loadPkcs12(fx.p12, fx.p12Password, { now: new Date('2026-11-27T13:00:00Z') });
  cafs = fx.cafs.map((c) => parseCaf(c.xml));
  certPem = path.join(tmp, 'cert.pem');
  writeFileSync(certPem, fx.certificatePem);
});

const emit = (json: unknown, folio: number): EmittedDte =>
  emitDte(inputToDte(parseDteInput(json), { folio, fchEmis: NOW.slice(0, 10) }), { cafs, signer: cert, now: NOW });

function xmlsec(xml: string, ids: string[], xpath?: string): number {
  const f = path.join(tmp, `x-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(f, toBytes(xml));
  const args = ['--verify', '--trusted-pem', certPem, '--enabled-key-data', 'x509', ...ids.flatMap((i) => ['--id-attr:ID', i]), ...(xpath ? ['--node-xpath', xpath] : []), f];
  return spawnSync('xmlsec1', args, { encoding: 'utf8' }).status ?? -1;
}

describe('emitDte', () => {
  it('returns the canonical form C14N computes from the written bytes', () => {
    for (const tipo of [33, 39, 43, 110]) {
      const d = emit(example(tipo), 7);
      const doc = parseXml(toBytes(d.xml));
      expect(canonicalize(doc.root)).toBe(d.canonical);
      expect(d.id).toBe(`T${tipo}F7`);
      expect(d.slug).toBe(`76086428-5--${tipo}--7`);
    }
  });

  it('takes the slow path when the TED holds entities (apostrophes, quotes, ampersands) and still verifies with xmlsec1', () => {
    const j = example(33);
    j.receptor.razon_social = `O'HIGGINS & "HIJOS" <LTDA>`;
    j.items[0].nombre = `Notebook 14" d'oro`;
    const d = emit(j, 8);
    expect(d.ted).toContain('&apos;');
    expect(d.ted).toContain('&quot;');
    expect(canonicalize(parseXml(toBytes(d.xml)).root)).toBe(d.canonical);
    expect(xmlsec(d.xml, ['Documento'])).toBe(0);
    const r = verifyXml(toBytes(d.xml));
    expect(r.valid).toBe(true);
    expect(r.documents[0]?.ted?.strategy).toBe('raw');
  });

  it('refuses a document without folio or without a matching CAF', () => {
    const dte = inputToDte(parseDteInput(example(33)), { fchEmis: '2026-11-27' });
    expect(() => emitDte(dte, { cafs, signer: cert, now: NOW })).toThrow(TimbreError);
    const other = { ...dte, encabezado: { ...dte.encabezado, idDoc: { ...dte.encabezado.idDoc, folio: 5 } } };
    try {
      emitDte(other, { cafs: cafs.filter((c) => c.tipoDte === 61), signer: cert, now: NOW });
      expect.unreachable();
    } catch (e) {
      expect((e as TimbreError).code).toMatch(/^ERR_CAF_WRONG_TIPO$/);
    }
  });

  it('allocates folios in CAF order and reports exhaustion', () => {
    const small = generateFixtures({ tipos: [33], desde: 5, hasta: 6, now: new Date('2026-11-27T13:00:00Z') }).cafs.map((c) => parseCaf(c.xml));
    const next = createFolioAllocator(small);
    expect([next('76086428-5', 33), next('76086428-5', 33)]).toEqual([5, 6]);
    expect(() => next('76086428-5', 33)).toThrow(/no folios left/);
    expect(() => next('76086428-5', 34)).toThrow(TimbreError);
  });
});

describe('buildEnvelope', () => {
  it('signs the same bytes with and without the canonical fast path, and xmlsec1 verifies the SetDTE signature', () => {
    const dtes = [33, 34, 61, 110].map((t, i) => emit(example(t), 20 + i));
    const fast = buildEnvelope({ dtes: dtes.map((d) => ({ xml: d.xml, canonical: d.canonical, tipoDte: d.key.tipoDte })), caratula: caratula(), key: cert.signingKey });
    const slow = buildEnvelope({ dtes: dtes.map((d) => ({ xml: d.xml, tipoDte: d.key.tipoDte })), caratula: caratula(), key: cert.signingKey });
    expect(fast.xml).toBe(slow.xml);
    expect(fast.kind).toBe('EnvioDTE');
    expect(xmlsec(fast.xml, ['SetDTE', 'Documento', 'Exportaciones'], "/*/*[local-name()='Signature']")).toBe(0);
    const r = verifyXml(toBytes(fast.xml));
    expect(r.valid).toBe(true);
    expect(r.envelopeSignatures[0]?.mode).toBe('in-context');
    expect(r.documents.map((d) => d.signature?.mode)).toEqual(['default-only', 'default-only', 'default-only', 'default-only']);
  });

  it('keeps each DTE byte for byte', () => {
    const d = emit(example(61), 30);
    const env = buildEnvelope({ dtes: [{ xml: d.xml, canonical: d.canonical, tipoDte: 61 }], caratula: caratula(), key: cert.signingKey });
    expect(env.xml).toContain(d.xml.slice(d.xml.indexOf('<DTE ')).trim());
  });

  it('builds EnvioBOLETA for boletas and refuses mixtures, empty and oversized envelopes', () => {
    const b = emit(example(39), 40);
    const f = emit(example(33), 41);
    expect(buildEnvelope({ dtes: [{ xml: b.xml, canonical: b.canonical, tipoDte: 39 }], caratula: caratula(), key: cert.signingKey }).kind).toBe('EnvioBOLETA');
    const code = (fn: () => unknown) => {
      try {
        fn();
        return 'none';
      } catch (e) {
        return (e as TimbreError).code;
      }
    };
    expect(code(() => buildEnvelope({ dtes: [{ xml: b.xml, tipoDte: 39 }, { xml: f.xml, tipoDte: 33 }], caratula: caratula(), key: cert.signingKey }))).toBe('ERR_ENVELOPE_INVALID');
    expect(code(() => buildEnvelope({ dtes: [], caratula: caratula(), key: cert.signingKey }))).toBe('ERR_ENVELOPE_INVALID');
    const many = Array.from({ length: 501 }, () => ({ xml: b.xml, canonical: b.canonical, tipoDte: 39 }));
    expect(code(() => buildEnvelope({ dtes: many, caratula: caratula(), key: cert.signingKey }))).toBe('ERR_ENVELOPE_INVALID');
    expect(code(() => buildEnvelope({ dtes: [{ xml: f.xml, tipoDte: 33 }], caratula: { ...caratula(), rutEnvia: '12345678-9' }, key: cert.signingKey }))).toBe('ERR_RUT_INVALID');
  });

  it('reports a carátula whose SubTotDTE does not match its content', () => {
    const d = emit(example(33), 50);
    const env = buildEnvelope({ dtes: [{ xml: d.xml, canonical: d.canonical, tipoDte: 33 }], caratula: caratula(), key: cert.signingKey });
    const r = verifyXml(toBytes(env.xml.replace('<NroDTE>1</NroDTE>', '<NroDTE>2</NroDTE>')));
    expect(r.valid).toBe(false);
    expect(r.caratula?.problems.join(' ')).toMatch(/SubTotDTE for type 33/);
    expect(r.envelopeSignatures[0]?.valid).toBe(false);
  });
});

describe('verifyXml namespace tolerance (real-world transformations)', () => {
  it('a DTE whose xmlns was stripped in transit verifies as with-sii-ns; tampering still fails', () => {
    const d = emit(example(33), 60);
    const stripped = d.xml.replace('<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">', '<DTE version="1.0">');
    const r = verifyXml(toBytes(stripped));
    expect(r.valid).toBe(true);
    expect(r.documents[0]?.signature?.mode).toBe('with-sii-ns');
    const tampered = stripped.replace(/<NmbItem>([^<]*)<\/NmbItem>/, '<NmbItem>$1 X</NmbItem>');
    expect(verifyXml(toBytes(tampered)).documents[0]?.signature?.valid).toBe(false);
  });

  it('a DTE signed without namespace, to which someone added xmlns, verifies as without-sii-ns', () => {
    const d = emit(example(33), 61);
    // Re-sign the same content with no namespace at all (as LibreDTE v1 did).
    const bare = d.xml
      .replace(/<Signature xmlns="http:\/\/www\.w3\.org\/2000\/09\/xmldsig#">[\s\S]*<\/Signature>\n/, '')
      .replace('<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">', '<DTE version="1.0">');
    const signed = signXml(bare, { referenceId: d.id, key: cert.signingKey });
    expect(verifyXml(toBytes(signed)).documents[0]?.signature?.mode).toBe('in-context');
    const added = signed.replace('<DTE version="1.0">', '<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">');
    const r = verifyXml(toBytes(added));
    expect(r.documents[0]?.signature?.valid).toBe(true);
    expect(r.documents[0]?.signature?.mode).toBe('without-sii-ns');
  });
});
