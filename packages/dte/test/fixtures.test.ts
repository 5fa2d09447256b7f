import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedKeys, parseCaf, verifyCaf } from '../src/caf.js';
import { loadPkcs12 } from '../src/cert.js';
import { FIXTURE_SII_IDK, generateFixtures, type Fixtures } from '../src/fixtures.js';
import { TIPOS_DTE } from '../src/tipos.js';

const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;

let fx: Fixtures;
let ms: number;
let tmp: string;
const NOW = new Date('2026-03-15T15:00:00Z'); // 12:00 in Chile

beforeAll(() => {
  const t0 = performance.now();
  fx = generateFixtures({ now: NOW });
  ms = performance.now() - t0;
  tmp = mkdtempSync(path.join(tmpdir(), 'timbre-fx-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('generateFixtures defaults', () => {
  it('takes less than 2 s (14 RSA keys, certificate, PKCS#12)', () => {
    expect(ms).toBeLessThan(2000);
  });

  it('produces one CAF per document type, FA = 30 days before now in Chile, folios 1..1000', () => {
    expect(fx.cafs.map((c) => c.tipoDte)).toEqual([...TIPOS_DTE]);
    for (const c of fx.cafs) {
      const caf = parseCaf(c.xml);
      expect(caf).toMatchObject({ rutEmisor: '76086428-5', tipoDte: c.tipoDte, desde: 1, hasta: 1000, fechaAutorizacion: '2026-02-13', idk: FIXTURE_SII_IDK });
      expect(caf.razonSocial).toBe('EMPRESA DEMO TIMBRE DISEÑO SPA');
      expect(caf.publicKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 512, publicExponent: 3n });
    }
    // late evening in Chile is already the next day in UTC: FA follows Chile
    const late = generateFixtures({ now: new Date('2026-03-16T02:30:00Z'), tipos: [33] });
    expect(parseCaf(late.cafs[0]?.xml ?? Buffer.alloc(0)).fechaAutorizacion).toBe('2026-02-13');
  });

  it('uses a fake IDK that cannot be taken for the SII keys 100/300', () => {
    expect(fx.sii.idk).toBe(FIXTURE_SII_IDK);
    expect([100, 300]).not.toContain(fx.sii.idk);
    expect(Number.isSafeInteger(fx.sii.idk) && fx.sii.idk < 2 ** 31).toBe(true);
  });

  it('writes the CAF files like the SII: Latin-1 bytes, no encoding declaration, exact layout', () => {
    const bytes = fx.cafs[0]?.xml ?? Buffer.alloc(0);
    const text = bytes.toString('latin1');
    expect(text.startsWith('<?xml version="1.0"?>\n<!--')).toBe(true);
    expect(text).not.toMatch(/encoding=/);
    expect(bytes.includes(Buffer.from('DISE\xd1O', 'latin1'))).toBe(true);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow(); // truly not UTF-8
    const shape = text
      .replace(/<!--[^]*?-->/, '<!--…-->')
      .replace(/<(RE|RS|TD|D|H|FA|M|E|IDK|FRMA algoritmo="SHA1withRSA")>[^<]*</g, '<$1>…<')
      .replace(/-----BEGIN ([A-Z ]+)-----\n[A-Za-z0-9+/=\n]+-----END \1-----\n/g, '[$1]');
    expect(shape).toBe(
      [
        '<?xml version="1.0"?>',
        '<!--…-->',
        '<AUTORIZACION>',
        '<CAF version="1.0">',
        '<DA>',
        '<RE>…</RE>',
        '<RS>…</RS>',
        '<TD>…</TD>',
        '<RNG><D>…</D><H>…</H></RNG>',
        '<FA>…</FA>',
        '<RSAPK><M>…</M><E>…</E></RSAPK>',
        '<IDK>…</IDK>',
        '</DA>',
        '<FRMA algoritmo="SHA1withRSA">…</FRMA>',
        '</CAF>',
        '<RSASK>[RSA PRIVATE KEY]</RSASK>',
        '',
        '<RSAPUBK>[PUBLIC KEY]</RSAPUBK>',
        '</AUTORIZACION>',
        '',
      ].join('\n'),
    );
    expect(text).toMatch(/<E>Aw==<\/E>/);
    // the NOT VALID mark is outside <CAF>, so TEDs never carry it
    const caf = parseCaf(bytes);
    expect(caf.cafXml).not.toMatch(/NOT VALID|<!--/);
    expect(text.slice(0, text.indexOf('<AUTORIZACION>'))).toMatch(/NOT VALID FOR THE REAL SII/);
  });

  it('RSASK is the PKCS#1 private half of RSAPK, RSAPUBK its SPKI form', () => {
    for (const c of fx.cafs) {
      const text = c.xml.toString('latin1');
      const sk = /<RSASK>([^<]*)<\/RSASK>/.exec(text)?.[1] ?? '';
      const pk = /<RSAPUBK>([^<]*)<\/RSAPUBK>/.exec(text)?.[1] ?? '';
      expect(sk.startsWith(`-----BEGIN RSA ${'PRIVATE'} KEY-----`)).toBe(true); // PKCS#1, as the SII writes RSASK
      expect(pk.startsWith('-----BEGIN PUBLIC KEY-----')).toBe(true);
      const caf = parseCaf(c.xml);
      expect(createPublicKey(createPrivateKey(sk)).equals(caf.publicKey)).toBe(true);
      expect(createPublicKey(pk).equals(caf.publicKey)).toBe(true);
    }
  });

  it('every FRMA verifies with the fake SII public key, and only with it', () => {
    const trust = loadTrustedKeys([{ idk: fx.sii.idk, pem: fx.sii.publicKeyPem }]);
    for (const c of fx.cafs) verifyCaf(parseCaf(c.xml), { trustedKeys: trust });
    const other = generateFixtures({ tipos: [33], now: NOW });
    const wrong = loadTrustedKeys([{ idk: fx.sii.idk, pem: other.sii.publicKeyPem }]);
    expect(() => verifyCaf(parseCaf(fx.cafs[0]?.xml ?? Buffer.alloc(0)), { trustedKeys: wrong })).toThrow(/FRMA/);
  });

  it('marks the fake SII key PEMs with a comment line before -----BEGIN', () => {
    for (const pem of [fx.sii.publicKeyPem, fx.sii.privateKeyPem]) {
      const [first, second] = pem.split('\n');
      expect(first).toMatch(/^# .*NOT VALID FOR THE REAL SII/);
      expect(second).toMatch(/^-----BEGIN (PUBLIC|PRIVATE) KEY-----$/);
    }
    const pub = createPublicKey(fx.sii.publicKeyPem.slice(fx.sii.publicKeyPem.indexOf('-----BEGIN')));
    const priv = createPrivateKey(fx.sii.privateKeyPem.slice(fx.sii.privateKeyPem.indexOf('-----BEGIN')));
    expect(createPublicKey(priv).equals(pub)).toBe(true);
    expect(pub.asymmetricKeyDetails?.modulusLength).toBeGreaterThanOrEqual(1024);
  });

  it('makes a signer certificate: RSA-2048, valid from 2 years before to 3 years after now, marked as test, RUT in SAN and serialNumber', () => {
    const x = new X509Certificate(fx.certificatePem);
    expect(x.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const day = new Date(NOW.getTime());
    day.setUTCHours(0, 0, 0, 0);
    const from = new Date(day);
    from.setUTCFullYear(from.getUTCFullYear() - 2);
    const to = new Date(day);
    to.setUTCFullYear(to.getUTCFullYear() + 3);
    expect(new Date(x.validFrom).getTime()).toBe(from.getTime());
    expect(new Date(x.validTo).getTime()).toBe(to.getTime());
    expect(x.subject).toMatch(/CN=USUARIO DE PRUEBA - PRUEBA NO VALIDO SII/);
    expect(x.subject).toMatch(/O=TIMBRE TEST CERTIFICATE - NOT VALID FOR THE SII/);
    expect(x.subject).toMatch(/serialNumber=12345678-5/);
    expect(x.subjectAltName).toMatch(/email:prueba-no-valido@timbre.invalid/);
    expect(x.verify(x.publicKey)).toBe(true); // self-signed
    const c = loadPkcs12(fx.p12, fx.p12Password, { now: NOW });
    expect(fx.p12Password).toBe('timbre');
    expect(fx.signerRut).toBe('12345678-5');
    expect(c).toMatchObject({ rut: '12345678-5', rutSource: 'subjectAltName' });
  });
});

describe('generateFixtures options', () => {
  it('honours issuer, name (cut to 40, Latin-1), signer, password, IDK, types, range and FA', () => {
    const o = generateFixtures({
      rutEmisor: '96.874.030-k',
      razonSocial: '  COMPAÑÍA ÑANDÚ DE INVERSIONES Y ASESORÍAS PROFESIONALES LIMITADA  ',
      signerRut: '11.111.111-1',
      signerName: 'María Pérez',
      p12Password: 'otra clave',
      idk: 424242,
      tipos: [39, 61],
      desde: 501,
      hasta: 600,
      fechaAutorizacion: '2025-12-31',
      now: NOW,
    });
    expect(o.cafs.map((c) => c.tipoDte)).toEqual([39, 61]);
    const caf = parseCaf(o.cafs[1]?.xml ?? Buffer.alloc(0));
    expect(caf).toMatchObject({ rutEmisor: '96874030-K', tipoDte: 61, desde: 501, hasta: 600, fechaAutorizacion: '2025-12-31', idk: 424242, expiresAt: '2026-07-01' });
    expect(caf.razonSocial).toBe('COMPAÑÍA ÑANDÚ DE INVERSIONES Y ASESORÍA');
    expect(Array.from(caf.razonSocial)).toHaveLength(40);
    verifyCaf(caf, { trustedKeys: loadTrustedKeys([{ idk: 424242, pem: o.sii.publicKeyPem }]) });
    const c = loadPkcs12(o.p12, 'otra clave', { now: NOW });
    expect(c.rut).toBe('11111111-1');
    expect(c.subjectCn).toBe('María Pérez - PRUEBA NO VALIDO SII');
  });

  it('refuses bad options', () => {
    expect(() => generateFixtures({ rutEmisor: '76086428-4', tipos: [33] })).toThrow(/RUT/);
    expect(() => generateFixtures({ desde: 10, hasta: 5, tipos: [33] })).toThrow(/range/);
    expect(() => generateFixtures({ fechaAutorizacion: '2025-13-01', tipos: [33] })).toThrow(/fechaAutorizacion/);
    expect(() => generateFixtures({ razonSocial: 'EMOJI 😀', tipos: [33] })).toThrow(/razonSocial/);
  });
});

describe.skipIf(!HAS_OPENSSL)('fixtures seen by openssl', () => {
  it('openssl verifies the FRMA of each CAF over the flattened DA with the commented PEM', () => {
    writeFileSync(path.join(tmp, 'sii.pem'), fx.sii.publicKeyPem);
    for (const c of fx.cafs) {
      const text = c.xml.toString('latin1');
      const da = (/<DA>[^]*<\/DA>/.exec(text)?.[0] ?? '').replace(/>\n</g, '><');
      const frma = /<FRMA[^>]*>([^<]*)<\/FRMA>/.exec(text)?.[1] ?? '';
      writeFileSync(path.join(tmp, 'da.bin'), Buffer.from(da, 'latin1'));
      writeFileSync(path.join(tmp, 'frma.bin'), Buffer.from(frma, 'base64'));
      const out = execFileSync('openssl', ['dgst', '-sha1', '-verify', path.join(tmp, 'sii.pem'), '-signature', path.join(tmp, 'frma.bin'), path.join(tmp, 'da.bin')]);
      expect(out.toString().trim()).toBe('Verified OK');
    }
  });

  it('openssl reads the RSASK of every CAF as a 512-bit RSA key with e=3', () => {
    const text = fx.cafs[0]?.xml.toString('latin1') ?? '';
    writeFileSync(path.join(tmp, 'sk.pem'), /<RSASK>([^<]*)<\/RSASK>/.exec(text)?.[1] ?? '');
    const out = execFileSync('openssl', ['rsa', '-in', path.join(tmp, 'sk.pem'), '-noout', '-text'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    expect(out).toMatch(/Private-Key: \(512 bit/);
    expect(out).toMatch(/publicExponent: 3 \(0x3\)/);
  });
});
