import { execFileSync, spawnSync } from 'node:child_process';
import { sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedKeys, parseCaf, type Caf } from '../src/caf.js';
import { TimbreError } from '../src/errors.js';
import { generateFixtures, type Fixtures } from '../src/fixtures.js';
import { cutText, stampTed, verifyTed, type TedData } from '../src/ted.js';
import { findAll, parseXml } from '../src/xml/parse.js';

const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;
const SII_KEYS_DIR = '/work/shared/sii/keys';

let fx: Fixtures;
let caf33: Caf;
let caf34: Caf;
let caf110: Caf;
let trust: Map<number, KeyObject>;
let tmp: string;

const FA = '2025-04-11';
const base: TedData = {
  rutEmisor: '76086428-5',
  tipoDte: 33,
  folio: 42,
  fchEmis: '2025-05-02',
  rutRecep: '96874030-K',
  rznSocRecep: 'CLIENTE DE PRUEBA LIMITADA',
  mntTotal: 119000,
  it1: 'Servicio de consultoría',
  tsted: '2025-05-02T10:15:00',
};

beforeAll(() => {
  fx = generateFixtures({ fechaAutorizacion: FA, tipos: [33, 34, 110] });
  const byTipo = (t: number) => parseCaf(fx.cafs.find((c) => c.tipoDte === t)?.xml ?? Buffer.alloc(0));
  caf33 = byTipo(33);
  caf34 = byTipo(34);
  caf110 = byTipo(110);
  trust = loadTrustedKeys([{ idk: fx.sii.idk, pem: fx.sii.publicKeyPem }]);
  tmp = mkdtempSync(path.join(tmpdir(), 'timbre-ted-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function codeOf(fn: () => unknown): { code?: string; field?: string; siiCode?: string; causeCode?: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof TimbreError) {
      const cause = e.cause instanceof TimbreError ? e.cause.code : undefined;
      return { code: e.code, ...(e.field ? { field: e.field } : {}), ...(e.siiCode ? { siiCode: e.siiCode } : {}), ...(cause ? { causeCode: cause } : {}) };
    }
    throw e;
  }
  return {};
}

/** A DTE-like document (namespace, Latin-1 declaration, pretty-printed around the TED). */
function docWith(tedXml: string): Buffer {
  const text =
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">\n<Documento ID="F42T33">\n' +
    `<Encabezado/>\n${tedXml}\n<TmstFirma>2025-05-02T10:15:00</TmstFirma>\n</Documento>\n</DTE>\n`;
  return Buffer.from(text, 'latin1');
}
function verifyIn(bytes: Buffer, opts: Parameters<typeof verifyTed>[2] = {}) {
  const doc = parseXml(bytes);
  const ted = findAll(doc.root, 'TED')[0];
  if (!ted) throw new Error('no TED');
  return verifyTed(ted, doc, opts);
}

describe('stampTed', () => {
  it('builds exactly the flattened DD of sii-spec §5 and signs its Latin-1 bytes', () => {
    const { xml, ddSigned } = stampTed(base, caf33);
    const cafFlat = caf33.cafXml.replace(/>[ \t\r\n]+</g, '><');
    expect(ddSigned).toBe(
      '<DD><RE>76086428-5</RE><TD>33</TD><F>42</F><FE>2025-05-02</FE><RR>96874030-K</RR>' +
        '<RSR>CLIENTE DE PRUEBA LIMITADA</RSR><MNT>119000</MNT><IT1>Servicio de consultoría</IT1>' +
        `${cafFlat}<TSTED>2025-05-02T10:15:00</TSTED></DD>`,
    );
    expect(cafFlat.startsWith('<CAF version="1.0"><DA><RE>76086428-5</RE><RS>EMPRESA DEMO TIMBRE DISEÑO SPA</RS>')).toBe(true);
    expect(ddSigned).not.toContain('xmlns');
    const m = /^<TED version="1\.0">(<DD>.*<\/DD>)<FRMT algoritmo="SHA1withRSA">([A-Za-z0-9+/]+=*)<\/FRMT><\/TED>$/.exec(xml);
    expect(m?.[1]).toBe(ddSigned);
    expect(xml).not.toContain('\n');
    // RSA-512: 64-byte signature; deterministic (PKCS#1 v1.5)
    expect(Buffer.from(m?.[2] ?? '', 'base64').length).toBe(64);
    expect(stampTed(base, caf33).xml).toBe(xml);
  });

  it('is verified by openssl dgst -sha1 -verify with the CAF public key (RSAPUBK)', () => {
    if (!HAS_OPENSSL) return expect.fail('openssl is required for the oracle check');
    const { xml, ddSigned } = stampTed({ ...base, rznSocRecep: "SOCIEDAD O'HIGGINS & \"CIA\" ÑUÑOA" }, caf33);
    const frmt = /<FRMT[^>]*>([^<]+)<\/FRMT>/.exec(xml)?.[1] ?? '';
    const cafText = fx.cafs.find((c) => c.tipoDte === 33)?.xml.toString('latin1') ?? '';
    const pub = /<RSAPUBK>([\s\S]*?)<\/RSAPUBK>/.exec(cafText)?.[1] ?? '';
    writeFileSync(path.join(tmp, 'capub.pem'), pub);
    writeFileSync(path.join(tmp, 'frmt.bin'), Buffer.from(frmt, 'base64'));
    writeFileSync(path.join(tmp, 'dd.bin'), Buffer.from(ddSigned, 'latin1'));
    const out = execFileSync('openssl', ['dgst', '-sha1', '-verify', path.join(tmp, 'capub.pem'), '-signature', path.join(tmp, 'frmt.bin'), path.join(tmp, 'dd.bin')]);
    expect(out.toString().trim()).toBe('Verified OK');
    const dd = readFileSync(path.join(tmp, 'dd.bin'));
    expect(dd.includes(Buffer.from([0xd1, 0x55, 0xd1, 0x4f, 0x41]))).toBe(true); // ÑUÑOA as Latin-1 bytes
    // a one-byte change is rejected by openssl too
    writeFileSync(path.join(tmp, 'dd.bin'), Buffer.from(ddSigned.replace('<MNT>119000<', '<MNT>119001<'), 'latin1'));
    expect(spawnSync('openssl', ['dgst', '-sha1', '-verify', path.join(tmp, 'capub.pem'), '-signature', path.join(tmp, 'frmt.bin'), path.join(tmp, 'dd.bin')]).status).not.toBe(0);
  });

  it("escapes RSR/IT1 C14N-style plus LibreDTE's &apos; and &quot;", () => {
    const { ddSigned } = stampTed({ ...base, rznSocRecep: 'O\'HIGGINS & "CIA" <LTDA>', it1: "5' > 4\"" }, caf33);
    expect(ddSigned).toContain('<RSR>O&apos;HIGGINS &amp; &quot;CIA&quot; &lt;LTDA&gt;</RSR>');
    expect(ddSigned).toContain('<IT1>5&apos; &gt; 4&quot;</IT1>');
  });

  it('cuts RSR and IT1 to 40 decoded characters after trimming, never inside an entity', () => {
    const name = `  ${'A'.repeat(39)}&BCDEF  `;
    const { ddSigned } = stampTed({ ...base, rznSocRecep: name, it1: `\t${'Ñ'.repeat(45)}` }, caf33);
    expect(ddSigned).toContain(`<RSR>${'A'.repeat(39)}&amp;</RSR>`);
    expect(ddSigned).toContain(`<IT1>${'Ñ'.repeat(40)}</IT1>`);
    expect(cutText(`  ${'x'.repeat(50)}`)).toHaveLength(40);
    expect(cutText(' corto ')).toBe('corto');
  });

  it('uses RR as RSR when the receptor name is empty', () => {
    expect(stampTed({ ...base, rznSocRecep: '   ' }, caf33).ddSigned).toContain('<RSR>96874030-K</RSR>');
  });

  it('normalizes RUTs and keeps export decimals verbatim', () => {
    const { ddSigned } = stampTed({ ...base, rutEmisor: '76.086.428-5', rutRecep: '96874030-k' }, caf33);
    expect(ddSigned).toContain('<RE>76086428-5</RE>');
    expect(ddSigned).toContain('<RR>96874030-K</RR>');
    const exp = stampTed({ ...base, tipoDte: 110, rutRecep: '55555555-5', mntTotal: '1234.50' }, caf110);
    expect(exp.ddSigned).toContain('<MNT>1234.50</MNT>');
    expect(codeOf(() => stampTed({ ...base, mntTotal: 10.5 }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'mntTotal' });
    expect(codeOf(() => stampTed({ ...base, mntTotal: -1 }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'mntTotal' });
  });

  it('refuses characters outside ISO-8859-1 in RSR/IT1', () => {
    expect(codeOf(() => stampTed({ ...base, it1: 'Café ☕' }, caf33))).toMatchObject({ code: 'ERR_CHAR_NOT_LATIN1', field: 'IT1' });
    expect(codeOf(() => stampTed({ ...base, rznSocRecep: 'EMPRESA “COMILLAS”' }, caf33))).toMatchObject({ code: 'ERR_CHAR_NOT_LATIN1', field: 'RSR' });
  });

  it('refuses with ERR_TED_INVALID when the CAF does not cover the document', () => {
    expect(codeOf(() => stampTed({ ...base, folio: 1001 }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', causeCode: 'ERR_CAF_FOLIO_OUT_OF_RANGE' });
    expect(codeOf(() => stampTed({ ...base, tipoDte: 34 }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', causeCode: 'ERR_CAF_WRONG_TIPO' });
    expect(codeOf(() => stampTed({ ...base, rutEmisor: '96874030-K' }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', causeCode: 'ERR_CAF_WRONG_EMISOR' });
    expect(codeOf(() => stampTed({ ...base, fchEmis: '2025-04-10' }, caf33))).toMatchObject({
      code: 'ERR_TED_INVALID',
      causeCode: 'ERR_CAF_NOT_YET_VALID',
      siiCode: 'TED-1-646',
    });
    expect(codeOf(() => stampTed({ ...base, fchEmis: '2025-11-11', tsted: '2025-11-11T09:00:00' }, caf33))).toMatchObject({
      code: 'ERR_TED_INVALID',
      causeCode: 'ERR_CAF_EXPIRED',
      siiCode: 'CAF-3-517',
    });
    // the same dates are fine for a type whose CAFs do not expire
    expect(() => stampTed({ ...base, tipoDte: 34, fchEmis: '2025-11-11', tsted: '2025-11-11T09:00:00' }, caf34)).not.toThrow();
    expect(codeOf(() => stampTed({ ...base, fchEmis: FA, tsted: '2025-04-10T23:59:59' }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'tsted', siiCode: 'TED-1-646' });
  });

  it('refuses a CAF without private key (read from a TED) and malformed data', () => {
    expect(codeOf(() => stampTed(base, parseCaf(caf33.cafXml)))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'caf' });
    expect(codeOf(() => stampTed({ ...base, tsted: '2025-05-02 10:15:00' }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'tsted' });
    expect(codeOf(() => stampTed({ ...base, fchEmis: '2025-02-30' }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'fchEmis' });
    expect(codeOf(() => stampTed({ ...base, rutRecep: '96874030-1' }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'rutRecep' });
    expect(codeOf(() => stampTed({ ...base, it1: '  ' }, caf33))).toMatchObject({ code: 'ERR_TED_INVALID', field: 'it1' });
  });

  it('stamps fast (a KeyObject per CAF, cached flattened CAF)', () => {
    for (let i = 0; i < 200; i++) stampTed({ ...base, folio: 1 + i }, caf33);
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) stampTed({ ...base, folio: 1 + (i % 1000) }, caf33);
    const perTed = ((performance.now() - t0) / n) * 1000;
    const dd = Buffer.from(stampTed(base, caf33).ddSigned, 'latin1');
    const t1 = performance.now();
    for (let i = 0; i < n; i++) sign('sha1', dd, caf33.privateKey as never);
    const perSign = ((performance.now() - t1) / n) * 1000;
    // generous bound (shared CI machines); measured ≈ 12 µs beyond the RSA-512 signature
    expect(perTed - perSign).toBeLessThan(150);
  });
});

describe('verifyTed', () => {
  it('verifies a stamped TED embedded (and pretty-printed) in a document, raw strategy', () => {
    const { xml } = stampTed(base, caf33);
    const r = verifyIn(docWith(xml), { trustedKeys: trust, expected: base });
    expect(r).toMatchObject({ valid: true, signatureValid: true, strategy: 'raw', cafSignatureValid: true, fieldMismatches: [] });
    expect(r.caf).toEqual({ rutEmisor: '76086428-5', tipoDte: 33, desde: 1, hasta: 1000, fechaAutorizacion: FA, idk: fx.sii.idk });
    const pretty = xml.replace(/></g, '>\n   <');
    expect(verifyIn(docWith(pretty), { expected: base })).toMatchObject({ valid: true, strategy: 'raw' });
  });

  it('reports a TED of another folio as a field mismatch (valid=false, signature still valid)', () => {
    const { xml } = stampTed({ ...base, folio: 43 }, caf33);
    const r = verifyIn(docWith(xml), { trustedKeys: trust, expected: base });
    expect(r.signatureValid).toBe(true);
    expect(r.valid).toBe(false);
    expect(r.fieldMismatches).toEqual([{ field: 'F', ted: '43', document: '42' }]);
  });

  it('compares the other DD fields with the document', () => {
    const { xml } = stampTed(base, caf33);
    const r = verifyIn(docWith(xml), {
      expected: { ...base, rutRecep: '11111111-1', mntTotal: '119000.00', fchEmis: '2025-05-03', rznSocRecep: 'cliente  de prueba limitada', it1: 'Otro' },
    });
    expect(r.fieldMismatches.map((m) => m.field).sort()).toEqual(['FE', 'IT1', 'RR']);
    expect(verifyIn(docWith(xml), { expected: { mntTotal: 119001 } }).fieldMismatches).toEqual([{ field: 'MNT', ted: '119000', document: '119001' }]);
    // a long name compares on its first 40 characters
    const long = stampTed({ ...base, rznSocRecep: `${'SOCIEDAD COMERCIAL '.repeat(3)}LTDA` }, caf33).xml;
    expect(verifyIn(docWith(long), { expected: { rznSocRecep: `${'SOCIEDAD COMERCIAL '.repeat(3)}LTDA` } }).valid).toBe(true);
  });

  it('detects a tampered MNT in the DD (signatureValid=false)', () => {
    const { xml } = stampTed(base, caf33);
    const r = verifyIn(docWith(xml.replace('<MNT>119000</MNT>', '<MNT>1190</MNT>')), { trustedKeys: trust });
    expect(r.signatureValid).toBe(false);
    expect(r.valid).toBe(false);
    expect(r.strategy).toBeUndefined();
    expect(r.error?.code).toBe('ERR_TED_INVALID');
  });

  it('detects a TED stamped with a swapped CAF key', () => {
    const swapped: Caf = { ...caf33, privateKey: caf34.privateKey as never };
    const { xml } = stampTed(base, swapped);
    expect(verifyIn(docWith(xml), { trustedKeys: trust })).toMatchObject({ valid: false, signatureValid: false, cafSignatureValid: true });
  });

  it('falls back to the C14N serialization (character references) and to LibreDTE entities', () => {
    const { xml } = stampTed({ ...base, it1: 'ÑANDÚ', rznSocRecep: "O'HIGGINS SPA" }, caf33);
    const withCharRef = xml.replace('<IT1>ÑANDÚ</IT1>', '<IT1>&#209;AND&#xDA;</IT1>');
    expect(withCharRef).not.toBe(xml);
    // &apos; kept, char refs: canonical turns &apos; into ', so only the RSR/IT1 LibreDTE variant passes
    expect(verifyIn(docWith(withCharRef), { expected: { it1: 'ÑANDÚ' } })).toMatchObject({ valid: true, strategy: 'libredte-entities' });
    // a serializer that wrote the apostrophe literally: raw fails, C14N + LibreDTE entities passes
    const literal = xml.replace('O&apos;HIGGINS', "O'HIGGINS");
    expect(verifyIn(docWith(literal), { expected: { rznSocRecep: "O'HIGGINS SPA" } })).toMatchObject({ valid: true, strategy: 'libredte-entities' });
    // no apostrophes: char refs are undone by the canonical strategy
    const plain = stampTed({ ...base, it1: 'ÑANDÚ' }, caf33).xml.replace('<IT1>ÑANDÚ</IT1>', '<IT1>&#209;ANDÚ</IT1>');
    expect(verifyIn(docWith(plain))).toMatchObject({ valid: true, strategy: 'canonical' });
  });

  it('verifies a TED in a UTF-8 document (the signature is over the Latin-1 bytes of the text)', () => {
    const { xml } = stampTed({ ...base, it1: 'Año 2025 ñandú' }, caf33);
    const text = docWith(xml).toString('latin1').replace('ISO-8859-1', 'UTF-8');
    expect(verifyIn(Buffer.from(text, 'utf8'))).toMatchObject({ valid: true, strategy: 'raw' });
  });

  it('verifies a TED of a windows-1252 document whose DD bytes hold a curly quote (0x92)', () => {
    // an issuer that signed windows-1252 bytes: build the DD by hand with a 0x92 byte in IT1
    const dd = stampTed({ ...base, it1: 'Lapiz X' }, caf33).ddSigned.replace('<IT1>Lapiz X</IT1>', '<IT1>Lapiz\x92s</IT1>');
    const frmt = sign('sha1', Buffer.from(dd, 'latin1'), caf33.privateKey as never).toString('base64');
    const text = docWith(`<TED version="1.0">${dd}<FRMT algoritmo="SHA1withRSA">${frmt}</FRMT></TED>`).toString('latin1').replace('ISO-8859-1', 'windows-1252');
    const doc = parseXml(Buffer.from(text, 'latin1'));
    expect(doc.text).toContain('Lapiz\u2019s');
    const ted = findAll(doc.root, 'TED')[0];
    expect(ted && verifyTed(ted, doc)).toMatchObject({ signatureValid: true, strategy: 'raw' });
  });

  it('checks the embedded CAF against the trusted SII keys', () => {
    const { xml } = stampTed(base, caf33);
    const real = loadTrustedKeys([100, 300].map((idk) => ({ idk, pem: readFileSync(path.join(SII_KEYS_DIR, `sii_${idk}.pub.pem`), 'utf8') })));
    const r = verifyIn(docWith(xml), { trustedKeys: real });
    expect(r).toMatchObject({ valid: false, signatureValid: true, cafSignatureValid: false });
    expect(r.error?.code).toBe('ERR_CAF_UNTRUSTED_KEY');
    // a forged CAF range in the TED: FRMA fails even if the forger re-signs the DD with the CAF key
    const forgedCaf = caf33.cafXml.replace('<H>1000</H>', '<H>5000</H>');
    const dd = stampTed(base, caf33).ddSigned.replace('<H>1000</H>', '<H>5000</H>');
    expect(dd).toContain(forgedCaf.replace(/>[ \t\r\n]+</g, '><'));
    const frmt = sign('sha1', Buffer.from(dd, 'latin1'), caf33.privateKey as never).toString('base64');
    const forged = `<TED version="1.0">${dd}<FRMT algoritmo="SHA1withRSA">${frmt}</FRMT></TED>`;
    const r2 = verifyIn(docWith(forged), { trustedKeys: trust });
    expect(r2).toMatchObject({ signatureValid: true, cafSignatureValid: false, valid: false });
    expect(r2.error?.code).toBe('ERR_CAF_SIGNATURE_INVALID');
  });

  it('reports TSTED/FE before FA and folios outside the CAF range even when FRMT is valid', () => {
    // a rogue issuer signing a DD by hand with the CAF key
    const dd = stampTed(base, caf33)
      .ddSigned.replace('<F>42</F>', '<F>2000</F>')
      .replace('<FE>2025-05-02</FE>', '<FE>2025-04-01</FE>')
      .replace('<TSTED>2025-05-02T10:15:00</TSTED>', '<TSTED>2025-04-01T08:00:00</TSTED>');
    const frmt = sign('sha1', Buffer.from(dd, 'latin1'), caf33.privateKey as never).toString('base64');
    const r = verifyIn(docWith(`<TED version="1.0">${dd}<FRMT algoritmo="SHA1withRSA">${frmt}</FRMT></TED>`), { trustedKeys: trust });
    expect(r.signatureValid).toBe(true);
    expect(r.cafSignatureValid).toBe(true);
    expect(r.valid).toBe(false);
    expect(r.fieldMismatches.map((m) => m.field)).toEqual(['F', 'FE', 'TSTED']);
    expect(r.error).toMatchObject({ code: 'ERR_CAF_NOT_YET_VALID', siiCode: 'TED-1-646' });
  });

  it('explains a DD signed with the namespace declarations in scope (not accepted)', () => {
    const { ddSigned } = stampTed(base, caf33);
    const withNs = ddSigned.replace('<DD>', '<DD xmlns="http://www.sii.cl/SiiDte">');
    const frmt = sign('sha1', Buffer.from(withNs, 'latin1'), caf33.privateKey as never).toString('base64');
    const r = verifyIn(docWith(`<TED version="1.0">${ddSigned}<FRMT algoritmo="SHA1withRSA">${frmt}</FRMT></TED>`));
    expect(r).toMatchObject({ valid: false, signatureValid: false, error: { code: 'ERR_TED_INVALID' } });
    expect(r.error?.message).toMatch(/namespace declarations \(xmlns="http:\/\/www\.sii\.cl\/SiiDte"\)/);
  });

  it('never throws on hostile or broken TEDs', () => {
    const { xml } = stampTed(base, caf33);
    const cases = [
      '<TED version="1.0"></TED>',
      xml.replace(/<FRMT[^>]*>[^<]*<\/FRMT>/, ''),
      xml.replace(/<FRMT([^>]*)>[^<]*</, '<FRMT$1>!!!not base64!!!<'),
      xml.replace(/<M>[^<]*<\/M>/, `<M>${Buffer.alloc(4096, 0xff).toString('base64')}</M>`),
      xml.replace(/<E>[^<]*<\/E>/, `<E>${Buffer.alloc(64, 0xff).toString('base64')}</E>`),
      xml.replace(/<CAF version="1\.0">.*<\/CAF>/, ''),
      xml.replace(/<DA>.*<\/DA>/, '<DA/>'),
      xml.replace('<RE>76086428-5</RE><TD>33</TD>', '<TD>33</TD><RE>76086428-5</RE>'),
      xml.replace(/<F>42<\/F>/, '<F><x>42</x></F>'),
      xml.replace('algoritmo="SHA1withRSA">', 'algoritmo="MD5withRSA">'),
    ];
    for (const c of cases) {
      const r = verifyIn(docWith(c), { trustedKeys: trust, expected: base });
      expect(r.valid).toBe(false);
      expect(r.error?.code ?? r.fieldMismatches[0]?.field).toBeTruthy();
    }
    const doc = parseXml('<X/>');
    expect(verifyTed(doc.root, doc)).toMatchObject({ valid: false, error: { code: 'ERR_TED_INVALID' } });
  });
});

/**
 * Optional oracle on real issued documents (not committed). TIMBRE_REAL_DTE_DIR=dir with DTE or
 * EnvioDTE XML files whose TEDs must verify (raw strategy or another) and whose CAFs verify with
 * the real SII keys.
 */
describe.skipIf(!process.env.TIMBRE_REAL_DTE_DIR)('real DTEs (TIMBRE_REAL_DTE_DIR)', () => {
  it('verifies every TED and embedded CAF', () => {
    const dir = process.env.TIMBRE_REAL_DTE_DIR as string;
    const keys = loadTrustedKeys([100, 300].map((idk) => ({ idk, pem: readFileSync(path.join(SII_KEYS_DIR, `sii_${idk}.pub.pem`), 'utf8') })));
    let n = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.xml'))) {
      const doc = parseXml(readFileSync(path.join(dir, f)));
      for (const ted of findAll(doc.root, 'TED')) {
        const r = verifyTed(ted, doc, { trustedKeys: keys });
        expect({ f, ...r }).toMatchObject({ f, valid: true, signatureValid: true, cafSignatureValid: true });
        n++;
      }
    }
    expect(n).toBeGreaterThan(0);
  });
});
